# Stub of the C module relay/_langwalk.c (see there).
def counts(
    nextmove: object,
    nextmove_itemsize: int,
    row: object,
    row_itemsize: int,
    output: object,
    data: bytes,
) -> tuple[bytes, bytes]: ...
