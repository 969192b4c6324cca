"""Seeded random HTML documents for the HTML-scan regression test (tests/unit/test_html_golden.py).

The pieces are the ones the walk treats specially: quote containers, hidden and styled
elements, anchors around images, script URLs and event handlers, <style> blocks, comments
and processing instructions, every kind of HTML and non-HTML whitespace, attributions and
separators in the text. `document(seed)` is deterministic: the same seed, the same bytes.
"""

from __future__ import annotations

import random

TEXT = ["Hallo", " ", "  ", "\n", "\t", "\r\n", "\f", "\v", "\xa0", "x y",
        "Am Mo., 4. März 2024 um 09:12 Uhr schrieb Eva Jung:", "On Mon, 4 Mar 2024, Jo wrote:",
        "-----Original Message-----", "From: a", "Sent: b", "To: c", "Subject: d", "&amp;",
        "&nbsp;", "&#0;", "&foo;", "\x00", "🎁", "www.x.example", "https://t.example/u"]  # fmt: skip
STYLES = ["font-size:14px", "text-align:center", "display:none", "margin:0 0 12px 0",
          "margin-left:30%", "background:url('http://x/p.gif')", "color:#222",
          "font-family:Arial", "/* c */ width:0", "height:0px;", "opacity:0", "TEXT-ALIGN:RIGHT",
          "padding:200px", "font-size:0"]  # fmt: skip
TAGS = ["div", "p", "span", "a", "img", "br", "blockquote", "table", "tr", "td", "b", "center",
        "font", "h1", "style", "script", "head", "title", "li", "ul", "hr", "input", "form",
        "iframe", "meta", "link", "pre", "section", "image", "u"]  # fmt: skip
ATTRS = ['class="gmail_quote"', 'class="gmail_attr"', 'id="divRplyFwdMsg"', 'type="cite"',
         'href="https://ex.example/a"', 'href="javascript:alert(1)"', 'href=" JaVa\tscript:x"',
         'src="http://t.example/p.gif"', 'width="1"', 'height="1px"', 'alt="x"', 'alt=""',
         'onclick="x()"', 'onLoad="y"', "hidden", 'align="center"', 'align="left"',
         'face="Arial"', 'color="red"', 'size="7"', 'background="http://bg.example/b.png"',
         'http-equiv="refresh" content="0;url=http://x"', 'rel="stylesheet"', 'type="hidden"',
         'type="image"', 'xlink:href="http://x/y.png"', 'class="moz-cite-prefix"', 'class=""',
         'id=""', "STYLE"]  # fmt: skip
OTHER = ["<!-- c -->", "<?pi x?>", "<!DOCTYPE html>", "<![CDATA[x]]>", "<br/>", "<p/>", "</div>",
         "<style>p{margin:0;text-align:center}.x{background:url(http://s.example/a.png)}</style>"]  # fmt: skip


def _attribute(r: random.Random, choice: str) -> str:
    if choice == "STYLE":
        return f'style="{";".join(r.sample(STYLES, r.randint(1, 3)))}"'
    return choice


def document(seed: int, pieces: int = 60) -> str:
    r = random.Random(seed)
    out: list[str] = []
    stack: list[str] = []
    for _ in range(r.randint(1, pieces)):
        k = r.random()
        if k < 0.35:
            tag = r.choice(TAGS)
            attrs = " ".join(_attribute(r, a) for a in r.sample(ATTRS, r.randint(0, 3)))
            out.append(f"<{tag}{' ' + attrs if attrs else ''}>")
            stack.append(tag)
        elif k < 0.55 and stack:
            out.append(f"</{stack.pop()}>")
        elif k < 0.6:
            out.append(r.choice(OTHER))
        else:
            out.append(r.choice(TEXT))
    if r.random() < 0.3:
        out.insert(0, '<?xml version="1.0" encoding="utf-8"?>')
    return "".join(out)
