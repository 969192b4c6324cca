"""One frozen configuration object, built once from TOML and passed down explicitly.

`load_config(path)` reads the relay's TOML (spec/INTERFACE.md) and, when `[policy] file` is set,
the policy file; every key has an embedded default so `load_config(None)` gives a working
relay. Relative paths (outbox, quarantine, state, policy file) are relative to the working
directory the relay runs in. Unknown keys, wrong types and unreadable files raise
`ConfigError` with one line that names the file and the key.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relay.access import LOOPBACK, Limits, Network, parse_networks
from relay.errors import ConfigError
from relay.policy.model import Action
from relay.policy.settings import PolicySettings, parse_policy

KNOWN_TLDS = (
    "com", "ca", "com.mx", "com.br", "co.uk", "de", "fr", "it", "es", "nl", "se", "pl",
    "com.be", "com.tr", "in", "co.jp", "com.au", "ae", "sa", "eg", "sg", "ie",
)  # fmt: skip
TLD_LANGUAGES = {
    "de": "de", "fr": "fr", "it": "it", "es": "es", "com.mx": "es", "nl": "nl", "com.be": "nl",
    "co.uk": "en", "com": "en", "ca": "en", "in": "en", "com.au": "en", "ie": "en", "sg": "en",
    "co.jp": "ja", "se": "sv", "pl": "pl", "com.tr": "tr", "com.br": "pt",
}  # fmt: skip

UPSTREAM_MODES = ("outbox", "smarthost", "mx")
TLS_MODES = ("off", "opportunistic", "required")
LOG_FORMATS = ("auto", "json", "console")
EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 2525
    hostname: str = "bsm-relay.localdomain"
    max_message_size: int = 15 * 1024 * 1024
    max_recipients: int = 50
    time_budget: float = 10.0
    max_mime_depth: int = 32
    max_parts: int = 500
    max_header_size: int = 256 * 1024
    inspect_workers: int = 1
    inspect_memory_mb: int = 2048
    session_timeout: float = 300.0
    data_timeout: float = 600.0  # the whole DATA transfer (a 15 MB message on a slow link)
    shutdown_grace: float = 30.0
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # relay processes
    proxy_protocol: bool = False  # expect a PROXY v1/v2 header (behind a TCP load balancer)
    proxy_networks: tuple[Network, ...] = parse_networks(LOOPBACK)  # who may send one
    event_loop: str = "uvloop"  # uvloop (libuv) or the standard library's asyncio loop


@dataclass(frozen=True)
class UpstreamConfig:
    mode: str = "outbox"
    host: str = "127.0.0.1"
    port: int = 25
    outbox_dir: Path = Path("var/outbox")
    local_hostname: str = ""
    starttls: str = "opportunistic"
    tls_verify: bool = False
    tls_ca_file: str = ""
    timeout: float = 60.0
    mx_cache_seconds: int = 3600
    tls_client_cert: str = ""  # a client certificate for upstreams that ask for one
    tls_client_key: str = ""


@dataclass(frozen=True)
class TLSConfig:
    cert: str = ""  # PEM certificate chain for STARTTLS on the listener; "" = no STARTTLS
    key: str = ""  # its private key
    require: bool = False  # refuse every command but EHLO, STARTTLS, NOOP, QUIT before TLS

    @property
    def enabled(self) -> bool:
        return bool(self.cert)


@dataclass(frozen=True)
class AccessConfig:
    networks: tuple[Network, ...] = parse_networks(LOOPBACK)  # may relay without AUTH
    users_file: str = ""  # AUTH users (bsm-relay passwd); "" = no AUTH offered
    shared_limits: bool = False  # count message rates in the state store (all relays)
    limits: Limits = field(default_factory=Limits)


@dataclass(frozen=True)
class Profile:
    """An agency's client: its senders and AUTH users get their own policy and quarantine."""

    name: str
    senders: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    policy_file: str = ""
    policy: PolicySettings = field(default_factory=PolicySettings)
    quarantine_subdir: str = ""


@dataclass(frozen=True)
class MarketplaceConfig:
    tlds: tuple[str, ...] = KNOWN_TLDS
    languages: tuple[tuple[str, str], ...] = tuple(TLD_LANGUAGES.items())


@dataclass(frozen=True)
class MetricsConfig:
    listen: str = ""  # host:port of the Prometheus /metrics and /healthz listener; "" = off

    @property
    def address(self) -> tuple[str, int] | None:
        return split_listen(self.listen) if self.listen else None


@dataclass(frozen=True)
class LogConfig:
    file: str = ""
    format: str = "auto"
    level: str = "info"


