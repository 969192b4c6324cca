# Stub of the C module relay/_termscan.c (see there).
from collections.abc import Callable, Mapping

def words(
    text: str,
    memo: Mapping[str, object],
    compute: Callable[[str], object],
    langs: dict[str, frozenset[str]],
) -> list[tuple[str, str, int, int, str]]: ...
