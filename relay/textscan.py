"""Plain-text scanning: quoted history, URLs, order ids and e-mail addresses.

Pure functions on `str`; the HTML scanner renders HTML to text and reuses them, so plain and
HTML bodies are split into new and quoted text by the same rules (POLICY.md, "Quoted
history"): lines starting with ">", the attribution lines of the common mail clients in the
six languages, Outlook's "-----Original Message-----" and header blocks, and Amazon's own
"------------- Message: -------------" thread blocks. Everything after the first
attribution or separator is the buyer's earlier text.
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Container, Iterable
from dataclasses import dataclass

try:  # the line marks in one C pass; absent when built without a C compiler
    from relay import _linemarks

    HAS_C_MARKS = True
except ImportError:  # pragma: no cover - _marked_lines searches in Python instead
    HAS_C_MARKS = False

# "Not after a digit or dash" is checked by a lookbehind at the end of the match, not at its
# start: a pattern that begins with a digit is searched digit by digit (twice as fast).
ORDER_ID = re.compile(r"(\d{3}-\d{7}-\d{7})(?<![\d-]\d{3}-\d{7}-\d{7})(?![\d-])")
# Deliberately broad: any RFC 5322-looking address, ASCII or not (IDN local parts included).
EMAIL = re.compile(
    r"(?<![\w.+%-])[\w.+%-]{1,64}@(?:[\w-]{1,63}\.)+[^\W\d_]{2,24}(?![\w-])", re.UNICODE
)
# URLs in plain text: a scheme, or a bare www. host; trailing punctuation is not part of it.
URL = re.compile(r"(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'()\[\]{}]+")
_URL_TRAILING = ".,;:!?»”’'\""

_ATTRIBUTION = re.compile(
    r"""(?ix)^\s*(?:
        on\s.{4,200}\bwrote\s*:?                              # en: On <date>, <name> wrote:
      | am\s.{4,200}\bschrieb\b.{0,120}:                      # de: Am <date> schrieb <name>:
      | .{0,120}\bschrieb\s+am\s.{4,120}:                     # de: <name> schrieb am <date>:
      | op\s.{4,200}\b(?:schreef|heeft\s.{0,80}geschreven)\b.{0,120}:   # nl
      | le\s.{4,200}\ba\s+[ée]crit\s*:?                       # fr: Le <date>, <name> a écrit :
      | el\s.{4,200}\bescribi[oó]\s*:?                        # es: El <date>, <name> escribió:
      | il\s+giorno\s.{4,200}\bha\s+scritto\s*:?              # it: Il giorno <date> ...
      | .{0,200}\bha\s+scritto\s*:                            # it, other clients
    )\s*$"""
)
_SEPARATOR = re.compile(
    r"""(?ix)^\s*(?:
        -{2,}\s*(?:original\s+message|urspr[üu]ngliche\s+nachricht|oorspronkelijk\s+bericht
              |message\s+d'origine|mensaje\s+original|messaggio\s+originale
              |forwarded\s+message|weitergeleitete\s+nachricht)\s*-{2,}
      | -{5,}\s*(?:message|nachricht|bericht|mensaje|messaggio)\s*:?\s*-{5,}   # Amazon thread
      | _{10,}                                                       # Outlook's rule
    )\s*$"""
)
# Every attribution form above contains one of the words wrote, schrieb, schreef,
# geschreven, crit, escribi, scritto: a line without one is skipped before the backtracking
# `.{4,200}` alternatives run (a case-insensitive regex search costs ~100 ns per character).
# The words are looked for in the lower-cased text with the three letters re.IGNORECASE also
# equates with i and s folded, so no line the pattern matches is skipped, and through three
# needles that every word contains (schrieb, schreef, geschreven hold "schr"; crit, escribi,
# scritto "cri"): each needle is a pass over the text. A line holding one only looks like an
# attribution; the patterns decide.
_ATTRIBUTION_HINTS = (b"wrote", b"schr", b"cri")
_CASE_FOLD = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"))
_CASE_FOLD_BYTES = tuple((a.encode(), b.encode()) for a, b in _CASE_FOLD)
# Outlook's quoted header block: From:/Von:/Van:/De:/Da: followed by Sent:/Date:/... lines.
_HEADER_FROM = re.compile(r"(?i)^\s*\*?(?:from|von|van|de|da)\s*:\*?\s+\S")
_HEADER_NEXT = re.compile(
    r"(?i)^\s*\*?(?:sent|date|gesendet|datum|verzonden|envoy[ée]|enviado(?:\s+el)?|inviato|"
    r"data|to|an|aan|[àa]|para|a|subject|betreff|onderwerp|objet|asunto|oggetto)\s*:"
)


def _lines_holding(text: bytes, starts: list[int], needles: tuple[bytes, ...]) -> set[int]:
    """Indices of the lines (joined by line breaks into `text`) holding one of `needles`."""
    found: set[int] = set()
    for needle in needles:
        at = text.find(needle)
        while at >= 0:
            line = bisect.bisect_right(starts, at) - 1
            found.add(line)
            at = text.find(needle, starts[line + 1])  # the next line on
    return found


def _may_start_from(line: str) -> bool:
    """Whether _HEADER_FROM can match the line: its first character after the blanks (\\s
    is str.isspace) and one "*" is f, v or d (no other character is those letters under
    re.IGNORECASE)."""
    head = line.lstrip()
    if head.startswith("*"):
        head = head[1:]
    return head[:1] in _FROM_INITIALS


_FROM_INITIALS = frozenset("fFvVdD")


def _marked_lines(lines: list[str], compiled: bool = True) -> tuple[set[int], set[int]]:
    """(lines holding an attribution word, lines holding "--" or "__", or a ":" in a line
    that may be a header block's From line).

    One pass in C (relay/_linemarks.c) where built. Else searched in the lines' UTF-8
    bytes, lower-cased: the needles are ASCII, bytes.lower and bytes.find are several times
    cheaper than on a str with a character past Latin-1."""
    if compiled and HAS_C_MARKS:
        return _linemarks.marks(lines)
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    # The three letters' UTF-8 forms start with byte C4 or C5 (U+0100-U+017F), which a
    # one-byte search rules out at memory speed in most text (each replace is a slower pass).
    if b"\xc4" in data or b"\xc5" in data:
        for letter, ascii_letter in _CASE_FOLD_BYTES:
            data = data.replace(letter, ascii_letter)
    low = data.lower()  # ASCII letters only: enough for ASCII words (the rest is folded above)
    starts = list(itertools.accumulate((len(ln) + 1 for ln in low.split(b"\n")), initial=0))
    colons = {i for i in _lines_holding(low, starts, (b":",)) if _may_start_from(lines[i])}
    return (
        _lines_holding(low, starts, _ATTRIBUTION_HINTS),
        colons | _lines_with_pair(low, starts, (b"-", b"_")),
    )


def _lines_with_pair(text: bytes, starts: list[int], chars: tuple[bytes, ...]) -> set[int]:
    """Lines holding a doubled `char` ("--", "__"): found from the single character, since a
    search for one byte runs several times faster than one for two."""
    found: set[int] = set()
    for char in chars:
        at = text.find(char)
        while at >= 0:
            if text.startswith(char, at + 1):
                line = bisect.bisect_right(starts, at) - 1
                found.add(line)
                at = text.find(char, starts[line + 1])
            else:
                at = text.find(char, at + 1)
    return found


@dataclass(frozen=True)
class SplitText:
    new: str
    quoted: str


def _is_header_block(lines: list[str], i: int) -> bool:
    if not _HEADER_FROM.match(lines[i]):
        return False
    following = [ln for ln in lines[i + 1 : i + 5] if ln.strip()]
    return sum(bool(_HEADER_NEXT.match(ln)) for ln in following) >= 2


def quote_start(lines: list[str]) -> int:
    """Index of the first line of quoted history, or len(lines) when there is none."""
    # Every separator has "--" or "__" in it and every header block starts with a line
    # holding ":": other lines are never tried against those patterns.
    hinted, marked = _marked_lines(lines)
    return _first_quote_line(lines, hinted, marked)


def quote_start_among(lines: list[str], hinted: Container[int]) -> int:
    """quote_start trying the attribution patterns only on `hinted` lines (and the line
    before one, for attributions folded over two lines), the others on every line."""
    return _first_quote_line(lines, hinted, range(len(lines)))


def _first_quote_line(lines: list[str], hinted: Container[int], marked: Iterable[int]) -> int:
    """The first line that starts quoted history among the `marked` lines (separator,
    header block) and the lines at or just before a `hinted` one (attribution)."""
    around: set[int]
    if isinstance(hinted, set):
        around = {j for i in hinted for j in (i - 1, i) if 0 <= j < len(lines)}
    else:
        around = {i for i in range(len(lines)) if i in hinted or i + 1 in hinted}
    for i in sorted({*marked, *around}):
        line = lines[i]
        if len(line) > 400:
            continue
        if ("--" in line or "__" in line) and _SEPARATOR.match(line):
            return i
        if ":" in line and _is_header_block(lines, i):
            return i
        if i not in hinted and i + 1 not in hinted:
            continue
        if i in hinted and _ATTRIBUTION.match(line):
            return i
        # "On Sun, 3 Mar 2024 at 06:49, Tom Baker <tom@...>" / "wrote:" folded over two lines
        if (
            i + 1 < len(lines)
            and len(line) < 200
            and len(lines[i + 1]) < 100
            and not _ATTRIBUTION.match(lines[i + 1])
            and _ATTRIBUTION.match(f"{line} {lines[i + 1]}")
        ):
            return i
    return len(lines)


def split_quoted(text: str) -> SplitText:
    """Separate the sender's new text from the quoted history below or inside it."""
    lines = text.splitlines()
    start = quote_start(lines)
    head = "\n".join(lines[:start])
    if ">" not in head:  # no line before the history is quoted (most replies): no line loop
        return SplitText(head.strip("\n"), "\n".join(lines[start:]).strip("\n"))
    new_lines: list[str] = []
    quoted_lines = lines[start:]
    for line in lines[:start]:
        (quoted_lines if line.lstrip().startswith(">") else new_lines).append(line)
    return SplitText("\n".join(new_lines).strip("\n"), "\n".join(quoted_lines).strip("\n"))


def _may_hold_url(text: str, compiled: bool = True) -> bool:
    """Whether URL can match: every match holds "://" or a "www." in some case, whose last
    three characters are one of these four forms (one pass in C where built)."""
    if compiled and HAS_C_MARKS:
        return _linemarks.may_hold_url(text)
    return "://" in text or "ww." in text or "Ww." in text or "wW." in text or "WW." in text


def find_urls(text: str) -> list[str]:
    """URLs written out in text (scheme or www.), trailing punctuation removed.

    URL tries its pattern at every character (~40 ns each); a URL never spans lines, so it
    runs only on the lines that can hold one."""
    found: list[str] = []
    if not _may_hold_url(text):
        return found
    for line in text.split("\n"):
        if not _may_hold_url(line):
            continue
        for match in URL.finditer(line):
            url = match.group(0).rstrip(_URL_TRAILING)
            if url.lower().startswith("www."):
                url = "http://" + url  # a bare www. host is what a mail client links as http
            found.append(url)
    return found


def has_url(text: str) -> bool:
    return _may_hold_url(text) and bool(find_urls(text))


# Every order id has a hyphen followed by seven digits, a hyphen and seven digits: a pattern
# that starts with that hyphen is searched at memory speed, and ORDER_ID confirms each hint.
_ORDER_HINT = re.compile(r"-(?=\d{7}-\d{7})")


def find_order_ids(text: str) -> list[str]:
    """17-digit order ids (123-1234567-1234567), each once, in order of appearance."""
    found: list[str] = []
    if "-" not in text:
        return found
    for hint in _ORDER_HINT.finditer(text):
        m = ORDER_ID.match(text, hint.start() - 3) if hint.start() >= 3 else None
        if m is not None:
            found.append(m.group(1))
    return list(dict.fromkeys(found))


def find_emails(text: str) -> list[str]:
    if "@" not in text:  # the pattern needs one; skipping saves its scan of every word
        return []
    return list(dict.fromkeys(m.group(0) for m in EMAIL.finditer(text)))


def normalize_space(text: str) -> str:
    """Whitespace runs as one space, trimmed (str.split's whitespace is re's \\s)."""
    return " ".join(text.split())


_ASCII_BYTES = bytes(range(128))


def non_ascii(text: str, compiled: bool = True) -> str:
    """The characters of `text` past ASCII, in order: for "is any of these present" checks.
    One C loop where built (relay/_linemarks.c). Else its UTF-8 bytes with the ASCII ones
    deleted, at memory speed (a set of a 12 KB reply's characters costs 140 us, a
    character-class search 90 us, this 10 us)."""
    if text.isascii():
        return ""
    if compiled and HAS_C_MARKS:
        return _linemarks.non_ascii(text)
    data = text.encode("utf-8", "surrogatepass").translate(None, _ASCII_BYTES)
    return data.decode("utf-8", "surrogatepass")


def crlf_only(data: bytes, compiled: bool = True) -> bool:
    """Whether every CR and LF in `data` is part of a CRLF pair (true of data without any).
    relay/_linemarks.c checks it with memchr where built; the three counts below take ~14
    instructions a byte between them, 0.25 M for the 18 KB benchmark reply."""
    if compiled and HAS_C_MARKS:
        return _linemarks.crlf_only(data)
    crlf = data.count(b"\r\n")
    return data.count(b"\n") == crlf == data.count(b"\r")


def longest_line(data: bytes | bytearray, compiled: bool = True) -> int:
    """The length of the longest piece of `data` between CRLFs (of `data.split(b"\\r\\n")`).
    relay/_linemarks.c finds it with memchr where built; the split below makes an object a
    line (57 us for the 18 KB benchmark reply)."""
    if compiled and HAS_C_MARKS:
        return _linemarks.longest_line(data)
    return max(map(len, data.split(b"\r\n")))


_BREAK_RUNS = re.compile(r"\n(?:[ \t\u00a0]*\n)+")  # two line breaks or more, blanks between


def break_run(text: str, compiled: bool = True) -> int:
    """The most line breaks in a row with only spaces, tabs or no-break spaces between them
    (1 when no two are). One C pass where built (relay/_linemarks.c)."""
    if compiled and HAS_C_MARKS:
        return _linemarks.break_run(text)
    return max((run.count("\n") for run in _BREAK_RUNS.findall(text)), default=1)


def dash_lines(data: bytes, start: int, compiled: bool = True) -> list[int]:
    """Offsets of the lines from `start` on that begin with "--" (where MIME delimiters can
    be); a `start` inside a line skips the rest of that line. One memchr a line in C where
    built (relay/_linemarks.c); else bytes.find from one "\n--" to the next."""
    if not 0 <= start <= len(data):
        raise ValueError("start lies outside the data")
    if compiled and HAS_C_MARKS:
        return _linemarks.dash_lines(data, start)
    at = start
    if start > 0 and data[start - 1 : start] != b"\n":
        newline = data.find(b"\n", start)
        at = newline + 1 if newline >= 0 else len(data)
    found = []
    while at < len(data):
        if data.startswith(b"--", at):
            found.append(at)
        after = data.find(b"\n--", at)
        if after < 0:
            break
        at = after + 1
    return found


_LINE_BLANKS = "\t\r\f\v\u00a0"  # read as spaces by tidy


def tidy(text: str, compiled: bool = True) -> str:
    """Trim every line and collapse its runs of blanks; at most one empty line in a row, none
    at the ends. One C pass where built (relay/_linemarks.c: 16 -> 7 us on the 18 KB reply's
    HTML text); else line by line, only the few lines with a double space squeezed."""
    if compiled and HAS_C_MARKS:
        return _linemarks.tidy(text)
    for blank in _LINE_BLANKS:
        if blank in text:
            text = text.replace(blank, " ")
    lines: list[str] = []
    for line in text.split("\n"):
        line = line.strip()
        if "  " in line:
            line = squeeze(line, " ")
        if line or (lines and lines[-1]):
            lines.append(line)
    if lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def squeeze(text: str, blanks: str) -> str:
    """Every run of the characters in `blanks` (which holds the space) as one space.

    str methods instead of a regular expression: re tries a pattern at every character
    (~40 ns each here, 0.25 ms for a 6 KB reply), replace and `in` run at memory speed."""
    for ch in blanks:
        if ch != " " and ch in text:
            text = text.replace(ch, " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text
