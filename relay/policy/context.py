"""What rules may know besides the message: the seller's lists and the compiled lexicon.

Built once at the edge (relay.inspect.build_context) from the frozen Config and the lexicon
data files, then handed to every rule. Frozen and picklable, so inspection workers get it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from relay.policy.model import Action, Rule
from relay.policy.settings import PolicySettings
from relay.policy.text import Lexicon


class LanguageDetector(Protocol):
    def detect(self, text: str) -> str:
        """An ISO 639-1 code, or '' when the text does not tell."""
        ...


@dataclass(frozen=True)
class PolicyContext:
    approved_senders: tuple[str, ...] = ()
    marketplace_tlds: tuple[str, ...] = ()
    languages: tuple[tuple[str, str], ...] = ()
    settings: PolicySettings = field(default_factory=PolicySettings)
    lexicon: Lexicon = field(default_factory=Lexicon)
    detector: LanguageDetector | None = None
    reviewed_orders: frozenset[str] = frozenset()  # orders that already had a review request

    def action(self, rule: Rule) -> Action:
        """The rule's action under this policy (the policy file's override or its default)."""
        return self.settings.action_for(rule.id, rule.default)

    def active(self, rules: tuple[Rule, ...]) -> tuple[tuple[Rule, Action], ...]:
        """The rules that are not off under this policy, each with its action; worked out
        once per tuple of rules (the engine asks for the same one or two every message)."""
        # Keyed by identity: hashing 43 frozen rules would cost more than it saves. The
        # memo holds the tuple itself, so its id cannot be reused while it is there.
        kept = self._active.get(id(rules))
        if kept is not None and kept[0] is rules:
            return kept[1]
        found = tuple((r, a) for r in rules if (a := self.action(r)) is not Action.OFF)
        if len(self._active) < 16:  # the engine's one or two tuples, not every ad hoc one
            self._active[id(rules)] = (rules, found)
        return found

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_active", None)  # keyed by ids, which mean nothing in another process
        return state

    @cached_property
    def _active(self) -> dict[int, tuple[tuple[Rule, ...], tuple[tuple[Rule, Action], ...]]]:
        # Derived from the frozen fields, like functools.cached_property on any frozen value.
        return {}

    def language_for_tld(self, tld: str) -> str:
        return dict(self.languages).get(tld, "")
