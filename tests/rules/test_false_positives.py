"""The false-positive suite: 66 legitimate messages in six languages, all delivered unchanged."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from client import send
from data.legit import ATTRIBUTION, LEGIT, Legit
from harness import Sink, make_config
from mail import SELLER, build
from ruletools import context, envelope

from relay.language import Py3LangidDetector
from relay.policy.engine import evaluate

TLD = {"en": "co.uk", "de": "de", "nl": "nl", "fr": "fr", "es": "es", "it": "it"}
DETECTOR = Py3LangidDetector()


def recipient(case: Legit) -> str:
    return f"kc9o3rt5g88dt@marketplace.amazon.{TLD[case.lang]}"


def message(case: Legit) -> bytes:
    quote = ""
    if case.quote:
        quote = f"\n\n{ATTRIBUTION[case.lang]}\n" + "\n".join(
            f"> {ln}" for ln in case.quote.splitlines()
        )
    if case.html:
        plain = re.sub(r"<[^>]+>", "\n", case.body).replace("&nbsp;", " ")
        html = case.body
        if case.quote:
            html += (f'<div class="gmail_quote"><div class="gmail_attr">{ATTRIBUTION[case.lang]}</div>'
                     f'<blockquote class="gmail_quote">{case.quote}</blockquote></div>')  # fmt: skip
        return build(body=plain + quote, html=html, subject=case.subject, reply=case.reply,
                     to=recipient(case), attachments=list(case.attachments))  # fmt: skip
    return build(body=case.body + quote, subject=case.subject, reply=case.reply, to=recipient(case),
                 attachments=list(case.attachments))  # fmt: skip


def test_suite_size() -> None:
    """At least 60 messages, at least ten in each of the six languages."""
    per_lang = {lang: sum(c.lang == lang for c in LEGIT) for lang in TLD}
    assert len(LEGIT) >= 60
    assert min(per_lang.values()) >= 10, per_lang


@pytest.mark.parametrize("case", LEGIT, ids=[c.id for c in LEGIT])
def test_legitimate_message_has_no_finding(case: Legit) -> None:
    """The policy finds nothing at all in a legitimate message."""
    ctx = dataclasses.replace(context(), detector=DETECTOR)
    ev = evaluate(message(case), envelope(SELLER, recipient(case)), ctx)
    assert [(f.rule, f.evidence) for f in ev.verdict.findings] == []
    assert (ev.verdict.action, ev.forward) == ("deliver", None)


async def test_all_delivered_unchanged_over_smtp(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Through the running relay, every legitimate message reaches the upstream byte for byte."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    sent = []
    for case in LEGIT:
        raw = message(case)
        reply = await send(relay.port, SELLER, [recipient(case)], raw)
        assert (case.id, reply.code) == (case.id, 250), reply.text
        sent.append(raw)
    assert [m.data for m in sink.messages] == sent
