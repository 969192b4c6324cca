"""A corpus of malformed and hostile messages, generated (so it is reviewable and small in git).

Each case is (name, raw bytes as a client would send them after DATA, CRLF line ends unless
the case is about line ends). Families: MIME boundaries, nesting, part counts, charsets,
transfer encodings, headers, line ends and NUL bytes, HTML traps, content types and file
names, and plain garbage.
"""

from __future__ import annotations

import base64
import random

HEAD = (
    b"From: Nordlicht Home <support@nordlicht-home.example>\r\n"
    b"To: kc9o3rt5g88dt@marketplace.amazon.de\r\n"
    b"Subject: AW: Teekanne\r\n"
    b"In-Reply-To: <q@amazon.example>\r\n"
    b"MIME-Version: 1.0\r\n"
)


def wrap(body: bytes, width: int = 900) -> bytes:
    """Break lines longer than SMTP allows (998), so the content reaches the parser."""
    lines = []
    for line in body.split(b"\r\n"):
        lines += [line[i : i + width] for i in range(0, len(line), width)] or [b""]
    return b"\r\n".join(lines)


def msg(headers: bytes, body: bytes, message_id: str) -> bytes:
    head = HEAD + f"Message-ID: <{message_id}@malformed.test>\r\n".encode() + headers
    return head + b"\r\n" + wrap(body)


def multipart(boundary: bytes, parts: list[bytes], close: bool = True) -> bytes:
    out = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    return out + (b"--" + boundary + b"--\r\n" if close else b"")


TEXT_PART = (
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nDie Teekanne ist spuelmaschinenfest.\r\n"
)


def nested_multipart(depth: int) -> bytes:
    body = TEXT_PART
    for level in range(depth):
        b = f"b{level}".encode()
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n'
                + multipart(b, [body]))  # fmt: skip
    return body


def nested_rfc822(depth: int) -> bytes:
    body = b"Subject: inner\r\n\r\nhello\r\n"
    for _ in range(depth):
        body = b"Content-Type: message/rfc822\r\n\r\nSubject: wrap\r\n" + body
    return body


def boundary_cases() -> list[tuple[str, bytes]]:
    ct = b'Content-Type: multipart/mixed; boundary="XYZ"\r\n'
    return [
        ("boundary-missing-param", msg(b"Content-Type: multipart/mixed\r\n", TEXT_PART, "b1")),
        ("boundary-never-used", msg(ct, b"just text, no parts at all\r\n", "b2")),
        ("boundary-not-closed", msg(ct, multipart(b"XYZ", [TEXT_PART], close=False), "b3")),
        ("boundary-empty", msg(b'Content-Type: multipart/mixed; boundary=""\r\n', TEXT_PART, "b4")),
        ("boundary-case-mismatch", msg(ct, multipart(b"xyz", [TEXT_PART]), "b5")),
        (
            "boundary-with-spaces",
            msg(
                b'Content-Type: multipart/mixed; boundary="a b c "\r\n',
                multipart(b"a b c ", [TEXT_PART]),
                "b6",
            ),
        ),
        (
            "boundary-reused-inside",
            msg(ct, multipart(b"XYZ", [ct + b"\r\n" + multipart(b"XYZ", [TEXT_PART])]), "b7"),
        ),
        (
            "boundary-huge-preamble",
            msg(ct, b"x" * 200 + b"\r\n" * 20000 + multipart(b"XYZ", [TEXT_PART]), "b8"),
        ),
        (
            "boundary-71-chars",
            msg(
                b'Content-Type: multipart/mixed; boundary="' + b"q" * 200 + b'"\r\n',
                multipart(b"q" * 200, [TEXT_PART]),
                "b9",
            ),
        ),
        (
            "boundary-part-without-headers",
            msg(ct, multipart(b"XYZ", [b"\r\nno headers here"]), "b10"),
        ),
        ("boundary-close-only", msg(ct, b"--XYZ--\r\n", "b11")),
        (
            "boundary-unicode",
            msg(
                'Content-Type: multipart/mixed; boundary="grüße"\r\n'.encode(),
                multipart("grüße".encode(), [TEXT_PART]),
                "b12",
            ),
        ),
    ]


