"""Paraphrased violations (each must fire its rule) and near misses (none may fire)."""

from __future__ import annotations

import dataclasses

import pytest
from data.paraphrases import NEAR_MISSES, VIOLATIONS
from mail import SELLER, build
from ruletools import context, envelope

from relay.language import Py3LangidDetector
from relay.policy.engine import Evaluation, evaluate

TLD = {"en": "co.uk", "de": "de", "nl": "nl", "fr": "fr", "es": "es", "it": "it"}
ORDER = "303-1234567-7654321"
CTX = dataclasses.replace(context(), detector=Py3LangidDetector())


def judge(lang: str, proactive: bool, text: str, with_order: bool = True) -> Evaluation:
    rcpt = f"kc9o3rt5g88dt@marketplace.amazon.{TLD[lang]}"
    subject = f"Bestellung {ORDER}" if proactive else "Re: Frage"
    body = f"Hallo,\n\n{text}\n\nGruß\nLukas"
    raw = build(subject=subject, body=body, reply=not proactive, to=rcpt)
    return evaluate(raw, envelope(SELLER, rcpt), CTX)


@pytest.mark.parametrize(
    ("rule", "lang", "proactive", "text"),
    VIOLATIONS,
    ids=[f"{v[0]}-{v[1]}-{i}" for i, v in enumerate(VIOLATIONS)],
)
def test_violation_fires_its_rule(rule: str, lang: str, proactive: bool, text: str) -> None:
    """The paraphrase is recognised by the rule it breaks, and the message is not delivered."""
    ev = judge(lang, proactive, text)
    assert rule in ev.verdict.rules, f"{rule} missed ({lang}): {text}"
    assert ev.verdict.action in ("reject", "quarantine")


@pytest.mark.parametrize(
    ("lang", "proactive", "text"),
    NEAR_MISSES,
    ids=[f"{n[0]}-{i}" for i, n in enumerate(NEAR_MISSES)],
)
def test_near_miss_is_delivered(lang: str, proactive: bool, text: str) -> None:
    """A legitimate sentence sharing words with a violation passes without a finding."""
    ev = judge(lang, proactive, text)
    assert [(f.rule, f.evidence) for f in ev.verdict.findings if f.action != "log"] == []
    assert ev.verdict.action == "deliver"
