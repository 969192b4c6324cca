"""An inspection worker: reads framed requests on stdin, writes framed replies on stdout.

Started by relay.inspect.InspectorPool as `python -m relay.worker`. Requests are pickled
tuples: ("setup", InspectSettings) or ("inspect", raw bytes, Envelope, profile); replies are ("ok",)
or ("ok", Evaluation), or ("error", text) when the evaluation itself failed, one reply per
request and in their order: the parent queues a few requests ahead, so that the next one is
waiting when a reply goes out. The parent kills the process when a message overruns its time
budget; the address-space limit turns a memory explosion into a MemoryError here instead of
a machine out of memory.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import struct
import sys
from typing import BinaryIO

from relay.inspect import InspectSettings
from relay.policy.analysis import OWN_TEXT_TOPICS, review_topics
from relay.policy.engine import evaluate

_FRAME = struct.Struct("!I")


def _read(stream: BinaryIO) -> object | None:
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    request: object = pickle.loads(stream.read(size))  # our parent process: trusted
    return request


def _write(stream: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_FRAME.pack(len(data)) + data)
    stream.flush()


def _limit_memory(megabytes: int) -> None:
    limit = megabytes * 1024 * 1024
    # An environment that forbids lowering the limit still gets the time budget.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def warm_up(settings: InspectSettings) -> None:
    """Compile the lexicon and load the language model before the first message arrives,
    so that one-time costs never count against a message's time budget."""
    for topic in settings.ctx.lexicon.topics:
        topic.compile()
    lexicon = settings.ctx.lexicon
    lexicon.index_without(OWN_TEXT_TOPICS)  # the sentence scan's index
    lexicon.index_for(review_topics(lexicon))
    if settings.ctx.detector is not None:
        settings.ctx.detector.detect("warm-up text of enough letters to be looked at")


def main() -> int:
    # Replies use the real stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    try:
        return _serve(sys.stdin.buffer, out)
    except BrokenPipeError:
        # The relay process stopped reading (it is shutting down, or gone): nobody is left
        # to answer. Leave quietly; the unwritten reply must not fail again at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0


def _serve(inp: BinaryIO, out: BinaryIO) -> int:
    """Answer requests until the input ends."""
    settings: InspectSettings | None = None
    while True:
        request = _read(inp)
        if request is None:
            return 0
        assert isinstance(request, tuple)
        if request[0] == "setup":
            settings = request[1]
            assert isinstance(settings, InspectSettings)
            _limit_memory(settings.memory_mb)
            warm_up(settings)
            _write(out, ("ok",))
        elif request[0] == "inspect" and settings is not None:
            try:
                ctx = settings.ctx_for(request[3] if len(request) > 3 else "")
                _write(out, ("ok", evaluate(request[1], request[2], ctx, settings.limits)))
            except MemoryError:
                _write(out, ("error", "message needs more memory than the inspection limit"))
            except Exception as exc:  # noqa: BLE001 -- reported to the parent as data
                _write(out, ("error", f"{type(exc).__name__}: {exc}"[:200]))
        else:
            _write(out, ("error", f"unexpected request {request[0]!r}"))


if __name__ == "__main__":
    sys.exit(main())
