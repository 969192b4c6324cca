"""Prefilters that skip expensive patterns never change what the patterns find.

Each fast form is checked against the plain form it replaced: quote_start's attribution-word
prefilter against the same walk with every line allowed to hold an attribution; the emoji
rule's non-ASCII prefilter against every code point and its emoticon start positions against
EMOTICON over every character; order ids found from their hyphen, URLs by line and sentences
split line by line against the one-pattern forms; normalize's byte table and replace per mark
against the per-character recipe; relay.limits' line-start walk against the multiline `^--`
pattern, and its Content-Type found at line starts against one search of the unfolded block;
the phone rule's digit count against the digit pattern; split_quoted's one join where no
line before the history is quoted against its line loop.
"""

from __future__ import annotations

import re
import unicodedata

import pytest
from data.legit import ATTRIBUTION
from hypothesis import given, settings
from hypothesis import strategies as st

from relay.limits import _BOUNDARY, _CONTENT_TYPE, _FOLD, _content_type, _dash_lines
from relay.policy import analysis
from relay.policy import text as text_module
from relay.policy.style import EMOJI, EMOJI_PART, EMOTICON, _emoji_in
from relay.policy.wording import digit_count
from relay.textscan import (
    ORDER_ID,
    URL,
    SplitText,
    find_order_ids,
    find_urls,
    has_url,
    non_ascii,
    quote_start,
    quote_start_among,
    split_quoted,
)


def reference_quote_start(lines: list[str]) -> int:
    """quote_start without the prefilter: every line may hold an attribution."""
    return quote_start_among(lines, range(len(lines) + 1))


PIECES = [
    "On Mon, 4 Mar 2024 at 09:12, Jo Webb", "wrote:", "WROTE:", "ſchrieb", "SCHRİEB", "schreıef",
    "Am Mo., 4. März 2024 um 09:12 Uhr", "schrieb Karin Roth:", "Op zo 3 mrt 2024", "schreef",
    "heeft", "geschreven", "Le mar. 5 mars 2024 à 02:40, Anne", "a écrit :", "A ÉCRIT :",
    "El lun, 4 mar 2024 a las 14:18, Ana", "escribió:", "Il giorno lun 4 mar 2024", "ha scritto:",
    "Hallo Frau Jung,", "danke", "> quoted", "From: Tom", "Sent: Sunday", "Subject: x", "Grüße",
    "-----Original Message-----", "", " ", "İ", "ı", "ſ", "ẞ", "*Von:*", "\u00a0De:", "*",
    "Da: Bo", "van: Jo", "Datum: x", "An: y", "Gesendet: z", "Betreff: w", "\u2003From:",
]  # fmt: skip
line = st.lists(st.sampled_from(PIECES), max_size=4).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(line, max_size=12))
def test_prefilter_gives_the_reference_answer(lines: list[str]) -> None:
    """Random lines built from attribution fragments, odd case letters included."""
    assert reference_quote_start(lines) == quote_start(lines)


def reference_split_quoted(text: str) -> SplitText:
    """split_quoted's line loop on every line before the history."""
    lines = text.splitlines()
    start = quote_start(lines)
    new, quoted = [], lines[start:]
    for one in lines[:start]:
        (quoted if one.lstrip().startswith(">") else new).append(one)
    return SplitText("\n".join(new).strip("\n"), "\n".join(quoted).strip("\n"))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(line, st.sampled_from(["", "  > x", ">", "a > b", "\r", "\u2028"])),
                max_size=12).map("\n".join))  # fmt: skip
def test_split_quoted_equals_its_line_loop(text: str) -> None:
    """Quoted lines before the history (">" after blanks, or a ">" inside a line), empty
    lines at either end, other line separators: the split the line loop gives."""
    assert reference_split_quoted(text) == split_quoted(text)


def test_every_client_attribution_still_starts_the_quote() -> None:
    """The six languages' attributions, alone and folded over two lines."""
    cases = []
    for text in ATTRIBUTION.values():
        head, _, tail = text.rpartition(" ")
        cases += [["Danke.", text, "> x"], ["Danke.", head, tail, "> x"]]
    assert [reference_quote_start(c) for c in cases] == [quote_start(c) for c in cases]
    assert all(quote_start(c) == 1 for c in cases)


