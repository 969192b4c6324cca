"""What rules may know besides the message: the seller's lists and the compiled lexicon.

Built once at the edge (relay.inspect.build_context) from the frozen Config and the lexicon
data files, then handed to every rule. Frozen and picklable, so inspection workers get it once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
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

    def language_for_tld(self, tld: str) -> str:
        return dict(self.languages).get(tld, "")
