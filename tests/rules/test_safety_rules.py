"""Active content and attachment rules."""

from __future__ import annotations

import pytest
from mail import build, html_reply
from ruletools import hits, run, text_of

from relay.policy.safety import active_content, attachment_size, attachment_type


@pytest.mark.parametrize(
    ("snippet", "gone"),
    [
        ("<script>document.write('x')</script>", "<script"),
        ('<iframe src="https://evil.example/"></iframe>', "<iframe"),
        ('<form action="https://evil.example/"><input name="q"></form>', "<form"),
        ('<a href="javascript:alert(1)">Status</a>', "javascript:"),
        ('<img src="cid:x" alt="Logo" onerror="track()">', "onerror"),
        ('<object data="x.swf"></object>', "<object"),
    ],
)
def test_active_content_hit(snippet: str, gone: str) -> None:
    """Scripts, frames, forms, handlers and javascript: URLs are found and removed."""
    raw = build(html=html_reply("Die Lampe ist aus Messing." + snippet))
    assert hits(active_content, raw)
    forwarded = run(raw).forward
    assert forwarded is not None
    assert gone not in text_of(forwarded)
    assert "Die Lampe ist aus Messing." in text_of(forwarded)


def test_active_content_hit_body_onload() -> None:
    """An onload handler on <body> is removed, the body kept."""
    html = '<html><body onload="track()"><p>La mesa es de acacia.</p></body></html>'
    forwarded = run(build(html=html)).forward
    assert forwarded is not None
    assert "onload" not in text_of(forwarded)
    assert "La mesa es de acacia." in text_of(forwarded)


def test_active_content_miss() -> None:
    """Plain markup with links and styles is not active content."""
    raw = build(html=html_reply('<p>Die <a href="https://www.amazon.de/">Hilfe</a>.</p>'))
    assert hits(active_content, raw) == []


@pytest.mark.parametrize(
    ("name", "ctype", "data"),
    [
        ("aggiornamento.exe", "application/x-msdownload", b"MZ\x90\x00" + b"\0" * 100),
        ("Photos_montage.rar", "application/vnd.rar", b"Rar!\x1a\x07\x00" + b"\0" * 50),
        ("rechnung.pdf", "application/pdf", b"MZ\x90\x00this is no pdf"),
        ("invoice.pdf.exe", "application/octet-stream", b"\0" * 10),
        ("bilder.zip", "application/zip", b"PK\x03\x04" + b"\0" * 40),
        ("seite.html", "text/html", b"<html></html>"),
        ("video.mp4", "video/mp4", b"\0\0\0\x18ftypmp42"),
    ],
)
def test_attachment_type_hit(name: str, ctype: str, data: bytes) -> None:
    """Executables, archives, HTML, video and a lying extension are rejected."""
    raw = build(attachments=[(name, ctype, data)])
    assert hits(attachment_type, raw)
    assert run(raw).verdict.action == "reject"


def test_attachment_type_miss() -> None:
    """PDF invoices, Word documents and images pass."""
    raw = build(
        attachments=[
            ("Factuur.pdf", "application/pdf", b"%PDF-1.4\n%%EOF\n"),
            ("Anleitung.docx", "application/vnd.openxmlformats-officedocument"
             ".wordprocessingml.document", b"PK\x03\x04" + b"\0" * 40),
            ("foto.JPG", "image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 40),
        ]
    )  # fmt: skip
    assert hits(attachment_type, raw) == []


def test_attachment_size_hit() -> None:
    """More than 10 MB of decoded attachments."""
    raw = build(attachments=[("scan.pdf", "application/pdf", b"%PDF" + b"0" * (10 * 2**20))])
    assert len(hits(attachment_size, raw)) == 1


def test_attachment_size_miss() -> None:
    """Nine megabytes of PDF are within the limit."""
    raw = build(attachments=[("scan.pdf", "application/pdf", b"%PDF" + b"0" * (9 * 2**20))])
    assert hits(attachment_size, raw) == []
