"""Running the policy on a message, in-process or in killable worker processes.

asyncio cannot interrupt CPU-bound work, and the email package can hang or explode on
crafted input (gh-138223 and friends). So the relay parses and evaluates each message in a
worker process (`python -m relay.worker`) with a memory limit, under a wall-clock budget:
a worker that overruns it is killed and replaced, and the message is `uninspectable`
(quarantined). `LocalInspector` runs the same code in-process for `check` and for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import re
import struct
import sys
from collections import deque
from dataclasses import dataclass, field, replace

from relay.config import Config
from relay.errors import InspectionError
from relay.language import Py3LangidDetector
from relay.lexicons import load_lexicon
from relay.limits import Limits
from relay.message import Envelope
from relay.policy.context import PolicyContext
from relay.policy.engine import Evaluation, Facts, evaluate
from relay.policy.model import Action, Finding, Verdict
from relay.policy.registry import RULES_BY_ID
from relay.policy.text import Lexicon

_FRAME = struct.Struct("!I")
_MESSAGE_ID = re.compile(rb"(?im)^message-id[ \t]*:[ \t]*(<[^>\r\n]{1,250}>)")


@dataclass(frozen=True)
class InspectSettings:
    """Everything a worker needs to evaluate messages; sent to each worker once."""

    ctx: PolicyContext
    limits: Limits = field(default_factory=Limits)
    memory_mb: int = 2048
    profiles: tuple[tuple[str, PolicyContext], ...] = ()  # agency profiles' own policies

    def ctx_for(self, profile: str) -> PolicyContext:
        """The policy of a profile ('' or an unknown name: the relay's own)."""
        for name, ctx in self.profiles:
            if name == profile:
                return ctx
        return self.ctx


def build_settings(config: Config, lexicon: Lexicon | None = None) -> InspectSettings:
    ctx = PolicyContext(
        approved_senders=config.all_senders,
        marketplace_tlds=config.marketplace.tlds,
        languages=config.marketplace.languages,
        settings=config.policy,
        lexicon=lexicon if lexicon is not None else load_lexicon(),
        detector=Py3LangidDetector(),
    )
    srv = config.server
    limits = Limits(
        max_header_size=srv.max_header_size,
        max_mime_depth=srv.max_mime_depth,
        max_parts=srv.max_parts,
        max_size=srv.max_message_size,
    )
    return InspectSettings(ctx, limits, srv.inspect_memory_mb, _profiles(ctx, config))


def _profiles(ctx: PolicyContext, config: Config) -> tuple[tuple[str, PolicyContext], ...]:
    # The lexicon and detector objects are shared: pickled once per worker, not per profile.
    return tuple((p.name, replace(ctx, settings=p.policy)) for p in config.profiles)


def uninspectable(raw: bytes, ctx: PolicyContext, why: str) -> Evaluation:
    """The verdict for a message whose inspection did not finish."""
    rule = RULES_BY_ID["uninspectable"]
    action = ctx.action(rule)
    action = Action.QUARANTINE if action in (Action.OFF, Action.LOG, Action.STRIP) else action
    finding = Finding(
        rule.id, action, why, "the relay could not check this message; a person will look at it"
    )
    m = _MESSAGE_ID.search(raw.split(b"\r\n\r\n", 1)[0])
    facts = Facts(message_id=m.group(1).decode("ascii", "replace") if m else "", size=len(raw))
    return Evaluation(Verdict(action, (finding,)), None, facts)


class LocalInspector:
    """Evaluates in this process: for `bsm-relay check` and for tests."""

    def __init__(self, settings: InspectSettings) -> None:
        self.settings = settings

    def update(self, settings: InspectSettings) -> None:
        self.settings = settings

    async def inspect(self, raw: bytes, envelope: Envelope, profile: str = "") -> Evaluation:
        return evaluate(raw, envelope, self.settings.ctx_for(profile), self.settings.limits)

    async def close(self) -> None:
        return None


# ---------------------------------------------------------------- worker processes
# Requests queue up in a worker's pipe (at most MAX_QUEUED): a worker that finishes one
# message finds the next already there and goes on with warm caches, instead of sleeping
# until its SMTP process gets round to sending one. On this VM an evaluation right after a
# short sleep took ~0.4 ms longer (bench/README.md). A queued request holds a pickled copy
# of its message: past QUEUE_BYTES a message waits for a worker with nothing queued, and
# messages get workers in the order they asked (a large one is never overtaken for good).
MAX_QUEUED = 4
QUEUE_BYTES = 1024 * 1024
SETUP_SECONDS = 120.0  # starting and warming up a worker never counts against a message


def _frame(obj: object) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _FRAME.pack(len(data)) + data


async def _receive(reader: asyncio.StreamReader) -> object:
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    return pickle.loads(await reader.readexactly(size))


@dataclass
class _Request:
    message: tuple[object, ...]  # ("setup", settings) or ("inspect", raw, envelope, profile)
    reply: asyncio.Future[object]
    budget: float
    size: int = 0  # of the message's bytes (0 for a setup)
    sent: float = 0.0  # loop time it was written to the worker

    @property
    def setup(self) -> bool:
        return self.message[0] == "setup"


class _Worker:
    """One inspection process and the requests it has not answered yet, in order."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.version = -1  # settings version this worker has (or has queued)
        self.queue: deque[_Request] = deque()
        self.queued_bytes = 0
        self.work = asyncio.Event()  # set while the queue holds a request
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls) -> _Worker:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        return cls(proc)

    def submit(self, request: _Request) -> None:
        """Queue and write in one step: the queue's order is the pipe's order."""
        assert self.proc.stdin is not None
        request.sent = asyncio.get_running_loop().time()
        self.queue.append(request)
        self.queued_bytes += request.size
        self.work.set()
        # A worker that died meanwhile (uvloop raises on its closed pipe): its reader sees
        # the end of its output, answers the head and re-sends this request.
        with contextlib.suppress(OSError, RuntimeError):
            self.proc.stdin.write(_frame(request.message))

    async def drain(self) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(OSError, RuntimeError):  # a dead worker: its reader answers
            await self.proc.stdin.drain()

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        # Reaped even when the caller is cancelled meanwhile: a killed child nobody waits
        # for keeps its pipes open.
        reaped = asyncio.ensure_future(asyncio.wait_for(self.proc.wait(), 5))
        with contextlib.suppress(Exception):
            await asyncio.shield(reaped)


class InspectorPool:
    """N worker processes; each message gets one for at most `budget` seconds, counted from
    when that worker is done with what was queued before it."""

    def __init__(self, settings: InspectSettings, size: int, budget: float) -> None:
        self.settings = settings
        self.size = size
        self.budget = budget
        self._version = 0
        self._live: list[_Worker] = []
        self._turns: deque[asyncio.Future[None]] = deque()  # messages waiting for a worker
        self._turn_given = False  # the first of them was woken and has not looked yet
        self._spawning = 0
        self._closing = False
        self._readers: set[asyncio.Task[None]] = set()
        self.killed = 0  # workers killed for overrunning the budget (for metrics)

    async def start(self) -> None:
        for _ in range(self.size):
            await self._spawn()

    def update(self, settings: InspectSettings) -> None:
        """New policy: each worker picks it up before its next message."""
        self.settings = settings
        self._version += 1

    async def _spawn(self) -> _Worker:
        """A new worker with the current settings in service, or InspectionError."""
        self._spawning += 1
        worker = None
        try:
            worker = await _Worker.start()
            reply = await self._setup(worker).reply
            if reply != ("ok",):
                raise InspectionError(f"inspection worker refused its settings: {reply!r}")
            self._live.append(worker)
        except BaseException:
            if worker is not None:
                await self._retire(worker)
            raise
        finally:
            self._spawning -= 1
            self._next_turn()  # a waiter looks again: at the new worker, or spawns one
        return worker

    def _setup(self, worker: _Worker) -> _Request:
        future = asyncio.get_running_loop().create_future()
        request = _Request(("setup", self.settings), future, SETUP_SECONDS)
        worker.submit(request)
        worker.version = self._version
        if worker.reader is None:
            worker.reader = asyncio.create_task(self._read_replies(worker))
            self._readers.add(worker.reader)
            worker.reader.add_done_callback(self._readers.discard)
        return request

    def _ready(self, size: int) -> _Worker | None:
        """The live worker with the shortest queue that takes `size` more bytes now."""
        best: _Worker | None = None
        for w in self._live:
            n = len(w.queue)
            room = n == 0 or (n < MAX_QUEUED and w.queued_bytes + size <= QUEUE_BYTES)
            if room and (best is None or n < len(best.queue)):
                best = w
        return best

    def _next_turn(self) -> None:
        """Wake the first message waiting for a worker: room may have appeared."""
        while self._turns and not self._turn_given:
            turn = self._turns.popleft()
            if not turn.done():
                turn.set_result(None)
                self._turn_given = True

    async def _choose(self, size: int) -> _Worker:
        """A worker with room for a message of `size` bytes, first come, first served."""
        arriving = True
        while True:
            if self._closing:
                raise InspectionError("the relay is shutting down")
            if not self._live and not self._spawning:
                try:
                    await self._spawn()  # replacing a dead worker failed before: try again
                except BaseException:
                    self._next_turn()  # the next message tries for itself
                    raise
            waiting = arriving and (self._turns or self._turn_given)
            worker = None if waiting else self._ready(size)
            if worker is not None:
                self._next_turn()  # the one behind may find room too
                return worker
            turn = asyncio.get_running_loop().create_future()
            if arriving:
                self._turns.append(turn)
            else:  # woken and found no room: it keeps its place at the front
                self._turns.appendleft(turn)
            arriving = False
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # woken, then cancelled: pass it on
                    self._turn_given = False
                    self._next_turn()
                elif turn in self._turns:
                    self._turns.remove(turn)
                raise
            self._turn_given = False

    async def _read_replies(self, worker: _Worker) -> None:
        """Hand each reply to its request, in order; replace the worker when the request at
        the head overruns its budget or the worker dies."""
        assert worker.proc.stdout is not None
        loop = asyncio.get_running_loop()
        free = loop.time()  # when the worker answered the request before the head
        while True:
            await worker.work.wait()
            head = worker.queue[0]
            try:
                async with asyncio.timeout_at(max(head.sent, free) + head.budget):
                    reply = await _receive(worker.proc.stdout)
            except TimeoutError:
                self.killed += 0 if head.setup else 1
                reply = ("overrun",)
            except Exception as exc:  # noqa: BLE001 -- any unreadable reply: a broken worker
                reply = ("failed", f"inspection worker failed: {exc!r}")
            else:
                worker.queue.popleft()
                worker.queued_bytes -= head.size
                free = loop.time()
                if not worker.queue:
                    worker.work.clear()
                if not head.reply.done():
                    head.reply.set_result(reply)
                self._next_turn()
                continue
            worker.queue.popleft()
            if not head.reply.done():
                head.reply.set_result(reply)
            if worker in self._live:
                await self._replace(worker)
            else:  # it was being started: the spawner gives up on it
                await self._retire(worker)
            return

    async def _retire(self, worker: _Worker) -> list[_Request]:
        """Take a worker out of service; returns the messages it had not answered."""
        if worker in self._live:
            self._live.remove(worker)
        if worker.reader is not None and worker.reader is not asyncio.current_task():
            worker.reader.cancel()
        waiting = [r for r in worker.queue if not r.setup and not r.reply.done()]
        worker.queue.clear()
        worker.queued_bytes = 0
        await worker.kill()
        return waiting

    async def _replace(self, worker: _Worker) -> None:
        """A fresh worker for a dead one; the messages queued behind the culprit go to it,
        each with its whole budget again."""
        waiting = await self._retire(worker)
        try:
            fresh = await self._spawn()
        except BaseException as exc:  # also cancelled by close()
            for request in waiting:
                if not request.reply.done():
                    request.reply.set_result(("failed", f"no inspection worker: {exc!r}"))
            if isinstance(exc, (InspectionError, OSError)):
                return
            raise
        if self._closing:  # close() came while it started: it takes nothing more
            for request in waiting:
                request.reply.set_result(("failed", "the relay is shutting down"))
            await self._retire(fresh)
            return
        for request in waiting:
            fresh.submit(request)
        await fresh.drain()

    async def inspect(self, raw: bytes, envelope: Envelope, profile: str = "") -> Evaluation:
        worker = await self._choose(len(raw))
        if worker.version != self._version:
            self._setup(worker)
        future = asyncio.get_running_loop().create_future()
        message = ("inspect", raw, envelope, profile)
        worker.submit(_Request(message, future, self.budget, len(raw)))
        await worker.drain()
        reply = await future
        if isinstance(reply, tuple) and reply[0] == "ok" and isinstance(reply[1], Evaluation):
            return reply[1]
        if reply == ("overrun",):
            return uninspectable(raw, self.settings.ctx, f"inspection took over {self.budget:g} s")
        why = reply[1] if isinstance(reply, tuple) and len(reply) > 1 else reply
        if isinstance(reply, tuple) and reply[0] == "failed":
            return uninspectable(raw, self.settings.ctx, str(why)[:160])
        return uninspectable(raw, self.settings.ctx, f"inspection failed: {why}"[:200])

    async def close(self) -> None:
        self._closing = True
        for worker in list(self._live):
            for request in await self._retire(worker):
                if not request.reply.done():  # its session may have gone meanwhile
                    request.reply.set_result(("failed", "the relay is shutting down"))
        # A replacement under way finishes starting its worker and then retires it: a
        # process cancelled mid-start could outlive the event loop.
        await asyncio.gather(*self._readers, return_exceptions=True)


def with_policy(settings: InspectSettings, config: Config) -> InspectSettings:
    """The same settings with the policy, senders and profiles of a reloaded configuration."""
    ctx = replace(settings.ctx, settings=config.policy, approved_senders=config.all_senders)
    return replace(settings, ctx=ctx, profiles=_profiles(ctx, config))
