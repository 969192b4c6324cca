"""Wording rules: phone numbers, sensitive language, the language of the message."""

from __future__ import annotations

import re
from collections.abc import Iterator

import phonenumbers

from relay.message import Message
from relay.policy.analysis import Sentence, analysis_of
from relay.policy.context import PolicyContext
from relay.policy.envelope import marketplace_tld
from relay.policy.links import scheme_of
from relay.policy.model import Action, Hit, rule
from relay.textscan import ORDER_ID

GUIDE_PHONE = "No phone numbers, except for warranties, carriers or manufacturers"
# Cheap prefilter: only digit runs that could be a phone number reach libphonenumber.
CANDIDATE = re.compile(r"(?<![\w/.,])(?:\+|00)?\(?\d[\d \t().\-/]{5,20}\d(?![\w/])")
_DIGIT = re.compile(r"\d")
_ASCII_DIGITS = b"0123456789"
DATE = re.compile(r"\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")
TLD_REGION = {
    "de": "DE", "co.uk": "GB", "com": "US", "ca": "CA", "fr": "FR", "it": "IT", "es": "ES",
    "nl": "NL", "com.be": "BE", "com.mx": "MX", "com.br": "BR", "se": "SE", "pl": "PL",
    "com.tr": "TR", "in": "IN", "co.jp": "JP", "com.au": "AU", "ae": "AE", "sa": "SA", "eg": "EG",
    "sg": "SG", "ie": "IE",
}  # fmt: skip
LANG_REGION = {"de": "DE", "en": "GB", "fr": "FR", "it": "IT", "es": "ES", "nl": "NL"}


def _regions(msg: Message, ctx: PolicyContext) -> list[str]:
    a = analysis_of(msg, ctx)
    regions = [TLD_REGION.get(marketplace_tld(r) or "", "") for r in msg.envelope.rcpt_tos]
    regions.append(LANG_REGION.get(a.language, ""))
    return list(dict.fromkeys(r for r in regions if r)) or ["DE"]


def digit_count(text: str) -> int:
    """How many characters of `text` are digits (re's \\d): ASCII text by deleting the
    digits from its bytes, at memory speed (ten str.count calls took 5x longer on a
    sentence); other text by the pattern (\\d holds every script's digits)."""
    if text.isascii():
        return len(text) - len(text.encode("ascii").translate(None, _ASCII_DIGITS))
    return len(_DIGIT.findall(text))


def phone_numbers(text: str, regions: list[str], lenient: bool = False) -> list[str]:
    """Valid phone numbers written in `text` for any of `regions` (also merely possible ones,
    when `lenient`: the sentence asks the buyer to call)."""
    if digit_count(text) < 7:  # every number reported has 7 to 15 digits
        return []
    masked = DATE.sub(lambda m: " " * len(m.group(0)), ORDER_ID.sub(lambda m: " " * 19, text))
    found = []
    for cand in CANDIDATE.finditer(masked):
        digits = sum(c.isdigit() for c in cand.group(0))
        if not 7 <= digits <= 15:
            continue
        leniency = phonenumbers.Leniency.POSSIBLE if lenient else phonenumbers.Leniency.VALID
        for region in regions:
            matches = list(phonenumbers.PhoneNumberMatcher(cand.group(0), region, leniency))
            if matches:
                found.append(matches[0].raw_string)
                break
    return found


def _exempt(s: Sentence, previous: Sentence | None) -> bool:
    return s.has("phone_context") or (previous is not None and previous.has("phone_context"))


@rule(
    id="phone_number",
    guideline=GUIDE_PHONE,
    default=Action.QUARANTINE,
    example="Rufen Sie uns an unter 030 9876 5432",
)
def phone_number(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A phone number outside a warranty, carrier or manufacturer context."""
    a = analysis_of(msg, ctx)
    regions = _regions(msg, ctx)
    previous: Sentence | None = None
    for s in a.sentences:
        # A number needs 7 digits in its sentence. Counting them is cheaper than the context
        # look-ups, and most sentences have fewer (then the whole-text count before them
        # would only be a second pass).
        if digit_count(s.text) >= 7 and not _exempt(
            s, previous if previous and previous.part == s.part else None
        ):
            for number in phone_numbers(s.text, regions, lenient=s.has("call_verb")):
                yield Hit(
                    number, f"remove the phone number {number}; the buyer answers through Amazon"
                )
        previous = s
    for link in msg.links:
        if not link.quoted and scheme_of(link.url) == "tel":
            yield Hit(link.url[:60], "remove the tel: link; the buyer answers through Amazon")


@rule(
    id="sensitive_language",
    guideline="No offensive, threatening or erotic wording in text or images",
    default=Action.QUARANTINE,
    example="Wat een klootzak bent u.",
)
def sensitive_language(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Profanity, insults, threats or erotic wording in the sender's own text."""
    a = analysis_of(msg, ctx)
    words = list(dict.fromkeys(m.text for s in a.sentences for m in s.get("sensitive")))
    if words:
        shown = ", ".join(words[:5])
        yield Hit(shown, f"rewrite the message without '{shown}'; stay factual and polite")


@rule(
    id="language_mismatch",
    guideline="Proactive messages must be in the buyer's preferred language",
    default=Action.LOG,
    example="An English reply to a buyer on amazon.de",
)
def language_mismatch(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """The body's language differs from the marketplace's default language."""
    a = analysis_of(msg, ctx)
    if a.language and a.default_language and a.language != a.default_language:
        wanted = a.default_language
        reason = f"write in the buyer's language ({wanted}) unless they wrote in another"
        yield Hit(f"{a.language} text to a {wanted} marketplace", reason)
