"""The review family: incentives, positive-only, conditional, deflection, change, repeat.

Each rule looks for co-occurring lexicon topics within one sentence (or a sentence and its
neighbour), in the sender's own text only, in any of the six languages. A review *request*
is a review noun near an asking verb ("leave a review", "eine Bewertung hinterlassen"), a
review verb used as a request ("bewerten Sie uns", "valóranos"), or a review noun with a wish
("a review would mean the world"). A neutral request is allowed once per order: the pipeline
claims the order ids of every delivered request in the state store; `review_repeat` fires
when the claim fails (see `repeat_findings`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from relay.message import Message
from relay.policy.analysis import Analysis, Sentence, analysis_of
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Finding, Hit, rule

GUIDE = "Amazon communication guidelines: messages may not manipulate reviews or feedback"
ASK_DISTANCE = 6  # words between an asking verb and the review noun
CHANGE_DISTANCE = 3
# An amount of money in the same sentence as a review is an incentive, whatever the verb.
MONEY = re.compile(
    r"(?:[€£$]\s?\d+(?:[.,]\d+)?|\d+(?:[.,]\d+)?\s?(?:€|eur|euro|euros|£|gbp|pounds?|\$|usd|dollars?)\b)"
)
_DIGIT = re.compile(r"\d")  # every amount MONEY finds has one
CONTACT_DISTANCE = 10
VERB_FINAL = ("de", "nl")  # languages where the verb may follow its object ("Bewertung zu löschen")


# Every review rule needs a sentence that mentions a review: with one of these topics.
REVIEW_WORDS = frozenset({"review_noun", "review_imperative", "review_generic"})


def _no_review(a: Analysis) -> bool:
    """No sentence mentions a review: no review rule can fire."""
    return REVIEW_WORDS.isdisjoint(a.topics)


def _generic_review(s: Sentence) -> bool:
    """'Your thoughts' or 'your experience' is a review when the sentence names Amazon."""
    return s.has("review_generic") and s.has("on_amazon")


def mentions_review(s: Sentence) -> bool:
    return s.has("review_noun") or s.has("review_imperative") or _generic_review(s)


def is_request(s: Sentence) -> bool:
    """The sentence asks for a review or feedback."""
    return (
        s.has("review_imperative")
        or s.near("review_ask", "review_noun", ASK_DISTANCE) is not None
        or (s.has("review_noun") and s.has("review_wish"))
        or (_generic_review(s) and s.near("review_ask", "review_generic", ASK_DISTANCE) is not None)
    )


def requests(a: Analysis) -> list[Sentence]:
    return [] if _no_review(a) else [s for s in a.sentences if is_request(s)]


def review_orders(msg: Message, ctx: PolicyContext) -> tuple[str, ...]:
    """The order ids this message asks a review for (empty when it asks none)."""
    if msg.problem or not msg.order_ids:
        return ()
    return msg.order_ids if requests(analysis_of(msg, ctx)) else ()


def _evidence(s: Sentence, limit: int = 140) -> str:
    return s.text if len(s.text) <= limit else s.text[: limit - 1] + "…"


@rule(
    id="review_incentive",
    guideline=GUIDE + "; no compensation, free or discounted products, refunds or gifts for one",
    default=Action.REJECT,
    example="Leave a review and we'll send you a gift card",
)
def review_incentive(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Compensation offered for a review: money, gifts, free products, refunds, discounts."""
    a = analysis_of(msg, ctx)
    if _no_review(a):
        return
    for s in a.sentences:
        if not (s.has("review_incentive") or (_DIGIT.search(s.text) and MONEY.search(s.text))):
            continue
        window = a.window(s)
        across = s.has("review_link") and any(mentions_review(w) for w in window if w is not s)
        if mentions_review(s) or across:
            offered = [m.text for m in s.get("review_incentive")] + MONEY.findall(s.text)
            offers = ", ".join(dict.fromkeys(offered))
            reason = (
                f"remove what is offered for a review ({offers}); ask without anything in return"
            )
            yield Hit(_evidence(s), reason)
            return


