"""URL helpers shared by the link and image rules: hosts, Amazon's own, trackers, shorteners."""

from __future__ import annotations

import contextlib
import ipaddress
import re
from urllib.parse import unquote, urlsplit

AMAZON_TLDS = (
    "com", "ca", "com.mx", "com.br", "co.uk", "de", "fr", "it", "es", "nl", "se", "pl",
    "com.be", "com.tr", "in", "co.jp", "com.au", "ae", "sa", "eg", "sg", "ie", "cn", "at",
)  # fmt: skip
# Amazon's own short links and image hosts count as Amazon.
AMAZON_EXTRA = ("amzn.to", "amzn.eu", "amzn.asia", "a.co", "media-amazon.com",
                "ssl-images-amazon.com", "images-amazon.com")  # fmt: skip
SHORTENERS = frozenset(
    (
        "bit.ly bitly.com tinyurl.com t.co goo.gl ow.ly is.gd buff.ly rebrand.ly cutt.ly t.ly "
        "shorturl.at tiny.cc rb.gy s.id bl.ink short.io lnkd.in db.tt qr.ae adf.ly bit.do soo.gd "
        "clck.ru v.gd x.co tr.im urlz.fr shorte.st ouo.io tiny.one gg.gg 2u.pw u.to shrtco.de "
        "linktr.ee trib.al dlvr.it fb.me wp.me youtu.be spoti.fi po.st su.pr mcaf.ee ift.tt zpr.io "
        "hubs.ly hubs.la sendgrid.net"
    ).split()
)
TRACKER_HOSTS = (
    "mailtrack.io", "mailtrack", "list-manage.com", "mandrillapp.com", "sendgrid.net",
    "mailchi.mp", "hubspotemail.net", "hs-analytics", "yesware.com", "mailfoogae.appspot.com",
    "superhuman.com", "mixmax.com", "bananatag.com", "getnotify.com", "mailgun.org",
    "sparkpostmail.com", "exct.net", "rs6.net", "cmail19.com", "cmail20.com", "createsend.com",
    "pstmrk.it", "mlsend.com", "klclick.com", "trk.klclick", "emltrk.com", "pixel.watch",
    "streak.com", "mailbutler.io", "boomerangapp.com", "saleshandy.com", "mailsuite.com",
)  # fmt: skip
TRACKER_PATH = re.compile(
    r"(?i)/(?:o|open|opens|track(?:ing)?|trk|pixel|beacon|wf/open|e/o|t/o|imp|view)"
    r"(?:[/._?-]|$)|[/_.-](?:pixel|beacon|open|spacer|tracker)\.(?:gif|png|jpe?g|php|aspx)"
    r"|[?&](?:open|track)(?:_?id)?="
)


def host_of(url: str) -> str:
    """Lower-case host of a URL ('' when it has none), IDNA and trailing dots undone."""
    try:
        parts = urlsplit(url.strip().replace("\\", "/"))
        host = parts.hostname or ""
    except ValueError:
        return ""
    host = unquote(host).rstrip(".").lower()
    with contextlib.suppress(UnicodeError):
        host = (
            host.encode("ascii").decode("idna")
            if host.startswith("xn--") or ".xn--" in host
            else host
        )
    return host


def scheme_of(url: str) -> str:
    url = re.sub(r"[\s\x00-\x1f]", "", url)
    if url.startswith("//"):
        return "https"  # protocol-relative: whatever the client uses; not plain http
    return url.partition(":")[0].lower() if ":" in url[:12] else ""


def is_remote(url: str) -> bool:
    return scheme_of(url) in ("http", "https") or url.strip().startswith("//")


def host_matches(host: str, domains: tuple[str, ...] | frozenset[str]) -> bool:
    """`host` is one of `domains` or a subdomain of one."""
    return any(host == d or host.endswith("." + d) for d in domains)


def is_amazon_host(host: str) -> bool:
    if host_matches(host, AMAZON_EXTRA):
        return True
    return any(host == f"amazon.{t}" or host.endswith(f".amazon.{t}") for t in AMAZON_TLDS)


def is_ip_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(re.fullmatch(r"\d+", host) or re.fullmatch(r"0x[0-9a-f]+", host))
    return True


def is_shortener(host: str) -> bool:
    return host_matches(host, SHORTENERS)


def is_tracker(url: str) -> bool:
    host = host_of(url)
    if any(t in host for t in TRACKER_HOSTS):
        return True
    path = url.split(host, 1)[-1] if host else url
    return bool(TRACKER_PATH.search(path))
