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
async def _send(writer: asyncio.StreamWriter, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    writer.write(_FRAME.pack(len(data)) + data)
    await writer.drain()


async def _receive(reader: asyncio.StreamReader) -> object:
    (size,) = _FRAME.unpack(await reader.readexactly(_FRAME.size))
    return pickle.loads(await reader.readexactly(size))


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.version = -1  # settings version this worker has

    @classmethod
    async def start(cls) -> _Worker:
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "relay.worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env,
        )  # fmt: skip
        return cls(proc)

    async def call(self, request: tuple[object, ...]) -> object:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        await _send(self.proc.stdin, request)
        return await _receive(self.proc.stdout)

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)


class InspectorPool:
    """N worker processes; each message gets one for at most `budget` seconds."""

    def __init__(self, settings: InspectSettings, size: int, budget: float) -> None:
        self.settings = settings
        self.size = size
        self.budget = budget
        self._version = 0
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self.killed = 0  # workers killed for overrunning the budget (for metrics)

    async def start(self) -> None:
        for _ in range(self.size):
            worker = await _Worker.start()
            self._all.add(worker)
            await self._prepare(worker)
            self._idle.put_nowait(worker)

    def update(self, settings: InspectSettings) -> None:
        """New policy: each worker picks it up before its next message."""
        self.settings = settings
        self._version += 1

    async def _prepare(self, worker: _Worker) -> None:
        if worker.version != self._version:
            reply = await worker.call(("setup", self.settings))
            if reply != ("ok",):
                raise InspectionError(f"inspection worker refused its settings: {reply!r}")
            worker.version = self._version

    async def _replace(self, worker: _Worker) -> None:
        self._all.discard(worker)
        await worker.kill()
        fresh = await _Worker.start()
        self._all.add(fresh)
        self._idle.put_nowait(fresh)

    async def inspect(self, raw: bytes, envelope: Envelope, profile: str = "") -> Evaluation:
        worker = await self._idle.get()
        try:
            async with asyncio.timeout(self.budget):
                await self._prepare(worker)
                reply = await worker.call(("inspect", raw, envelope, profile))
        except TimeoutError:
            self.killed += 1
            await self._replace(worker)
            return uninspectable(raw, self.settings.ctx, f"inspection took over {self.budget:g} s")
        except (OSError, EOFError, asyncio.IncompleteReadError, pickle.PickleError) as exc:
            await self._replace(worker)
            return uninspectable(raw, self.settings.ctx, f"inspection worker failed: {exc!r}"[:160])
        except BaseException:
            await self._replace(worker)  # cancelled mid-call: the pipe state is unknown
            raise
        self._idle.put_nowait(worker)
        if isinstance(reply, tuple) and reply[0] == "ok" and isinstance(reply[1], Evaluation):
            return reply[1]
        why = reply[1] if isinstance(reply, tuple) and len(reply) > 1 else reply
        return uninspectable(raw, self.settings.ctx, f"inspection failed: {why}"[:200])

    async def close(self) -> None:
        for worker in list(self._all):
            await worker.kill()
        self._all.clear()


def with_policy(settings: InspectSettings, config: Config) -> InspectSettings:
    """The same settings with the policy, senders and profiles of a reloaded configuration."""
    ctx = replace(settings.ctx, settings=config.policy, approved_senders=config.all_senders)
    return replace(settings, ctx=ctx, profiles=_profiles(ctx, config))
