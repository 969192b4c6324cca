# Stub of the C module relay/_langwalk.c (see there).
def row_counts(
    next_rows: object,
    next_rows_itemsize: int,
    next_features: object,
    start_row: int,
    data: bytes,
) -> tuple[bytes, bytes]: ...
def best_class(
    next_rows: object,
    next_rows_itemsize: int,
    next_features: object,
    start_row: int,
    ptc: object,
    classes: int,
    pc: object,
    data: bytes,
    sync: int = 0,
) -> tuple[int, float, float]: ...
