"""Command line: serve, check, rules, quarantine, log, passwd.

Every failure the user can cause (a bad option, an unreadable file, an invalid configuration,
an unknown quarantine id) ends with one line on stderr and exit status 2, never a traceback.
`check` exits 0 (deliver or strip), 3 (quarantine) or 4 (reject), as spec/INTERFACE.md says.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from relay import __version__, logreview, quarantine_cli
from relay.config import Config, load_config
from relay.errors import EntryNotFound, RelayError, UsageError
from relay.inspect import InspectorPool, build_settings
from relay.message import Envelope, parse_message
from relay.policy.engine import Evaluation, with_review_history
from relay.policy.model import Action
from relay.policy.registry import RULES
from relay.state import open_state

EXIT_FOR = {Action.DELIVER: 0, Action.STRIP: 0, Action.QUARANTINE: 3, Action.REJECT: 4}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """One line and exit status 2, like every other usage error here."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--config", metavar="FILE", help="the relay's TOML configuration")
    p = _Parser(prog="bsm-relay", description="Compliance relay for Amazon Buyer-Seller Messaging")
    p.add_argument("--version", action="version", version=f"bsm-relay {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    serve = sub.add_parser("serve", parents=[common], help="run the SMTP relay")
    # Set by the supervisor for its worker processes (`[server] workers`), not by people.
    serve.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    serve.add_argument("--port", type=int, help=argparse.SUPPRESS)
    check = sub.add_parser("check", parents=[common], help="the verdict for one message")
    check.add_argument("file", metavar="FILE.eml", help="the message ('-' for stdin)")
    check.add_argument("--json", action="store_true", help="print the verdict as JSON")
    check.add_argument("--mail-from", help="envelope sender (default: the From: address)")
    check.add_argument("--rcpt", action="append", help="envelope recipient (default: To and Cc)")
    rules = sub.add_parser("rules", parents=[common], help="list every rule")
    fmt = rules.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--markdown", action="store_true", help="the reference docs/rules.md")
    pw = sub.add_parser("passwd", parents=[common], help="add or change an AUTH user")
    pw.add_argument("user", help="the user name the mail system logs in with")
    pw.add_argument("--file", help="the users file (default: access.users_file of --config)")
    pw.add_argument("--password-stdin", action="store_true",
                    help="read the password from the first line of stdin")  # fmt: skip
    quarantine_cli.add_parser(sub, common, _Parser)
    logreview.add_parser(sub, common)
    return p


# ---------------------------------------------------------------- check
def _read_input(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


async def evaluate_with_history(config: Config, raw: bytes, envelope: Envelope) -> Evaluation:
    """The relay's verdict: inspection in a worker, then the review history (read only)."""
    settings = build_settings(config)
    pool = InspectorPool(settings, 1, config.server.time_budget)
    await pool.start()
    try:
        ev = await pool.inspect(raw, envelope)
    finally:
        await pool.close()
    if ev.facts.review_orders:
        state = open_state(config.state_url)
        try:
            asked = [o for o in ev.facts.review_orders if await state.reviewed(o)]
        finally:
            await state.close()
        ev = with_review_history(ev, asked, settings.ctx)
    return ev


def cmd_check(config: Config, args: argparse.Namespace) -> int:
    raw = _read_input(args.file)
    if not raw.strip():
        raise UsageError(f"{args.file}: empty input, not a message")
    headers = parse_message(raw, Envelope("", ()))
    mail_from = (
        args.mail_from
        if args.mail_from is not None
        else (headers.from_[0].addr if headers.from_ else "")
    )
    rcpts = tuple(args.rcpt or [a.addr for a in (*headers.to, *headers.cc)])
    ev = asyncio.run(evaluate_with_history(config, raw, Envelope(mail_from, rcpts)))
    verdict = ev.verdict
    if args.json:
        doc = {"action": str(verdict.action), "findings": [f.as_dict() for f in verdict.findings]}
        if verdict.stripped:
            doc["stripped"] = list(verdict.stripped)
        print(json.dumps(doc, ensure_ascii=False))
    else:
        print(f"{args.file}: {verdict.action}")
        for f in verdict.findings:
            print(f"  {f.rule} ({f.action}): {f.reason}")
            print(f"      evidence: {f.evidence}")
        if not verdict.findings:
            print("  no findings: the message complies with every rule")
    return EXIT_FOR[verdict.action]


# ---------------------------------------------------------------- rules
def rules_markdown() -> str:
    """docs/rules.md: every rule with its guideline, default action and an example."""
    lines = [
        "# Rules",
        "",
        "Generated by `bsm-relay rules --markdown`; the registry in `relay/policy/registry.py`",
        "is the source. Actions can be changed per rule in the policy file",
        '(`[rules.<id>] action = "reject|quarantine|strip|log|off"`; `strip` only where the',
        "rule has a fixer).",
        "",
        "| rule | default | fixer | what it finds |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| [`{r.id}`](#{r.id}) | {r.default} | {'yes' if r.fix else ''} | {r.summary} |"
        for r in RULES
    ]
    for r in RULES:
        fixer = " (the fixer removes the element)" if r.fix else ""
        example = f"`{r.example}`" if r.example else "-"
        lines += ["", f"## {r.id}", "", r.summary, "", f"- Guideline: {r.guideline}",
                  f"- Default action: `{r.default}`{fixer}", f"- Example: {example}"]  # fmt: skip
    return "\n".join(lines) + "\n"


def cmd_rules(config: Config, args: argparse.Namespace) -> int:
    if args.markdown:
        sys.stdout.write(rules_markdown())
        return 0
    ctx_actions = {r.id: config.policy.action_for(r.id, r.default) for r in RULES}
    if args.json:
        print(json.dumps([
            {"id": r.id, "default": str(r.default), "action": str(ctx_actions[r.id]),
             "summary": r.summary, "guideline": r.guideline, "example": r.example,
             "fixer": r.fix is not None}
            for r in RULES
        ], ensure_ascii=False, indent=1))  # fmt: skip
        return 0
    width = max(len(r.id) for r in RULES)
    for r in RULES:
        action = str(ctx_actions[r.id])
        note = "" if ctx_actions[r.id] is r.default else f" (default {r.default})"
        print(f"{r.id:<{width}}  {action:<10}{note}  {r.summary}")
        print(f"{'':<{width}}  {'':<10}  guideline: {r.guideline}")
        if r.example:
            print(f"{'':<{width}}  {'':<10}  example: {r.example}")
    return 0


def _exit_with_parent() -> None:
    """A worker gets SIGTERM (and drains) if its supervisor dies, even by SIGKILL (Linux)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the service manager stops the whole process group instead


# ---------------------------------------------------------------- passwd
def cmd_passwd(config: Config, args: argparse.Namespace) -> int:
    import getpass

    from relay.passwords import set_user

    path = args.file or config.access.users_file
    if not path:
        raise UsageError("passwd: name the users file with --file, or set access.users_file")
    if args.password_stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass(f"password for {args.user}: ")
        if getpass.getpass("again: ") != password:
            raise UsageError("passwd: the two passwords differ")
    if len(password) < 12:
        raise UsageError("passwd: use a password of at least 12 characters")
    try:
        new = set_user(path, args.user, password)
    except ValueError as exc:
        raise UsageError(f"passwd: {exc}") from exc
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    print(f"{'added' if new else 'changed'} {args.user} in {path}")
    return 0


def run_loop(main: Coroutine[Any, Any, None], event_loop: str) -> None:
    """Run `main` on the configured event loop: uvloop's (libuv sockets, about twice as
    fast per SMTP round trip; bench/README.md) or the standard library's."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if event_loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(getattr(args, "config", None))
        if args.command == "serve":
            from relay.logs import configure_logging
            from relay.server import serve

            configure_logging(config.log)
            if args.worker is not None:
                _exit_with_parent()
            if args.port is not None:  # a worker: the port its supervisor reserved
                server = dataclasses.replace(config.server, port=args.port)
                config = dataclasses.replace(config, server=server)
            run_loop(serve(config, getattr(args, "config", None), args.worker),
                     config.server.event_loop)  # fmt: skip
            return 0
        command: Any = {
            "check": cmd_check,
            "rules": cmd_rules,
            "quarantine": quarantine_cli.run,
            "log": logreview.run,
            "passwd": cmd_passwd,
        }
        return int(command[args.command](config, args))
    except EntryNotFound as exc:
        print(f"bsm-relay: error: {exc}", file=sys.stderr)
        return 2
    except RelayError as exc:
        print(f"bsm-relay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`bsm-relay rules | head`): not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
