"""Image rules: http images, wide images, animated GIFs, images without alt text."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import lxml.html

from relay.gif import gif_frames
from relay.htmlfacts import Image, css_declarations, parse_length
from relay.message import Message
from relay.policy.content import drop_images
from relay.policy.context import PolicyContext
from relay.policy.links import is_remote, scheme_of
from relay.policy.model import Action, Hit, rule
from relay.policy.style import GUIDE_STYLE, set_style
from relay.rewrite import Editor, remove

MAX_IMAGE_PCT = 80.0
MAX_IMAGE_PX = 480.0  # 80% of a 600-pixel message


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


def _wide(img: Image) -> bool:
    w = img.width
    if w is None or img.kind != "img":
        return False
    return (w.unit == "%" and w.value > MAX_IMAGE_PCT) or (
        w.unit == "px" and w.value > MAX_IMAGE_PX
    )


def _narrow_images(root: lxml.html.HtmlElement) -> bool:
    changed = False
    for img in root.iter("img"):
        decls = css_declarations(img.get("style") or "")
        width = img.get("width") or next((v for p, v in decls if p == "width"), "")
        w = parse_length(width.replace("!important", ""))
        if w and (
            (w.unit == "%" and w.value > MAX_IMAGE_PCT)
            or (w.unit == "px" and w.value > MAX_IMAGE_PX)
        ):
            for attr in ("width", "height"):
                img.attrib.pop(attr, None)
            kept = [f"{p}: {v}" for p, v in decls if p not in ("width", "height", "max-width")]
            set_style(img, [*kept, "max-width: 80%", "height: auto"])
            changed = True
    return changed


def fix_wide_images(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.edit_html(_narrow_images)


@rule(
    id="wide_images",
    guideline=GUIDE_STYLE + ": images at most 80% of the width",
    default=Action.STRIP,
    fix=fix_wide_images,
    example='<img src="cid:proof" alt="Proof" width="100%">',
)
def wide_images(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An image wider than 80% of the message (it is scaled down)."""
    for img in msg.images:
        if _wide(img):
            assert img.width is not None
            yield Hit(f"{img.src[:80]} width {img.width.value:g}{img.width.unit}",
                      "make images at most 80% of the message width")  # fmt: skip


def _animated(msg: Message) -> list[str]:
    return [
        a.content_id or a.filename or a.content_type
        for a in msg.attachments
        if (a.gif_frames or 0) > 1
    ]


def fix_animated_gif(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    cids = {a.content_id for a in msg.attachments if (a.gif_frames or 0) > 1 and a.content_id}

    def still(part: EmailMessage) -> bool:
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        return not (data[:4] == b"GIF8" and gif_frames(data) > 1)

    def html(root: lxml.html.HtmlElement) -> bool:
        gone = [
            img for img in root.iter("img") if (img.get("src") or "").removeprefix("cid:") in cids
        ]
        for img in gone:
            remove(img)
        return bool(gone)

    editor.edit_html(html)
    editor.remove_parts(still)


@rule(
    id="animated_gif",
    guideline=GUIDE_STYLE + ": no animated GIFs",
    default=Action.STRIP,
    fix=fix_animated_gif,
    example="an attached or inline GIF with more than one frame",
)
def animated_gif(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """A GIF with more than one frame, inline or attached (it is removed)."""
    for name in _animated(msg):
        yield Hit(name[:120], "use a still image instead of the animated GIF")


@rule(
    id="image_without_alt",
    guideline="Accessibility: every image needs alt text",
    default=Action.QUARANTINE,
    example='<img src="cid:logo@seller.example" width="120">',
)
def image_without_alt(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An image without alt text."""
    for img in msg.images:
        if img.kind != "img" or img.hidden or img.quoted or not img.src:
            continue
        if not (is_remote(img.src) or img.src.startswith("cid:")):
            continue
        if not (img.alt or "").strip():
            yield Hit(img.src[:120], "give every image an alt text that says what it shows")
