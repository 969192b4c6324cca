"""Quarantine operations as ops run them: filters, show, release (--recheck), delete, purge,
and two operators releasing one entry at the same moment."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from client import send
from harness import Sink, make_config
from mail import BUYER, BUYER2, OTHER_SELLER, SELLER, build, html_reply

RELAY = [sys.executable, "-m", "relay"]
NO_ALT = html_reply('Das Logo:<img src="cid:logo@x" width="120">')


async def bsm(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(*RELAY, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def write_config(tmp_path: Path, sink_port: int, policy: str = "") -> str:
    (tmp_path / "policy.toml").write_text(policy)
    path = tmp_path / "relay.toml"
    path.write_text(
        f"""
[upstream]
mode = "smarthost"
port = {sink_port}
starttls = "off"
[senders]
approved = ["{SELLER}", "{OTHER_SELLER}"]
[quarantine]
dir = "{tmp_path / "quarantine"}"
[state]
url = "sqlite:///{tmp_path / "state.sqlite3"}"
[policy]
file = "{tmp_path / "policy.toml"}"
"""
    )
    return str(path)


async def hold_three(tmp_path: Path, sink: Sink, start_relay) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Three held messages: no alt text (two senders) and an unknown marketplace."""
    relay = await start_relay(make_config(tmp_path, sink.port))
    other = "k2m8x0qvd7s4nw1@marketplace.amazon.at"
    ids = []
    for sender, rcpt, raw in (
        (SELLER, BUYER, build(html=NO_ALT, message_id="<q1@x>")),
        (
            OTHER_SELLER,
            BUYER2,
            build(html=NO_ALT, sender=OTHER_SELLER, to=BUYER2, message_id="<q2@x>"),
        ),
        (SELLER, other, build(to=other, message_id="<q3@x>")),
    ):
        reply = await send(relay.port, sender, [rcpt], raw)
        ids.append(reply.text.split("quarantine as ")[1].split()[0])
    return write_config(tmp_path, sink.port), ids


async def test_list_filters_and_json(tmp_path: Path, sink: Sink, start_relay) -> None:
    """list filters by rule, sender, recipient and time, as a table or as JSON."""
    config, ids = await hold_three(tmp_path, sink, start_relay)

    async def listed(*filters: str) -> list[str]:
        status, out, err = await bsm("quarantine", "list", "--json", "--config", config, *filters)
        assert status == 0, err
        return [e["id"] for e in json.loads(out)]

    assert await listed() == ids
    assert await listed("--rule", "image_without_alt") == ids[:2]
    assert await listed("--rule", "recipient_domain_unknown") == ids[2:]
    assert await listed("--sender", "casa-verde") == [ids[1]]
    assert await listed("--recipient", "amazon.at") == [ids[2]]
    assert await listed("--since", "1h") == ids
    assert await listed("--since", "2099-01-01") == []
    _status, table, _ = await bsm("quarantine", "list", "--config", config)
    assert table.splitlines()[0].split()[:4] == ["ID", "STATE", "ARRIVED", "FROM"]
    assert len(table.splitlines()) == 4


async def test_show_renders_findings_and_text(tmp_path: Path, sink: Sink, start_relay) -> None:
    """show gives envelope, findings with evidence and reason, history and the readable text."""
    config, ids = await hold_three(tmp_path, sink, start_relay)
    status, out, _ = await bsm("quarantine", "show", ids[0], "--config", config)
    assert status == 0
    assert f"Envelope:  {SELLER} -> {BUYER}" in out
    assert "image_without_alt (quarantine): give every image an alt text" in out
    assert "evidence: cid:logo@x" in out
    assert "held by bsm-relay" in out
    assert "Subject: AW: Teekanne" in out
    assert "spülmaschinenfest" in out
    status, raw, _ = await bsm("quarantine", "show", ids[0], "--raw", "--config", config)
    assert b"Message-ID: <q1@x>" in raw.encode()


async def test_release_recheck(tmp_path: Path, sink: Sink, start_relay) -> None:
    """--recheck refuses while the policy still holds the message, delivers once it allows it."""
    config, ids = await hold_three(tmp_path, sink, start_relay)
    status, _, err = await bsm("quarantine", "release", ids[0], "--recheck", "--config", config)
    assert (status, "still says quarantine" in err, sink.messages) == (1, True, [])
    (tmp_path / "policy.toml").write_text('[rules.image_without_alt]\naction = "log"\n')
    status, _out, err = await bsm("quarantine", "release", ids[0], "--recheck", "--config", config)
    assert status == 0, err
    assert [m.rcpt_tos for m in sink.messages] == [[BUYER]]
    record = json.loads((tmp_path / "quarantine" / f"{ids[0]}.json").read_text())
    assert [(h["action"], h.get("result")) for h in record["history"]] == [
        ("held", None),
        ("release", "refused"),
        ("release", "delivered"),
    ]
    assert record["released"]["note"] == "rechecked; nothing to change"


async def test_two_concurrent_releases_deliver_once(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """Two operators release the same entry at the same moment: exactly one delivery."""
    config, ids = await hold_three(tmp_path, sink, start_relay)
    sink.delay = 0.5  # keep the first release in flight while the second arrives
    results = await asyncio.gather(
        *(bsm("quarantine", "release", ids[1], "--config", config) for _ in range(2))
    )
    assert sorted(status for status, _, _ in results) == [0, 1]
    assert len(sink.messages) == 1
    refused = next(err for status, _, err in results if status == 1)
    assert "being released or deleted by someone else" in refused or "already released" in refused


async def test_delete_and_purge(tmp_path: Path, sink: Sink, start_relay) -> None:
    """delete removes one entry; purge --older-than removes what is older, recording both."""
    config, ids = await hold_three(tmp_path, sink, start_relay)
    folder = tmp_path / "quarantine"
    old = json.loads((folder / f"{ids[1]}.json").read_text())
    old["arrived"] = "2020-01-01T00:00:00Z"
    (folder / f"{ids[1]}.json").write_text(json.dumps(old))
    assert (await bsm("quarantine", "delete", ids[0], "--config", config))[0] == 0
    status, out, _ = await bsm("quarantine", "purge", "--older-than", "30d", "--config", config)
    assert (status, out.strip()) == (0, "purged 1 entries older than 30d")
    assert sorted(p.name for p in folder.glob("*.eml")) == [f"{ids[2]}.eml"]
    actions = {
        i: json.loads((folder / "deleted" / f"{i}.json").read_text())["history"][-1]["action"]
        for i in ids[:2]
    }
    assert actions == {ids[0]: "delete", ids[1]: "purge"}
    status, _, err = await bsm("quarantine", "purge", "--older-than", "soon", "--config", config)
    assert (status, "'soon' is not a span" in err) == (2, True)
