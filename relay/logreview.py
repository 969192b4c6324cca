"""`bsm-relay log`: find messages in the JSON log, and count them.

Reads the relay's log (one JSON object per line) from files, rotated files (`relay.log.1`,
`relay.log.2.gz`…) or stdin; lines that are not JSON (a console-rendered log, a stray
traceback from another program) are skipped and counted. Filters combine with AND.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from relay.config import Config
from relay.errors import UsageError
from relay.timespec import parse_since


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    lg = sub.add_parser("log", parents=[common], help="search and summarise the JSON log")
    files = "log files, .gz too ('-' is stdin); default: log.file and its rotations"
    lg.add_argument("files", nargs="*", metavar="FILE", help=files)
    lg.add_argument("--action", help="deliver, strip, quarantine, reject, defer, bounce")
    lg.add_argument("--rule", help="a rule id among the findings")
    lg.add_argument("--sender", help="envelope sender contains this")
    lg.add_argument("--recipient", help="a recipient contains this")
    lg.add_argument("--message-id", help="the Message-ID, with or without <>")
    lg.add_argument("--order", help="a 17-digit order id")
    lg.add_argument("--since", help="from this time: 2024-03-04[T10:00] or 3h, 2d back")
    lg.add_argument("--until", help="up to this time (same forms)")
    lg.add_argument(
        "--summary", action="store_true", help="counts per action, and per rule per day"
    )
    lg.add_argument("--json", action="store_true", help="print matching lines as JSON")


def rotated(path: Path) -> list[Path]:
    """`path` and its rotations, oldest first (relay.log.2.gz, relay.log.1, relay.log)."""
    family = [
        p
        for p in path.parent.glob(path.name + ".*")
        if p.name[len(path.name) + 1 :].split(".")[0].isdigit()
    ]
    family.sort(key=lambda p: -int(p.name[len(path.name) + 1 :].split(".")[0]))
    return [*family, path] if path.exists() else family


def _open(path: str) -> IO[str]:
    if path == "-":
        return sys.stdin
    try:
        raw = open(path, "rb")  # noqa: SIM115 -- closed by the caller
        if path.endswith(".gz"):
            return io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8", errors="replace")
        return io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def records(paths: Iterable[str], skipped: Counter[str]) -> Iterator[dict[str, Any]]:
    for path in paths:
        stream = _open(path)
        try:
            for line in stream:
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    skipped["not json"] += 1
                    continue
                if isinstance(record, dict):
                    yield record
        except (OSError, EOFError) as exc:
            raise UsageError(f"{path}: unreadable: {exc}") from exc
        finally:
            if stream is not sys.stdin:
                stream.close()


def _stamp(record: dict[str, Any]) -> float:
    value = str(record.get("timestamp", ""))[:19]
    try:
        return parse_since(value + "Z" if "T" in value else value)
    except UsageError:
        return 0.0


def _recipients(r: dict[str, Any]) -> list[str]:
    return [str(x) for x in r.get("rcpt_to", [r.get("address", "")])]


def matches(
    r: dict[str, Any], args: argparse.Namespace, since: float | None, until: float | None
) -> bool:
    if r.get("event") not in ("message", "envelope"):
        return False
    mid = (args.message_id or "").strip().strip("<>")
    sender = str(r.get("mail_from", r.get("address", ""))).lower()
    recipient = (args.recipient or "").lower()
    return (
        (not args.action or r.get("action") == args.action)
        and (not args.rule or args.rule in r.get("rules", []))
        and (not args.sender or args.sender.lower() in sender)
        and (not recipient or any(recipient in x.lower() for x in _recipients(r)))
        and (not mid or str(r.get("message_id", "")).strip("<>") == mid)
        and (not args.order or args.order in r.get("order_ids", []))
        and (since is None or _stamp(r) >= since)
        and (until is None or _stamp(r) <= until)
    )


def line_for(r: dict[str, Any]) -> str:
    when, action, rules = (
        str(r.get("timestamp", ""))[:19],
        r.get("action", ""),
        ",".join(r.get("rules", [])),
    )
    if r.get("event") == "envelope":
        where = f"{r.get('stage', '')} {r.get('address', '')}"
        return f"{when}  {action:<10} {where}  [{rules}] {r.get('reason', '')}"
    reasons = "; ".join(f"{f['rule']}: {f.get('reason', '')}" for f in r.get("findings", [])[:3])
    route = f"{r.get('mail_from', '') or '<>'} -> {','.join(_recipients(r))}"
    return f"{when}  {action:<10} {r.get('message_id', '')}  {route}  [{rules}] {reasons}".rstrip()


def summary(found: list[dict[str, Any]]) -> str:
    per_action = Counter(r.get("action", "?") for r in found)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for r in found:
        for rule in r.get("rules", []):
            per_day[str(r.get("timestamp", ""))[:10]][rule] += 1
    out = [f"{len(found)} messages and envelope refusals", "", "per action:"]
    out += [f"  {action:<12}{n:>8}" for action, n in per_action.most_common()]
    out += ["", "per rule per day:"]
    for day in sorted(per_day):
        for rule, n in per_day[day].most_common():
            out.append(f"  {day}  {rule:<28}{n:>8}")
    return "\n".join(out)


def run(config: Config, args: argparse.Namespace) -> int:
    paths = list(args.files)
    if not paths:
        if not config.log.file:
            paths = ["-"]
        else:
            paths = [str(p) for p in rotated(Path(config.log.file))]
            if not paths:
                raise UsageError(f"{config.log.file}: no log file yet")
    since = parse_since(args.since) if args.since else None
    until = parse_since(args.until) if args.until else None
    skipped: Counter[str] = Counter()
    found = [r for r in records(paths, skipped) if matches(r, args, since, until)]
    if args.summary:
        print(summary(found))
    else:
        for r in found:
            print(json.dumps(r, ensure_ascii=False) if args.json else line_for(r))
    if skipped:
        print(f"({sum(skipped.values())} lines skipped: not JSON)", file=sys.stderr)
    return 0 if found or args.summary else 1
