"""Durable files: atomic writes with fsync, and sortable unique ids.

A file written here either exists completely or not at all: it is written under a temporary
name in the same folder, fsynced, renamed into place, and the folder is fsynced so that the
rename itself survives a crash. These are blocking calls: async code runs them in a thread.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Any


def new_id() -> str:
    """A unique id that sorts by time: 20261123T012739123456Z-<8 hex> (microseconds, UTC)."""
    now = time.time()
    micro = int((now % 1) * 1_000_000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{micro:06d}Z-{secrets.token_hex(4)}"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, content: bytes | dict[str, Any] | list[Any]) -> None:
    """Write `content` (bytes, or JSON for dicts and lists) to `path`, all or nothing."""
    data = (
        content
        if isinstance(content, bytes)
        else (json.dumps(content, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))
