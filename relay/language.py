"""Language identification of a message body, offline, with py3langid.

Chosen over lingua and langdetect by measurement (bench/langid_eval.py; numbers in
bench/README.md): on the public corpus and the seed phrases of the six marketplace languages
py3langid restricted to those languages is as accurate as lingua (1.000 and 0.986) at a third
of its time per call (about 190 us), with its model inside the wheel. The model is loaded
lazily in the process that uses it, and not pickled: inspection workers load their own.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import secrets
from array import array
from pathlib import Path
from typing import Any

LANGUAGES = ("en", "de", "nl", "fr", "es", "it")
MIN_LETTERS = 20  # below this a guess is noise: the marketplace default applies
# The first paragraphs decide and the cost stays flat for long messages. 1,000 characters
# (~150 words) gave the same language as 2,000 on all 132 texts of the suite (legit, corpus,
# benchmark) and halves the detector's byte-by-byte walk (0.55 -> 0.33 ms on html-18k).
MAX_CHARS = 1000
CACHE_LAYOUT = "rows1"  # names the cached files' layout: a new layout unpacks afresh


def cache_dir() -> Path:
    """Where the unpacked model is kept: $BSM_RELAY_CACHE, ~/.cache/bsm-relay or the temp dir."""
    configured = os.environ.get("BSM_RELAY_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "bsm-relay"


def _unpacked(languages: tuple[str, ...]) -> Path:
    """The model restricted to `languages`, as plain .npy files, with the row-to-row tables
    of the compiled walk (relay/_langwalk.c).

    py3langid ships its model xz-compressed for all 97 languages: unpacking takes 1.4 s in
    every process that starts. Unpacked once into the cache and cut to our languages, it loads
    in 80 ms (measured here).
    """
    import numpy as np
    from py3langid import __version__ as version
    from py3langid.langid import MODEL_DIR, MODEL_FILE
    from py3langid.modelio import load_model

    folder = cache_dir() / f"py3langid-{version}-{'-'.join(languages)}-{CACHE_LAYOUT}"
    if (folder / "classes.json").exists():
        return folder
    ptc, pc, classes, nextmove, row, output = load_model(MODEL_DIR / MODEL_FILE)
    keep = [i for i, c in enumerate(classes) if c in languages]
    tmp = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}")
    tmp.mkdir(parents=True)
    np.save(tmp / "ptc.npy", np.ascontiguousarray(ptc[:, keep]))
    np.save(tmp / "pc.npy", pc[keep])
    np.save(tmp / "row.npy", np.frombuffer(row, dtype=f"u{row.itemsize}"))
    np.save(tmp / "output.npy", np.asarray(output, dtype=np.int32))
    # The next state's row and feature for every (row, byte): what the compiled walk reads
    # (see relay/_langwalk.c), 20 MB and 39 MB. py3langid's own 39 MB table is written only
    # for a process that walks it (`_dense_table`): the cache may be a tmpfs.
    states = np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}")
    rows = np.frombuffer(row, dtype=f"u{row.itemsize}")
    np.save(tmp / "next_rows.npy", rows[states])
    np.save(tmp / "next_features.npy", np.asarray(output, dtype=np.int32)[states])
    sync = sync_length(rows[states], int(rows[0]))
    (tmp / "walk.json").write_text(json.dumps({"sync": sync}))
    (tmp / "classes.json").write_text(json.dumps([classes[i] for i in keep]))
    try:
        tmp.rename(folder)
    except OSError:  # another process unpacked it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _dense_table(folder: Path) -> Path:
    """py3langid's transition table in the cache folder, unpacked when first asked for (by
    an identifier that walks it in Python: built without a C compiler, or for the tests)."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE
    from py3langid.modelio import load_model

    path = folder / "nextmove.npy"
    if not path.exists():
        nextmove = load_model(MODEL_DIR / MODEL_FILE)[3]
        tmp = folder / f".nextmove.{secrets.token_hex(4)}.npy"
        np.save(tmp, np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}"))
        os.replace(tmp, path)  # whole or not at all, whichever process gets there first
    return path


