"""Style rules on emoji and images."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator

import lxml.html
import regex

from relay.htmlfacts import css_declarations
from relay.message import Message
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Hit, rule
from relay.rewrite import Editor, remove, unwrap
from relay.textscan import non_ascii

try:  # the prefilters in C (relay/_emojiscan.c); absent when built without a C compiler
    from relay import _emojiscan

    HAS_C_EMOJI = True
except ImportError:  # pragma: no cover - the Python prefilters below do the same
    HAS_C_EMOJI = False

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


# Every emoji match holds a character that starts one of EMOJI's forms or the U+FE0F / U+20E3
# that keycaps and text-style symbols need, all of them non-ASCII: EMOJI (a pattern tried at
# every character) runs only when the text's non-ASCII characters hold one.
EMOJI_PART = regex.compile(
    r"[\p{Emoji_Presentation}\p{Extended_Pictographic}\uFE0F\u20E3"
    r"\u263A\u2639\u2665\u2764\u270C\u2600\u2601\u2714\u2708\u260E\u2744\u270D]"
)
# Every emoticon starts with one of these: EMOTICON is tried only where one stands, and
# after eyes (: ; =) only where a nose or a mouth follows. The characters are looked for
# alone (a one-character search runs at memory speed, a two-character one far slower):
# "<3" at its "<", "xD" and "XD" at their (rare) x.
_EYES = (":", ";", "=")
_AFTER_EYES = frozenset("'-^o)(][DPpOo3|*")


def emoticon_starts(text: str, compiled: bool = True) -> list[int]:
    """The places an emoticon can start, in order: one pass in C where built
    (relay/_emojiscan.c), else a str.find loop per character."""
    if compiled and HAS_C_EMOJI:
        return _emojiscan.emoticon_starts(text)
    starts: set[int] = set()
    for first in (*_EYES, "^", "<", "x", "X"):
        at = text.find(first)
        while at >= 0:
            if first in _EYES:
                if text[at + 1 : at + 2] in _AFTER_EYES:
                    starts.add(at)
            elif first == "^":
                starts.add(at)
            elif first == "<":
                if text[at + 1 : at + 2] == "3":
                    starts.add(at)
            elif text[at + 1 : at + 2] == "D":  # xD or XD
                starts.add(at)
            at = text.find(first, at + 1)
    return sorted(starts)


def may_hold_emoji(text: str, compiled: bool = True) -> bool:
    """Whether EMOJI can match: its class holds non-ASCII characters only, all of them at or
    past U+2100 but five (checked in C without collecting the characters, where built)."""
    if compiled and HAS_C_EMOJI and not _emojiscan.emoji_hint(text):
        return False
    return EMOJI_PART.search(non_ascii(text)) is not None


def _emoticons(text: str) -> list[str]:
    """EMOTICON.finditer's matches, tried only at the places an emoticon can start."""
    found, end = [], 0
    for at in emoticon_starts(text):
        if at >= end and (m := EMOTICON.match(text, at)) is not None:
            found.append(m.group(0))
            end = m.end()
    return found


def _emoji_in(text: str) -> list[str]:
    emoji = [m.group(0) for m in EMOJI.finditer(text)] if may_hold_emoji(text) else []
    return emoji + _emoticons(text)


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


# ---------------------------------------------------------------- fonts, sizes, alignment
FONT_PROPS = ("font-family", "font", "color", "line-height", "font-face", "font-color")
_CSS_FONT = re.compile(r"(?<![-\w])(font-family|font|color|line-height)\s*:[^;}]*;?", re.I)
_CSS_SIZE = re.compile(r"(?<![-\w])font-size\s*:[^;}]*;?", re.I)
_CSS_ALIGN = re.compile(r"(?<![-\w])text-align\s*:\s*(?!left|start|inherit)[^;}]*;?", re.I)
_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.I)
_NOT_ALIGNED = ("", "left", "start", "inherit", "initial")


def _font_overrides(msg: Message) -> list[str]:
    return [
        f"{d.prop}: {d.value}"[:80]
        for scan in msg.html
        for d in scan.distinct_styles
        if d.prop in FONT_PROPS and d.value.strip().lower() not in ("inherit", "initial", "")
    ]


def set_style(el: lxml.html.HtmlElement, declarations: list[str]) -> None:
    """Write back an element's style, dropping the attribute when nothing is left."""
    if declarations:
        el.set("style", "; ".join(declarations))
    else:
        el.attrib.pop("style", None)


