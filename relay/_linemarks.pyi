# Stub of the C module relay/_linemarks.c (see there).
from collections.abc import Sequence

def marks(lines: Sequence[str]) -> tuple[set[int], set[int]]: ...
