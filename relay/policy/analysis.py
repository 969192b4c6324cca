"""Text analysis shared by the language-bound rules, computed once per message.

The sender's own text (subject, then the new text of every body part, quoted history left
out, duplicate alternatives merged) is normalised (relay.policy.text), split into sentences,
and every lexicon topic is matched once over all of it. Rules then ask sentence-level
questions: does topic A occur, is it within N words of topic B, in which order. Review topics
are matched on a copy where "false friends" ("we reviewed your request", "à notre avis") are
blanked out, so the word "review" in another sense never starts a review rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from relay.policy.envelope import marketplace_tld
from relay.policy.text import TermMatch, normalize_all

try:
    from relay import _linemarks

    HAS_C_SENTENCES = True
except ImportError:  # built without a C compiler: the same split in Python
    HAS_C_SENTENCES = False

if TYPE_CHECKING:
    from relay.message import Message
    from relay.policy.context import PolicyContext
    from relay.policy.text import Lexicon

# A sentence ends at a line break, or at a blank run after . ! or ? with more text behind.
_SENTENCE_BREAK = re.compile(r"[.!?]\s+(?=\S)")
REVIEW_PREFIX = "review_"
FALSE_FRIEND = "review_false_friend"
# Topics the rules match on pieces of text of their own (a link's text, the first line, what
# is left of a thanks sentence), never on the message's sentences: the sentence scan leaves
# them out (tests/unit/test_analysis_topics.py checks that no rule asks a sentence for one).
OWN_TEXT_TOPICS = frozenset({"filler", "greeting", "link_text", "signoff", "thanks", "unsubscribe"})


def sentence_topics(lexicon: Lexicon) -> tuple[str, ...]:
    """The topics the sentence scan looks for (lexicon.index_without(OWN_TEXT_TOPICS))."""
    return tuple(t.name for t in lexicon.topics if t.name not in OWN_TEXT_TOPICS)


def review_topics(lexicon: Lexicon) -> tuple[str, ...]:
    """The review topics, scanned again where false friends were blanked out."""
    return tuple(t.name for t in lexicon.topics
                 if t.name.startswith(REVIEW_PREFIX) and t.name != FALSE_FRIEND)  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    index: int
    part: int  # -1 for the subject
    text: str  # normalised
    matches: tuple[TermMatch, ...]

    @cached_property
    def _by_topic(self) -> dict[str, tuple[TermMatch, ...]]:
        """The matches by topic, in order: rules ask has/get some 200 times a message."""
        grouped: dict[str, list[TermMatch]] = {}
        for m in self.matches:
            grouped.setdefault(m.topic, []).append(m)
        return {topic: tuple(ms) for topic, ms in grouped.items()}

    def get(self, topic: str) -> list[TermMatch]:
        # Most sentences match nothing: they answer without building the grouping.
        return list(self._by_topic.get(topic, ())) if self.matches else []

    def has(self, topic: str) -> bool:
        return bool(self.matches) and topic in self._by_topic

    def words_between(self, a: TermMatch, b: TermMatch) -> int:
        """Words strictly between two matches (0 when they touch or overlap)."""
        first, second = (a, b) if a.start <= b.start else (b, a)
        gap = self.text[first.end : second.start]
        return len(gap.split()) if second.start > first.end else 0

    def near(
        self, a: str, b: str, words: int, ordered: bool = False
    ) -> tuple[TermMatch, TermMatch] | None:
        """A pair of matches of topics a and b at most `words` apart (a first, if ordered)."""
        for ma in self.get(a):
            for mb in self.get(b):
                if ordered and ma.start > mb.start:
                    continue
                if self.words_between(ma, mb) <= words:
                    return ma, mb
        return None


@dataclass(frozen=True)
class Analysis:
    language: str  # detected from the sender's text, '' when unknown
    default_language: str  # the marketplace's language for the recipient
    sentences: tuple[Sentence, ...]

    @property
    def effective_language(self) -> str:
        return self.language or self.default_language

    def with_topic(self, topic: str) -> list[Sentence]:
        return [s for s in self.sentences if s.has(topic)]

    @cached_property
    def topics(self) -> frozenset[str]:
        """Every topic some sentence has: a rule whose topics are all missing returns early."""
        return frozenset(m.topic for s in self.sentences for m in s.matches)

    @cached_property
    def _by_part(self) -> dict[int, list[Sentence]]:
        parts: dict[int, list[Sentence]] = {}
        for s in self.sentences:
            parts.setdefault(s.part, []).append(s)
        return parts

    def window(self, sentence: Sentence, size: int = 1) -> list[Sentence]:
        """The sentence and its neighbours in the same part."""
        same = self._by_part.get(sentence.part, [])
        at = sentence.index
        if 0 <= at < len(same) and same[at] is sentence:  # indexes count 0, 1, 2… per part
            return same[max(0, at - size) : at + size + 1]
        return [s for s in same if abs(s.index - sentence.index) <= size]


def split_sentences(text: str) -> list[str]:
    """Sentences and lines, stripped, empty ones left out: the split of the pattern
    `(?<=[.!?])\\s+(?=\\S)|\n+` over the text (tests/unit/test_prefilters.py), done line by line
    and only where a line has sentence punctuation (a pattern tried at every character of a
    reply costs ~40 ns each)."""
    out: list[str] = []
    for line in text.split("\n"):
        start = 0
        if "." in line or "!" in line or "?" in line:
            for m in _SENTENCE_BREAK.finditer(line):
                piece = line[start : m.start() + 1].strip()
                if piece:
                    out.append(piece)
                start = m.end()
        piece = line[start:].strip()
        if piece:
            out.append(piece)
    return out


def own_sentences(parts: list[tuple[int, str]], compiled: bool = True) -> list[tuple[int, str]]:
    """(index, sentence) of every (index, text): the sentences of each line not seen before
    in any text (alternatives and templates repeat whole lines), each sentence once (by its
    text with blank runs as one space). One C pass where built (relay/_linemarks.c)."""
    if compiled and HAS_C_SENTENCES:
        return _linemarks.sentences(parts)
    texts: list[tuple[int, str]] = []
    seen: set[str] = set()
    seen_lines: set[str] = set()
    for index, text in parts:
        # dict.fromkeys drops a part's repeated lines in C, keeping the first of each.
        for line in dict.fromkeys(text.split("\n")):
            if line in seen_lines:
                continue  # its sentences are all in `seen` already
            seen_lines.add(line)
            for sentence in split_sentences(line):
                key = " ".join(sentence.split())  # sentences are stripped: same as \s+ -> " "
                if key not in seen:
                    seen.add(key)
                    texts.append((index, sentence))
    return texts


def _blank(text: str, matches: list[TermMatch]) -> str:
    chars = list(text)
    for m in matches:
        chars[m.start : m.end] = " " * (m.end - m.start)
    return "".join(chars)


def _default_language(msg: Message, ctx: PolicyContext) -> str:
    for rcpt in msg.envelope.rcpt_tos:
        tld = marketplace_tld(rcpt)
        if tld:
            return ctx.language_for_tld(tld)
    return ""


def analyze(msg: Message, ctx: PolicyContext) -> Analysis:
    texts: list[tuple[int, str]] = [(-1, msg.subject)] if msg.subject.strip() else []
    texts += own_sentences([(body.index, body.new_text) for body in msg.parts])
    language = ctx.detector.detect(msg.new_text) if ctx.detector is not None else ""
    default = _default_language(msg, ctx)
    sensitive_langs = frozenset({language or default, "any"} - {""})
    normalized = normalize_all([t for _, t in texts])
    joined = "\n".join(normalized)
    langs = {"sensitive": sensitive_langs} if sensitive_langs else {}
    # One pass finds every topic, false friends included (topics never interact in a scan).
    everything = ctx.lexicon.index_without(OWN_TEXT_TOPICS).scan(joined, langs)
    false_friends = [m for m in everything if m.topic == FALSE_FRIEND]
    matches = [m for m in everything if m.topic != FALSE_FRIEND]
    if false_friends:  # the review topics see the text with false friends blanked out
        matches = [m for m in matches if not m.topic.startswith(REVIEW_PREFIX)]
        matches += ctx.lexicon.scan(
            _blank(joined, false_friends), review_topics(ctx.lexicon), langs
        )
    # At one position, other topics' matches come before review topics' (stable sort).
    matches.sort(key=lambda m: (m.start, m.topic.startswith(REVIEW_PREFIX)))
    sentences, offset, cursor = [], 0, 0
    per_part_index: dict[int, int] = {}
    for (part, _), text in zip(texts, normalized, strict=True):
        end = offset + len(text)
        mine = []
        while cursor < len(matches) and matches[cursor].start < end:
            m = matches[cursor]
            if m.start >= offset and m.end <= end:  # a match never spans two sentences
                mine.append(TermMatch(m.topic, m.lang, m.start - offset, m.end - offset, m.text))
            cursor += 1
        index = per_part_index.get(part, 0)
        per_part_index[part] = index + 1
        sentences.append(Sentence(index, part, text, tuple(mine)))
        offset = end + 1
    return Analysis(language, default, tuple(sentences))


def analysis_of(msg: Message, ctx: PolicyContext) -> Analysis:
    """The message's analysis under `ctx`, computed on first use and kept on the message."""
    cached = msg.analysis
    if isinstance(cached, tuple) and cached[0] is ctx.lexicon:
        result: Analysis = cached[1]
        return result
    result = analyze(msg, ctx)
    # Message is frozen; like functools.cached_property, this stores a derived value once.
    object.__setattr__(msg, "analysis", (ctx.lexicon, result))
    return result
