"""quote_start's attribution-word prefilter never changes where quoted history starts.

The oracle is the straightforward loop quote_start used before the prefilter: every line
tried against the attribution pattern alone and folded with the next line.
"""

from __future__ import annotations

from data.legit import ATTRIBUTION
from hypothesis import given, settings
from hypothesis import strategies as st

from relay import textscan
from relay.textscan import quote_start


def reference_quote_start(lines: list[str]) -> int:
    """quote_start without the prefilter."""
    attribution = textscan._ATTRIBUTION
    for i, line in enumerate(lines):
        if len(line) > 400:
            continue
        if textscan._SEPARATOR.match(line) or textscan._is_header_block(lines, i):
            return i
        if attribution.match(line):
            return i
        if (
            i + 1 < len(lines)
            and len(line) < 200
            and len(lines[i + 1]) < 100
            and not attribution.match(lines[i + 1])
            and attribution.match(f"{line} {lines[i + 1]}")
        ):
            return i
    return len(lines)


PIECES = [
    "On Mon, 4 Mar 2024 at 09:12, Jo Webb", "wrote:", "WROTE:", "ſchrieb", "SCHRİEB", "schreıef",
    "Am Mo., 4. März 2024 um 09:12 Uhr", "schrieb Karin Roth:", "Op zo 3 mrt 2024", "schreef",
    "heeft", "geschreven", "Le mar. 5 mars 2024 à 02:40, Anne", "a écrit :", "A ÉCRIT :",
    "El lun, 4 mar 2024 a las 14:18, Ana", "escribió:", "Il giorno lun 4 mar 2024", "ha scritto:",
    "Hallo Frau Jung,", "danke", "> quoted", "From: Tom", "Sent: Sunday", "Subject: x", "Grüße",
    "-----Original Message-----", "", " ", "İ", "ı", "ſ", "ẞ",
]  # fmt: skip
line = st.lists(st.sampled_from(PIECES), max_size=4).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(line, max_size=12))
def test_prefilter_gives_the_reference_answer(lines: list[str]) -> None:
    """Random lines built from attribution fragments, odd case letters included."""
    assert reference_quote_start(lines) == quote_start(lines)


def test_every_client_attribution_still_starts_the_quote() -> None:
    """The six languages' attributions, alone and folded over two lines."""
    cases = []
    for text in ATTRIBUTION.values():
        head, _, tail = text.rpartition(" ")
        cases += [["Danke.", text, "> x"], ["Danke.", head, tail, "> x"]]
    assert [reference_quote_start(c) for c in cases] == [quote_start(c) for c in cases]
    assert all(quote_start(c) == 1 for c in cases)
