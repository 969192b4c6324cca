"""The C loops (relay/_htmlwalk.c, _termscan.c, _linemarks.c, _emojiscan.c) find what their
Python twins find.

Both are optional builds: without a C compiler the package installs without them and the
Python loops run. So each C loop is held equal to its Python twin on inputs the golden
tests do not cover, and its way out (a tree it cannot read, a missing module) is checked
to leave the Python loop in charge with nothing collected twice.
"""

from __future__ import annotations

import binascii

import lxml.etree
import pytest
from htmlgen import document
from hypothesis import given, settings
from hypothesis import strategies as st

import relay.htmlelements
import relay.htmlwalk
from relay import _htmlwalk, _linemarks
from relay._emojiscan import emoji_hint
from relay.htmlscan import _PARSER_OPTIONS, _parse, scan_html, shallow_text
from relay.htmlwalk import Walk
from relay.policy.analysis import own_sentences
from relay.policy.style import EMOJI_PART, emoticon_starts, may_hold_emoji
from relay.textscan import (
    _marked_lines,
    _may_hold_url,
    break_run,
    crlf_only,
    dash_lines,
    longest_line,
    non_ascii,
    tidy,
)

FIELDS = ("links", "images", "active", "styles", "alignments", "headings", "elements", "depth")


def walked(root: object, compiled: bool) -> dict[str, object]:
    walk = Walk(2)
    if not (compiled and walk.run_compiled(root, shallow_text)):
        walk.run(root, shallow_text)
    facts = {name: getattr(walk, name) for name in FIELDS}
    facts["text"] = ("".join(walk.buffers[False]), "".join(walk.buffers[True]))
    return facts


def parse(source: str) -> object:
    """The tree scan_html walks (None for a document with nothing in it)."""
    return _parse(source, lxml.etree.HTMLParser(**_PARSER_OPTIONS))[0]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=10_000, max_value=10**9), st.sampled_from([20, 80, 200]))
def test_c_walk_collects_what_the_python_walk_collects(seed: int, pieces: int) -> None:
    """Links, images, styles, text, counts: equal, types included (a 1 is not a True)."""
    root = parse(document(seed, pieces))
    if root is None:
        return
    python, compiled = walked(root, False), walked(root, True)
    assert repr(python) == repr(compiled)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=10_000, max_value=10**9), st.sampled_from([20, 80, 300]))
def test_c_element_count_is_the_length_of_root_iter(seed: int, pieces: int) -> None:
    """_htmlwalk.count counts what root.iter() yields (elements, comments, PIs), also from
    an inner element, whose siblings and their subtrees it leaves out."""
    root = parse(document(seed, pieces))
    if root is None:
        return
    inner = [el for el in root.iter() if isinstance(el.tag, str) and len(el)][-1:]
    for top in [root, *inner]:
        assert len(list(top.iter())) == _htmlwalk.count(top)
        assert len(list(top.iter())) == relay.htmlwalk.element_count(top)


def test_element_count_of_a_comment_is_counted_in_python() -> None:
    """A node the C count does not start from (a comment) is counted by root.iter()."""
    comment = lxml.etree.Comment("c")
    assert -1 == _htmlwalk.count(comment)
    assert 1 == relay.htmlwalk.element_count(comment)


def test_nul_in_html_becomes_a_replacement_character() -> None:
    """NUL, replaced in the UTF-8 bytes, reaches the text as U+FFFD, as it did from the
    str; a part of NULs and nothing else is still parsed, not taken as empty."""
    assert "a\ufffdb\n" == "".join(walked(parse("<p>a\x00b</p>"), True)["text"])
    assert None is not parse("\x00\x00")


def test_quoted_links_and_images_keep_their_offsets() -> None:
    """A link inside a quote container, an image inside it, a comment: offsets and ends."""
    source = (
        '<div>Hallo<br><a href="https://a.example/x">neu <b>fett</b></a><!-- c -->nach'
        '<div class="gmail_quote">alt <a href="https://b.example/y"><img src="p.gif" '
        'width="1"></a> Ende</div>Schluss</div>'
    )
    python, compiled = walked(parse(source), False), walked(parse(source), True)
    assert repr(python) == repr(compiled)
    # The tail of a quote container belongs to it (as in the Python walk); _tidy squeezes.
    assert ("Hallo\nneu fettnach\n", "alt  Ende\nSchluss") == compiled["text"]
    links = compiled["links"]
    assert isinstance(links, list)
    assert [("https://a.example/x", False), ("https://b.example/y", True)] == [
        (link.url, link.quoted) for link in links
    ]


