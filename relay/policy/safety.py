"""Rules against active content and unwanted attachments."""

from __future__ import annotations

import re
from collections.abc import Iterator

import lxml.html

from relay.message import Attachment, Message
from relay.policy.context import PolicyContext
from relay.policy.model import Action, Hit, rule
from relay.rewrite import Editor, remove, unwrap

GUIDE_ATTACH = (
    "Attachments only where needed to resolve the buyer's issue (labels, invoices, designs)"
)

_REMOVE_TAGS = ("script", "iframe", "frame", "frameset", "object", "embed", "applet", "portal",
                "base", "input", "button", "select", "textarea", "noscript")  # fmt: skip
_BAD_SCHEMES = re.compile(r"^\s*(?:javascript|vbscript|livescript|data:text/html)", re.I)
_URL_ATTRS = ("href", "src", "action", "formaction", "background", "poster", "data", "xlink:href")

# Content types -> extension, for attachments sent without a file name.
_TYPE_EXT = {
    "application/pdf": "pdf", "image/jpeg": "jpg", "image/pjpeg": "jpg", "image/png": "png",
    "image/gif": "gif", "text/plain": "txt", "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
}  # fmt: skip
# Magic numbers of content that is never a harmless document or image.
_DANGEROUS_MAGIC = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable"),
    (b"\xca\xfe\xba\xbe", "a macOS executable"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"BZh", "a bzip2 archive"),
    (b"#!", "a script"),
    (b"MSCF", "a cabinet archive"),
)


def _strip_active(root: lxml.html.HtmlElement) -> bool:
    changed = False
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in _REMOVE_TAGS or (
            tag == "meta" and (el.get("http-equiv") or "").lower() == "refresh"
        ):
            remove(el)
            changed = True
            continue
        if tag == "form":
            unwrap(el)  # keep what the form displays, drop the form itself
            changed = True
            continue
        for attr in list(el.attrib):
            low = attr.lower()
            if low.startswith("on") or (low in _URL_ATTRS and _BAD_SCHEMES.match(el.get(attr, ""))):
                del el.attrib[attr]
                changed = True
    return changed


def fix_active_content(editor: Editor, msg: Message, ctx: PolicyContext) -> None:
    editor.edit_html(_strip_active)


@rule(
    id="active_content",
    guideline="Messages are plain content: no scripts, frames, forms or embedded programs",
    default=Action.STRIP,
    fix=fix_active_content,
    example='<body onload="track()">',
)
def active_content(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Script, iframe, object, embed, form, on* handlers or javascript: URLs in HTML."""
    for scan in msg.html:
        for evidence in scan.active:
            yield Hit(evidence[:120], f"remove {evidence[:60]} (scripts and forms are not allowed)")


def extension(att: Attachment) -> str:
    name = att.filename.strip().rstrip(". ").lower()
    if "." in name:
        return name.rsplit(".", 1)[1]
    return _TYPE_EXT.get(att.content_type, "")


def attachment_problem(att: Attachment, allowed: tuple[str, ...]) -> str:
    """Why this attachment is not allowed ('' when it is)."""
    ext = extension(att)
    label = att.filename or att.content_type
    for magic, what in _DANGEROUS_MAGIC:
        if att.magic.startswith(magic):
            return f"{label} is {what}"
    if att.magic.startswith(b"PK\x03\x04") and ext not in ("docx",):
        return f"{label} is a ZIP archive"
    if not ext:
        return f"{label} has no file type the guidelines allow"
    if ext not in allowed:
        return f"{label}: .{ext} files are not allowed"
    return ""


@rule(
    id="attachment_type",
    guideline=GUIDE_ATTACH + "; no executables, archives, scripts, video or HTML",
    default=Action.REJECT,
    example="Photos_montage.rar, aggiornamento.exe",
)
def attachment_type(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """An attachment outside the allow-list (pdf, jpg, jpeg, png, gif, txt, doc, docx)."""
    allowed = ctx.settings.attachment_types
    for att in msg.attachments:
        problem = attachment_problem(att, allowed)
        if problem:
            yield Hit(
                problem,
                f"remove the attachment ({problem}); allowed: {', '.join(allowed)}",
            )


@rule(
    id="attachment_size",
    guideline=GUIDE_ATTACH + "; at most 10 MB in total",
    default=Action.REJECT,
    example="a 12 MB PDF",
)
def attachment_size(msg: Message, ctx: PolicyContext) -> Iterator[Hit]:
    """Decoded attachments over the size limit (10 MB) in total."""
    total = sum(a.size for a in msg.attachments)
    limit = ctx.settings.attachment_max_bytes
    if total > limit:
        yield Hit(
            f"{total} bytes in {len(msg.attachments)} attachments",
            f"send attachments of at most {limit // (1024 * 1024)} MB in total",
        )
