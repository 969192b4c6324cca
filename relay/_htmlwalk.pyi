# Stub of the C module relay/_htmlwalk.c (see there).
from collections.abc import Callable
from typing import Any

def walk(
    root: Any,
    memo: dict[Any, Any],
    raw_memo: dict[bytes, Any],
    remember: Callable[..., Any],
    enter: Callable[..., tuple[int, int]],
    styles: list[Any],
) -> tuple[str, str, int, int, list[tuple[int, int]]] | None: ...
def count(root: Any) -> int: ...