def test_a_tree_the_c_loop_cannot_read_is_left_to_python() -> None:
    """Namespaced elements (never made by the HTML parser) make the C loop step aside: it
    returns None, Walk.run_compiled reports False and keeps nothing it collected."""
    root = lxml.etree.fromstring('<html xmlns="urn:x"><body><a href="u">t</a></body></html>')
    assert (
        _htmlwalk.walk(root, {}, {}, relay.htmlelements.remember, lambda *a: (-1, -1), []) is None
    )
    walk = Walk(0)
    assert (False, [], [], 0) == (walk.run_compiled(root, shallow_text), walk.links,
                                  walk.styles, walk.elements)  # fmt: skip


def test_without_the_c_module_the_python_walk_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A build without a C compiler: run_compiled declines and scan_html still scans."""
    monkeypatch.setattr(relay.htmlwalk, "HAS_C_WALK", False)
    assert not Walk(0).run_compiled(parse("<p>x</p>"), shallow_text)
    source = '<p>Guten Tag <a href="https://a.example/">hier</a></p>'
    assert scan_html(source, compiled=False) == scan_html(source)


LINE_PIECES = ["wrote", "WROTE", "Schr", "SCHRIEB", "cri", "crİ", "crı", "ſchr", "scHr", "wro",
               "te", ":", "-", "--", "_", "__", "–", "ä", "é", " ", "x", "\u0130", "\u0131",
               "\u017f", "\U0001f600", "\ud800", "From", "v", "D", "*", "\u00a0", "\t",
               "\u2003"]  # fmt: skip
lines_of_pieces = st.lists(st.lists(st.sampled_from(LINE_PIECES), max_size=8).map("".join),
                           max_size=12)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(lines_of_pieces)
def test_c_line_marks_equal_the_byte_search(lines: list[str]) -> None:
    """Attribution words (case- and İ/ı/ſ-folded), ':' and doubled '-' or '_': the same
    lines as the byte search, across line ends, wide characters and lone surrogates."""
    assert _marked_lines(lines, compiled=False) == _marked_lines(lines)


def test_c_line_marks_on_a_reply() -> None:
    """A German attribution is hinted; an Outlook separator and the From lines a header
    block can start with are marked, a colon in any other line is not."""
    lines = ["Hallo,", "danke.", "Am Mo. schrieb Eva:", "-----Original Message-----", "x y",
             " *Von:* Eva", "\u00a0De: Eva", "Zu Ihrer Frage: ja", "**From: x", "from"]  # fmt: skip
    assert ({2}, {3, 5, 6}) == _marked_lines(lines)
    assert ({2}, {3, 5, 6}) == _marked_lines(lines, compiled=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"a", b"\r\r\n", b"\n\r"]), max_size=12))
def test_c_crlf_check_equals_the_counts(pieces: list[bytes]) -> None:
    """Line ends all CRLF or not: memchr from line end to line end answers as the three
    bytes.count calls do, at the start, the end and in runs of CR and LF."""
    data = b"".join(pieces)
    assert crlf_only(data, compiled=False) == crlf_only(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"\r\n", b"\r", b"\n", b"ab", b"\r\r\n", b"\n\r"]), max_size=12))
def test_c_longest_line_equals_the_split(pieces: list[bytes]) -> None:
    """The longest piece between CRLFs: memchr from LF to LF gives the length of the longest
    item of the split, with runs of CR and LF, a CRLF at either end, and no CRLF at all."""
    data = bytearray(b"".join(pieces))
    assert longest_line(data, compiled=False) == longest_line(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from([b"=", b"\r", b"\n", b"0", b"aF", b"g", b"=3D", b"x y", b"\xc3"]),
                max_size=16))  # fmt: skip
def test_c_qp_decode_equals_binascii(pieces: list[bytes]) -> None:
    """Quoted-printable decoding: soft breaks after "=" with LF, CR or CR and text before the
    LF, "==", hex pairs in both cases, "=" before a non-hex byte or at the end: the bytes
    binascii.a2b_qp gives."""
    data = b"".join(pieces)
    assert binascii.a2b_qp(data) == _linemarks.qp_decode(data)


def test_c_qp_decode_of_every_byte_equals_binascii() -> None:
    """Every byte value, and every one after an "=", decodes as binascii.a2b_qp decodes it."""
    data = bytes(range(256)) + b"".join(b"=" + bytes([b]) + b"A" for b in range(256))
    assert binascii.a2b_qp(data) == _linemarks.qp_decode(data)


def test_c_longest_line_pairs_crlf_left_to_right() -> None:
    """In CR CR LF the second CR pairs with the LF; in CR LF LF the second LF stays in a line."""
    expected = [1, 1, 3, 0]
    actual = [longest_line(d) for d in (b"\r\r\n", b"\r\n\n", b"a\r\nbcd\r\n", b"")]
    assert expected == actual


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([b"-", b"--", b"\n", b"\r\n", b"a", b"\n--", b"\r"]), max_size=14),
    st.integers(0, 40),
)
def test_c_dash_lines_equal_the_finds(pieces: list[bytes], start: int) -> None:
    """Lines that begin with two hyphens: one memchr a line finds the offsets bytes.find
    does, from any start (inside a line, on a line break, at the end)."""
    data = b"".join(pieces)
    start = min(start, len(data))
    assert dash_lines(data, start, compiled=False) == dash_lines(data, start)


def test_c_dash_lines_in_a_multipart() -> None:
    """A start inside a line skips its rest; the delimiter lines are found, a hyphen run
    inside a line is not; a start past the data is refused by both ways."""
    data = b"--b\r\nx: y\r\n\r\ntext -- more\r\n--b--\r\n"
    assert ([0, 27], [27], [27]) == (dash_lines(data, 0), dash_lines(data, 1),
                                     dash_lines(data, 27))  # fmt: skip
    for compiled in (True, False):
        with pytest.raises(ValueError, match="outside"):
            dash_lines(data, len(data) + 1, compiled=compiled)


def test_c_crlf_check_on_mail() -> None:
    """CRLF mail passes; a bare LF, a bare CR at the very end, or one before the first byte's
    LF fails; bytes without any line end pass (nothing to normalise)."""
    checks = [b"A: b\r\n\r\nbody\r\n", b"A: b\r\n\nbody", b"body\r", b"\nbody", b"", b"x"]
    assert [True, False, False, False, True, True] == [crlf_only(d) for d in checks]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", " ", "\x80", "\xe4", "\xff", "\u20ac", "\uffff", "\ud800",
                                 "\U0001f600", "\U0010ffff"]), max_size=12).map("".join))  # fmt: skip
def test_c_non_ascii_equals_the_byte_filter(text: str) -> None:
    """The characters past ASCII, in order, in strings of every width, lone surrogates kept."""
    assert non_ascii(text, compiled=False) == non_ascii(text)


# Every character tidy treats apart: the blanks it reads as spaces, other whitespace that
# only strip removes (\x1c, \x85, U+2003, U+3000), line breaks, and letters of each width.
TIDY_BITS = [" ", "  ", "\t", "\r", "\f", "\v", "\u00a0", "\x1c", "\x85", "\u2003", "\u3000",
             "\n", "\n\n", "a", "é", "\u20ac", "\U0001f600", "\ud800"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TIDY_BITS), max_size=30).map("".join))
def test_c_tidy_equals_the_line_loop(text: str) -> None:
    """Lines stripped, blank runs squeezed, empty lines collapsed: the C pass and the line
    loop agree on strings of every width."""
    assert tidy(text, compiled=False) == tidy(text)


def test_c_tidy_on_a_rendered_reply() -> None:
    """Indented lines, a run of empty ones, tabs and a no-break space inside, blanks at the
    ends of the text: what the HTML scan's rendered text looks like."""
    text = " \n  Hallo Frau Jung,\n\n\n\t Zu Ihrer\u00a0 Frage:  \tDas Modell.\n \n"
    assert "Hallo Frau Jung,\n\nZu Ihrer Frage: Das Modell." == tidy(text)


