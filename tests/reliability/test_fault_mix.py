"""2,400 messages through a mix of faults, every one accounted for.

Six relays run in this test's event loop, each in front of a different upstream:
an aiosmtpd sink that misbehaves per message on command (4xx or 5xx at RCPT or at the end of
DATA, the connection dropped in DATA, an answer slower than the relay's upstream timeout),
Postfix's smtp-sink healthy and with its failure options (-r . soft reject, -f . hard reject,
-q . hang up after the data), and a relay whose quarantine folder cannot be written. The
messages themselves mix compliant replies, fixable ones, held ones and rejected ones.

Every message must end in exactly one of: delivered (the client saw 250 and the upstream has
it), quarantined (250 naming an entry that is on disk with the message's Message-ID), or
refused (the client saw a 4xx or 5xx). A 250 without a copy, or no reply at all, is
"unaccounted"; the test prints the tally and requires zero of those.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosmtplib
from harness import Sink, make_config
from mail import BUYER, SELLER, build
from peers import free_port, wait_port

TOTAL = 2400
CONCURRENCY = 24
_MID = re.compile(rb"^Message-ID:\s*<([^>]+)>", re.I | re.M)


class ChaosSink(Sink):
    """Does what the message asks: `X-Fault: 4xx|5xx|drop|slow` at DATA, or a recipient that
    starts with f4-/f5- at RCPT."""

    def __init__(self, slow: float) -> None:
        super().__init__()
        self.slow = slow
        self.accepted: Counter[str] = Counter()

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address.startswith("f4-"):
            return "450 4.2.1 Mailbox busy, try later"
        if address.startswith("f5-"):
            return "550 5.1.1 No such buyer"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        data: bytes = envelope.original_content
        fault = re.search(rb"^X-Fault: (\S+)", data, re.M)
        kind = fault.group(1).decode() if fault else "ok"
        if kind == "4xx":
            return "452 4.3.1 Insufficient system storage"
        if kind == "5xx":
            return "554 5.6.0 Content refused"
        if kind == "drop":
            server.transport.close()
            return "421 gone"
        if kind == "slow":
            await asyncio.sleep(self.slow)  # the relay has given up: 451 to its client
            return "250 2.0.0 too late"
        mid = _MID.search(data)
        self.accepted[mid.group(1).decode() if mid else "?"] += 1
        return "250 2.0.0 Ok: queued"


@dataclass
class PostfixSink:
    name: str
    port: int
    folder: Path
    proc: subprocess.Popen[bytes]

    def accepted(self) -> Counter[str]:
        seen: Counter[str] = Counter()
        for path in self.folder.rglob("*"):
            if path.is_file():
                m = _MID.search(path.read_bytes())
                if m:
                    seen[m.group(1).decode()] += 1
        return seen


def start_smtp_sink(root: Path, name: str, options: list[str]) -> PostfixSink:
    port = free_port()
    folder = root / name
    proc = subprocess.Popen(
        ["/usr/sbin/smtp-sink", "-u", "nobody", *options, "-d", f"{folder}/%H%M%S.",
         f"127.0.0.1:{port}", "128"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, proc)
    return PostfixSink(name, port, folder, proc)


@dataclass(frozen=True)
class Plan:
    index: int
    relay: int
    content: str  # compliant, strip, hold, reject
    fault: str  # what the chaos sink is told to do ("ok" elsewhere)

    @property
    def message_id(self) -> str:
        return f"mix-{self.index}@nordlicht-home.example"

    @property
    def recipient(self) -> str:
        return {"rcpt4xx": "f4-", "rcpt5xx": "f5-"}.get(self.fault, "") + BUYER

    def message(self) -> bytes:
        headers = {"X-Fault": self.fault}
        mid = f"<{self.message_id}>"
        if self.content == "strip":
            html = '<p>Gern geschehen.</p><img src="https://t.example/o.gif" width="1" height="1">'
            return build(html=html, headers=headers, message_id=mid)
        if self.content == "hold":
            return build(body="Rufen Sie an: +49 30 1234567", headers=headers, message_id=mid)
        if self.content == "reject":
            body = "Leave a 5-star review and get a $10 gift card!"
            return build(body=body, headers=headers, message_id=mid)
        return build(headers=headers, message_id=mid)


def make_plans(relays: int) -> list[Plan]:
    rng = random.Random(2400)
    contents = ["compliant"] * 7 + ["strip", "hold", "reject"]
    faults = ["ok"] * 8 + ["4xx", "5xx", "drop", "rcpt4xx", "rcpt5xx"] + ["slow"] * 1
    plans = []
    for i in range(TOTAL):
        relay = i % relays
        fault = rng.choice(faults) if relay == 0 else "ok"
        plans.append(Plan(i, relay, rng.choice(contents), fault))
    return plans


async def submit(port: int, plan: Plan) -> tuple[int, str]:
    """(code, text) of the final reply; (0, why) when no reply came."""
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="mta.test",
                             start_tls=False, timeout=30)  # fmt: skip
    try:
        await client.connect()
        _errors, text = await client.sendmail(SELLER, [plan.recipient], plan.message())
        return 250, text
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return exc.recipients[0].code, exc.recipients[0].message
    except aiosmtplib.SMTPResponseException as exc:
        return exc.code, exc.message
    except (aiosmtplib.SMTPException, OSError) as exc:
        return 0, f"{type(exc).__name__}: {exc}"
    finally:
        client.close()


def held_ids(folder: Path) -> dict[str, str]:
    """quarantine id -> Message-ID of every entry in `folder`."""
    out = {}
    for path in folder.glob("*.json") if folder.exists() else []:
        record: dict[str, Any] = json.loads(path.read_text())
        out[record["id"]] = (record.get("message_id") or "").strip("<>")
    return out


async def test_every_message_is_accounted_for(tmp_path: Path, start_relay) -> None:
    """Tally of 2,400 messages through six faulty paths: zero lost, zero unanswered."""
    root = Path(tempfile.mkdtemp(prefix="bsm-mix-"))
    root.chmod(0o777)  # smtp-sink writes as nobody
    chaos = ChaosSink(slow=1.2)
    await chaos.start()
    sinks = [
        start_smtp_sink(root, "healthy", []),
        start_smtp_sink(root, "soft-reject", ["-r", "."]),
        start_smtp_sink(root, "hard-reject", ["-f", "."]),
        start_smtp_sink(root, "hangup", ["-q", "."]),
    ]
    names = ["chaos", *[s.name for s in sinks], "quarantine-unwritable"]
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    relays = []
    try:
        for i, name in enumerate(names):
            port = (
                chaos.port if i == 0 else (sinks[i - 1].port if i <= len(sinks) else sinks[0].port)
            )
            qdir = blocker / "q" if name == "quarantine-unwritable" else tmp_path / f"q-{name}"
            cfg = make_config(tmp_path / name, port, upstream={"timeout": 0.6},
                              quarantine_dir=qdir)  # fmt: skip
            (tmp_path / name).mkdir(exist_ok=True)
            relays.append(await start_relay(cfg))
        plans = make_plans(len(relays))
        results: dict[int, tuple[int, str]] = {}
        queue: asyncio.Queue[Plan] = asyncio.Queue()
        for plan in plans:
            queue.put_nowait(plan)

        async def worker() -> None:
            while not queue.empty():
                plan = queue.get_nowait()
                results[plan.index] = await submit(relays[plan.relay].port, plan)

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        await asyncio.sleep(1.5)  # let the slow answers and smtp-sink dumps land
        upstream = [chaos.accepted, *[s.accepted() for s in sinks], sinks[0].accepted()]
    finally:
        await chaos.stop()
        for s in sinks:
            s.proc.terminate()
            s.proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)

    held = {}
    for name in names:
        folder = blocker / "q" if name == "quarantine-unwritable" else tmp_path / f"q-{name}"
        held.update(held_ids(folder))
    tally: Counter[tuple[str, str]] = Counter()
    problems = []
    for plan in plans:
        code, text = results[plan.index]
        path = names[plan.relay]
        qid = re.search(r"quarantine as (\S+)", text)
        if code == 250 and qid:
            ok = held.get(qid.group(1)) == plan.message_id
            outcome = "quarantined" if ok else "unaccounted"
        elif code == 250:
            copies = upstream[plan.relay][plan.message_id]
            outcome = "delivered" if copies >= 1 else "unaccounted"
        elif 400 <= code < 600:
            outcome = f"refused {code // 100}xx"
        else:
            outcome = "unaccounted"
        tally[(path, outcome)] += 1
        if outcome == "unaccounted":
            problems.append((plan, code, text))

    print(f"\n{'path':<24}{'outcome':<14}{'messages':>9}")
    for (path, outcome), count in sorted(tally.items()):
        print(f"{path:<24}{outcome:<14}{count:>9}")
    totals = Counter()
    for (_, outcome), count in tally.items():
        totals[outcome] += count
    print("total: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())) + f" of {TOTAL}")
    assert (sum(tally.values()), problems) == (TOTAL, [])
    assert {"delivered", "quarantined", "refused 4xx", "refused 5xx"} <= set(totals)