def nesting_cases() -> list[tuple[str, bytes]]:
    out = []
    for depth in (31, 33, 100, 1000):
        out.append(
            (
                f"nesting-multipart-{depth}",
                HEAD + b"Message-ID: <n%d@m>\r\n" % depth + nested_multipart(depth),
            )
        )
    for depth in (40, 1000):
        out.append(
            (
                f"nesting-rfc822-{depth}",
                HEAD + b"Message-ID: <r%d@m>\r\n" % depth + nested_rfc822(depth),
            )
        )
    return out


def part_count_cases() -> list[tuple[str, bytes]]:
    ct = b'Content-Type: multipart/mixed; boundary="P"\r\n'
    return [
        (f"parts-{n}", msg(ct, multipart(b"P", [TEXT_PART] * n), f"p{n}"))
        for n in (499, 501, 2000, 10000)
    ]


CHARSETS = [b"x-unknown", b"utf-8", b"utf-16", b"utf-32", b"utf-7", b"iso-2022-jp", b"\"\"",
            b"iso-8859-1'de'", b"unicode-1-1-utf-7", b"cp65001", b"a" * 500, b"us-ascii",
            b"gb18030", b"koi8-r", b"rot13", b"base64", b"idna"]  # fmt: skip
LYING_BODY = "Grüße aus Köln – “Teekanne” 茶 🍵".encode() + b"\xff\xfe\xc3\x28\xa0\xa1\r\n"


def charset_cases() -> list[tuple[str, bytes]]:
    out = []
    for i, cs in enumerate(CHARSETS):
        headers = (
            b"Content-Type: text/plain; charset=" + cs + b"\r\nContent-Transfer-Encoding: 8bit\r\n"
        )
        out.append((f"charset-{i}-{cs[:20].decode('latin-1')}", msg(headers, LYING_BODY, f"c{i}")))
        html_headers = b"Content-Type: text/html; charset=" + cs + b"\r\n"
        html = b"<p>" + LYING_BODY + b'<a href="https://evil.example/">x</a></p>\r\n'
        out.append((f"charset-html-{i}", msg(html_headers, html, f"ch{i}")))
    out.append(
        (
            "charset-in-encoded-word",
            msg(b"", b"ok\r\n", "cw").replace(
                b"Subject: AW: Teekanne", b"Subject: =?x-bogus?B?SGFsbG8=?= =?utf-8?Q?=FF=FE?="
            ),
        )
    )
    return out


CTE_BODIES = [
    (b"base64", b"SGFsbG8gV2VsdA=\r\n"),  # bad padding
    (b"base64", b"!!!!not base64 at all$$$\r\n"),
    (b"base64", b"SGFs\r\nbG8g\r\nV2Vs\r\n" * 3000),  # long, fine
    (b"base64", base64.b64encode(bytes(range(256)) * 40) + b"\r\n"),  # binary as text
    (b"base64", b"SGFsbG8=SGFsbG8=\r\n"),  # padding in the middle
    (b"quoted-printable", b"Gr=FC=DFe =ZZ =\r\nsoft break =\r\n"),
    (b"quoted-printable", b"=" * 5000 + b"\r\n"),
    (b"quoted-printable", b"line=\r\n" * 5000),
    (b"x-uuencode", b"begin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n"),
    (b"8bit", "ünïcödé 8bit".encode() + b"\r\n"),
    (b"binary", bytes(range(1, 256)).replace(b"\r", b"").replace(b"\n", b"") + b"\r\n"),
    (b"7bit", "declared 7bit but 8bit: Grüße".encode() + b"\r\n"),
    (b"bogus-encoding", b"hello\r\n"),
    (b"base64 ; garbage", b"SGFsbG8=\r\n"),
]


