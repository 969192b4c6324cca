"""The sentence scan looks for every topic a rule asks a sentence about.

relay.policy.analysis leaves OWN_TEXT_TOPICS out of the scan of the message's sentences,
because the rules match those on pieces of text of their own. This test reads every rule
module and collects the topics asked of sentences (has, get, near, with_topic, and the
tuples of topic names the review rules iterate); none may be one of those left out, and
each must be a topic of the lexicon.
"""

from __future__ import annotations

import re
from pathlib import Path

from ruletools import lexicon

from relay.policy import analysis

POLICY = Path(analysis.__file__).parent
# A sentence is `s`, `w` or `previous` in the rules; an analysis answers with_topic.
ASKED = re.compile(
    r"""\b(?:s|w|previous)\.(?:has|get)\(\s*"([a-z_]+)"|\.with_topic\(\s*"([a-z_]+)"|"""
    r"""\.near\(\s*"([a-z_]+)",\s*"([a-z_]+)\""""
)
TUPLES = re.compile(r"""topics = \(([^)]*)\)""")


def asked_topics() -> set[str]:
    found: set[str] = set()
    for source in POLICY.glob("*.py"):
        text = source.read_text()
        for m in ASKED.finditer(text):
            found.update(g for g in m.groups() if g)
        for m in TUPLES.finditer(text):
            found.update(re.findall(r'"([a-z_]+)"', m.group(1)))
    return found


def test_no_rule_asks_a_sentence_for_a_topic_left_out_of_the_scan() -> None:
    """The topics rules read from sentences and the ones the scan skips do not meet."""
    asked = asked_topics()
    names = {t.name for t in lexicon().topics}
    assert (set(), set()) == (asked & analysis.OWN_TEXT_TOPICS, asked - names)
    assert len(asked) > 30  # the collection found the rules' questions


def test_left_out_topics_are_read_elsewhere() -> None:
    """Each topic left out of the sentence scan is one a rule matches on its own text."""
    sources = "".join(p.read_text() for p in POLICY.glob("*.py"))
    assert all(f'"{t}"' in sources for t in analysis.OWN_TEXT_TOPICS)
