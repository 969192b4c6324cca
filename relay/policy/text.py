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

_INVISIBLE = dict.fromkeys(
    map(ord, "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u034f"),
    None,
)
_PUNCT = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u00b4": "'", "\u0060": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2212": "-",
        "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    }
)  # fmt: skip
_SPACE = re.compile(r"[ \t\r\f\v]+")


def fold(text: str) -> str:
    """Case and accent folding only (keeps ß as ss, as casefold does)."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize(text: str) -> str:
    """Fold case and accents, drop invisible characters, unify punctuation and blanks."""
    text = text.translate(_INVISIBLE).translate(_PUNCT)
    text = fold(text)
    return _SPACE.sub(" ", text)


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


def term_regex(term: str) -> str:
    """The regex source of one lexicon term (see the module docstring for the syntax)."""
    body, gap = "", False
    for word in normalize(term).split():
        if word == "~":
            gap = True
            continue
        if body:
            body += r"\s+(?:\S+\s+){0,3}?" if gap else r"\s+"
        body += _word_regex(word)
        gap = False
    words = normalize(term).split()
    head = r"(?<!\w)" if words and (words[0][:1].isalnum() or words[0][:1] == "_") else ""
    tail = r"(?!\w)" if words and (words[-1].rstrip("*?")[-1:].isalnum()) else ""
    return f"{head}{body}{tail}"


@dataclass(frozen=True)
class TermMatch:
    topic: str
    lang: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Topic:
    """One topic's terms in every language, as one pattern with a group per language: one
    scan of the text finds every language's matches. Patterns are compiled on first use, in
    the process that scans (the relay's main process never does)."""

    name: str
    terms: tuple[tuple[str, tuple[str, ...]], ...]  # (lang, terms)
    sources: tuple[tuple[str, str], ...]  # (lang, regex source)

    @classmethod
    def build(cls, name: str, by_lang: Mapping[str, Iterable[str]]) -> Topic:
        terms = tuple(
            (lang, tuple(t for t in ts if t.strip())) for lang, ts in sorted(by_lang.items())
        )
        sources = []
        for lang, ts in terms:
            # Longer terms first, so the evidence shows the most specific phrase.
            alternatives = sorted((term_regex(t) for t in ts), key=len, reverse=True)
            if alternatives:
                sources.append((lang, "|".join(alternatives)))
        return cls(name, terms, tuple(sources))

    def __getstate__(self) -> dict[str, object]:
        return {"name": self.name, "terms": self.terms, "sources": self.sources}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        groups = [f"(?P<{lang}>{source})" for lang, source in self.sources]
        return re.compile("|".join(groups) or r"(?!x)x")

    @cached_property
    def by_lang(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        # A filtered scan must not lose a match in the wanted language to another language's
        # alternative at the same position ("idiot" is German and English).
        return tuple((lang, re.compile(source)) for lang, source in self.sources)

    def finditer(self, text: str, langs: frozenset[str] = frozenset()) -> list[TermMatch]:
        """Matches in any language, or (with `langs`) in those languages and "any"."""
        if not langs:
            return [
                TermMatch(self.name, m.lastgroup or "", m.start(), m.end(), m.group(0).strip())
                for m in self.pattern.finditer(text)
            ]
        found = []
        for lang, pattern in self.by_lang:
            if lang in langs or lang == "any":
                found += [TermMatch(self.name, lang, m.start(), m.end(), m.group(0).strip())
                          for m in pattern.finditer(text)]  # fmt: skip
        return sorted(found, key=lambda m: m.start)

    def compile(self) -> None:
        """Compile now rather than on the first message (inspection workers warm up)."""
        _ = self.pattern, self.by_lang


@dataclass(frozen=True)
class Lexicon:
    """Every topic's terms in every language; built at the edge from data files."""

    topics: tuple[Topic, ...] = ()

    @classmethod
    def build(cls, data: Mapping[str, Mapping[str, Iterable[str]]]) -> Lexicon:
        """From {topic: {lang: [terms]}}."""
        return cls(tuple(Topic.build(name, by_lang) for name, by_lang in sorted(data.items())))

    def topic(self, name: str) -> Topic:
        for t in self.topics:
            if t.name == name:
                return t
        return Topic(name, (), ())

    def find(self, topic: str, normalized: str, langs: Iterable[str] = ()) -> list[str]:
        """Matched texts of `topic` in already-normalised text (all languages unless `langs`)."""
        return [m.text for m in self.topic(topic).finditer(normalized, frozenset(langs))]

    def has(self, topic: str, normalized: str, langs: Iterable[str] = ()) -> bool:
        return bool(self.find(topic, normalized, langs))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    """Split text into sentences (and lines): the window for co-occurrence rules."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]
