"""The lexicon's word index finds what one alternation per topic finds.

relay.policy.termindex promises the semantics of the alternation it replaced: per topic
(and per language, where a language filter is given) matches do not overlap, and at one
place the term tried first wins (language order, longest first). The reference below builds
that alternation for every (topic, language key) from the same entries and runs it over the
text with finditer. Texts are made of the real lexicon's words, multi-word terms, prefixes
and gaps in six languages, mixed with other words and punctuation; whole-word terms
(filler words), the prefilter alternation and the prefix table all take part.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruletools import lexicon

from relay.policy.analysis import OWN_TEXT_TOPICS, sentence_topics
from relay.policy.termindex import Match, TermIndex, required_literal
from relay.policy.text import normalize, term_parts


@cache
def entries() -> list[tuple[str, str, str, str, bool, str]]:
    return [e for t in lexicon().topics for e in t.entries()]


@cache
def alternations(
    langs: tuple[tuple[str, frozenset[str]], ...],
) -> list[tuple[str, list[str], re.Pattern[str]]]:
    """(topic, languages of the alternatives, the alternation) per (topic, language key)."""
    wanted_by_topic = dict(langs)
    groups: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for topic, lang, _first, source, headed, _follow in entries():
        wanted = wanted_by_topic.get(topic)
        if wanted is not None and lang not in wanted and lang != "any":
            continue
        key = (topic, lang if wanted is not None else "")
        groups.setdefault(key, []).append((lang, (r"(?<!\w)" if headed else "") + source))
    return [
        (topic, [lang for lang, _ in alts], re.compile("|".join(f"({s})" for _, s in alts)))
        for (topic, _), alts in groups.items()
    ]


def reference_scan(text: str, langs: dict[str, frozenset[str]]) -> list[Match]:
    """One alternation per (topic, language key), alternatives in the index's trial order."""
    found: list[Match] = []
    for topic, alt_langs, pattern in alternations(tuple(sorted(langs.items()))):
        for m in pattern.finditer(text):
            lang = alt_langs[(m.lastindex or 1) - 1]
            found.append(Match(topic, lang, m.start(), m.end(), m.group(0).strip()))
    return sorted(found, key=lambda m: (m.start, m.topic, m.lang))


def _pieces() -> list[str]:
    terms = [t for topic in lexicon().topics for _, ts in topic.terms for t in ts]
    words = sorted({w.rstrip("*?") for t in terms for w in t.split() if w not in ("~",)})
    return sorted(set(terms))[::7] + words[::3]


PIECES = [normalize(p.replace("*", "ung").replace("~", "ihre neue")) for p in _pieces()]
FILLER = ["x", "42", ",", ".", "-", "'", "und", "bitte", "de", "la", "the"]
texts = st.lists(st.sampled_from(PIECES + FILLER), max_size=12).map(" ".join)
filters = st.sampled_from([{}, {"sensitive": frozenset({"de", "any"})},
                           {"review_noun": frozenset({"en"}), "filler": frozenset({"fr"})}])  # fmt: skip


@cache
def python_index() -> TermIndex:
    """Every topic, its word loop in Python (the build without relay/_termscan.c)."""
    return TermIndex(entries(), compiled=False)


@settings(max_examples=200, deadline=None)
@given(texts, filters, st.booleans())
def test_index_equals_one_alternation_per_topic(
    text: str, langs: dict[str, frozenset[str]], compiled: bool
) -> None:
    """Same matches (topic, language, span, text) as the per-topic alternations, with the
    word loop in C and in Python, in the order of their starts (the analysis relies on it)."""
    index = lexicon().index_for(t.name for t in lexicon().topics) if compiled else python_index()
    found = index.scan(text, langs)
    actual = sorted(found, key=lambda m: (m.start, m.topic, m.lang))
    assert reference_scan(text, langs) == actual
    assert sorted(m.start for m in found) == [m.start for m in found]