URL_BITS = [":", "/", "//", "w", "W", "ww", ".", "a", " ", "\n", "\u00e4", "\u2013",
            "\U0001f600", "http", "www"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(URL_BITS), max_size=20).map("".join))
def test_c_url_hint_equals_the_searches(text: str) -> None:
    """The URL hint in C and the five substring searches agree, at every string width."""
    assert _may_hold_url(text, compiled=False) == _may_hold_url(text)


def test_c_url_hint_on_replies() -> None:
    """A scheme, a bare www. in any case, and text with neither."""
    assert _may_hold_url("siehe https://example.com")
    assert _may_hold_url("siehe WwW.example.com \u201eTee\u201c")
    assert not _may_hold_url("Wir wissen: wow. 10:30 \u2013 a/b //")


def test_every_emoji_character_passes_the_c_hint() -> None:
    """Below U+2100 only five characters are in EMOJI_PART's class, and the C hint passes
    each of them and everything from U+2100 on: no code point it rules out could match."""
    below = [c for c in range(0x2100) if EMOJI_PART.match(chr(c))]
    assert [0xA9, 0xAE, 0x203C, 0x2049, 0x20E3] == below
    assert all(emoji_hint(chr(c)) for c in below)
    assert all(emoji_hint("Gru\u00df " + chr(c)) for c in range(0x2100, 0x110000, 97))
    assert not any(emoji_hint(chr(c)) for c in range(0x2100) if c not in below)


