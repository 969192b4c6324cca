"""uninspectable and mime_defect."""

from __future__ import annotations

from mail import build
from ruletools import context, envelope, hits, run

from relay.policy.advisory import mime_defect, uninspectable
from relay.policy.engine import evaluate
from relay.policy.model import Action


def _nested(depth: int) -> bytes:
    head = build().split(b"Content-Type:")[0]
    parts = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    return head + parts.encode() + b"Content-Type: text/plain\r\n\r\nhi\r\n"


def test_uninspectable_hit_deep_mime() -> None:
    """1,000 nested multiparts: quarantined without ever reaching the stdlib parser."""
    raw = _nested(1000)
    assert hits(uninspectable, raw) == ["MIME nesting deeper than 32 levels"]
    ev = run(raw)
    assert (ev.verdict.action, list(ev.verdict.rules)) == ("quarantine", ["uninspectable"])


def test_uninspectable_hit_encoded_words() -> None:
    """Thousands of RFC 2047 words in the Subject are refused before parsing."""
    subject = " ".join(["=?utf-8?q?a?="] * 5000)
    raw = b"Subject: " + subject.encode() + b"\r\n" + build().split(b"\r\n", 1)[1]
    assert hits(uninspectable, raw)


def test_uninspectable_miss() -> None:
    """An ordinary multipart message with attachments is fully inspected."""
    raw = build(html="<p>Hallo</p>", attachments=[("a.pdf", "application/pdf", b"%PDF-1.4")])
    assert hits(uninspectable, _nested(5)) + hits(uninspectable, raw) == []


def test_mime_defect_hit() -> None:
    """A multipart without its closing boundary is logged, and still delivered."""
    raw = build(html="<p>Hallo</p>")
    boundary = raw.split(b'boundary="')[1].split(b'"')[0]
    broken = raw.replace(b"--" + boundary + b"--", b"")
    assert hits(mime_defect, broken)
    ev = run(broken)
    assert (ev.verdict.action, list(ev.verdict.rules)) == ("deliver", ["mime_defect"])


def test_mime_defect_miss() -> None:
    """A well-formed message has no defects."""
    assert hits(mime_defect, build(html="<p>Hallo</p>")) == []


def test_policy_overrides_reach_the_engine_on_every_message() -> None:
    """An override turns a rule off or changes its action, message after message."""
    raw = build("Rufen Sie uns an: +49 30 1234 5678.\n\nViele Grüße\nLukas")
    default = [evaluate(raw, envelope(), context()).verdict.rules for _ in range(2)]
    off_ctx = context(overrides=(("phone_number", Action.OFF),))
    off = [evaluate(raw, envelope(), off_ctx).verdict.rules for _ in range(2)]
    log_ctx = context(overrides=(("phone_number", Action.LOG),))
    logged = [evaluate(raw, envelope(), log_ctx).verdict for _ in range(2)]
    assert [("phone_number",)] * 2 == default
    assert [()] * 2 == off
    assert [("deliver", ("phone_number",))] * 2 == [(v.action, v.rules) for v in logged]