def test_whole_word_terms_and_their_longer_neighbours() -> None:
    """A filler word alone and the longer terms it starts are both found where they stand."""
    index = lexicon().index_for(t.name for t in lexicon().topics)
    text = normalize("Bitte bewerten Sie die Lampe, die Ihnen gefällt.")
    assert reference_scan(text, {}) == sorted(
        index.scan(text, {}), key=lambda m: (m.start, m.topic, m.lang)
    )
    assert {"filler"} <= {m.topic for m in index.scan(text, {})}


@pytest.mark.parametrize(
    ("term", "needle"),
    [
        ("die ~ bewertung, die", "bewertung,"),  # after a gap; "," is a literal
        ("1-sterne-bewertung", "bewertung"),  # "-" may be a blank or nothing
        ("5 star*", "star"),  # a prefix: its letters are there
        ("amazon's fees", "fees"),
        ("stars?", ""),  # the optional s ends the run; "star" is where it is filed
        ("gift card", "card"),
        ("reach us on", ""),  # no run of three letters past the first word
        ("amazon.", ""),
    ],
)
def test_a_terms_needle_is_the_longest_run_every_match_holds(term: str, needle: str) -> None:
    """The needle: the longest run of literal characters after the first, three at least."""
    assert needle == required_literal(term_parts(term)[2])


def examples(term: str) -> list[str]:
    """Texts the term matches: optional characters kept and dropped, "-" as itself, a blank
    and nothing, a gap as two words, a prefix completed."""
    out = []
    for keep, dash in ((True, "-"), (False, " "), (False, "")):
        words = []
        for word in normalize(term).split():
            if word == "~":
                words.append("zwei worte")
                continue
            text = ""
            for ch in word.rstrip("*"):
                if ch == "?" and text:
                    text = text if keep else text[:-1]
                else:
                    text += dash if ch == "-" else ch
            words.append(text + ("ung" if word.endswith("*") else ""))
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize(
    ("term", "needle"),
    [("% rabatt", "rabatt"), ("★★★★★", "★★★★★"), ("% de reduction", "reduction"), ("€", "€")],
)
def test_a_fallbacks_needle_may_be_its_first_run(term: str, needle: str) -> None:
    """For a term searched in the whole text the run it starts with counts, of any length."""
    assert needle == required_literal(term_parts(term)[2], first=True)


def test_every_match_of_a_term_holds_its_needle() -> None:
    """For every term of the lexicon with a needle, the texts it matches hold the needle
    (a needle a match can lack would hide that term wherever the needle is missing), both
    the index's needle and the whole-text search's (first run included)."""
    checked, lacking = 0, []
    for topic in lexicon().topics:
        for _, terms in topic.terms:
            for term in terms:
                _, _, source = term_parts(term)
                for first in (False, True):
                    needle = required_literal(source, first=first)
                    if not needle:
                        continue
                    for text in examples(term):
                        m = re.compile(source).match(text)
                        if m is not None:
                            checked += 1
                            if needle not in m.group(0):
                                lacking.append((term, text, needle))
    assert ([], True) == (lacking, checked > 4000)


def test_the_sentence_index_is_the_index_of_the_sentence_topics() -> None:
    """index_without(OWN_TEXT_TOPICS), what the analysis scans with, is the very index of
    sentence_topics (the one the inspection worker builds while it warms up), once."""
    lex = lexicon()
    first = lex.index_without(OWN_TEXT_TOPICS)
    assert (True, True) == (
        first is lex.index_for(sentence_topics(lex)),
        first is lex.index_without(OWN_TEXT_TOPICS),
    )


def test_fallbacks_are_searched_only_where_their_needles_are() -> None:
    """Texts with and without a fallback term's literals: the scan finds what searching
    every fallback finds (a text without "rabatt" or "★★★★★" is not searched for them)."""
    index = lexicon().index_for(sentence_topics(lexicon()))
    assert index.fallback
    assert all(n is not None for n in index.fallback_needles)
    for text in ["jetzt 20 % rabatt auf alles", "20 % auf alles", "★★★★★ bitte", "★★★★ ja"]:
        expected = sorted(
            (topic, m.start()) for topic, _, p in index.fallback for m in p.finditer(text)
        )
        found = sorted((m.topic, m.start) for m in index.scan(text, {}) if m.text[:1] in "%★")
        assert expected == found