def cte_cases() -> list[tuple[str, bytes]]:
    out = []
    for i, (cte, body) in enumerate(CTE_BODIES):
        for ctype in (b"text/plain; charset=utf-8", b"text/html; charset=utf-8"):
            headers = b"Content-Type: " + ctype + b"\r\nContent-Transfer-Encoding: " + cte + b"\r\n"
            out.append(
                (f"cte-{i}-{ctype[5:9].decode()}", msg(headers, body, f"t{i}{ctype[5:9].decode()}"))
            )
    pdf = (b'Content-Type: application/pdf; name="r.pdf"\r\nContent-Transfer-Encoding: base64\r\n'
           b'Content-Disposition: attachment; filename="r.pdf"\r\n\r\n%%%% broken ====\r\n')  # fmt: skip
    out.append(("cte-broken-attachment", msg(b'Content-Type: multipart/mixed; boundary="A"\r\n',
                                             multipart(b"A", [TEXT_PART, pdf]), "tpdf")))  # fmt: skip
    return out


def header_cases() -> list[tuple[str, bytes]]:
    return [
        ("header-1mb-line", msg(b"X-Long: " + b"a" * 1_000_000 + b"\r\n", b"body\r\n", "h1")),
        (
            "header-1mb-folded",
            msg(
                b"X-Folded: " + b"a" * 900 + (b"\r\n " + b"b" * 900) * 1200 + b"\r\n",
                b"body\r\n",
                "h2",
            ),
        ),
        (
            "header-10000-fields",
            msg(b"".join(b"X-H%d: v\r\n" % i for i in range(10000)), b"b\r\n", "h3"),
        ),
        ("header-no-colon", msg(b"This line has no colon\r\n", b"body\r\n", "h4")),
        ("header-nul", msg(b"X-Nul: a\x00b\r\n", b"body\r\n", "h5")),
        (
            "header-raw-utf8",
            msg("X-Name: Jörg Müller 日本\r\n".encode(), b"body\r\n", "h6").replace(
                b"Subject: AW: Teekanne", "Subject: AW: Spülmaschine für Teekanne".encode()
            ),
        ),
        (
            "header-encoded-word-bomb",
            msg(b"", b"b\r\n", "h7").replace(
                b"Subject: AW: Teekanne",
                b"Subject: " + b"\r\n ".join([b"=?utf-8?b?YQ==?="] * 20000),
            ),
        ),
        (
            "header-encoded-word-broken",
            msg(b"", b"b\r\n", "h8").replace(
                b"Subject: AW: Teekanne", b"Subject: =?utf-8?q?unterminated =?utf-8?b?!!!?= =?=?"
            ),
        ),
        ("header-from-missing", msg(b"", b"b\r\n", "h9").replace(HEAD[:56], b"")),
        ("header-subject-500x", msg(b"Subject: again\r\n" * 500, b"b\r\n", "h10")),
        (
            "header-to-10000-addresses",
            msg(
                b"Cc: " + b",\r\n ".join(b"a%d@x.example" % i for i in range(10000)) + b"\r\n",
                b"b\r\n",
                "h11",
            ),
        ),
        ("header-address-garbage", msg(b'Reply-To: <<<@@@>>>, "unterminated\r\n', b"b\r\n", "h12")),
        (
            "header-continuation-first",
            b" starts with a continuation\r\n" + msg(b"", b"b\r\n", "h13"),
        ),
        ("header-only", HEAD + b"Message-ID: <h14@m>\r\n"),
        (
            "header-ct-params-1000",
            msg(
                b"Content-Type: text/plain"
                + b"".join(b";\r\n p%d=v" % i for i in range(1000))
                + b"\r\n",
                b"b\r\n",
                "h15",
            ),
        ),
        (
            "header-rfc2231-broken",
            msg(
                b"Content-Type: text/plain; charset*=utf-8''%ZZ%; name*0*=x; name*5=y\r\n",
                b"b\r\n",
                "h16",
            ),
        ),
        ("header-date-garbage", msg(b"Date: 99 Foo 99999 99:99:99 +9999\r\n", b"b\r\n", "h17")),
        (
            "header-message-id-huge",
            msg(b"References: <" + b"r" * 100_000 + b"@x>\r\n", b"b\r\n", "h18"),
        ),
    ]