EMOJI_BITS = ["a", " ", ":", ";", "=", "^", "<", "3", "x", "X", "D", ")", "(", "-", "'", "o",
              "P", "|", "*", "]", "\u00e4", "\u00a9", "\u2013", "\u201e", "\u20e3",
              "\ufe0f", "\u2764", "\U0001f600", "\ud800", "\n"]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(EMOJI_BITS), max_size=30).map("".join))
def test_c_emoji_prefilters_equal_the_python_ones(text: str) -> None:
    """The emoticon start places and the emoji hint, in C and in Python, on text of
    emoticon pieces, accents, dashes, quotes and emoji."""
    assert emoticon_starts(text, compiled=False) == emoticon_starts(text)
    assert may_hold_emoji(text, compiled=False) == may_hold_emoji(text)


def test_c_emoji_prefilters_on_a_reply() -> None:
    """A reply with a smiley, a time, a heart emoji and typographic quotes."""
    text = "Danke :-) bis 10:30 \u201eTee\u201c \u2764\ufe0f ^^ <3 xD"
    assert [6, 16, 29, 30, 32, 35] == emoticon_starts(text)  # ":" of 10:30 before a "3"
    assert may_hold_emoji(text)
    assert not may_hold_emoji("Gr\u00fc\u00dfe \u2013 \u201eTee\u201c, 5 \u20ac")
    unit = "Gr\u00fc\u00dfe :) "  # Latin-1, 40 places: more than the first buffer holds
    many = unit * 40
    assert [k * len(unit) + 6 for k in range(40)] == emoticon_starts(many)
    assert emoticon_starts(many, compiled=False) == emoticon_starts(many)


def test_the_c_loops_are_built_and_taken() -> None:
    """The optional builds are present (a failed build would leave only the slower Python
    loops, silently) and the walk takes the C loop on an ordinary document."""
    import relay.policy.style
    import relay.policy.termindex
    import relay.textscan

    built = (relay.htmlwalk.HAS_C_WALK, relay.policy.termindex.HAS_C_SCAN,
             relay.textscan.HAS_C_MARKS)  # fmt: skip
    assert relay.policy.style.HAS_C_EMOJI
    assert (True, True, True) == built
    assert Walk(0).run_compiled(parse("<p>Guten <b>Tag</b></p>"), shallow_text)


