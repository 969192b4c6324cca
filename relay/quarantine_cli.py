"""`bsm-relay quarantine`: list, show, release (as held or rechecked), delete, purge.

Every action goes through relay.quarantine.QuarantineStore, which claims the entry with a
lock file first (two operators, or two relays sharing the folder, never act on one entry at
once) and records who did what, when, and what the upstream said.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import re
import sys
from typing import Any

from bs4 import BeautifulSoup

from relay.config import Config
from relay.errors import QuarantineConflict, UpstreamError
from relay.message import Envelope, parse_message
from relay.quarantine import QuarantineStore, arrival_time
from relay.timespec import parse_since, parse_span
from relay.upstream import build_forwarder


def add_parser(sub: Any, common: argparse.ArgumentParser, parser_class: type) -> None:
    q = sub.add_parser("quarantine", help="inspect, release or delete held messages")
    qsub = q.add_subparsers(dest="action", required=True, parser_class=parser_class)
    ql = qsub.add_parser("list", parents=[common], help="held messages, newest last")
    ql.add_argument("--json", action="store_true", help="a JSON array of entries")
    ql.add_argument("--rule", help="only entries with a finding of this rule")
    ql.add_argument("--since", help="arrived at or after: 2024-03-04, 2024-03-04T10:00 or 3h, 2d")
    ql.add_argument("--sender", help="envelope sender contains this")
    ql.add_argument("--recipient", help="a recipient contains this")
    ql.add_argument("--all", action="store_true", help="include released entries")
    qs = qsub.add_parser("show", parents=[common], help="one entry: envelope, findings, text")
    qs.add_argument("id")
    qs.add_argument("--raw", action="store_true", help="print the .eml exactly as received")
    qs.add_argument("--json", action="store_true", help="print the entry's record")
    qr = qsub.add_parser("release", parents=[common], help="deliver a held message once")
    qr.add_argument("id")
    recheck = "apply the current policy and its fixers first; refuse if it still fails"
    qr.add_argument("--recheck", action="store_true", help=recheck)
    qsub.add_parser("delete", parents=[common], help="remove a held message").add_argument("id")
    qp = qsub.add_parser("purge", parents=[common], help="delete entries older than a span")
    qp.add_argument("--older-than", required=True, metavar="SPAN", help="e.g. 30d, 12h, 2w")


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def matches(entry: dict[str, Any], args: argparse.Namespace, since: float | None) -> bool:
    env = entry.get("envelope", {})
    rules = {f.get("rule") for f in entry.get("findings", [])}
    return (
        (args.all or not entry.get("released"))
        and (not args.rule or args.rule in rules)
        and (since is None or arrival_time(entry) >= since)
        and (not args.sender or args.sender.lower() in env.get("mail_from", "").lower())
        and (
            not args.recipient
            or any(args.recipient.lower() in r.lower() for r in env.get("rcpt_to", []))
        )
    )


def _table(entries: list[dict[str, Any]]) -> str:
    rows = [("ID", "STATE", "ARRIVED", "FROM", "TO", "RULES", "SUBJECT")]
    for e in entries:
        env = e["envelope"]
        rules = ",".join(dict.fromkeys(f["rule"] for f in e.get("findings", [])))
        state = "released" if e.get("released") else "held"
        sender, rcpts = env["mail_from"] or "<>", ",".join(env["rcpt_to"])
        rows.append((e["id"], state, e["arrived"], sender, rcpts, rules, e.get("subject", "")[:40]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) for r in rows]
    return "\n".join(f"{line}  {r[-1]}" for line, r in zip(lines, rows, strict=True))


def render_text(raw: bytes) -> str:
    """The held message as a person reads it: main headers, then each body part as text."""
    msg = parse_message(raw, Envelope("", ()))
    lines = [f"{name}: {msg.header(name)}" for name in ("From", "To", "Cc", "Subject", "Date")
             if msg.header(name)]  # fmt: skip
    if msg.problem:
        return "\n".join([*lines, "", f"(not rendered: {msg.problem}; see --raw)"])
    import email
    import email.policy

    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    body = parsed.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        try:
            content = body.get_content()
        except (LookupError, ValueError):
            content = ""
        if body.get_content_type() == "text/html":
            # bs4 is used here, off the hot path: lenient on broken markup, shows everything.
            content = BeautifulSoup(content, "lxml").get_text("\n")
        text = re.sub(r"\n\s*\n\s*\n+", "\n\n", content).strip()
    names = [
        f"  {a.filename or a.content_type} ({a.content_type}, {a.size} bytes)"
        for a in msg.attachments
    ]
    return "\n".join([*lines, "", text, *(["", "Attachments:", *names] if names else [])])


def _show(store: QuarantineStore, entry_id: str) -> str:
    e = store.load(entry_id)
    env = e["envelope"]
    state = "held"
    if e.get("released"):
        state = f"released {e['released']['at']} by {e['released']['by']}"
    out = [
        f"Quarantine entry {e['id']} ({state})",
        f"Arrived:   {e['arrived']} from {e.get('peer', '?')}",
        f"Envelope:  {env['mail_from'] or '<>'} -> {', '.join(env['rcpt_to'])}",
        f"Message:   {e.get('message_id', '')}  ({e.get('size', 0)} bytes)",
        "Findings:",
    ]
    for f in e.get("findings", []):
        out += [
            f"  - {f['rule']} ({f['action']}): {f.get('reason', '')}",
            f"      evidence: {f['evidence']}",
        ]
    out.append("History:")
    for h in e.get("history", []):
        extra = " ".join(f"{k}={h[k]}" for k in ("result", "upstream", "note") if h.get(k))
        out.append(f"  {h['at']}  {h['action']} by {h['by']}  {extra}".rstrip())
    out += ["", "---- message ----", render_text(store.raw(entry_id))]
    return "\n".join(out)


async def _recheck(config: Config, data: bytes, envelope: Envelope) -> tuple[bytes, str]:
    """Run the current policy on the held message (--recheck)."""
    from relay.cli import evaluate_with_history
    from relay.policy.model import Action

    ev = await evaluate_with_history(config, data, envelope)
    if ev.verdict.action in (Action.REJECT, Action.QUARANTINE):
        reasons = "; ".join(f"{f.rule}: {f.reason}" for f in ev.verdict.deciding())
        raise QuarantineConflict(f"the current policy still says {ev.verdict.action}: {reasons}")
    if ev.forward is not None:
        return ev.forward, f"rechecked; removed {', '.join(ev.verdict.stripped)}"
    return data, "rechecked; nothing to change"


def stores(config: Config) -> list[tuple[str, QuarantineStore]]:
    """The relay's quarantine folder and each agency profile's subfolder."""
    main = [("", QuarantineStore(config.quarantine_dir))]
    return main + [(p.name, QuarantineStore(config.quarantine_dir / p.quarantine_subdir))
                   for p in config.profiles]  # fmt: skip


def store_for(config: Config, entry_id: str) -> QuarantineStore:
    """The folder that holds `entry_id` (the main folder when none does: it says 'no entry')."""
    found = [s for _, s in stores(config) if (s.folder / f"{entry_id}.json").exists()]
    return found[0] if found else stores(config)[0][1]


def run(config: Config, args: argparse.Namespace) -> int:
    if args.action == "list":
        since = parse_since(args.since) if args.since else None
        entries = []
        for profile, folder in stores(config):
            for entry in folder.entries() if folder.folder.exists() else []:
                entries.append({**entry, "profile": profile} if profile else entry)
        entries = [e for e in entries if matches(e, args, since)]
        entries.sort(key=lambda e: str(e.get("id", "")))
        if args.json:
            print(json.dumps(entries, ensure_ascii=False, indent=1))
        elif entries:
            print(_table(entries))
        else:
            print(f"no held messages in {config.quarantine_dir} match")
        return 0
    if args.action == "purge":
        span = parse_span(args.older_than)
        purged = [e for _, s in stores(config) if s.folder.exists()
                  for e in s.purge_sync(span, _operator())]  # fmt: skip
        print(f"purged {len(purged)} entries older than {args.older_than}")
        return 0
    store = store_for(config, args.id)
    if args.action == "show":
        if args.raw:
            sys.stdout.buffer.write(store.raw(args.id))
        elif args.json:
            print(json.dumps(store.load(args.id), ensure_ascii=False, indent=1))
        else:
            print(_show(store, args.id))
        return 0
    if args.action == "release":
        prepare = (lambda data, env: _recheck(config, data, env)) if args.recheck else None
        try:
            upstream = asyncio.run(
                store.release(args.id, build_forwarder(config), _operator(), prepare)
            )
        except QuarantineConflict as exc:
            print(f"bsm-relay: not released: {exc}", file=sys.stderr)
            return 1
        except UpstreamError as exc:
            print(
                f"bsm-relay: release of {args.id} failed, the entry stays held: {exc}",
                file=sys.stderr,
            )
            return 1
        print(f"released {args.id}: {upstream}")
        return 0
    if args.action == "delete":
        try:
            store.delete_sync(args.id, _operator())
        except QuarantineConflict as exc:
            print(f"bsm-relay: not deleted: {exc}", file=sys.stderr)
            return 1
        print(f"deleted {args.id}")
        return 0
    raise AssertionError(f"unknown quarantine action {args.action}")