def line_end_cases() -> list[tuple[str, bytes]]:
    base = msg(b"Content-Type: text/plain; charset=utf-8\r\n", b"Hallo\r\nWelt\r\n", "l1")
    return [
        ("lines-lf-only", base.replace(b"\r\n", b"\n")),
        ("lines-cr-only", base.replace(b"\r\n", b"\r")),
        ("lines-mixed", base.replace(b"\r\n", b"\n", 3).replace(b"\r\n", b"\r", 2)),
        ("nul-in-body", msg(b"", b"Hallo\x00Welt\x00\x00\r\n" * 100, "l2")),
        (
            "nul-in-html",
            msg(
                b"Content-Type: text/html\r\n",
                b"<p>a\x00<a href='http://x.example/'>\x00</a></p>\r\n",
                "l3",
            ),
        ),
        ("nul-everywhere", msg(b"X-A: \x00\r\n", b"\x00" * 5000 + b"\r\n", "l4")),
        ("control-chars", msg(b"", bytes(range(32)) * 50 + b"\r\n", "l5")),
        ("no-body-separator", HEAD + b"Message-ID: <l6@m>\r\nContent-Type: text/plain"),
    ]


def html_cases() -> list[tuple[str, bytes]]:
    h = b"Content-Type: text/html; charset=utf-8\r\n"
    link = b'<a href="https://evil.example/track">click</a>'
    deep = lambda n, tag=b"div": b"<" + tag + b">" * 1 + (b"<" + tag + b">") * (n - 1) + link  # noqa: E731
    return [
        ("html-bomb-100k-divs", msg(h, b"<div>" * 100_000 + b"x", "x1")),
        ("html-50k-nested-anchors", msg(h, b"<a href='https://a.example/'>" * 50_000, "x2")),
        ("html-link-depth-300", msg(h, deep(300), "x3")),
        ("html-link-depth-3000", msg(h, deep(3000), "x4")),
        ("html-link-depth-300-spans", msg(h, deep(300, b"span"), "x5")),
        (
            "html-unclosed-everything",
            msg(h, b"<html><body><table><tr><td><p><b><i><a href='x'>" * 100, "x6"),
        ),
        (
            "html-huge-attribute",
            msg(h, b'<img src="data:image/gif;base64,' + b"A" * 2_000_000 + b'">', "x7"),
        ),
        (
            "html-5000-images",
            msg(h, b'<img src="https://cdn.example/p.gif" width=1 height=1>' * 5000, "x8"),
        ),
        (
            "html-svg-script",
            msg(h, b"<svg><script>alert(1)</script><a xlink:href='javascript:x'>y</a></svg>", "x9"),
        ),
        (
            "html-comment-tricks",
            msg(
                h,
                b"<!-- <a href='https://hidden.example/'> --!> <a href='https://real.example/'>r</a> <!-->",
                "x10",
            ),
        ),
        (
            "html-cdata-and-pi",
            msg(
                h,
                b"<![CDATA[<a href='https://c.example/'>]]><?xml bad?><a href='https://d.example/'>d</a>",
                "x11",
            ),
        ),
        ("html-invalid-entities", msg(h, b"&#xFFFFFFFF; &#0; &#55296; &bogus; &amp" * 1000, "x12")),
        ("html-10mb-text", msg(h, b"<p>" + b"Teekanne " * 1_000_000 + b"</p>", "x13")),
        (
            "html-meta-refresh",
            msg(h, b'<meta http-equiv="refresh" content="0;url=https://evil.example/">', "x14"),
        ),
        ("html-base-href", msg(h, b'<base href="https://evil.example/"><a href="/x">x</a>', "x15")),
        (
            "html-encoding-declared-utf16",
            msg(b"Content-Type: text/html; charset=utf-16\r\n", b"<p>\xff\xfe\x00<</p>", "x16"),
        ),
        ("html-only-doctype", msg(h, b"<!DOCTYPE html>", "x17")),
        ("html-empty", msg(h, b"", "x18")),
    ]


