"""The HTML scan gives the facts it gave before it was rewritten for speed.

tests/data/html_scans.json holds, for 600 seeded random documents (tests/htmlgen.py: quote
containers, hidden and styled elements, anchors around images, script URLs, <style>
blocks, comments, every kind of whitespace), a hash of what relay/htmlscan.py of commit
8230be2 (the line-by-line walk) returned. The current scan must return the same facts.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from htmlgen import document

from relay.htmlscan import scan_html

GOLDEN = json.loads((Path(__file__).parent.parent / "data" / "html_scans.json").read_text())


@pytest.mark.parametrize("compiled", [True, False], ids=["C loop", "Python loop"])
def test_scans_equal_the_reference_walk(compiled: bool) -> None:
    """Every document's scan hashes to the recorded one (a list of differing seeds if not),
    with the element loop in C (relay/_htmlwalk.c) and in Python."""
    differing = []
    for seed, expected in GOLDEN["scans"].items():
        doc = document(int(seed), 60 if int(seed) < 400 else 300)
        actual = hashlib.sha256(repr(scan_html(doc, compiled=compiled)).encode()).hexdigest()[:16]
        if actual != expected:
            differing.append(int(seed))
    assert [] == differing
