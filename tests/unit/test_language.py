"""The compiled byte walk gives py3langid's own features, scores and answers.

relay._langwalk (C) replaces only py3langid's Python loop over a text's bytes. Its feature
counts must equal py3langid's visit_counts (same features, same first-seen order, same
counts), and the identifier built on it must give the same scores, to the last bit, and
the same language as py3langid's own identifier: on every text of the suite (legitimate
replies, paraphrases, the public corpus, the seed phrases) and on generated text.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import numpy as np
from data.legit import LEGIT
from data.paraphrases import NEAR_MISSES, VIOLATIONS
from hypothesis import given, settings
from hypothesis import strategies as st
from py3langid.langid import LanguageIdentifier, visit_counts

from relay import _langwalk
from relay.language import LANGUAGES, load_identifier

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
    features, seen = _langwalk.counts(
        COMPILED.tk_nextmove, COMPILED.tk_nextmove.itemsize, COMPILED.tk_row,
        COMPILED.tk_row.itemsize, COMPILED._output32, data,
    )  # fmt: skip
    plain = visit_counts(PLAIN.tk_nextmove, PLAIN._rowbase, PLAIN.tk_output, data) or {}
    ids, counts = np.frombuffer(features, np.int64).tolist(), np.frombuffer(seen, np.int32)
    assert list(plain.items()) == list(zip(ids, counts.tolist(), strict=True))
    assert PLAIN._decide(text).tobytes() == COMPILED._decide(text).tobytes()
    assert PLAIN.classify(text) == COMPILED.classify(text)


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
    """A state outside the tables raises ValueError instead of reading past them."""
    import pytest

    with pytest.raises(ValueError, match="do not fit"):
        _langwalk.counts(b"\xff\xff\xff\x7f" * 512, 4, b"\x00\x00", 2, b"\x00\x00\x00\x00", b"ab")