def content_type_cases() -> list[tuple[str, bytes]]:
    def att(name):
        return (
            b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="'
            + name
            + b'"\r\n\r\nabc'
        )

    mp = b'Content-Type: multipart/mixed; boundary="C"\r\n'
    return [
        ("ctype-slash-only", msg(b"Content-Type: /\r\n", b"b\r\n", "k1")),
        ("ctype-text-empty-subtype", msg(b"Content-Type: text/\r\n", b"b\r\n", "k2")),
        (
            "ctype-rfc822-garbage",
            msg(b"Content-Type: message/rfc822\r\n", b"\x00\xff garbage\r\n", "k3"),
        ),
        (
            "ctype-digest",
            msg(
                b'Content-Type: multipart/digest; boundary="D"\r\n',
                multipart(b"D", [b"Subject: x\r\n\r\ny"]),
                "k4",
            ),
        ),
        (
            "ctype-external-body",
            msg(
                b'Content-Type: message/external-body; access-type=URL; URL="http://x.example/"\r\n',
                b"\r\n",
                "k5",
            ),
        ),
        (
            "ctype-partial",
            msg(
                b'Content-Type: message/partial; id="x"; number=1; total=2\r\n',
                b"Subject: p\r\n\r\nx",
                "k6",
            ),
        ),
        (
            "filename-traversal",
            msg(mp, multipart(b"C", [TEXT_PART, att(b"../../etc/passwd")]), "k7"),
        ),
        ("filename-nul", msg(mp, multipart(b"C", [TEXT_PART, att(b"invoice.pdf\x00.exe")]), "k8")),
        ("filename-4k", msg(mp, multipart(b"C", [TEXT_PART, att(b"a" * 4096 + b".exe")]), "k9")),
        (
            "filename-rfc2231-broken",
            msg(
                mp,
                multipart(
                    b"C",
                    [
                        TEXT_PART,
                        b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=utf-8''%E0%A4%A\r\n\r\nx",
                    ],
                ),
                "k10",
            ),
        ),
        ("ctype-multipart-no-parts", msg(mp, b"", "k11")),
        (
            "ctype-duplicated",
            msg(
                b'Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary="Z"\r\n',
                b"--Z\r\n\r\nx\r\n--Z--\r\n",
                "k12",
            ),
        ),
    ]


def garbage_cases() -> list[tuple[str, bytes]]:
    out = [
        ("empty-ish", b"\r\n"),
        ("whitespace", b"   \r\n\t\r\n"),
        ("only-body-text", b"hello there\r\n"),
    ]
    for seed in range(6):
        rng = random.Random(seed)
        noise = bytes(rng.getrandbits(8) for _ in range(4000 * (seed + 1)))
        out.append((f"random-bytes-{seed}", noise))
        out.append((f"random-bytes-wrapped-{seed}", wrap(noise, 200)))
        out.append((f"random-body-{seed}", msg(b"", noise, f"g{seed}")))
    return out


def cases() -> list[tuple[str, bytes]]:
    return [*boundary_cases(), *nesting_cases(), *part_count_cases(), *charset_cases(),
            *cte_cases(), *header_cases(), *line_end_cases(), *html_cases(),
            *content_type_cases(), *garbage_cases()]  # fmt: skip