def sync_length(next_rows: Any, start_row: int, limit: int = 16) -> int:
    """How many bytes bring the walk from any row to the row the walk from `start_row` has
    after the same bytes (0 when `limit` bytes do not): the automaton's states are byte
    n-grams, so its row depends on the last few bytes only. The compiled walk uses it to walk
    a text in pieces side by side (relay/_langwalk.c), each from that many bytes early.

    Found by walking every pair of rows that still differ with every byte until none is
    left (five bytes for py3langid's model, ~1.5 s once per cache)."""
    import numpy as np

    table = np.asarray(next_rows).astype(np.int64)
    rows = len(table) // 256
    every_byte = np.arange(256, dtype=np.int64)
    pairs = np.arange(rows, dtype=np.int64) * rows + start_row  # (row, start row)
    pairs = pairs[pairs // rows != pairs % rows]
    for steps in range(1, limit + 1):
        found = []
        for chunk in range(0, len(pairs), 4096):  # ~1 M cells at a time, not 10 M
            a, b = np.divmod(pairs[chunk : chunk + 4096], rows)
            na = table[((a[:, None] << 8) + every_byte).ravel()]
            nb = table[((b[:, None] << 8) + every_byte).ravel()]
            apart = na != nb
            found.append(np.unique(na[apart] * rows + nb[apart]))
        pairs = np.unique(np.concatenate(found)) if found else pairs[:0]
        if not len(pairs):
            return steps
    return 0


def _sync_of(folder: Path) -> int:
    """sync_length of the cached tables, derived once into the cache folder."""
    import numpy as np

    path = folder / "walk.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads(path.read_text())["sync"])
    start = int(np.load(folder / "row.npy", mmap_mode="r")[0])
    sync = sync_length(np.load(folder / "next_rows.npy", mmap_mode="r"), start)
    with contextlib.suppress(OSError):  # a read-only cache: derived again by the next process
        tmp = folder / f".walk.{secrets.token_hex(4)}.json"
        tmp.write_text(json.dumps({"sync": sync}))
        os.replace(tmp, path)  # whole or not at all, whichever process gets there first
    return sync


def _as_array(values: Any) -> array[int]:
    out: array[int] = array({2: "H", 4: "I", 8: "L"}[values.dtype.itemsize])
    out.frombytes(memoryview(values).cast("B"))
    return out


def _mapped(values: Any) -> memoryview:
    """A read-only view on the memory-mapped file: pages are read when the DFA visits them
    and shared by every process on the machine (the walk's tables are 59 MB; a copy per
    inspection process would dominate its memory)."""
    raw = memoryview(values).cast("B")
    size = values.dtype.itemsize
    return raw.cast("H") if size == 2 else raw.cast("I") if size == 4 else raw.cast("L")


def _walking(base: Any) -> Any:
    """py3langid's identifier with its byte walk done by relay._langwalk (C).

    Only the walk changes: the features come in the order they were first seen, with the
    counts collections.Counter gives, and are scored as py3langid scores them."""
    import numpy as np
    from py3langid.langid import RAW_FLOOR

    import relay._langwalk as _langwalk

    class WalkingIdentifier(base):  # type: ignore[misc]
        __slots__ = ("_next_features", "_next_rows", "_start_row", "_sync", "_weights")

        def language(self, text: str) -> str:
            """classify(text)[0]: from the scores summed in C (relay/_langwalk.c) where they
            tell the best language from the others by more than numpy's rounding could move
            them, else from py3langid's own scores. numpy's share of a detection (~30 us of
            ~45 in a loop) is the array set-up around a product of a few hundred rows."""
            weights = self._weights
            if weights is not None and not self._alias_pairs and self.min_confidence is None:
                best, gap, bound = _langwalk.best_class(
                    self._next_rows, self._next_rows.itemsize, self._next_features,
                    self._start_row, weights[0], len(self.nb_classes), weights[1],
                    self._encode(text), self._sync,
                )  # fmt: skip
                if gap > bound:
                    return str(self.nb_classes[best])
            return str(self.classify(text)[0])

        def _raw_score(self, text: bytes) -> Any:
            features, seen = _langwalk.row_counts(
                self._next_rows, self._next_rows.itemsize, self._next_features,
                self._start_row, text,
            )  # fmt: skip
            if not features:
                fill = 0.0 if self._norm_probs else RAW_FLOOR
                return np.full(len(self.nb_classes), fill, dtype=np.float32)
            idx = np.frombuffer(features, dtype=np.int64).astype(np.intp)
            counts = np.frombuffer(seen, dtype=np.int32).astype(np.float32)
            return np.log1p(counts) @ self.nb_ptc[idx] + self.nb_pc

    return WalkingIdentifier


def load_identifier(languages: tuple[str, ...], compiled: bool = True) -> Any:
    """A py3langid identifier for `languages`, from the unpacked cache when it can be used;
    its byte walk compiled (relay._langwalk) when that module was built and `compiled`."""
    import numpy as np
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    try:
        folder = _unpacked(languages)

        def load(name: str) -> Any:
            return np.load(folder / name, mmap_mode="r")

        classes = json.loads((folder / "classes.json").read_text())
        kind = LanguageIdentifier
        if compiled:
            with contextlib.suppress(ImportError):  # built without a C compiler
                kind = _walking(LanguageIdentifier)
        ptc, pc = np.asarray(load("ptc.npy")), np.asarray(load("pc.npy"))
        if kind is LanguageIdentifier:
            dense = np.load(_dense_table(folder), mmap_mode="r")
            return kind(
                ptc, pc, classes, _mapped(dense), load("output.npy").tolist(),
                norm_probs=False, tk_row=_as_array(load("row.npy")),
            )  # fmt: skip
        # The compiled walk reads only its own tables: py3langid's state lists (two lists
        # of 104,583 ints, ~7 MB a process) are left empty.
        identifier = kind(ptc, pc, classes, array("H"), [], norm_probs=False, tk_row=array("H"))
        identifier._start_row = int(load("row.npy")[0])
        identifier._next_rows = _mapped(load("next_rows.npy"))
        identifier._next_features = memoryview(load("next_features.npy")).cast("B")
        identifier._sync = _sync_of(folder)
        usable = ptc.dtype == np.float16 and pc.dtype == np.float32
        identifier._weights = (
            (np.ascontiguousarray(ptc), np.ascontiguousarray(pc)) if usable else None
        )
        return identifier
    except OSError:
        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        identifier.set_languages(list(languages))
        return identifier


class Py3LangidDetector:
    """Detects one of `languages` ('' when the text is too short to tell)."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self.languages = languages
        self._identifier: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"languages": self.languages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.languages = state["languages"]
        self._identifier = None

    def _load(self) -> Any:
        return load_identifier(self.languages)

    def detect(self, text: str) -> str:
        letters = itertools.islice(filter(str.isalpha, text[:MAX_CHARS]), MIN_LETTERS)
        if sum(1 for _ in letters) < MIN_LETTERS:  # stops at the 20th letter
            return ""
        if self._identifier is None:
            self._identifier = self._load()
        language = getattr(self._identifier, "language", None)  # the compiled identifier's
        if language is not None:
            return str(language(text[:MAX_CHARS]))
        return str(self._identifier.classify(text[:MAX_CHARS])[0])
