"""The compiled byte walk gives py3langid's own features, scores and answers.

relay._langwalk (C) replaces py3langid's Python loop over a text's bytes. Its feature
counts must equal py3langid's visit_counts (same features, same first-seen order, same
counts), and the identifier built on it must give the same scores, to the last bit, and
the same language as py3langid's own identifier: on every text of the suite (legitimate
replies, paraphrases, the public corpus, the seed phrases) and on generated text. The
detector's answer comes from scores summed in C, and only where they put the best language
ahead by more than rounding can explain; that answer must be py3langid's too.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import numpy as np
import pytest
from data.legit import LEGIT
from data.paraphrases import NEAR_MISSES, VIOLATIONS
from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import LanguageIdentifier, visit_counts

from relay import _langwalk
from relay.language import LANGUAGES, load_identifier, sync_length

COMPILED = load_identifier(LANGUAGES)
PLAIN = load_identifier(LANGUAGES, compiled=False)
CORPUS = sorted((Path(__file__).parents[3] / "shared" / "eval" / "corpus").glob("*.eml"))
PHRASES = (Path(__file__).parents[3] / "shared" / "spec" / "PHRASES.md").read_text()


def _bodies() -> list[str]:
    texts = []
    for path in CORPUS:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        texts += [p.get_content() for p in msg.walk() if p.get_content_type() == "text/plain"]
    return texts


TEXTS = (
    [c.body for c in LEGIT]
    + [case[-1] for case in (*VIOLATIONS, *NEAR_MISSES)]
    + _bodies()
    + [ln for ln in PHRASES.splitlines() if ln.strip()]
)


def walks_agree(text: str) -> None:
    data = LanguageIdentifier._encode(text)
    features, seen = _langwalk.row_counts(
        COMPILED._next_rows, COMPILED._next_rows.itemsize, COMPILED._next_features,
        COMPILED._start_row, data,
    )  # fmt: skip
    plain = visit_counts(PLAIN.tk_nextmove, PLAIN._rowbase, PLAIN.tk_output, data) or {}
    ids, counts = np.frombuffer(features, np.int64).tolist(), np.frombuffer(seen, np.int32)
    assert list(plain.items()) == list(zip(ids, counts.tolist(), strict=True))
    assert PLAIN._decide(text).tobytes() == COMPILED._decide(text).tobytes()
    assert PLAIN.classify(text) == COMPILED.classify(text)
    assert PLAIN.classify(text)[0] == COMPILED.language(text)


def test_compiled_walk_is_in_use() -> None:
    """The package was built with its C walk, and the detector uses it."""
    assert type(COMPILED).__name__ == "WalkingIdentifier"
    assert type(PLAIN) is LanguageIdentifier


def test_every_suite_text_gets_the_same_answer() -> None:
    """Features, scores and language agree on every text of the suite."""
    assert len(TEXTS) > 300
    for text in TEXTS:
        walks_agree(text[:1000])


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gets_the_same_answer(text: str) -> None:
    """Any Unicode text, empty and featureless ones included."""
    walks_agree(text)


def test_damaged_tables_are_an_error() -> None:
    """A row outside the tables, or tables that do not match, raise ValueError instead of
    reading past them."""
    one_row = b"\x00\x00\x00\x00" * 256  # 256 int32 features, or 512 uint16 rows
    with pytest.raises(ValueError, match="do not fit"):  # row 0 leads to row 65535
        _langwalk.row_counts(b"\xff\xff" * 256, 2, one_row[:1024], 0, b"ab")
    with pytest.raises(ValueError, match="do not fit"):  # the start row is not there
        _langwalk.row_counts(b"\x00\x00" * 256, 2, one_row[:1024], 1, b"ab")
    with pytest.raises(ValueError, match="do not fit"):  # a feature table of another size
        _langwalk.row_counts(b"\x00\x00" * 256, 2, one_row[:1020], 0, b"ab")
    with pytest.raises(ValueError, match="item size"):
        _langwalk.row_counts(b"\x00\x00" * 256, 3, one_row[:1024], 0, b"ab")
    assert _langwalk.row_counts(b"\x00\x00" * 256, 2, one_row[:1024], 0, b"ab") == (
        b"\x00" * 8,
        b"\x02\x00\x00\x00",
    )  # feature 0 seen twice


def _one_row_model(weights: list[list[float]]) -> tuple[bytes, bytes, bytes, bytes]:
    """Tables of one row where every byte leads back to it and is feature 0 (for byte 0x00)
    or feature 1 (any other byte); weights[f][class] as float16, the classes' priors 0."""
    rows = b"\x00\x00" * 256
    features = np.array([0] + [1] * 255, dtype=np.int32).tobytes()
    ptc = np.array(weights, dtype=np.float16).tobytes()
    pc = np.zeros(len(weights[0]), dtype=np.float32).tobytes()
    return rows, features, ptc, pc