@pytest.mark.parametrize(
    "first", ["From: Tom", "Von: Eva", " Van: Jo", "*De:* Ana", "\u00a0Da: Bo", "\tde: x"]
)
def test_every_header_block_still_starts_the_quote(first: str) -> None:
    """A header block's From line in each language, after blanks of any kind or a "*":
    tried by the prefilter and found where the reference finds it."""
    lines = ["Danke.", "Das Paket: unterwegs.", first, "Gesendet: Mo", "An: x", "Betreff: y"]
    assert (2, 2) == (reference_quote_start(lines), quote_start(lines))


def test_every_emoji_match_holds_a_prefilter_character() -> None:
    """Whatever code point starts it (planes 0 and 1, with the selector and keycap marks
    behind), an EMOJI match contains a character of EMOJI_PART."""
    missed = []
    for cp in [*range(0x20000), *range(0xE0000, 0xE0080)]:
        if 0xD800 <= cp <= 0xDFFF:
            continue
        for tail in ("", "\ufe0f", "\u20e3", "\ufe0f\u20e3"):
            m = EMOJI.match(chr(cp) + tail)
            if m is not None and not EMOJI_PART.search(non_ascii(m.group(0))):
                missed.append(hex(cp))
    assert [] == missed


EMOJI_TEXT = st.text(
    st.sampled_from("ab :)#*;=^<3xDX'-o(PpO|_.\u00a9\u00ae\ufe0f\u20e3\u263a\u2764\u2013"
                    "\U0001f600\u200d\U0001f3fb"),
    max_size=30,
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(EMOJI_TEXT)
def test_emoji_prefilter_finds_what_the_pattern_finds(text: str) -> None:
    """_emoji_in with its prefilters equals both patterns run over every character."""
    expected = [m.group(0) for m in EMOJI.finditer(text)] + [
        m.group(0) for m in EMOTICON.finditer(text)
    ]
    assert expected == _emoji_in(text)


ORDER_TEXT = st.text(st.sampled_from("0123456789-- x\n\u0663"), max_size=80)


@settings(max_examples=500, deadline=None)
@given(ORDER_TEXT)
def test_order_id_pattern_finds_what_the_lookbehind_first_form_finds(text: str) -> None:
    """The order-id pattern with its boundary check at the end equals the plain form."""
    plain = re.compile(r"(?<![\d-])(\d{3}-\d{7}-\d{7})(?![\d-])")
    assert plain.findall(text) == ORDER_ID.findall(text)


@settings(max_examples=2000, deadline=None)
@given(st.text(st.sampled_from("ab.!? \n\t\r\u00a0\u2028\x1c"), max_size=40))
def test_sentence_split_equals_the_plain_pattern(text: str) -> None:
    """Line-by-line splitting gives the stripped, non-empty pieces of the one-pattern split."""
    plain = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+").split(text)
    assert [s.strip() for s in plain if s and s.strip()] == analysis.split_sentences(text)


URL_PIECES = ["http://a.example/x", "HTTPS://B.example", "ftp://f", "www.c.example",
              "WwW.d.example.", "xwww.e", "w", "ww", ".", "://", " ", "\n", "(", ")", "\"",
              "<", "ü", "a", "1"]  # fmt: skip
URL_TEXT = st.lists(st.sampled_from(URL_PIECES), max_size=20).map("".join)


@settings(max_examples=2000, deadline=None)
@given(URL_TEXT)
def test_url_search_by_line_finds_what_the_whole_text_search_finds(text: str) -> None:
    """find_urls on candidate lines equals URL.finditer over the whole text."""
    plain = []
    for m in URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?»”’'\"")
        plain.append("http://" + url if url.lower().startswith("www.") else url)
    assert (plain, bool(plain)) == (find_urls(text), has_url(text))


@settings(max_examples=2000, deadline=None)
@given(ORDER_TEXT)
def test_order_ids_by_hyphen_hint_equal_findall(text: str) -> None:
    """Order ids found from their hyphen hints equal ORDER_ID.findall, each once."""
    assert list(dict.fromkeys(ORDER_ID.findall(text))) == find_order_ids(text)


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from([b"--", b"-", b"\n", b"\r", b" ", b"\t", b"a", b"b"]), max_size=40
    ).map(b"".join),
    st.integers(0, 60),
)
def test_dash_lines_are_the_multiline_pattern_matches(raw: bytes, start: int) -> None:
    """The line-start walk of relay.limits finds what `(?m)^--...` finds from `start`."""
    start = min(start, len(raw))
    pattern = re.compile(rb"(?m)^--([^\r\n]*?)[ \t]*\r?$")
    expected = [(m.start(), m.group(1)) for m in pattern.finditer(raw, start)]
    assert expected == [(m.start(), m.group(1)) for m in _dash_lines(raw, start)]


