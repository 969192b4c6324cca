"""The command line as users call it: exit statuses, JSON output, quarantine commands."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from client import send
from harness import Sink, make_config
from mail import BUYER, ORDER, SELLER, build

RELAY = [sys.executable, "-m", "relay"]


def bsm(
    *args: str, input: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RELAY, *args], input=input.decode() if input else None, capture_output=True,
                          text=True, timeout=60, cwd=cwd)  # fmt: skip


async def abs_m(*args: str) -> tuple[int, str, str]:
    """Run the command without blocking the loop (the test's sink must keep answering)."""
    proc = await asyncio.create_subprocess_exec(
        *RELAY, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def write_config(tmp_path: Path, sink_port: int) -> Path:
    path = tmp_path / "relay.toml"
    path.write_text(
        f"""
[upstream]
mode = "smarthost"
port = {sink_port}
starttls = "off"
[senders]
approved = ["{SELLER}"]
[quarantine]
dir = "{tmp_path / "quarantine"}"
[state]
url = "sqlite:///{tmp_path / "state.sqlite3"}"
"""
    )
    return path


@pytest.mark.parametrize(
    ("raw", "status", "action", "rules"),
    [
        (build(), 0, "deliver", []),
        (build(headers={"Precedence": "bulk"}), 0, "strip", ["bulk_headers"]),
        (build(subject="Ihre Adresse", reply=False), 4, "reject", ["order_id_missing"]),
        (
            build(
                subject=f"Bestellung {ORDER}",
                reply=False,
                attachments=[("x.exe", "application/octet-stream", b"MZ")],
            ),
            4,
            "reject",
            ["attachment_type"],
        ),
    ],
)
def test_check_json_and_exit_status(
    tmp_path: Path, raw: bytes, status: int, action: str, rules: list[str]
) -> None:
    """check prints the verdict as JSON and exits 0 (deliver, strip) or 4 (reject)."""
    (tmp_path / "m.eml").write_bytes(raw)
    result = bsm("check", str(tmp_path / "m.eml"), "--json")
    assert result.returncode == status, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["action"], [f["rule"] for f in doc["findings"]]) == (action, rules)
    assert all({"rule", "action", "evidence"} <= set(f) for f in doc["findings"])


def test_check_quarantine_exit_3_and_human_output(tmp_path: Path) -> None:
    """An uninspectable message exits 3; the human output names the rule and the reason."""
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(50)
    )
    (tmp_path / "m.eml").write_bytes(b"Subject: x\r\n" + nested.encode())
    result = bsm("check", str(tmp_path / "m.eml"))
    assert result.returncode == 3
    assert "quarantine" in result.stdout
    assert "uninspectable (quarantine): simplify the message" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "/nonexistent.eml"], "/nonexistent.eml: cannot read"),
        (["check", "-"], "-: empty input"),
        (["serve", "--config", "/nonexistent.toml"], "/nonexistent.toml: cannot read"),
        (["check"], "the following arguments are required"),
        (["frobnicate"], "invalid choice"),
        (["quarantine", "show", "nope"], "'nope' is not a quarantine id"),
    ],
)
def test_bad_usage_is_one_line_and_status_2(args: list[str], message: str) -> None:
    """Bad input: a clear one-line error on stderr, exit status 2, no traceback."""
    result = bsm(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_config_names_the_key(tmp_path: Path) -> None:
    """A wrong type in the configuration stops serve with the key named, exit 2."""
    (tmp_path / "relay.toml").write_text('[server]\nmax_message_size = "big"\n')
    result = bsm("serve", "--config", str(tmp_path / "relay.toml"))
    assert (result.returncode, result.stderr.strip()) == (
        2,
        f"bsm-relay: error: {tmp_path / 'relay.toml'}: server.max_message_size must be a int, not 'big'",
    )


def test_rules_lists_every_rule() -> None:
    """rules lists each rule id with its action and guideline, also as JSON."""
    from relay.policy.registry import RULES

    doc = json.loads(bsm("rules", "--json").stdout)
    assert [r["id"] for r in doc] == [r.id for r in RULES]
    assert all(r["guideline"] and r["summary"] and r["default"] for r in doc)
    text = bsm("rules").stdout
    assert "order_id_missing" in text
    assert "guideline:" in text


async def test_quarantine_list_show_release_delete(tmp_path: Path, sink: Sink, start_relay) -> None:
    """Held messages are listed, shown, released exactly once, and deleted."""
    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_mime_depth": 3}))
    config = str(write_config(tmp_path, sink.port))
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(6)
    )
    raw = b"Subject: held\r\nMessage-ID: <held-1@x>\r\n" + nested.encode()
    for _ in range(2):
        assert "quarantine" in (await send(relay.port, SELLER, [BUYER], raw)).text
    status, out, _ = await abs_m("quarantine", "list", "--json", "--config", config)
    entries = json.loads(out)
    assert (status, len(entries)) == (0, 2)
    first, second = entries[0]["id"], entries[1]["id"]
    status, out, _ = await abs_m("quarantine", "show", first, "--raw", "--config", config)
    assert out.encode() == raw

    status, out, err = await abs_m("quarantine", "release", first, "--config", config)
    assert (status, len(sink.messages)) == (0, 1), err
    assert sink.messages[0].data == raw
    status, _, err = await abs_m("quarantine", "release", first, "--config", config)
    assert (status, "already released" in err, len(sink.messages)) == (1, True, 1)
    record = json.loads((tmp_path / "quarantine" / f"{first}.json").read_text())
    assert [h["action"] for h in record["history"]] == ["held", "release"]

    status, out, _ = await abs_m("quarantine", "delete", second, "--config", config)
    assert status == 0
    assert not (tmp_path / "quarantine" / f"{second}.eml").exists()
    assert (
        json.loads((tmp_path / "quarantine" / "deleted" / f"{second}.json").read_text())["history"][
            -1
        ]["action"]
        == "delete"
    )


async def test_release_with_upstream_down_keeps_entry(
    tmp_path: Path, sink: Sink, start_relay
) -> None:
    """A release while the upstream is down fails clearly; the entry stays held."""
    from peers import free_port

    relay = await start_relay(make_config(tmp_path, sink.port, server={"max_mime_depth": 3}))
    nested = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(6)
    )
    reply = await send(relay.port, SELLER, [BUYER], nested.encode())
    entry = reply.text.split("quarantine as ")[1].split()[0]
    config = str(write_config(tmp_path, free_port()))
    status, _, err = await abs_m("quarantine", "release", entry, "--config", config)
    assert status == 1
    assert "failed, the entry stays held" in err
    record = json.loads((tmp_path / "quarantine" / f"{entry}.json").read_text())
    assert (record["released"], record["history"][-1]["result"]) == (None, "failed")


def test_docs_rules_md_is_generated() -> None:
    """docs/rules.md is what `bsm-relay rules --markdown` prints (regenerate it when rules change)."""
    docs = (Path(__file__).parents[2] / "docs" / "rules.md").read_text()
    assert bsm("rules", "--markdown").stdout == docs
