"""The false-positive suite: 66 legitimate messages in six languages, all delivered unchanged."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from client import send
from data.legit import LEGIT, TLD, Legit, message, recipient
from harness import Sink, make_config
from mail import SELLER
from ruletools import context, envelope

from relay.language import Py3LangidDetector
from relay.policy.engine import evaluate

DETECTOR = Py3LangidDetector()


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
