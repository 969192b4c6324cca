"""Fast lexicon matching: try each term only where the text has its first word.

One big alternation per topic made Python's regex engine try every alternative at every
character (the `(?<!\\w)` that starts each term defeats sre's first-character prefilter):
~1 µs per character per topic, 90 ms for an 18 KB reply and minutes for a 10 MB one. Here
every term is compiled alone, without its leading word-boundary assertion, and filed under
its first word: the whole word when it is plain letters (`gift card` under "gift") or ends
at a literal non-word character (`it's` under "it"), else the literal letters it starts with
(`bewert*` under "bewert"). A scan walks
the text's words once (one regex pass) and, for each, tries only the terms filed under that
word or one of its prefixes, with `pattern.match(text, pos)`; cost is linear in the number of
words. Terms whose first character is not fixed (`e?mail`, a leading symbol) go into a small
fallback alternation.

Semantics match the alternation it replaces: within one topic (and, when a language filter
is given, within one language) matches do not overlap, and at one position the candidate
tried first wins, in the order language, then longest source first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate, compress
from typing import NamedTuple, cast

try:  # the word loop in C (relay/_termscan.c); absent when built without a C compiler
    from relay import _termscan

    HAS_C_SCAN = True
except ImportError:  # pragma: no cover - the Python loop below does the same
    HAS_C_SCAN = False

_WORD_SPLIT = re.compile(r"(\w+)")  # split() gives gap, word, gap, …: a word is maximal
_SPECIAL = frozenset("?*-")


@dataclass(frozen=True)
class Candidate:
    topic: str
    lang: str
    order: int  # lower is tried first at a position
    pattern: re.Pattern[str]
    whole_word: bool = False  # one word (or prefix) alone: it matches the whole text word
    follow: str = ""  # its second word starts with these letters, right after blanks; "": ?
    needle: str = ""  # letters every match holds past its first word's start; "": unknown
    # What relay/_termscan.c reads, as one tuple: (topic, lang, pattern, whole_word, needle,
    # (topic, lang), (topic, "")), the last two its keys with and without a language filter.
    row: tuple[object, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        row = (self.topic, self.lang, self.pattern, self.whole_word, self.needle,
               (self.topic, self.lang), (self.topic, ""))  # fmt: skip
        object.__setattr__(self, "row", row)


def literal_prefix(first_word: str) -> str:
    """The word characters every match of this (normalised) lexicon word starts with."""
    out = ""
    for i, ch in enumerate(first_word):
        optional = i + 1 < len(first_word) and first_word[i + 1] == "?"
        if ch in _SPECIAL or optional or not (ch.isalnum() or ch == "_"):
            break  # keys hold only word characters, as the text's word starts do
        out += ch
    return out


# The pieces relay.policy.text.term_parts writes between a term's literal characters: each
# ends a run of letters every match holds. Anything else in a source means "do not guess".
_BREAKS = (r"\s+(?:\S+\s+){0,3}?", r"[-\s]?", r"(?!\w)", r"\s+", r"\w*")
_SYNTAX = frozenset("\\.^$*+?{}[]|()")
MIN_NEEDLE = 3  # shorter runs are in most texts: looking for them costs more than it saves


def required_literal(source: str, first: bool = False) -> str:
    """The longest run of literal characters that every match of `source` (a term's regex
    as term_parts writes it) holds, past the run it starts with (the letters the index
    files it under, there wherever it is tried); "" when it has none of MIN_NEEDLE or more
    or holds a piece term_parts never writes. A character followed by "?" is optional and
    ends the run before it. `first`: the run it starts with counts too, and so does a run
    shorter than MIN_NEEDLE (for a term searched in the whole text: "%" in "% rabatt")."""
    runs: list[str] = []
    run, at = "", 0
    while at < len(source):
        piece = next((b for b in _BREAKS if source.startswith(b, at)), None)
        if piece is not None:
            runs.append(run)
            run, at = "", at + len(piece)
        elif source[at] == "?":  # the character before it may be missing
            runs.append(run[:-1])
            run, at = "", at + 1
        elif source[at] == "\\" and at + 1 < len(source) and not source[at + 1].isalnum():
            run, at = run + source[at + 1], at + 2  # re.escape's form of a special character
        elif source[at] in _SYNTAX:
            return ""
        else:  # a letter, or a symbol re.escape leaves as it is ("," "'")
            run, at = run + source[at], at + 1
    runs.append(run)
    best = max(runs if first else runs[1:], key=len, default="")
    return best if len(best) >= (1 if first else MIN_NEEDLE) else ""


class Entry(NamedTuple):
    """What a text word can start: its candidates in trial order, those of them that are
    the word alone, the letters the next word starts with for those that continue with one,
    and one pattern for all the others."""

    candidates: tuple[Candidate, ...]
    whole: tuple[Candidate, ...]  # those that are the word alone, in trial order
    follows: tuple[str, ...]
    any_other: re.Pattern[str] | None
    # The needles of the terms in any_other: where the text holds none of them, any_other
    # cannot match and is not tried. None when one of those terms has no needle.
    needles: tuple[str, ...] | None = None
    rows: tuple[tuple[object, ...], ...] = ()  # Candidate.row of each candidate
    whole_rows: tuple[tuple[object, ...], ...] = ()  # and of each of `whole`


_NOTHING: tuple[()] = ()  # the memo's value for a word that starts no term: falsy


class Match(NamedTuple):
    """One term found: a tuple, made a few dozen times a message (a frozen dataclass costs
    twice as much to build)."""

    topic: str
    lang: str
    start: int
    end: int
    text: str


class TermIndex:
    """Every term of some topics, filed by the first letters of its first word."""

    def __init__(
        self, entries: Iterable[tuple[str, str, str, str, bool, str]], compiled: bool = True
    ) -> None:
        """entries: (topic, lang, first word (normalised), regex source without head, headed,
        the literal start of the second word when it follows the first after blanks).
        `compiled`: run the word loop in C when relay._termscan was built."""
        self.compiled = compiled
        self.exact: dict[str, list[Candidate]] = {}  # plain first word -> its terms
        self.prefix: dict[str, list[Candidate]] = {}  # literal start of a first word -> terms
        self._words: dict[str, Entry | tuple[()]] = {}
        self._any: dict[tuple[Candidate, ...], re.Pattern[str]] = {}
        fallback: dict[tuple[str, str], list[str]] = {}
        for order, (topic, lang, first, source, headed, follow) in enumerate(entries):
            prefix = literal_prefix(first)
            if not headed or not prefix or not (prefix[0].isalnum() or prefix[0] == "_"):
                head = r"(?<!\w)" if headed else ""
                fallback.setdefault((topic, lang), []).append(head + source)
                continue
            # A term of one plain word (or word prefix `bewert*`) matches the whole text word
            # wherever it is a candidate: no regex is needed to know it.
            plain = prefix == first and source == re.escape(first) + r"(?!\w)"
            starts = first == prefix + "*" and source == re.escape(prefix) + r"\w*(?!\w)"
            whole = plain or starts
            needle = "" if whole else required_literal(source)
            candidate = Candidate(topic, lang, order, re.compile(source), whole, follow, needle)
            # `d'abord`, `amazon.`: a literal non-word character ends the text word there, so
            # the word is exactly the prefix (filing it under "any word starting with d"
            # would try it at every such word).
            after = first[len(prefix) : len(prefix) + 1]
            exact = prefix == first or (
                after not in _SPECIAL and not (after.isalnum() or after == "_")
            )
            table = self.exact if exact else self.prefix
            table.setdefault(prefix, []).append(candidate)
        self.prefix_lengths = tuple(sorted({len(k) for k in self.prefix}))
        self.fallback = tuple(
            (topic, lang, re.compile("|".join(sources)))
            for (topic, lang), sources in fallback.items()
        )
        # Every match of a fallback holds one of its sources' literals: a text holding none
        # is not searched (eight of the nine fallbacks need a "%", which few replies hold).
        self.fallback_needles = tuple(
            tuple(needles) if all(needles) else None
            for needles in (
                [required_literal(src.removeprefix(r"(?<!\w)"), first=True) for src in sources]
                for sources in fallback.values()
            )
        )

    def _candidates(self, word: str) -> Entry | tuple[()]:
        """The terms that can start at this text word, in trial order, and cheap tests for
        the longer ones; memoised (words repeat within and across messages; the memo is
        bounded for text with endless new words).

        "die" starts 48 terms, one of them "die" alone (a filler word): that one matches
        wherever the word stands. Most of the others continue with a second word after
        blanks ("die bewertung"): they can match only where the next word starts with one
        of their second words' letters. The rest are one alternation, which fails in C at
        most places. The terms are tried one by one only where one of those tests passes."""
        found = list(self.exact.get(word, ()))
        for size in self.prefix_lengths:
            if size > len(word):
                break
            found += self.prefix.get(word[:size], ())
        found.sort(key=lambda c: c.order)
        candidates = tuple(found)
        others = tuple(c for c in candidates if not c.whole_word and not c.follow)
        any_other = None
        if others:
            any_other = self._any.get(others)
            if any_other is None:
                alternation = "|".join(f"(?:{c.pattern.pattern})" for c in others)
                any_other = self._any[others] = re.compile(alternation)
        follows = tuple(dict.fromkeys(c.follow for c in candidates if c.follow))
        if len(self._words) > 200_000:
            self._words.clear()
            self._any.clear()
        whole = tuple(c for c in candidates if c.whole_word)
        needles = tuple(c.needle for c in others)
        needed = None if not others or "" in needles else tuple(dict.fromkeys(needles))
        rows = tuple(c.row for c in candidates)
        whole_rows = tuple(c.row for c in whole)
        result = (
            Entry(candidates, whole, follows, any_other, needed, rows, whole_rows)
            if candidates
            else _NOTHING
        )
        self._words[word] = result
        return result

    def scan(self, text: str, langs: dict[str, frozenset[str]] | None = None) -> list[Match]:
        """All matches in `text`, sorted by start. `langs` restricts a topic to those
        languages (plus "any") and lets its languages' matches overlap."""
        langs = langs or {}
        if self.compiled and HAS_C_SCAN:
            rows = _termscan.words(text, self._words, self._candidates, langs)
        else:
            rows = self._word_matches(text, langs)
        found = list(map(Match._make, rows))
        extra: list[Match] = []
        for (topic, lang, pattern), needles in zip(
            self.fallback, self.fallback_needles, strict=True
        ):
            wanted = langs.get(topic)
            if wanted is not None and lang not in wanted and lang != "any":
                continue
            if needles is not None and not any(needle in text for needle in needles):
                continue
            extra += [Match(topic, lang, m.start(), m.end(), m.group(0).strip())
                      for m in pattern.finditer(text)]  # fmt: skip
        if not extra:  # the word loop's matches come by start and never overlap per key
            return found
        found += extra
        found.sort(key=lambda m: m.start)
        return _drop_overlaps(found, langs)

    def _word_matches(
        self, text: str, langs: dict[str, frozenset[str]]
    ) -> list[tuple[str, str, int, int, str]]:
        """(topic, lang, start, end, text) of the terms that start at the text's words, in
        the order they are found; relay/_termscan.c is the same loop in C."""
        found: list[tuple[str, str, int, int, str]] = []
        busy: dict[tuple[str, str], int] = {}  # (topic, lang or "") -> end of its last match
        # Most words start no term. Splitting, offsets and the memo look-ups run in C over
        # every word; the Python loop below only sees the words that start a term.
        pieces = _WORD_SPLIT.split(text)  # gap, word, gap, word, ..., gap
        tokens = pieces[1::2]
        offsets = list(accumulate(map(len, pieces)))  # offsets[2k]: where word k starts
        entries = list(map(self._words.get, tokens))
        if None in entries:  # words not met before (the memo spans messages)
            entries = [e if e is not None else self._candidates(w)
                       for e, w in zip(entries, tokens, strict=True)]  # fmt: skip
        last = len(tokens) - 1
        held: dict[str, bool] = {}  # needle -> whether the text holds it

        def holds(needle: str) -> bool:
            if needle not in held:
                held[needle] = needle in text
            return held[needle]

        for i in compress(range(len(tokens)), entries):  # _NOTHING is falsy
            entry = cast(Entry, entries[i])
            word, start = tokens[i], offsets[2 * i]
            longer = bool(
                entry.follows and i < last and pieces[2 * i + 2].isspace()
                and tokens[i + 1].startswith(entry.follows)
            )  # fmt: skip
            if (
                not longer
                and entry.any_other is not None
                and (entry.needles is None or any(map(holds, entry.needles)))
            ):
                longer = entry.any_other.match(text, start) is not None
            candidates = entry.candidates if longer else entry.whole
            # Per (topic, language), the first term in trial order that matches here wins.
            best: dict[tuple[str, str], tuple[Candidate, int, str]] = {}
            for c in candidates:
                wanted = langs.get(c.topic)
                if wanted is not None and c.lang not in wanted and c.lang != "any":
                    continue
                key = (c.topic, c.lang if wanted is not None else "")
                if key in best or busy.get(key, -1) > start:
                    continue
                if c.whole_word:
                    best[key] = (c, start + len(word), word)
                elif c.needle and not holds(c.needle):
                    continue
                elif (m := c.pattern.match(text, start)) is not None:
                    best[key] = (c, m.end(), m.group(0).strip())
            for key, (c, end, matched) in best.items():
                found.append((c.topic, c.lang, start, end, matched))
                busy[key] = end if end > start else start + 1
        return found


def _drop_overlaps(found: list[Match], langs: dict[str, frozenset[str]]) -> list[Match]:
    """Fallback matches can overlap indexed ones of the same topic: keep the earlier."""
    busy: dict[tuple[str, str], int] = {}
    out = []
    for m in found:
        key = (m.topic, m.lang if m.topic in langs else "")
        if busy.get(key, -1) > m.start:
            continue
        busy[key] = max(m.end, m.start + 1)
        out.append(m)
    return out