def test_best_class_is_the_argmax_with_its_margin() -> None:
    """Two features, three classes: the scores are log1p(count) x weight, summed per class;
    the best class, its lead over the second and a rounding bound far below that lead."""
    rows, features, ptc, pc = _one_row_model([[-1.0, -2.0, -4.0], [-3.0, -1.0, -2.0]])
    best, gap, bound = _langwalk.best_class(rows, 2, features, 0, ptc, 3, pc, b"ab\x00")
    # feature 1 twice, feature 0 once: scores -log(2) - 3 log(3), -2 log(2) - log(3), ...
    scores = [-np.log1p(1) * a - np.log1p(2) * b for a, b in [(1, 3), (2, 1), (4, 2)]]
    assert (1, round(scores[1] - scores[0], 12)) == (best, round(gap, 12))
    assert 0 < bound < 1e-5


def test_a_tie_or_no_feature_is_left_to_numpy() -> None:
    """Equal scores give no lead; a text without features and a weight that is not finite
    give an infinite bound: the detector then asks py3langid's own scores."""
    rows, features, ptc, pc = _one_row_model([[-1.0, -1.0], [-2.0, -2.0]])
    best, gap, bound = _langwalk.best_class(rows, 2, features, 0, ptc, 2, pc, b"abc")
    assert (0, 0.0) == (best, gap)
    assert not gap > bound
    assert float("inf") == _langwalk.best_class(rows, 2, features, 0, ptc, 2, pc, b"")[2]
    rows, features, ptc, pc = _one_row_model([[-1.0, float("inf")], [-2.0, -2.0]])
    assert float("inf") == _langwalk.best_class(rows, 2, features, 0, ptc, 2, pc, b"\x00")[2]
    assert PLAIN.classify("")[0] == COMPILED.language("")


def test_weights_that_do_not_fit_are_an_error() -> None:
    """Weights for fewer features than the walk sees, or priors of another length, raise
    ValueError."""
    rows, features, ptc, pc = _one_row_model([[-1.0, -2.0]])  # feature 1 has no weights
    with pytest.raises(ValueError, match="no weights"):
        _langwalk.best_class(rows, 2, features, 0, ptc, 2, pc, b"a")
    with pytest.raises(ValueError, match="do not fit"):
        _langwalk.best_class(rows, 2, features, 0, ptc, 2, pc[:4], b"a")


def test_the_detector_uses_the_compiled_scores() -> None:
    """The detector's identifier has the C scores' weights at hand (float16 and float32, as
    the cached model stores them), and its answers on the suite come from them."""
    assert COMPILED._weights is not None
    assert not COMPILED._alias_pairs
    undecided = []
    for text in TEXTS:
        data = COMPILED._encode(text[:1000])
        ptc, pc = COMPILED._weights
        _best, gap, bound = _langwalk.best_class(
            COMPILED._next_rows, COMPILED._next_rows.itemsize, COMPILED._next_features,
            COMPILED._start_row, ptc, len(COMPILED.nb_classes), pc, data,
        )  # fmt: skip
        if not gap > bound:
            undecided.append((text, bound))
    # Only texts without a single feature (a line of symbols) are left to numpy.
    assert [] == [(text, bound) for text, bound in undecided if bound != float("inf")]
    assert len(undecided) <= 3