@rule(
    id="review_positive_only",
    guideline=GUIDE + "; no requests for positive reviews or a number of stars",
    default=Action.REJECT,
    example="Please leave us a 5-star review",
)
def review_positive_only(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Asks for a positive or five-star review or feedback."""
    a = analysis_of(msg, ctx)
    if _no_review(a):
        return
    for s in a.sentences:
        if not mentions_review(s) or s.has("review_scale"):
            continue
        strong = s.get("review_positive_strong")
        weak = s.get("review_positive")
        wishes = is_request(s) or s.has("review_wish")
        if strong or (weak and wishes and not s.has("review_balance")):
            word = (strong or weak)[0].text
            yield Hit(_evidence(s), f"ask for an honest review without '{word}'")
            return


UNAMBIGUOUS_IF = frozenset(
    {"if", "wenn", "falls", "sofern", "indien", "mocht", "si", "se", "qualora"}
)
_CLAUSE_END = re.compile(r"[,;:!?\-–]")


def _conditional_clause(s: Sentence) -> bool:
    """An if-clause before a review request in the same sentence, about the buyer being
    pleased ("if the lamp brightens your evenings, please share a review"); if-clauses
    about time, questions, wishes or problems are not conditions on satisfaction."""
    topics = ("review_noun", "review_imperative", "review_ask")
    review_at = min((m.start for m in s.matches if m.topic in topics), default=-1)
    for marker in s.get("if_marker"):
        if review_at < 0 or marker.start > review_at:
            continue
        end = _CLAUSE_END.search(s.text, marker.end)
        clause_end = min(end.start() if end else len(s.text), review_at)
        clause = [m for m in s.matches if marker.end <= m.start < clause_end]
        words = s.text[marker.end : clause_end].split()
        if len(words) < 2 or any(m.topic == "condition_neutral" for m in clause):
            continue
        if marker.text in UNAMBIGUOUS_IF or any(m.topic == "satisfaction" for m in clause):
            return True
    return False


def _satisfaction_question(s: Sentence) -> bool:
    return (
        s.text.rstrip().endswith("?") and s.has("satisfaction") and not s.has("condition_neutral")
    )


@rule(
    id="review_conditional",
    guideline=GUIDE + "; no asking for a review only from satisfied buyers",
    default=Action.REJECT,
    example="If you are happy with your purchase, please leave a review",
)
def review_conditional(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Asks for a review only if the buyer is satisfied ("if you are happy…")."""
    a = analysis_of(msg, ctx)
    if _no_review(a):
        return
    for s in a.sentences:
        following = [w for w in a.window(s) if w.index >= s.index]
        explicit = s.has("review_condition") or _satisfaction_question(s)
        if (
            explicit and any(is_request(w) or (w is s and mentions_review(w)) for w in following)
        ) or (is_request(s) and _conditional_clause(s)):
            yield Hit(_evidence(s), "ask every buyer the same way, without 'if you are happy'")
            return


@rule(
    id="review_deflection",
    guideline=GUIDE + "; no asking buyers to contact the seller instead of reviewing",
    default=Action.REJECT,
    example="Not satisfied? Contact us before leaving a review",
)
def review_deflection(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Asks the buyer to contact the seller before (or instead of) leaving a review."""
    a = analysis_of(msg, ctx)
    if _no_review(a):
        return
    for s in a.sentences:
        pair = s.near("review_contact_first", "review_noun", CONTACT_DISTANCE)
        if pair:
            yield Hit(_evidence(s), "offer help without tying it to the buyer's review")
            return


@rule(
    id="review_change_request",
    guideline=GUIDE + "; no asking to remove, change or update an existing review",
    default=Action.REJECT,
    example="Now that the issue is resolved, please remove your negative review",
)
def review_change_request(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Asks the buyer to remove, change or update a review they wrote."""
    a = analysis_of(msg, ctx)
    if not {"review_change", "review_own"} <= a.topics:
        return
    for s in a.sentences:
        for verb in s.get("review_change"):
            for own in s.get("review_own"):
                ordered = verb.lang in VERB_FINAL or verb.start < own.start
                first, second = (verb, own) if verb.start < own.start else (own, verb)
                # "we updated your order; your review…": a clause break separates them
                joined = not any(c in s.text[first.end : second.start] for c in ",;:")
                if ordered and joined and s.words_between(verb, own) <= CHANGE_DISTANCE:
                    yield Hit(_evidence(s), "do not ask the buyer to change or remove a review")
                    return


@rule(
    id="review_repeat",
    guideline=GUIDE + "; one review or feedback request per order",
    default=Action.REJECT,
    example="Reminder: review your bread bin (order 112-8444818-8512793), asked before",
)
def review_repeat(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A second review or feedback request for the same order (state kept per order)."""
    already = [o for o in review_orders(msg, ctx) if o in ctx.reviewed_orders]
    if already:
        yield _repeat_hit(already)


def _repeat_hit(orders: Iterable[str]) -> Hit:
    shown = ", ".join(orders)
    return Hit(f"order {shown}", f"order {shown} already had a review request; send none again",
               tuple(orders))  # fmt: skip


def repeat_findings(orders: Iterable[str], ctx: PolicyContext) -> list[Finding]:
    """The review_repeat finding for orders whose request the state store already holds."""
    orders = list(orders)
    action = ctx.action(review_repeat)
    if not orders or action is Action.OFF:
        return []
    hit = _repeat_hit(orders)
    return [Finding(review_repeat.id, action, hit.evidence, hit.reason, hit.data)]