def reference_content_type(headers: bytes) -> tuple[bytes, bytes | None]:
    """relay.limits' Content-Type lookup as one multiline search of the unfolded block."""
    m = _CONTENT_TYPE.search(_FOLD.sub(b" ", headers))
    if m is None:
        return b"text/plain", None
    b = _BOUNDARY.search(m.group(2))
    return m.group(1).lower(), (b.group(1) if b.group(1) is not None else b.group(2)) if b else None


HEADER_BITS = [b"Content-Type", b"content-type", b"CONTENT-TYPE", b"X-Content-Type", b":", b" ",
               b"\t", b"\r\n", b"\n", b"\r", b"\r\n ", b"\n\t", b"multipart/mixed", b"text/html",
               b";", b" boundary=", b'"b1"', b"xyz", b"Subject: a", b"\xc4"]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(HEADER_BITS), max_size=16).map(b"".join))
def test_content_type_by_line_start_equals_the_multiline_search(headers: bytes) -> None:
    """The field found at line starts (a false start, a folded value, an X- look-alike, a
    bare CR) gives the type and boundary one search of the unfolded block gives."""
    assert reference_content_type(headers) == _content_type(headers)


_INVISIBLE_TABLE = dict.fromkeys(map(ord, text_module.INVISIBLE), None)
_PUNCT_TABLE = str.maketrans(text_module.PUNCTUATION)


def reference_normalize(text: str) -> str:
    """normalize() as a per-character recipe: translate, casefold, NFKD, drop every
    combining mark, one space for each run of blanks."""
    text = text.translate(_INVISIBLE_TABLE).translate(_PUNCT_TABLE).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[ \t\r\f\v]+", " ", text)


NORMALIZE_CHARS = (
    "aZ \t\r\f\v\n`'ßẞµÀäÖüÿ¨¯¸´ª²¼½¾æØ\u00ad\u00a0\u200b\ufeff\u034f\u2019\u201c\u2013\u2212"
    "\u202fİıſǅﬁ①Å\u0301\u0308ё\u3000\U0001f600\udcff"
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.text(st.sampled_from(NORMALIZE_CHARS), max_size=30))
def test_normalize_equals_the_per_character_recipe(text: str) -> None:
    """The byte-table and replace-per-mark folding equal the character-by-character one."""
    assert reference_normalize(text) == text_module.normalize(text)


def test_latin1_table_equals_the_recipe_for_every_latin1_character() -> None:
    """All 256 Latin-1 characters, alone and next to a letter."""
    chars = [chr(b) for b in range(256)]
    assert [reference_normalize(c + "a" + c) for c in chars] == [
        text_module.normalize(c + "a" + c) for c in chars
    ]


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.text(st.sampled_from(NORMALIZE_CHARS.replace("\n", "")), max_size=12)))
def test_normalize_all_equals_normalize_of_each(texts: list[str]) -> None:
    """One pass over the joined texts splits back into each text's normalisation."""
    assert [text_module.normalize(t) for t in texts] == text_module.normalize_all(texts)


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("0123456789 x-\u0663\u0967\uff11\u00b2"), max_size=60))
def test_digit_count_equals_the_digit_pattern(text: str) -> None:
    """ASCII text counted by str.count, other text by the pattern: both as re's \\d counts
    (Arabic-Indic, Devanagari and full-width digits count, a superscript two does not)."""
    assert len(re.findall(r"\d", text)) == digit_count(text)