HTML_BITS = ["<", ">", "/", "a", "p", "div", "br", "b", " ", "=", '"', "'", "&amp;", "&#0;",
             "&#x1F600;", "<!--", "-->", "<![CDATA[", "]]>", "<?", "?>", "\x00", "\n", "\t",
             "\u00a0", "é", "🎁", "\ud800", "href", "style", "class", "gmail_quote", "hidden",
             "blockquote", "img src", "script", "head", "xmlns:x", "x:y"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(HTML_BITS), max_size=60).map("".join))
def test_c_walk_on_broken_markup_equals_the_python_walk(source: str) -> None:
    """Markup as broken as mail gets (unclosed tags, stray entities, NULs, lone surrogates,
    CDATA, processing instructions, prefixed names): the same facts either way."""
    try:
        root = parse(source)
    except UnicodeEncodeError:  # a lone surrogate: lxml refuses the text (scan_html reports it)
        return
    if root is not None:
        assert repr(walked(root, False)) == repr(walked(root, True))


@pytest.mark.parametrize("depth", [255, 3000])
def test_c_walk_on_deep_nesting(depth: int) -> None:
    """Nesting up to and past libxml2's limit (its parser stops at 256 levels, or 2048 with
    huge_tree): the C loop's own stack grows, and the facts match the Python walk."""
    source = "<div>" * depth + "tief" + "</div>" * depth
    root = parse(source)
    python, compiled = walked(root, False), walked(root, True)
    assert repr(python) == repr(compiled)
    assert compiled["depth"] == python["depth"] > 250


SENTENCE_PIECE = st.sampled_from(["Danke.", "Hallo", " ", "  ", "\t", "\n", "\n\n", ".", "!", "?",
                                  "? ", ". Ja", "1.5", "\u00a0", "\u2009", "\r", "\x1c", "\u3000",
                                  "Wir senden es.", "e.g. so", "\u00fc", "\u2014", "\U0001f600"])  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 3), st.lists(SENTENCE_PIECE, max_size=14)), max_size=4))
def test_c_sentences_equal_the_line_loop(parts: list[tuple[int, list[str]]]) -> None:
    """Sentences of the lines not seen before, each once: one C pass finds the pieces the
    line loop finds, with every kind of blank (tab, CR, no-break and thin spaces, U+001C,
    ideographic space) around the punctuation, lines repeated within and across texts, and
    characters of every width."""
    texts = [(index, "".join(pieces)) for index, pieces in parts]
    assert own_sentences(texts, compiled=False) == own_sentences(texts)


def test_c_sentences_of_two_alternatives() -> None:
    """A plain and an HTML part with the same lines: each sentence once, from the first part
    that has it; a sentence differing only in its blanks counts as seen."""
    plain = "Hallo Frau Jung,\n\nDas Paket ist unterwegs. Es kommt morgen!\nViele Gr\u00fc\u00dfe"
    html = "Hallo Frau Jung,\nDas  Paket ist\tunterwegs. Neu hier?  Ja.\nViele Gr\u00fc\u00dfe"
    expected = [(0, "Hallo Frau Jung,"), (0, "Das Paket ist unterwegs."), (0, "Es kommt morgen!"),
                (0, "Viele Gr\u00fc\u00dfe"), (1, "Neu hier?"), (1, "Ja.")]  # fmt: skip
    assert expected == own_sentences([(0, plain), (1, html)])
    assert expected == own_sentences([(0, plain), (1, html)], compiled=False)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["\n", "\n\n", " ", "\t", "\u00a0", "x", "\u2003", "\r", "\U0001f600"]),
                max_size=16))  # fmt: skip
def test_c_break_run_equals_the_pattern(pieces: list[str]) -> None:
    """The longest run of line breaks with blanks between: one C pass counts what the
    pattern's matches hold, at the ends, with other blanks (CR, em space) breaking a run."""
    text = "".join(pieces)
    assert break_run(text, compiled=False) == break_run(text)


def test_c_break_run_on_rendered_html() -> None:
    """Three breaks with a no-break space and a tab between count three; a letter or an
    em space between two breaks ends the run; no two breaks: 1."""
    assert [3, 2, 1, 1] == [break_run(t) for t in ["a\n\u00a0\n\t\nb", "a\n\nx\n\u2003\nb",
                                                   "a\nb", ""]]  # fmt: skip
