"""Text normalisation and lexicon matching for the language-bound rules.

`normalize` folds what senders vary without changing meaning: case, accents, HTML-ish
invisible characters (zero-width, soft hyphen, BOM), typographic apostrophes and dashes,
whitespace. Lexicon terms are written in the same folded form, so "Rückerstattung",
"RUCKERSTATTUNG" and "Rück\u00adersta\u200btt\u00adung" all match `ruckerstattung`.

Term syntax (data files under relay/data/lexicon/): words separated by spaces; a trailing
`*` on a word is a prefix (`bewert*` matches bewerten, Bewertung); a word `~` alone stands
for up to three other words ("manage ~ preferences" matches "manage your email
preferences"); a trailing `?` makes the preceding character optional.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from relay.policy.termindex import Match, TermIndex, literal_prefix
from relay.textscan import non_ascii, squeeze

TermMatch = Match  # one class for what the index finds and what rules read

INVISIBLE = "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u034f"
PUNCTUATION = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u00b4": "'", "\u0060": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
}  # fmt: skip
_SPECIAL = frozenset(INVISIBLE) | PUNCTUATION.keys()
_BLANKS = " \t\r\f\v"  # folded into one space; line breaks stay
_NEEDS_NFKD = frozenset("\u00bc\u00bd\u00be")  # Latin-1 letters NFKD turns into several
_LATIN1_FOLD = bytes.maketrans(
    bytes(range(256)),
    bytes(
        ord(folded[0])
        if len(
            folded := "".join(
                c for c in unicodedata.normalize("NFKD", chr(b)) if not unicodedata.combining(c)
            )
        )
        == 1
        and ord(folded[0]) < 256
        else b
        for b in range(256)
    ),
)


def fold(text: str) -> str:
    """Case and accent folding only (keeps ß as ss, as casefold does): casefold, NFKD, and
    the combining marks dropped.

    Latin-1 text (most of Western Europe's mail once typographic punctuation is unified)
    takes a byte table built from that same recipe, and every other text drops its marks by
    str.replace per distinct mark; a per-character generator costs ~100 ns a character."""
    folded = text.casefold()
    if folded.isascii():  # nothing to decompose (NFKD leaves ASCII as it is)
        return folded
    try:
        latin1 = folded.encode("latin-1")
    except UnicodeEncodeError:
        latin1 = b""
    if latin1 and _NEEDS_NFKD.isdisjoint(non_ascii(folded)):
        return latin1.translate(_LATIN1_FOLD).decode("latin-1")
    decomposed = unicodedata.normalize("NFKD", folded)
    for mark in {c for c in non_ascii(decomposed) if unicodedata.combining(c)}:
        decomposed = decomposed.replace(mark, "")
    return decomposed


def normalize(text: str) -> str:
    """Fold case and accents, drop invisible characters, unify punctuation and blanks."""
    if "`" in text:
        text = text.replace("`", "'")
    if not text.isascii():
        for ch in _SPECIAL.intersection(non_ascii(text)):
            text = text.replace(ch, PUNCTUATION.get(ch, ""))
    return squeeze(fold(text), _BLANKS)


def normalize_all(texts: list[str]) -> list[str]:
    """normalize() of each text, done as one pass over them joined by line breaks (every
    step works character by character or within a line, so the join splits back)."""
    if any("\n" in t for t in texts):
        return [normalize(t) for t in texts]
    out = normalize("\n".join(texts)).split("\n")
    return out if len(out) == len(texts) else [normalize(t) for t in texts]


def _word_regex(word: str) -> str:
    prefix = word.endswith("*")
    out = ""
    for ch in word.rstrip("*"):
        if ch == "?" and out:
            out += "?"
        elif ch == "-":
            out += r"[-\s]?"  # "e-mail" also matches "email" and "e mail"
        else:
            out += re.escape(ch)
    return out + (r"\w*" if prefix else "")


def term_parts(term: str) -> tuple[str, bool, str]:
    """(first normalised word, whether it starts at a word boundary, regex source without
    that leading boundary assertion) of one lexicon term."""
    body, gap = "", False
    words = normalize(term).split()
    for word in words:
        if word == "~":
            gap = True
            continue
        if body:
            body += r"\s+(?:\S+\s+){0,3}?" if gap else r"\s+"
        body += _word_regex(word)
        gap = False
    headed = bool(words) and (words[0][:1].isalnum() or words[0][:1] == "_")
    tail = r"(?!\w)" if words and (words[-1].rstrip("*?")[-1:].isalnum()) else ""
    return (words[0] if words else ""), headed, body + tail


_PLAIN_FIRST = re.compile(r"\w+\*?")


def second_word_start(term: str) -> str:
    """The letters the term's second word starts with, when its first word is plain (whole
    letters, perhaps a prefix `*`) and the second follows after blanks; else ""."""
    words = normalize(term).split()
    if len(words) < 2 or words[1] == "~" or not _PLAIN_FIRST.fullmatch(words[0]):
        return ""
    return literal_prefix(words[1])


def term_regex(term: str) -> str:
    """The regex source of one lexicon term (see the module docstring for the syntax)."""
    _, headed, source = term_parts(term)
    return (r"(?<!\w)" if headed else "") + source


@dataclass(frozen=True)
class Topic:
    """One topic's terms in every language. Its TermIndex (relay.policy.termindex) is built
    on first use, in the process that scans (the relay's main process never does)."""

    name: str
    terms: tuple[tuple[str, tuple[str, ...]], ...]  # (lang, terms)

    @classmethod
    def build(cls, name: str, by_lang: Mapping[str, Iterable[str]]) -> Topic:
        terms = tuple(
            (lang, tuple(t for t in ts if t.strip())) for lang, ts in sorted(by_lang.items())
        )
        return cls(name, terms)

    def __getstate__(self) -> dict[str, object]:
        return {"name": self.name, "terms": self.terms}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    def entries(self) -> list[tuple[str, str, str, str, bool, str]]:
        """This topic's terms for a TermIndex: by language, longest first (so the evidence
        shows the most specific phrase)."""
        out = []
        for lang, ts in self.terms:
            parts = sorted(((*term_parts(t), second_word_start(t)) for t in ts),
                           key=lambda p: -len(p[2]) - p[1] * 7)  # fmt: skip
            out += [(self.name, lang, first, source, headed, follow)
                    for first, headed, source, follow in parts]  # fmt: skip
        return out

    @cached_property
    def index(self) -> TermIndex:
        return TermIndex(self.entries())

    def finditer(self, text: str, langs: frozenset[str] = frozenset()) -> list[TermMatch]:
        """Matches in any language, or (with `langs`) in those languages and "any"."""
        wanted = {self.name: langs} if langs else None
        return self.index.scan(text, wanted)

    def compile(self) -> None:
        """Compile now rather than on the first message (inspection workers warm up)."""
        _ = self.index


@dataclass(frozen=True)
class Lexicon:
    """Every topic's terms in every language; built at the edge from data files."""

    topics: tuple[Topic, ...] = ()

    def __getstate__(self) -> dict[str, object]:
        return {"topics": self.topics}  # indexes are rebuilt where they are used

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @cached_property
    def _indexes(self) -> dict[tuple[str, ...], TermIndex]:
        return {}

    def index_for(self, names: Iterable[str]) -> TermIndex:
        """The named topics in one index (built once per set of names): one pass over the
        text finds all of them."""
        key = tuple(names)
        index = self._indexes.get(key)
        if index is None:
            wanted = frozenset(key)
            index = TermIndex(e for t in self.topics if t.name in wanted for e in t.entries())
            self._indexes[key] = index
        return index

    @cached_property
    def _without(self) -> dict[frozenset[str], TermIndex]:
        return {}

    def index_without(self, excluded: frozenset[str]) -> TermIndex:
        """index_for every topic but the `excluded` ones, found by the set itself (a
        frozenset keeps its hash) instead of by the names left: ~8 us less a message."""
        index = self._without.get(excluded)
        if index is None:
            names = [t.name for t in self.topics if t.name not in excluded]
            index = self._without[excluded] = self.index_for(names)
        return index

    def scan(
        self, text: str, names: Iterable[str], langs: dict[str, frozenset[str]]
    ) -> list[TermMatch]:
        """Matches of the named topics in one pass (`langs` filters some topics by language)."""
        return self.index_for(names).scan(text, langs)

    @classmethod
    def build(cls, data: Mapping[str, Mapping[str, Iterable[str]]]) -> Lexicon:
        """From {topic: {lang: [terms]}}."""
        return cls(tuple(Topic.build(name, by_lang) for name, by_lang in sorted(data.items())))

    def topic(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        return Topic(name, ())

    def find(self, topic: str, normalized: str, langs: Iterable[str] = ()) -> list[str]:
        """Matched texts of `topic` in already-normalised text (all languages unless `langs`)."""
        return [m.text for m in self.topic(topic).finditer(normalized, frozenset(langs))]

    def has(self, topic: str, normalized: str, langs: Iterable[str] = ()) -> bool:
        return bool(self.find(topic, normalized, langs))