def _rewrite_css(root: lxml.html.HtmlElement, pattern: regex.Pattern[str] | re.Pattern[str],
                 props: tuple[str, ...], attrs: dict[str, tuple[str, ...]]) -> bool:  # fmt: skip
    """Drop matching declarations from style attributes and <style> blocks, and `attrs`."""
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        style = el.get("style")
        if style:
            kept = [f"{p}: {v}" for p, v in css_declarations(style) if p not in props]
            if len(kept) != len(css_declarations(style)):
                set_style(el, kept)
                changed = True
        for attr in attrs.get(el.tag, ()) + attrs.get("*", ()):
            if el.get(attr) is not None and (el.tag, attr) != ("img", "align"):
                del el.attrib[attr]
                changed = True
        if el.tag == "style" and el.text:
            text = pattern.sub("", _FONT_FACE.sub("", el.text) if "font" in props else el.text)
            if text != el.text:
                el.text = text
                changed = True
    return changed


def fix_font_overrides(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    def html(root: lxml.html.HtmlElement) -> bool:
        changed = _rewrite_css(root, _CSS_FONT, ("font-family", "font", "color", "line-height"),
                               {"font": ("face", "color"), "body": ("text",)})  # fmt: skip
        for font in list(root.iter("font")):
            if not font.attrib:
                unwrap(font)
                changed = True
        return changed

    editor.edit_html(html)


@rule(
    id="font_overrides",
    guideline=GUIDE_STYLE + ": no changes to Amazon's font family, colour or line height",
    default=Action.STRIP,
    fix=fix_font_overrides,
    example='<p style="font-family: Georgia, serif; color: #7a1f1f;">',
)
def font_overrides(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A font family, colour or line height set inline, in <style> or with <font>."""
    found = _font_overrides(msg)
    if found:
        yield Hit(
            "; ".join(dict.fromkeys(found))[:140], "use the default font, colour and line height"
        )


def _sizes(msg: Message) -> set[str]:
    sizes: set[str] = set()
    for scan in msg.html:
        for d in scan.distinct_styles:
            if d.prop == "font-size":
                value = d.value.strip().lower().replace(" ", "")
                sizes.add(f"<font size={value}>" if d.where == "font-tag" else value)
        sizes |= set(scan.heading_tags)
    return sizes


def fix_font_sizes(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.edit_html(
        lambda root: _rewrite_css(root, _CSS_SIZE, ("font-size",), {"font": ("size",)})
    )


@rule(
    id="font_sizes",
    guideline=GUIDE_STYLE + ": fonts in at most three sizes",
    default=Action.STRIP,
    fix=fix_font_sizes,
    example="font-size 10px, 12px, 18px and 24px in one message",
)
def font_sizes(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """More than three distinct font sizes."""
    sizes = _sizes(msg)
    if len(sizes) > 3:
        yield Hit(", ".join(sorted(sizes))[:140], "use one text size (at most three in all)")


def _aligned(prop: str, value: str) -> bool:
    return prop == "text-align" and (value.lower().split() or [""])[0] not in _NOT_ALIGNED


def fix_alignment(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    def html(root: lxml.html.HtmlElement) -> bool:
        changed = False
        for el in list(root.iter()):
            if not isinstance(el.tag, str):
                continue
            style = el.get("style")
            if style:
                decls = css_declarations(style)
                kept = [f"{p}: {v}" for p, v in decls if not _aligned(p, v)]
                if len(kept) != len(decls):
                    set_style(el, kept)
                    changed = True
            if el.tag != "img" and (el.get("align") or "").lower() not in _NOT_ALIGNED:
                del el.attrib["align"]
                changed = True
            if el.tag == "style" and el.text and _CSS_ALIGN.search(el.text):
                el.text = _CSS_ALIGN.sub("", el.text)
                changed = True
        for center in list(root.iter("center")):
            unwrap(center)
            changed = True
        return changed

    editor.edit_html(html)


@rule(
    id="alignment",
    guideline=GUIDE_STYLE + ": text in the default alignment, not centred or justified",
    default=Action.STRIP,
    fix=fix_alignment,
    example='<p style="text-align:center">',
)
def alignment(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Centred, right-aligned or justified text."""
    found = [a for scan in msg.html for a in scan.alignments]
    if found:
        yield Hit(
            ", ".join(dict.fromkeys(found))[:140], "leave the text aligned as Amazon shows it"
        )


# ---------------------------------------------------------------- margins and line breaks
MAX_MARGIN_PCT = 20.0
MAX_MARGIN_PX = 120.0  # 20% of a 600-pixel message
_CSS_MARGIN = re.compile(r"(?<![-\w])(?:margin|padding)[-a-z]*\s*:([^;}]*);?", re.I)
_LENGTH = re.compile(r"(-?\d+(?:\.\d+)?)\s*(px|%|pt|em|rem)?", re.I)


@functools.lru_cache(maxsize=4096)  # templates repeat the same margins on every element
def _too_wide(value: str) -> bool:
    for number, unit in _LENGTH.findall(value):
        amount, unit = float(number), (unit or "px").lower()
        px = {"px": amount, "pt": amount * 4 / 3, "em": amount * 16, "rem": amount * 16}.get(unit)
        if (unit == "%" and amount > MAX_MARGIN_PCT) or (px is not None and px > MAX_MARGIN_PX):
            return True
    return False


def _wide_margins(msg: Message) -> list[str]:
    return [
        f"{d.prop}: {d.value}"
        for scan in msg.html
        for d in scan.distinct_styles
        if d.prop.startswith(("margin", "padding")) and _too_wide(d.value)
    ]


def fix_wide_margins(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    def html(root: lxml.html.HtmlElement) -> bool:
        changed = False
        for el in list(root.iter()):
            style = el.get("style") if isinstance(el.tag, str) else None
            if style:
                decls = css_declarations(style)
                kept = [f"{p}: {v}" for p, v in decls
                        if not (p.startswith(("margin", "padding")) and _too_wide(v))]  # fmt: skip
                if len(kept) != len(decls):
                    set_style(el, kept)
                    changed = True
            if el.tag == "style" and el.text:
                text = _CSS_MARGIN.sub(
                    lambda m: "" if _too_wide(m.group(1)) else m.group(0), el.text
                )
                if text != el.text:
                    el.text = text
                    changed = True
        return changed

    editor.edit_html(html)


@rule(
    id="wide_margins",
    guideline=GUIDE_STYLE + ": margins of at most 20% of the width",
    default=Action.STRIP,
    fix=fix_wide_margins,
    example='<div style="margin-left: 30%">',
)
def wide_margins(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Margins or padding over 20% of the message width."""
    found = _wide_margins(msg)
    if found:
        yield Hit(
            "; ".join(dict.fromkeys(found))[:140], "keep margins narrow (at most 20% of the width)"
        )


def _blank(el: lxml.html.HtmlElement) -> bool:
    """An element that renders as an empty line (only whitespace, &nbsp; and <br>)."""
    if el.tag not in ("p", "div") or (el.text or "").replace("\xa0", "").strip():
        return False
    for child in el.iter():
        if child is el:
            continue
        if (
            child.tag not in ("br", "o:p", "span", "font")
            or (child.text or "").replace("\xa0", "").strip()
        ):
            return False
        if (child.tail or "").replace("\xa0", "").strip():
            return False
    return True


def _collapse_breaks(root: lxml.html.HtmlElement) -> bool:
    changed = False
    for parent in list(root.iter()):
        if not isinstance(parent.tag, str):
            continue
        run: list[lxml.html.HtmlElement] = []
        blanks = 0
        for child in list(parent):
            if not isinstance(child.tag, str):
                continue
            if child.tag == "br":
                run.append(child)
                if len(run) > 2:
                    child.drop_tree()
                    changed = True
                elif (child.tail or "").strip():
                    run = []
                continue
            run = []
            if _blank(child):
                blanks += 1
                if blanks > 1:
                    child.drop_tree()
                    changed = True
            else:
                blanks = 0
    return changed


def fix_line_breaks(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.edit_html(_collapse_breaks)


@rule(
    id="line_breaks",
    guideline=GUIDE_STYLE + ": at most two line breaks in a row",
    default=Action.STRIP,
    fix=fix_line_breaks,
    example="De levertijd is twee dagen.<br><br><br><br>Groet",
)
def line_breaks(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """More than two consecutive line breaks."""
    worst = max((scan.max_breaks for scan in msg.html), default=0)
    if worst > 2:
        yield Hit(
            f"{worst} line breaks in a row", "leave at most one empty line between paragraphs"
        )
