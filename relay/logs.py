"""Structured logging: one JSON object per line (console rendering on a terminal).

structlog renders each event to a string in the calling task; a background thread writes
the lines to the log file or stderr, so the event loop never waits on a disk. Context
(session id, peer, transaction id) is bound with contextvars by the SMTP adapter and merged
into every line of that session.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import sys
import threading
import time
from typing import Any, TextIO

import structlog

from relay.config import LogConfig
from relay.errors import ConfigError

BATCH_SECONDS = 0.02  # how long a line may wait for others to share its write()
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip


class _LineQueue:
    """A file-like object whose writes are handed to a writer thread, which writes them in
    batches (at most BATCH_SECONDS after they were handed over)."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._queue: queue.SimpleQueue[str | threading.Event] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def write(self, text: str) -> int:
        self._queue.put(text)
        return len(text)

    def flush(self) -> None:
        """Wait until everything written so far is on its way to the target."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(5)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]  # idle: blocked here, and the next line wakes it
            # Then a pause to let more lines come: a thread that is not waiting in get() is
            # not woken (a futex call) by every put, and a busy relay writes a batch of
            # lines at a time instead of one write() per line.
            time.sleep(BATCH_SECONDS)
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            lines: list[str] = []
            for item in batch:
                if isinstance(item, str):
                    lines.append(item)
                    continue
                self._write("".join(lines))  # what came before a flush request is written
                lines = []
                item.set()
            self._write("".join(lines))

    def _write(self, text: str) -> None:
        try:
            if text:
                self.target.write(text)
            self.target.flush()
        except (OSError, ValueError):
            pass  # a closed or full log target must never take the relay down


class _QueueLogger:
    """structlog's output end: each rendered line goes to the writer thread as one item.

    structlog's PrintLogger would print the line and its newline as two writes and then
    flush, and a flush waits for the writer thread: a thread round trip per line (~100 us
    of CPU, bench/README.md) with the event loop blocked meanwhile. Lines leave in order;
    flush_logs() (tests, shutdown) waits for them to reach the target."""

    def __init__(self, lines: _LineQueue) -> None:
        self._lines = lines

    def msg(self, message: str) -> None:
        self._lines.write(message + "\n")

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


_writer: _LineQueue | None = None


def configure_logging(config: LogConfig, stream: TextIO | None = None) -> None:
    """Set up structlog once for this process (call again to reconfigure)."""
    global _writer
    if config.file:
        try:
            # O_APPEND, and the writer thread hands each batch of whole lines to one write():
            # the lines of several worker processes sharing the file never interleave.
            target: TextIO = open(config.file, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        except OSError as exc:
            raise ConfigError(f"log.file {config.file}: cannot open: {exc.strerror}") from exc
    else:
        target = stream or sys.stderr
    console = config.format == "console" or (
        config.format == "auto" and not config.file and target.isatty()
    )
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=target.isatty())
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False, sort_keys=False)
    )
    _writer = lines = _LineQueue(target)
    atexit.register(lines.flush)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[config.level]),
        logger_factory=lambda *_: _QueueLogger(lines),
        cache_logger_on_first_use=False,
    )
    # aiosmtpd logs every command at INFO through the stdlib; keep only its warnings.
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def flush_logs() -> None:
    if _writer is not None:
        _writer.flush()


def get_logger(**bound: Any) -> Any:
    return structlog.get_logger("bsm-relay").bind(**bound)
