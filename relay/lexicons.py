"""Loading the lexicon data files (relay/data/lexicon/*.toml) into a Lexicon.

This is the edge where the policy's vocabulary is read from disk; the policy itself only
ever sees the built, frozen Lexicon.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from relay.errors import ConfigError
from relay.policy.text import Lexicon


@cache
def load_lexicon() -> Lexicon:
    """Every topic file; each holds {language: [terms]}. Read once per process."""
    data: dict[str, dict[str, list[str]]] = {}
    folder = resources.files("relay") / "data" / "lexicon"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        try:
            doc = tomllib.loads(entry.read_text("utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"lexicon {entry.name}: {exc}") from exc
        topic = entry.name.removesuffix(".toml")
        for lang, terms in doc.items():
            if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
                raise ConfigError(f"lexicon {entry.name}: {lang} must be a list of strings")
            data.setdefault(topic, {})[lang] = terms
    return Lexicon.build(data)
