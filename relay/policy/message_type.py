"""Message-type rules for proactive messages: marketing, off-platform, thanks-only, confirmations.

Amazon permits proactive messages only to complete an order or answer a need (delays,
scheduling, invoices, proofs, returns, one review request). These rules recognise the types
it names as not permitted. Replies to a buyer are left to the content rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from relay.message import Message
from relay.policy.analysis import Sentence, analysis_of, split_sentences
from relay.policy.context import PolicyContext
from relay.policy.links import host_of, is_amazon_host
from relay.policy.model import Action, Hit, rule
from relay.policy.review import is_request
from relay.policy.text import normalize
from relay.textscan import ORDER_ID

GUIDE = "Permitted proactive messages complete an order; Amazon lists the types that are not"
# A promotional code: the word "code" (any language) and an upper-case token with a letter.
COUPON = re.compile(
    r"(?<![\w-])(?:code|codes|gutscheincode|rabattcode|aktionscode|kortingscode|actiecode|"
    r"code promo|c[oó]digo|codice|coupon|cup[oó]n|voucher)\b\W{0,3}"
    r"(?=[A-Z0-9]*[A-Z])([A-Z0-9]{4,15})\b",
    re.IGNORECASE,
)
TRACKING_BEFORE = re.compile(
    r"(?i)(tracking|sendungs|track|suivi|seguimiento|tracciamento|verzend|paket)\S*\W*$"
)
PERCENT = "percent"
_PERCENT = re.compile(r"\d{1,2}\s?%")
STOREFRONT = re.compile(r"(?i)/stores/|[?&]me=|/shops/")


def _proactive(msg: Message) -> bool:
    return not msg.is_reply and not msg.problem


def _coupons(msg: Message) -> list[str]:
    found = []
    for text in (msg.subject, *msg.new_texts):
        for m in COUPON.finditer(text):
            tracking = TRACKING_BEFORE.search(text[max(0, m.start() - 30) : m.start()])
            code = m.group(1)
            if not tracking and (code.isupper() or any(c.isdigit() for c in code)):
                found.append(m.group(0))
    return found


def _percent_offer(s: Sentence) -> bool:
    for m in _PERCENT.finditer(s.text):
        for word in s.get("discount_word"):
            gap = s.text[min(m.end(), word.end) : max(m.start(), word.start)]
            if len(gap.split()) <= 4:
                return True
    return False


@rule(
    id="marketing",
    guideline=GUIDE + ": marketing or promotional messages, coupons included",
    default=Action.REJECT,
    example="Use code SAVE20 for 20% off and check out our other products",
)
def marketing(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Promotion in a proactive message: codes, offers, other products, social-media follows."""
    if not _proactive(msg):
        return
    a = analysis_of(msg, ctx)
    coupons = _coupons(msg)
    strong = [m.text for s in a.sentences for m in s.get("marketing")]
    weak = {m.text for s in a.sentences for m in s.get("marketing_weak")}
    offers = [s for s in a.sentences if _percent_offer(s)]
    storefronts = [
        link.url for link in msg.links
        if not link.quoted and is_amazon_host(host_of(link.url)) and STOREFRONT.search(link.url)
    ]  # fmt: skip
    signals = coupons + strong + [o.text for o in offers] + storefronts
    if len(weak) >= 2:
        signals.append(" / ".join(sorted(weak)))
    if signals:
        yield Hit(
            signals[0][:140],
            "send no promotions to buyers: remove offers, codes and follow-us asks",
        )


