"""The policy engine: fixers first, content rules on the fixed message, one decision.

1. Parse the received bytes (relay.message) and run every rule that is not `off`.
2. Rules whose action is `strip` and that found something rewrite the message through their
   fixers (relay.rewrite); the rewritten bytes are parsed again.
3. All other rules run again on the rewritten message, so that a removed element cannot also
   cause a reject; the strip rules run again too, and anything they still find means the
   fixer failed, which quarantines the message rather than forwarding it half-fixed.
4. `decide` folds the findings into one action. A rule that raises, a fixer that fails and
   a message that cannot be parsed all become `uninspectable` findings: never an exception,
   never a message forwarded unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from relay.limits import Limits
from relay.message import Envelope, Message, parse_message
from relay.policy.analysis import analysis_of
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Finding, Rule, Verdict, decide
from relay.policy.registry import RULES, RULES_BY_ID
from relay.policy.review import repeat_findings, review_orders

STRIPPED_HEADER = "X-BSM-Relay-Stripped"
ENVELOPE_RULES = tuple(r for r in RULES if not r.reads_content)  # for mail that did not parse


@dataclass(frozen=True)
class Facts:
    """What the pipeline and the log line need to know about the message."""

    message_id: str = ""
    subject: str = ""
    from_: str = ""
    order_ids: tuple[str, ...] = ()
    review_orders: tuple[str, ...] = ()  # orders this message asks a review for
    is_reply: bool = False
    language: str = ""
    size: int = 0
    forwarded_size: int = 0


@dataclass(frozen=True)
class Evaluation:
    verdict: Verdict
    forward: bytes | None  # the rewritten message; None: forward the received bytes
    facts: Facts


def _uninspectable(ctx: PolicyContext, evidence: str, reason: str) -> Finding:
    rule = RULES_BY_ID["uninspectable"]
    action = ctx.action(rule)
    return Finding(rule.id, Action.QUARANTINE if action is Action.OFF else action, evidence, reason)


def run_rules(msg: Message, ctx: PolicyContext, rules: tuple[Rule, ...]) -> list[Finding]:
    """Run `rules` on `msg`; a rule that raises becomes an uninspectable finding."""
    findings: list[Finding] = []
    for rule, action in ctx.active(rules):
        try:
            hits = [*rule.check(msg, ctx)]  # Rule.__call__, one call less (43 rules a message)
        except Exception as exc:  # noqa: BLE001 -- a broken rule must not forward unseen mail
            findings.append(
                _uninspectable(
                    ctx, f"rule {rule.id} failed: {type(exc).__name__}: {str(exc)[:80]}",
                    "the relay could not check this message; a person will look at it",
                )
            )  # fmt: skip
            continue
        if hits:  # most rules find nothing
            findings += [Finding(rule.id, action, h.evidence, h.reason, h.data) for h in hits]
    return findings


def _strip_rules(findings: list[Finding]) -> list[Rule]:
    ids = dict.fromkeys(f.rule for f in findings if f.action is Action.STRIP)
    return [RULES_BY_ID[i] for i in ids if RULES_BY_ID[i].fix is not None]


def apply_fixes(raw: bytes, msg: Message, ctx: PolicyContext, rules: list[Rule]) -> bytes:
    """Run the fixers of `rules` on `raw` and add the trace header; raises on failure."""
    from relay.rewrite import Editor

    editor = Editor(raw)
    for rule in rules:
        assert rule.fix is not None
        rule.fix(editor, msg, ctx)
    editor.replace_header(STRIPPED_HEADER, " ".join(r.id for r in rules))
    return editor.result()


def evaluate(
    raw: bytes,
    envelope: Envelope,
    ctx: PolicyContext,
    limits: Limits | None = None,
) -> Evaluation:
    """Inspect one message: the verdict, the bytes to forward, and the facts to log."""
    rules = RULES
    msg = parse_message(raw, envelope, limits)
    if msg.problem:  # nothing but the envelope can be judged; the message is held
        return _result(ctx, run_rules(msg, ctx, ENVELOPE_RULES), None, msg, msg, ())
    findings = run_rules(msg, ctx, rules)
    fixers = _strip_rules(findings)
    if not fixers:
        return _result(ctx, findings, None, msg, msg, ())
    try:
        fixed = apply_fixes(raw, msg, ctx, fixers)
    except Exception as exc:  # noqa: BLE001 -- a fixer crash: hold the message, do not guess
        failure = _uninspectable(
            ctx, f"fixer failed: {type(exc).__name__}: {str(exc)[:80]}",
            "the relay could not remove the offending element; a person will look at it",
        )  # fmt: skip
        return _result(ctx, [*findings, failure], None, msg, msg, ())
    fixed_msg = parse_message(fixed, envelope, limits)
    strip_ids = {r.id for r in fixers}
    kept = [f for f in findings if f.rule in strip_ids]
    again = run_rules(fixed_msg, ctx, rules)
    leftovers = [f for f in again if f.rule in strip_ids]
    if leftovers:
        kept.append(
            _uninspectable(
                ctx, f"{leftovers[0].rule} still present after stripping: {leftovers[0].evidence}",
                "the relay could not remove every offending element; a person will look at it",
            )
        )  # fmt: skip
    kept += [f for f in again if f.rule not in strip_ids]
    return _result(ctx, kept, fixed, msg, fixed_msg, tuple(r.id for r in fixers))


def _result(
    ctx: PolicyContext,
    findings: list[Finding],
    fixed: bytes | None,
    received: Message,
    final: Message,
    stripped: tuple[str, ...],
) -> Evaluation:
    action = decide(findings)
    forward = fixed if action is Action.STRIP else None
    delivered = action in (Action.DELIVER, Action.STRIP)
    facts = Facts(
        message_id=received.message_id,
        subject=received.subject,
        from_=received.from_[0].addr if received.from_ else "",
        order_ids=received.order_ids,
        review_orders=review_orders(final, ctx) if delivered else (),
        is_reply=received.is_reply,
        language="" if final.problem else analysis_of(final, ctx).effective_language,
        size=received.size,
        forwarded_size=len(forward) if forward is not None else received.size,
    )
    return Evaluation(Verdict(action, tuple(findings), stripped if forward else ()), forward, facts)


def with_review_history(ev: Evaluation, repeated: Iterable[str], ctx: PolicyContext) -> Evaluation:
    """The evaluation once the state store said these orders already had a review request."""
    extra = repeat_findings(repeated, ctx)
    if not extra:
        return ev
    verdict = ev.verdict.with_findings(extra)
    forward = ev.forward if verdict.action is Action.STRIP else None
    facts = replace(ev.facts, review_orders=())
    return Evaluation(verdict, forward, facts)
