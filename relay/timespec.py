"""Times on the command line: absolute UTC dates or spans back from now (30d, 12h, 45m)."""

from __future__ import annotations

import calendar
import re
import time

from relay.errors import UsageError

_SPAN = re.compile(r"^(\d+)\s*([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_span(text: str) -> float:
    m = _SPAN.match(text.strip())
    if not m:
        raise UsageError(f"{text!r} is not a span such as 30d, 12h or 45m")
    return int(m.group(1)) * _UNIT[m.group(2)]


def parse_since(text: str, now: float | None = None) -> float:
    """An absolute date (UTC) or a span back from now."""
    if _SPAN.match(text.strip()):
        return (now if now is not None else time.time()) - parse_span(text)
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return calendar.timegm(time.strptime(text.strip(), fmt))
        except ValueError:
            continue
    raise UsageError(f"{text!r} is neither a date (2024-03-04[T10:00]) nor a span (3h, 2d)")
