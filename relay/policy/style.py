"""Style rules on emoji and images."""

from __future__ import annotations

from collections.abc import Iterator

import lxml.html
import regex

from relay.htmlscan import Image
from relay.message import Message
from relay.policy.content import drop_images
from relay.policy.context import PolicyContext
from relay.policy.links import scheme_of
from relay.policy.model import Action, Hit, rule
from relay.rewrite import Editor, remove

GUIDE_STYLE = "Amazon communication guidelines: style elements a permitted message may not contain"

# Emoji shown as emoji by default, any pictograph forced to emoji style (U+FE0F), keycaps,
# and the text-default symbols mail clients draw as emoji anyway. ©, ® and ™ stay.
_EMOJI_CORE = (
    r"(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F|[0-9#*]\uFE0F?\u20E3"
    r"|[\u263A\u2639\u2665\u2764\u270C\u2600\u2601\u2714\u2708\u260E\u2744\u270D])"
)
EMOJI = regex.compile(rf"{_EMOJI_CORE}(?:[\uFE0F\U0001F3FB-\U0001F3FF]|\u200D{_EMOJI_CORE})*")
EMOTICON = regex.compile(
    r"(?<![\w:;=])(?:[:;=]['\-^o]?[)(\]\[DPpOo3|*]{1,3}|\^[_.]?\^|<3|xD|XD|:'\()(?![\w)(])"
)


def _emoji_in(text: str) -> list[str]:
    return [m.group(0) for m in EMOJI.finditer(text)] + [
        m.group(0) for m in EMOTICON.finditer(text)
    ]


def without_emoji(text: str) -> str:
    text = EMOTICON.sub("", EMOJI.sub("", text))
    return regex.sub(r"[ \t]{2,}", " ", text)


def _strip_emoji_html(root: lxml.html.HtmlElement) -> bool:
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if el.tag == "img" and (
            "emoji" in (el.get("class") or "")
            or (el.get("alt") and EMOJI.fullmatch(el.get("alt", "")))
        ):
            remove(el)  # clients such as Gmail send emoji as little images
            changed = True
            continue
        if el.tag in ("style", "script"):
            continue
        for attr in ("text", "tail"):
            value = getattr(el, attr)
            if value and _emoji_in(value):
                setattr(el, attr, without_emoji(value))
                changed = True
        for attr in ("alt", "title"):
            value = el.get(attr)
            if value and _emoji_in(value):
                el.set(attr, without_emoji(value))
                changed = True
    return changed


def fix_emoji(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    if _emoji_in(msg.subject):
        editor.replace_header("Subject", without_emoji(msg.subject).strip())
    editor.edit_text(without_emoji)
    editor.edit_html(_strip_emoji_html)


@rule(
    id="emoji",
    guideline=GUIDE_STYLE + ": emoji, emoticons included",
    default=Action.STRIP,
    fix=fix_emoji,
    example="Subject: Re: Spedizione 🚀",
)
def emoji(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Emoji or emoticons in the subject or the body."""
    found = _emoji_in(msg.subject)
    for part in msg.parts:
        found += _emoji_in(part.new_text) + _emoji_in(part.quoted_text)
    found += [i.alt for i in msg.images if i.alt and EMOJI.fullmatch(i.alt)]
    if found:
        shown = " ".join(dict.fromkeys(found))
        yield Hit(shown[:60], f"remove the emoji {shown[:30]} from the subject and text")


def _http_images(msg: Message) -> list[Image]:
    return [i for i in msg.images if scheme_of(i.src) == "http"]


def fix_insecure_image(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    srcs = {i.src for i in _http_images(msg)}
    editor.edit_html(lambda root: drop_images(root, srcs))


@rule(
    id="insecure_image",
    guideline=GUIDE_STYLE + ": insecure images (http instead of https)",
    default=Action.STRIP,
    fix=fix_insecure_image,
    example='<img src="http://static.seller.example/logo.png" alt="Logo">',
)
def insecure_image(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An image loaded over plain http://."""
    for img in _http_images(msg):
        yield Hit(img.src[:120], "load images over https:// or attach them; http images go")
