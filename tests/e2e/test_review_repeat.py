"""review_repeat over SMTP with the SQLite state store: one review request per order."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from client import send
from harness import Sink, make_config
from mail import SELLER, build

REQUESTS = {
    "en": (
        "Would you share your experience with the lamp in a review on Amazon?",
        "Just a reminder: we'd still love to read your review of the lamp.",
    ),
    "de": (
        "Teilen Sie Ihre Erfahrung gern in einer Bewertung auf Amazon.",
        "Wir möchten Sie noch einmal an Ihre Bewertung erinnern.",
    ),
    "nl": (
        "Wil je je ervaring delen in een review op Amazon?",
        "Een herinnering: we horen graag wat je van de lamp vindt in een review.",
    ),
    "fr": (
        "Vous pouvez partager votre expérience dans un avis sur Amazon.",
        "Petit rappel : vous pouvez toujours laisser un avis sur la lampe.",
    ),
    "es": (
        "Puedes contar tu experiencia en una reseña en Amazon.",
        "Te recordamos que aún puedes dejar una reseña de la lámpara.",
    ),
    "it": (
        "Puoi raccontare la tua esperienza in una recensione su Amazon.",
        "Ti ricordiamo che puoi ancora lasciare una recensione della lampada.",
    ),
}
TLD = {"en": "co.uk", "de": "de", "nl": "nl", "fr": "fr", "es": "es", "it": "it"}


def request(lang: str, order: str, text: str) -> tuple[str, bytes]:
    rcpt = f"kc9o3rt5g88dt@marketplace.amazon.{TLD[lang]}"
    return rcpt, build(
        subject=f"{order}", body=f"Hallo,\n\n{text} ({order})\n\nGruß\nLukas", reply=False, to=rcpt
    )


@pytest.mark.parametrize("lang", list(REQUESTS))
async def test_second_request_for_an_order_is_rejected(
    lang: str, tmp_path: Path, sink: Sink, start_relay
) -> None:
    """The first neutral request passes, a second for the same order gets 550 review_repeat,
    a request for another order passes."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    first, second = REQUESTS[lang]
    rcpt, raw = request(lang, "111-1111111-1111111", first)
    assert (await send(relay.port, SELLER, [rcpt], raw)).code == 250
    rcpt, raw = request(lang, "111-1111111-1111111", second)
    again = await send(relay.port, SELLER, [rcpt], raw)
    assert (again.code, "review_repeat" in again.text) == (550, True)
    rcpt, raw = request(lang, "222-2222222-2222222", second)
    assert (await send(relay.port, SELLER, [rcpt], raw)).code == 250
    assert len(sink.messages) == 2


async def test_failed_delivery_does_not_use_up_the_request(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A request the upstream deferred may be sent again: the claim is released."""
    sink.data_reply = "451 4.3.0 try later"
    relay = await start_relay(make_config(tmp_path, sink.port))
    rcpt, raw = request("en", "333-3333333-3333333", REQUESTS["en"][0])
    assert (await send(relay.port, SELLER, [rcpt], raw)).code == 451
    sink.data_reply = "250 2.0.0 Ok"
    assert (await send(relay.port, SELLER, [rcpt], raw)).code == 250


async def test_check_sees_the_review_history(tmp_path: Path, sink: Sink, start_relay) -> None:
    """`bsm-relay check` reports review_repeat once the relay delivered a request for the order."""
    state = tmp_path / "state.sqlite3"
    relay = await start_relay(make_config(tmp_path, sink.port, state_url=f"sqlite:///{state}"))
    rcpt, raw = request("de", "444-4444444-4444444", REQUESTS["de"][0])
    (tmp_path / "m.eml").write_bytes(raw)
    (tmp_path / "relay.toml").write_text(f'[state]\nurl = "sqlite:///{state}"\n')
    args = [sys.executable, "-m", "relay", "check", str(tmp_path / "m.eml"), "--json",
            "--config", str(tmp_path / "relay.toml")]  # fmt: skip
    before = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, timeout=60
    )
    assert (await send(relay.port, SELLER, [rcpt], raw)).code == 250
    after = await asyncio.to_thread(
        subprocess.run, args, capture_output=True, text=True, timeout=60
    )
    assert (before.returncode, json.loads(before.stdout)["action"]) == (0, "deliver")
    assert (after.returncode, [f["rule"] for f in json.loads(after.stdout)["findings"]]) == (
        4,
        ["review_repeat"],
    )