def test_the_cache_holds_the_dense_table_only_once_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh cache gets the compiled walk's tables; py3langid's own transition table is
    unpacked beside them only for an identifier that walks it, and both answer alike."""
    monkeypatch.setenv("BSM_RELAY_CACHE", str(tmp_path))
    compiled = load_identifier(LANGUAGES)
    (folder,) = tmp_path.iterdir()
    names = sorted(p.name for p in folder.iterdir())
    expected = ["classes.json", "next_features.npy", "next_rows.npy", "output.npy", "pc.npy",
                "ptc.npy", "row.npy", "walk.json"]  # fmt: skip
    assert expected == names
    plain = load_identifier(LANGUAGES, compiled=False)
    assert sorted([*expected, "nextmove.npy"]) == sorted(p.name for p in folder.iterdir())
    text = "Vielen Dank für Ihre Nachricht, das Paket ist heute an Sie unterwegs."
    assert plain.classify(text) == compiled.classify(text)
    assert "de" == compiled.language(text)


def _scores(text: str, sync: int) -> tuple[int, float, float]:
    ptc, pc = COMPILED._weights
    return _langwalk.best_class(
        COMPILED._next_rows, COMPILED._next_rows.itemsize, COMPILED._next_features,
        COMPILED._start_row, ptc, len(COMPILED.nb_classes), pc,
        COMPILED._encode(text[:1000]), sync,
    )  # fmt: skip


def _agree_in_pieces(text: str) -> None:
    best, gap, bound = _scores(text, 0)
    assert (best, pytest.approx(gap, rel=1e-12, abs=1e-9), pytest.approx(bound, rel=1e-12)) == (
        _scores(text, COMPILED._sync)
    )


def test_the_walk_in_pieces_gives_the_same_scores() -> None:
    """Walked in pieces side by side, each from `sync` bytes early, every suite text and
    every run of ten of them gets the best class, lead and bound of the walk in one chain
    (the sums differ in order only: by less than 1e-12 of them)."""
    assert 5 == COMPILED._sync
    runs = ["\n".join(TEXTS[i : i + 10]) for i in range(len(TEXTS))]
    long_enough = [text for text in runs if len(COMPILED._encode(text[:1000])) >= 552]
    assert len(long_enough) >= 300  # texts the pieces are walked for (8 x (5 + 64) bytes)
    for text in TEXTS + runs:
        _agree_in_pieces(text)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=500, max_size=1200))
def test_any_long_text_gets_the_same_scores_in_pieces(text: str) -> None:
    """Generated text of 500 to 1,200 characters (past the length the pieces need): the same
    best class, lead and bound as the walk in one chain."""
    _agree_in_pieces(text)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**31), st.binary(min_size=5, max_size=5))
def test_sync_bytes_bring_any_row_to_the_start_walks_row(row: int, tail: bytes) -> None:
    """After `sync` bytes the walk is in the same row whatever row it came from: what lets a
    piece start with the start row `sync` bytes before its first counted byte."""
    rows = COMPILED._next_rows
    here, there = row % (len(rows) // 256), COMPILED._start_row
    for byte in tail[: COMPILED._sync]:
        here, there = rows[(here << 8) + byte], rows[(there << 8) + byte]
    assert here == there


def test_sync_length_of_small_automata() -> None:
    """An automaton whose row is its last byte's class syncs in one byte, one that must see
    two bytes in two, and one that keeps the parity of all it read never does (0)."""
    last_byte = np.array([b % 3 for _ in range(3) for b in range(256)], dtype=np.uint16)
    assert 1 == sync_length(last_byte, 0)
    # rows (previous byte odd?, this byte odd?) -> row 2 * prev + this; start row 0
    two = np.array([2 * (r % 2) + (b % 2) for r in range(4) for b in range(256)], np.uint16)
    assert 2 == sync_length(two, 0)
    parity = np.array([(r + b) % 2 for r in range(2) for b in range(256)], dtype=np.uint16)
    assert 0 == sync_length(parity, 0, limit=8)