@rule(
    id="off_platform",
    guideline=GUIDE + ": no moving the buyer off Amazon (other shops, payments or channels)",
    default=Action.REJECT,
    example="Pay the fitting kit by bank transfer, or order directly on our website",
)
def off_platform(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Leads the buyer off Amazon: our own shop, payment outside Amazon, WhatsApp and the like."""
    if not _proactive(msg):
        return
    a = analysis_of(msg, ctx)
    for s in a.sentences:
        direct = s.get("off_platform")
        shop = s.near("commerce_verb", "own_shop", 5)
        if direct or shop:
            shown = direct[0].text if direct else f"{shop[0].text} … {shop[1].text}"  # type: ignore[index]
            yield Hit(shown, f"keep orders, payments and contact on Amazon; remove '{shown}'")
            return


def _content_lines(msg: Message, ctx: PolicyContext) -> list[str]:
    """The body without greeting, helpdesk markers and signature."""
    lines = [ln.strip() for ln in msg.new_text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not (ln.startswith("##") and ln.endswith("##"))]
    lex = ctx.lexicon
    if (
        lines
        and len(lines[0].split()) <= 6
        and (
            lex.find("greeting", normalize(lines[0]).split(",")[0]) or lines[0].endswith((",", ":"))
        )
    ):
        lines = lines[1:]
    for i, line in enumerate(lines):
        norm = normalize(line).strip(" ,.!")
        if len(norm.split()) <= 5 and any(
            norm == t or norm.startswith(t + " ") for t in lex.find("signoff", norm)
        ):
            lines = lines[:i]
            break
    while lines and len(lines[-1].split()) <= 4 and not lines[-1].endswith((".", "!", "?")):
        lines.pop()  # a signature without a sign-off ("Team Nordlicht Home")
    return lines


def _only_thanks(sentence: str, ctx: PolicyContext) -> bool:
    # Capitalised words after the first are names ("Nordlicht Home"): not content.
    names = {normalize(w).strip(".,!?") for w in sentence.split()[1:] if w[:1].isupper()}
    norm = normalize(ORDER_ID.sub(" ", sentence))
    thanks = ctx.lexicon.topic("thanks").finditer(norm)
    if not thanks:
        return False
    chars = list(norm)
    for m in thanks:
        chars[m.start : m.end] = " " * (m.end - m.start)
    rest = re.sub(r"[^\w\s']", " ", "".join(chars))
    filler = {m.text for m in ctx.lexicon.topic("filler").finditer(rest)}
    residue = [w for w in rest.split() if w not in filler and w not in names and not w.isdigit()]
    return len(residue) <= 3


@rule(
    id="thanks_only",
    guideline=GUIDE + ": messages that only say thank you or that you are there to help",
    default=Action.REJECT,
    example="Thank you for your order! If you have any questions, we are here to help.",
)
def thanks_only(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A proactive message that is nothing but thanks or 'we are here to help'."""
    if not _proactive(msg) or msg.attachments or any(not link.quoted for link in msg.links):
        return
    sentences = [s for line in _content_lines(msg, ctx) for s in split_sentences(line)]
    if sentences and all(_only_thanks(s, ctx) for s in sentences):
        yield Hit(
            " ".join(sentences)[:140], "send proactive messages only when the order needs one"
        )


def _is_delay_notice(s: Sentence) -> bool:
    return s.has("delay_notice") and not s.has("if_marker")


@rule(
    id="order_confirmation",
    guideline=GUIDE + ": order, shipping, delivery or refund confirmations (Amazon sends those)",
    default=Action.REJECT,
    example="Your order 304-8860244-1570501 has been shipped. Here is your tracking number.",
)
def order_confirmation(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A proactive order, shipping, delivery or refund confirmation (delay notices are fine)."""
    if not _proactive(msg):
        return
    a = analysis_of(msg, ctx)
    # A delay or problem notice, a review request, delivery scheduling, a question to the buyer
    # or a document (label, invoice) is a permitted purpose; the shipping news is context.
    if msg.attachments or any(
        _is_delay_notice(s)
        or is_request(s)
        or s.has("scheduling")
        or (s.part >= 0 and s.text.endswith("?"))
        for s in a.sentences
    ):
        return
    for s in a.sentences:
        refund = s.near("refund_word", "processed_word", 8)
        found = [m.text for m in s.get("confirmation")]
        if refund:
            found.append(" … ".join(m.text for m in refund))
        if found:
            reason = "do not confirm orders, shipping or refunds: Amazon tells the buyer"
            yield Hit(found[0], reason)
            return
