"""Compare offline language detectors on the six marketplace languages.

Data: the public corpus (new text of each message, labelled by its case's `lang`) and the
seed phrases of spec/PHRASES.md (short texts, the hard case). Prints accuracy and the time
per call for each detector. Usage: python bench/langid_eval.py [../shared]
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from relay.message import Envelope, parse_message

LANGS = ("en", "de", "nl", "fr", "es", "it")


def samples(shared: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    corpus = shared / "eval" / "corpus"
    messages = []
    for line in (corpus / "cases.jsonl").read_text().splitlines():
        case = json.loads(line)
        msg = parse_message((corpus / f"{case['id']}.eml").read_bytes(), Envelope("", ()))
        messages.append((case["lang"], msg.new_text))
    phrases = []
    for line in (shared / "spec" / "PHRASES.md").read_text().splitlines():
        m = re.match(r"\* \*\*(EN|DE|NL|FR|ES|IT):\*\* (.*)", line.strip())
        if m:
            for phrase in re.split(r" ?[;/] ?", m.group(2)):
                if len(phrase.split()) >= 2:
                    phrases.append((m.group(1).lower(), phrase))
    return messages, phrases


def detectors():  # type: ignore[no-untyped-def]
    found = {}
    try:
        from lingua import Language, LanguageDetectorBuilder

        langs = [Language.ENGLISH, Language.GERMAN, Language.DUTCH, Language.FRENCH,
                 Language.SPANISH, Language.ITALIAN]  # fmt: skip
        det = LanguageDetectorBuilder.from_languages(*langs).build()
        codes = {lang: lang.iso_code_639_1.name.lower() for lang in langs}
        found["lingua (6 languages)"] = lambda t: codes.get(det.detect_language_of(t), "")
        low = LanguageDetectorBuilder.from_languages(*langs).with_low_accuracy_mode().build()
        found["lingua low-accuracy mode"] = lambda t: codes.get(low.detect_language_of(t), "")
    except ImportError:
        pass
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=False)
        ident.set_languages(list(LANGS))
        found["py3langid (6 languages)"] = lambda t: ident.classify(t)[0]
    except ImportError:
        pass
    try:
        from relay.language import Py3LangidDetector

        ours = Py3LangidDetector()
        found["relay.language (cached model)"] = ours.detect
    except ImportError:
        pass
    try:
        import langdetect

        langdetect.DetectorFactory.seed = 0
        found["langdetect"] = lambda t: langdetect.detect(t) if t.strip() else ""
    except ImportError:
        pass
    return found


def main() -> None:
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared")
    messages, phrases = samples(shared)
    print(f"{len(messages)} corpus messages, {len(phrases)} seed phrases")
    print(f"{'detector':<28}{'messages':>10}{'phrases':>10}{'us/call':>10}")
    for name, detect in detectors().items():
        scores = []
        for data in (messages, phrases):
            ok = 0
            for lang, text in data:
                with contextlib.suppress(Exception):  # a detector that gives up scores nothing
                    ok += detect(text) == lang
            scores.append(ok / len(data))
        texts = [t for _, t in messages]
        started = time.perf_counter()
        for _ in range(3):
            for t in texts:
                detect(t)
        per_call = (time.perf_counter() - started) / (3 * len(texts)) * 1e6
        print(f"{name:<28}{scores[0]:>10.3f}{scores[1]:>10.3f}{per_call:>10.0f}")


if __name__ == "__main__":
    main()
