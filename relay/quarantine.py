"""The quarantine folder: held messages, their findings, and what operators did with them.

Layout (spec/INTERFACE.md): `<id>.eml` is the message exactly as received, `<id>.json` its
envelope, arrival time, findings and history. Both are written atomically with fsync before
the client gets its 250; the .json is written last, so an entry exists once its .json does.
Release and delete first claim the entry with an exclusive lock file (`<id>.lock`, O_EXCL),
so two operators, or two relays sharing the folder, can never act on one entry at once.
"""

from __future__ import annotations

import asyncio
import calendar
import os
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relay import __version__
from relay.errors import EntryNotFound, QuarantineConflict, StoreError, UpstreamError
from relay.files import atomic_write, fsync_dir, new_id, read_json
from relay.message import Envelope
from relay.policy.engine import Evaluation
from relay.upstream import Forwarder

_ID = re.compile(r"^[0-9]{8}T[0-9]{12}Z-[0-9a-f]{8}$")
STALE_LOCK_SECONDS = 600  # a claim older than this was left by a crashed process


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass(frozen=True)
class HeldMessage:
    """What the pipeline knows when it holds a message."""

    envelope: Envelope
    data: bytes
    peer: str
    evaluation: Evaluation


class QuarantineStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    # ------------------------------------------------------------ paths and ids
    def _path(self, entry_id: str, suffix: str) -> Path:
        if not _ID.match(entry_id):
            raise EntryNotFound(f"{entry_id!r} is not a quarantine id")
        return self.folder / f"{entry_id}{suffix}"

    def load(self, entry_id: str) -> dict[str, Any]:
        path = self._path(entry_id, ".json")
        try:
            return dict(read_json(path))
        except FileNotFoundError as exc:
            raise EntryNotFound(f"no quarantine entry {entry_id}") from exc
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: unreadable: {exc}") from exc

    def raw(self, entry_id: str) -> bytes:
        path = self._path(entry_id, ".eml")
        try:
            return path.read_bytes()
        except FileNotFoundError as exc:
            raise EntryNotFound(f"no message file for quarantine entry {entry_id}") from exc

    # ------------------------------------------------------------ holding
    def hold_sync(self, held: HeldMessage) -> str:
        entry_id = new_id()
        ev = held.evaluation
        record = {
            "id": entry_id,
            "relay_version": __version__,
            "arrived": now_iso(),
            "peer": held.peer,
            "envelope": {
                "mail_from": held.envelope.mail_from,
                "rcpt_to": list(held.envelope.rcpt_tos),
            },
            "message_id": ev.facts.message_id,
            "subject": ev.facts.subject,
            "size": len(held.data),
            "action": str(ev.verdict.action),
            "findings": [f.as_dict() for f in ev.verdict.findings],
            "released": None,
            "history": [{"action": "held", "at": now_iso(), "by": "bsm-relay"}],
        }
        eml = self._path(entry_id, ".eml")
        atomic_write(eml, held.data)
        try:
            atomic_write(self._path(entry_id, ".json"), record)
        except BaseException:
            eml.unlink(missing_ok=True)  # no orphan: the client gets 451 and sends it again
            raise
        return entry_id

    async def hold(self, held: HeldMessage) -> str:
        """Store the message durably; raises StoreError when it could not be."""
        try:
            return await asyncio.to_thread(self.hold_sync, held)
        except OSError as exc:
            raise StoreError(f"quarantine folder {self.folder}: {exc.strerror or exc}") from exc

    # ------------------------------------------------------------ listing
    def entries(self) -> list[dict[str, Any]]:
        try:
            names = sorted(p.name for p in self.folder.glob("*.json"))
        except OSError as exc:
            raise StoreError(f"{self.folder}: {exc.strerror or exc}") from exc
        out = []
        for name in names:
            entry_id = name.removesuffix(".json")
            if _ID.match(entry_id):
                try:
                    out.append(self.load(entry_id))
                except (EntryNotFound, StoreError):
                    continue  # deleted meanwhile, or half-written by a crashed writer
        return out

    # ------------------------------------------------------------ claiming
    def _claim(self, entry_id: str, who: str, what: str) -> Path:
        lock = self._path(entry_id, ".lock")
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            except FileExistsError:
                try:
                    age = time.time() - lock.stat().st_mtime
                except FileNotFoundError:
                    continue
                if age > STALE_LOCK_SECONDS:
                    lock.unlink(missing_ok=True)
                    continue
                raise QuarantineConflict(
                    f"entry {entry_id} is being released or deleted by someone else"
                ) from None
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{what} by {who} pid {os.getpid()} at {now_iso()}\n")
            return lock
        raise QuarantineConflict(f"entry {entry_id}: could not claim it")

    def _record(self, entry_id: str, entry: dict[str, Any], event: dict[str, Any]) -> None:
        entry.setdefault("history", []).append(event)
        atomic_write(self._path(entry_id, ".json"), entry)

    async def release(
        self,
        entry_id: str,
        forwarder: Forwarder,
        who: str,
        prepare: Callable[[bytes, Envelope], Awaitable[tuple[bytes, str]]] | None = None,
    ) -> str:
        """Deliver a held message once; returns the upstream's reply.

        `prepare` (for --recheck) may rewrite the message first; it returns the bytes to send
        and a note for the record, or raises QuarantineConflict to refuse the release.
        Raises QuarantineConflict when it was already released (or is being released),
        EntryNotFound, or UpstreamError when the upstream did not take it (the entry stays).
        """
        lock = await asyncio.to_thread(self._claim, entry_id, who, "release")
        try:
            entry = await asyncio.to_thread(self.load, entry_id)
            if entry.get("released"):
                done = entry["released"]
                raise QuarantineConflict(
                    f"entry {entry_id} was already released at {done.get('at')} by {done.get('by')}"
                )
            data = await asyncio.to_thread(self.raw, entry_id)
            env = entry["envelope"]
            envelope = Envelope(env["mail_from"], tuple(env["rcpt_to"]))
            note = "as held"
            if prepare is not None:
                try:
                    data, note = await prepare(data, envelope)
                except QuarantineConflict as exc:
                    event = {"action": "release", "at": now_iso(), "by": who, "result": "refused",
                             "note": str(exc)}  # fmt: skip
                    await asyncio.to_thread(self._record, entry_id, entry, event)
                    raise
            try:
                reply = await forwarder.forward(envelope, data)
            except UpstreamError as exc:
                event = {"action": "release", "at": now_iso(), "by": who, "result": "failed",
                         "upstream": exc.upstream}  # fmt: skip
                await asyncio.to_thread(self._record, entry_id, entry, event)
                raise
            event = {"action": "release", "at": now_iso(), "by": who, "result": "delivered",
                     "upstream": reply, "note": note}  # fmt: skip
            entry["released"] = {"at": event["at"], "by": who, "upstream": reply, "note": note}
            await asyncio.to_thread(self._record, entry_id, entry, event)
            return reply
        finally:
            lock.unlink(missing_ok=True)

    def delete_sync(self, entry_id: str, who: str, action: str = "delete") -> None:
        """Remove the message; its record moves to deleted/ with who deleted it and when."""
        lock = self._claim(entry_id, who, action)
        try:
            entry = self.load(entry_id)
            entry.setdefault("history", []).append({"action": action, "at": now_iso(), "by": who})
            atomic_write(self.folder / "deleted" / f"{entry_id}.json", entry)
            self._path(entry_id, ".json").unlink(missing_ok=True)
            self._path(entry_id, ".eml").unlink(missing_ok=True)
            fsync_dir(self.folder)
        finally:
            lock.unlink(missing_ok=True)

    def purge_sync(self, older_than: float, who: str, now: float | None = None) -> list[str]:
        """Delete every entry that arrived more than `older_than` seconds ago."""
        cutoff = (now if now is not None else time.time()) - older_than
        purged = []
        for entry in self.entries():
            if arrival_time(entry) < cutoff:
                try:
                    self.delete_sync(entry["id"], who, action="purge")
                except (QuarantineConflict, EntryNotFound):
                    continue  # someone else is acting on it: it is theirs now
                purged.append(entry["id"])
        return purged


def arrival_time(entry: dict[str, Any]) -> float:
    """The entry's arrival as a Unix time."""
    return calendar.timegm(time.strptime(entry["arrived"], "%Y-%m-%dT%H:%M:%SZ"))
