"""The policy's data: actions, findings, rule declarations and the verdict.

Violations are data, not exceptions: a rule returns `Hit`s, the engine turns them into
`Finding`s with the action the policy gives the rule, and `decide` folds the findings into one
action per message (reject > quarantine > strip > log > deliver).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relay.message import Message
    from relay.policy.context import PolicyContext
    from relay.rewrite import Editor


class Action(StrEnum):
    """What happens to a message (deliver) or what a rule asks for (the others)."""

    REJECT = "reject"
    QUARANTINE = "quarantine"
    STRIP = "strip"
    LOG = "log"
    OFF = "off"
    DELIVER = "deliver"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {
    Action.REJECT: 5,
    Action.QUARANTINE: 4,
    Action.STRIP: 3,
    Action.LOG: 2,
    Action.DELIVER: 1,
    Action.OFF: 0,
}
RULE_ACTIONS = (Action.REJECT, Action.QUARANTINE, Action.STRIP, Action.LOG, Action.OFF)


class Stage(StrEnum):
    """When a rule runs: on the envelope, as a fixer before content rules, or on content."""

    ENVELOPE = "envelope"
    FIX = "fix"
    CONTENT = "content"


@dataclass(frozen=True)
class Hit:
    """One thing a rule found: what it saw (evidence) and what the agent should change."""

    evidence: str
    reason: str
    data: tuple[str, ...] = ()  # machine-readable extras, e.g. order ids for review_repeat


@dataclass(frozen=True)
class Finding:
    rule: str
    action: Action
    evidence: str
    reason: str
    data: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "action": str(self.action),
            "evidence": self.evidence,
            "reason": self.reason,
        }


Check = Callable[["Message", "PolicyContext"], Iterable[Hit]]
Fix = Callable[["Editor", "Message", "PolicyContext"], None]


@dataclass(frozen=True)
class Rule:
    """One rule, one declaration: its id, guideline, default action, check and fixer."""

    id: str
    summary: str
    guideline: str
    default: Action
    stage: Stage
    check: Check = field(repr=False)
    fix: Fix | None = field(default=None, repr=False)
    example: str = ""
    reads_content: bool = True  # False: only the envelope (runs even on unparseable mail)

    def __call__(self, msg: Message, ctx: PolicyContext) -> list[Hit]:
        return list(self.check(msg, ctx))

    @property
    def allowed_actions(self) -> tuple[Action, ...]:
        """Actions the policy file may give this rule: strip only where there is a fixer."""
        return tuple(a for a in RULE_ACTIONS if a is not Action.STRIP or self.fix is not None)


def rule(
    *,
    id: str,
    guideline: str,
    default: Action,
    stage: Stage = Stage.CONTENT,
    fix: Fix | None = None,
    example: str = "",
    reads_content: bool = True,
) -> Callable[[Check], Rule]:
    """Declare a rule from its check function; the docstring's first line is its summary."""

    def declare(check: Check) -> Rule:
        summary = (check.__doc__ or "").strip().splitlines()[0] if check.__doc__ else ""
        if not summary:
            raise TypeError(f"rule {id} needs a one-line docstring")
        return Rule(id, summary, guideline, default, stage, check, fix, example, reads_content)

    return declare


@dataclass(frozen=True)
class Verdict:
    """The outcome of inspecting one message."""

    action: Action
    findings: tuple[Finding, ...] = ()
    stripped: tuple[str, ...] = ()  # rule ids whose fixer changed the forwarded message

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.rule for f in self.findings))

    def deciding(self) -> tuple[Finding, ...]:
        """The findings that carry the verdict's own action (what the sender must change)."""
        return tuple(f for f in self.findings if f.action is self.action)

    def with_findings(self, extra: Iterable[Finding]) -> Verdict:
        findings = (*self.findings, *extra)
        return Verdict(decide(findings), findings, self.stripped)


def decide(findings: Iterable[Finding]) -> Action:
    """One action per message: reject > quarantine > strip > log > deliver."""
    worst = max((f.action for f in findings), key=lambda a: a.severity, default=Action.DELIVER)
    return Action.DELIVER if worst in (Action.LOG, Action.OFF) else worst