@dataclass(frozen=True)
class Config:
    """Everything the relay needs; built once at start-up, never mutated."""

    server: ServerConfig = field(default_factory=ServerConfig)
    upstream: UpstreamConfig = field(default_factory=UpstreamConfig)
    approved_senders: tuple[str, ...] = ()
    marketplace: MarketplaceConfig = field(default_factory=MarketplaceConfig)
    quarantine_dir: Path = Path("var/quarantine")
    state_url: str = "sqlite:///var/state.sqlite3"
    policy_file: str = ""
    policy: PolicySettings = field(default_factory=PolicySettings)
    log: LogConfig = field(default_factory=LogConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    tls: TLSConfig = field(default_factory=TLSConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    profiles: tuple[Profile, ...] = ()
    source: str = "(embedded defaults)"

    @property
    def all_senders(self) -> tuple[str, ...]:
        """Every approved envelope sender: the global list and every profile's."""
        if not self.approved_senders:
            return ()  # empty means any sender; profiles do not narrow that
        return tuple(dict.fromkeys((*self.approved_senders,
                                    *(s for p in self.profiles for s in p.senders))))  # fmt: skip

    def profile_for(self, sender: str, user: str) -> Profile | None:
        """The profile of an AUTH user, else of an envelope sender, else None."""
        for p in self.profiles:
            if user and user in p.users:
                return p
        for p in self.profiles:
            if sender and sender.lower() in p.senders:
                return p
        return None

    @property
    def ehlo_name(self) -> str:
        """The name the relay gives in EHLO upstream: never looked up at runtime."""
        return self.upstream.local_hostname or self.server.hostname


# ---------------------------------------------------------------- validation helpers
class _Section:
    """Typed, one-shot reads from one TOML table; `done()` refuses leftover keys."""

    def __init__(self, source: str, name: str, table: Any) -> None:
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        self.source, self.name, self.table = source, name, dict(table)

    def _where(self, key: str) -> str:
        return f"{self.source}: {self.name}.{key}"

    def get(self, key: str, kind: type, default: Any, check: Callable[[Any], str] | None = None):  # type: ignore[no-untyped-def]
        if key not in self.table:
            return default
        value = self.table.pop(key)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise ConfigError(f"{self._where(key)} must be a {kind.__name__}, not {value!r}")
        problem = check(value) if check else ""
        if problem:
            raise ConfigError(f"{self._where(key)}: {problem} (got {value!r})")
        return value

    def strings(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        value = self.get(key, list, None)
        if value is None:
            return default
        if not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{self._where(key)} must be a list of strings")
        return tuple(value)

    def done(self) -> None:
        if self.table:
            key = sorted(self.table)[0]
            raise ConfigError(f"{self._where(key)}: unknown key")


def _positive(value: float) -> str:
    return "" if value > 0 else "must be greater than 0"


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], str]:
    return lambda v: "" if v in choices else f"must be one of {', '.join(choices)}"


def _port(value: int) -> str:
    return "" if 0 <= value <= 65535 else "must be a TCP port (0-65535)"


def split_listen(value: str) -> tuple[str, int]:
    """'host:port' or '[v6]:port' -> (host, port); raises ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be host:port, such as 127.0.0.1:2525")
    return host.strip("[]"), int(port)


def _listen(value: str) -> str:
    try:
        split_listen(value)
    except ValueError as exc:
        return str(exc)
    return ""


def _state_url(value: str) -> str:
    ok = value.startswith(("sqlite:///", "redis://", "rediss://", "unix://", "memory:"))
    return "" if ok else "must start with sqlite:/// or redis://"


# ---------------------------------------------------------------- loading
def parse_config(doc: Mapping[str, Any], source: str) -> Config:
    """Build the Config from a parsed TOML document (validated, defaults filled in)."""
    known = {"server", "upstream", "senders", "marketplace", "quarantine", "state", "policy", "log",
             "metrics", "tls", "access", "profiles"}  # fmt: skip
    for name in doc:
        if name not in known:
            raise ConfigError(f"{source}: [{name}]: unknown section")
    d_srv, d_up, d_mk, d_log = ServerConfig(), UpstreamConfig(), MarketplaceConfig(), LogConfig()
    s = _Section(source, "server", doc.get("server", {}))
    listen = s.get("listen", str, f"{d_srv.host}:{d_srv.port}", _listen)
    host, port = split_listen(listen)
    server = ServerConfig(
        host=host,
        port=port,
        hostname=s.get("hostname", str, d_srv.hostname, lambda v: "" if v else "must not be empty"),
        max_message_size=s.get("max_message_size", int, d_srv.max_message_size, _positive),
        max_recipients=s.get("max_recipients", int, d_srv.max_recipients, _positive),
        time_budget=s.get("time_budget", float, d_srv.time_budget, _positive),
        max_mime_depth=s.get("max_mime_depth", int, d_srv.max_mime_depth, _positive),
        max_parts=s.get("max_parts", int, d_srv.max_parts, _positive),
        max_header_size=s.get("max_header_size", int, d_srv.max_header_size, _positive),
        inspect_workers=s.get("inspect_workers", int, d_srv.inspect_workers, _positive),
        inspect_memory_mb=s.get("inspect_memory_mb", int, d_srv.inspect_memory_mb, _positive),
        session_timeout=s.get("session_timeout", float, d_srv.session_timeout, _positive),
        data_timeout=s.get("data_timeout", float, d_srv.data_timeout, _positive),
        shutdown_grace=s.get("shutdown_grace", float, d_srv.shutdown_grace, _positive),
        workers=s.get("workers", int, d_srv.workers, _positive),
        proxy_protocol=s.get("proxy_protocol", bool, False),
        proxy_networks=_networks(s, "proxy_networks", LOOPBACK),
        event_loop=s.get("event_loop", str, d_srv.event_loop, _one_of(EVENT_LOOPS)),
    )
    s.done()

    u = _Section(source, "upstream", doc.get("upstream", {}))
    upstream = UpstreamConfig(
        mode=u.get("mode", str, d_up.mode, _one_of(UPSTREAM_MODES)),
        host=u.get("host", str, d_up.host),
        port=u.get("port", int, d_up.port, _port),
        outbox_dir=Path(u.get("outbox_dir", str, str(d_up.outbox_dir))),
        local_hostname=u.get("local_hostname", str, d_up.local_hostname),
        starttls=u.get("starttls", str, d_up.starttls, _one_of(TLS_MODES)),
        tls_verify=u.get("tls_verify", bool, d_up.tls_verify),
        tls_ca_file=u.get("tls_ca_file", str, d_up.tls_ca_file),
        timeout=u.get("timeout", float, d_up.timeout, _positive),
        mx_cache_seconds=u.get("mx_cache_seconds", int, d_up.mx_cache_seconds, _positive),
        tls_client_cert=u.get("tls_client_cert", str, "", _readable),
        tls_client_key=u.get("tls_client_key", str, "", _readable),
    )
    u.done()
    if bool(upstream.tls_client_cert) != bool(upstream.tls_client_key):
        raise ConfigError(f"{source}: upstream.tls_client_cert and tls_client_key go together")
    tls, access = _parse_tls(doc, source), _parse_access(doc, source)

    se = _Section(source, "senders", doc.get("senders", {}))
    approved = tuple(a.strip().lower() for a in se.strings("approved", ()))
    se.done()

    m = _Section(source, "marketplace", doc.get("marketplace", {}))
    tlds = tuple(t.lower().strip(".") for t in m.strings("tlds", d_mk.tlds))
    langs = m.get("languages", dict, None)
    if langs is not None and not all(isinstance(v, str) for v in langs.values()):
        raise ConfigError(f"{source}: marketplace.languages must map tlds to language codes")
    marketplace = MarketplaceConfig(
        tlds=tlds, languages=tuple(langs.items()) if langs is not None else d_mk.languages
    )
    m.done()

    q = _Section(source, "quarantine", doc.get("quarantine", {}))
    quarantine_dir = Path(q.get("dir", str, "var/quarantine"))
    q.done()
    st = _Section(source, "state", doc.get("state", {}))
    state_url = st.get("url", str, "sqlite:///var/state.sqlite3", _state_url)
    st.done()
    p = _Section(source, "policy", doc.get("policy", {}))
    policy_file = p.get("file", str, "")
    p.done()
    lg = _Section(source, "log", doc.get("log", {}))
    log = LogConfig(
        file=lg.get("file", str, d_log.file),
        format=lg.get("format", str, d_log.format, _one_of(LOG_FORMATS)),
        level=lg.get("level", str, d_log.level, _one_of(("debug", "info", "warning", "error"))),
    )
    lg.done()
    mt = _Section(source, "metrics", doc.get("metrics", {}))
    metrics = MetricsConfig(listen=mt.get("listen", str, "", lambda v: _listen(v) if v else ""))
    mt.done()

    policy = load_policy(policy_file) if policy_file else PolicySettings()
    profiles = _parse_profiles(doc, source)
    return Config(
        server=server,
        upstream=upstream,
        approved_senders=approved,
        marketplace=marketplace,
        quarantine_dir=quarantine_dir,
        state_url=state_url,
        policy_file=policy_file,
        policy=policy,
        log=log,
        metrics=metrics,
        tls=tls,
        access=access,
        profiles=profiles,
        source=source,
    )


def _parse_profiles(doc: Mapping[str, Any], source: str) -> tuple[Profile, ...]:
    """[profiles.<name>]: senders, users, policy_file, quarantine_subdir."""
    table = doc.get("profiles", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: [profiles] must be a table of [profiles.<name>] tables")
    out, claimed = [], set()
    for name, body in table.items():
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ConfigError(f"{source}: profiles.{name}: use letters, digits, - and _ only")
        p = _Section(source, f"profiles.{name}", body)
        policy_file = p.get("policy_file", str, "")
        profile = Profile(
            name=name,
            senders=tuple(a.strip().lower() for a in p.strings("senders", ())),
            users=p.strings("users", ()),
            policy_file=policy_file,
            policy=load_policy(policy_file) if policy_file else PolicySettings(),
            quarantine_subdir=p.get("quarantine_subdir", str, name, _subdir),
        )
        p.done()
        for who in (*profile.senders, *(f"user:{u}" for u in profile.users)):
            if who in claimed:
                raise ConfigError(f"{source}: profiles.{name}: {who} is in two profiles")
            claimed.add(who)
        out.append(profile)
    return tuple(out)


def _subdir(value: str) -> str:
    ok = value and "/" not in value and value not in (".", "..") and not value.startswith(".")
    return "" if ok else "must be a plain folder name"


def _readable(value: str) -> str:
    if value and not Path(value).is_file():
        return "no such file"
    return ""


def _networks(section: _Section, key: str, default: tuple[str, ...]) -> tuple[Network, ...]:
    try:
        return parse_networks(section.strings(key, default))
    except ValueError as exc:
        raise ConfigError(f"{section.source}: {section.name}.{key}: {exc}") from exc


def _parse_tls(doc: Mapping[str, Any], source: str) -> TLSConfig:
    t = _Section(source, "tls", doc.get("tls", {}))
    tls = TLSConfig(
        cert=t.get("cert", str, "", _readable),
        key=t.get("key", str, "", _readable),
        require=t.get("require", bool, False),
    )
    t.done()
    if bool(tls.cert) != bool(tls.key):
        raise ConfigError(f"{source}: tls.cert and tls.key go together")
    if tls.require and not tls.cert:
        raise ConfigError(f"{source}: tls.require needs tls.cert and tls.key")
    return tls


def _parse_access(doc: Mapping[str, Any], source: str) -> AccessConfig:
    a = _Section(source, "access", doc.get("access", {}))
    d = Limits()
    try:
        networks = parse_networks(a.strings("networks", LOOPBACK))
    except ValueError as exc:
        raise ConfigError(f"{source}: access.networks: {exc}") from exc
    access = AccessConfig(
        networks=networks,
        users_file=a.get("users_file", str, "", _readable),
        shared_limits=a.get("shared_limits", bool, False),
        limits=Limits(
            max_connections=a.get("max_connections", int, d.max_connections, _positive),
            max_connections_per_ip=a.get(
                "max_connections_per_ip", int, d.max_connections_per_ip, _positive
            ),
            messages_per_minute_per_ip=a.get(
                "messages_per_minute_per_ip", int, d.messages_per_minute_per_ip, _positive
            ),
            auth_max_failures=a.get("auth_max_failures", int, d.auth_max_failures, _positive),
            auth_window=a.get("auth_window", float, d.auth_window, _positive),
            max_transfers=a.get("max_transfers", int, d.max_transfers, _positive),
            auth_failure_delay=a.get(
                "auth_failure_delay",
                float,
                d.auth_failure_delay,
                lambda v: "" if v >= 0 else "must be 0 or more",
            ),
        ),
    )
    a.done()
    return access


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read one TOML file or raise ConfigError naming it."""
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc


def load_policy(path: str | Path) -> PolicySettings:
    """The policy file: per-rule overrides and the link allow-list."""
    try:
        return parse_policy(read_toml(path))
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_config(path: str | Path | None) -> Config:
    """The relay's configuration from `path`, or the embedded defaults when it is None."""
    if path is None:
        return Config()
    return parse_config(read_toml(path), str(path))


def language_for_tld(config: Config, tld: str) -> str:
    """The marketplace's default language for a recipient tld ('' when unknown)."""
    return dict(config.marketplace.languages).get(tld, "")


__all__ = ["Action", "Config", "ConfigError", "load_config", "load_policy", "parse_config"]
