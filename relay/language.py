"""Language identification of a message body, offline, with py3langid.

Chosen over lingua and langdetect by measurement (bench/langid_eval.py; numbers in
bench/README.md): on the public corpus and the seed phrases of the six marketplace languages
py3langid restricted to those languages is as accurate as lingua (1.000 and 0.986) at a third
of its time per call (about 190 us), with its model inside the wheel. The model is loaded
lazily in the process that uses it, and not pickled: inspection workers load their own.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("en", "de", "nl", "fr", "es", "it")
MIN_LETTERS = 20  # below this a guess is noise: the marketplace default applies
MAX_CHARS = 2000  # the first paragraphs decide; keeps the cost flat for long messages


class Py3LangidDetector:
    """Detects one of `languages` ('' when the text is too short to tell)."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES) -> None:
        self.languages = languages
        self._identifier: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"languages": self.languages}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.languages = state["languages"]
        self._identifier = None

    def _load(self) -> Any:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        identifier.set_languages(list(self.languages))
        return identifier

    def detect(self, text: str) -> str:
        if sum(c.isalpha() for c in text[:MAX_CHARS]) < MIN_LETTERS:
            return ""
        if self._identifier is None:
            self._identifier = self._load()
        return str(self._identifier.classify(text[:MAX_CHARS])[0])
