"""The policy file's content: per-rule action overrides, the link allow-list, attachment limits.

Pure: `parse_policy` takes the parsed TOML document and raises ValueError naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from relay.policy.model import Action

DEFAULT_ATTACHMENT_TYPES = ("pdf", "jpg", "jpeg", "png", "gif", "txt", "doc", "docx")
DEFAULT_ATTACHMENT_MAX = 10 * 1024 * 1024


@dataclass(frozen=True)
class PolicySettings:
    """Overrides and lists from the policy file; the embedded defaults when there is none."""

    overrides: tuple[tuple[str, Action], ...] = ()
    link_allow: tuple[str, ...] = ()
    attachment_types: tuple[str, ...] = DEFAULT_ATTACHMENT_TYPES
    attachment_max_bytes: int = DEFAULT_ATTACHMENT_MAX

    def action_for(self, rule_id: str, default: Action) -> Action:
        for rid, action in self.overrides:
            if rid == rule_id:
                return action
        return default


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings")
    return tuple(v.strip().lower() for v in value if v.strip())


def parse_policy(doc: Mapping[str, Any]) -> PolicySettings:
    """Validate a policy document against the rule registry."""
    from relay.policy.registry import RULES_BY_ID  # the registry imports the rules, late

    for name in doc:
        if name not in ("links", "rules", "attachments"):
            raise ValueError(f"[{name}]: unknown section (expected links, rules, attachments)")
    links = doc.get("links", {})
    if not isinstance(links, dict):
        raise ValueError("[links] must be a table")
    for key in links:
        if key != "allow":
            raise ValueError(f"links.{key}: unknown key")
    allow = _strings(links.get("allow", []), "links.allow")

    rules = doc.get("rules", {})
    if not isinstance(rules, dict):
        raise ValueError("[rules] must be a table of [rules.<id>] tables")
    overrides: list[tuple[str, Action]] = []
    for rule_id, table in rules.items():
        declared = RULES_BY_ID.get(rule_id)
        if declared is None:
            raise ValueError(f"rules.{rule_id}: unknown rule id (see `bsm-relay rules`)")
        if not isinstance(table, dict) or set(table) - {"action"}:
            raise ValueError(f'rules.{rule_id}: only `action = "..."` may be set')
        value = table.get("action")
        allowed = [str(a) for a in declared.allowed_actions]
        if value not in allowed:
            raise ValueError(f"rules.{rule_id}.action must be one of {', '.join(allowed)}")
        overrides.append((rule_id, Action(value)))

    att = doc.get("attachments", {})
    if not isinstance(att, dict):
        raise ValueError("[attachments] must be a table")
    for key in att:
        if key not in ("allow", "max_total_bytes"):
            raise ValueError(f"attachments.{key}: unknown key")
    types = _strings(att.get("allow", list(DEFAULT_ATTACHMENT_TYPES)), "attachments.allow")
    max_total = att.get("max_total_bytes", DEFAULT_ATTACHMENT_MAX)
    if not isinstance(max_total, int) or isinstance(max_total, bool) or max_total <= 0:
        raise ValueError("attachments.max_total_bytes must be a positive integer")
    return PolicySettings(tuple(overrides), allow, tuple(t.lstrip(".") for t in types), max_total)
