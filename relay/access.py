"""Who may use the relay, and how much: client networks, connection and message rates, and
the throttling of failed AUTH attempts.

Everything here is plain bookkeeping over a clock the caller passes in (`now`, monotonic
seconds), so the limits are tested without sleeping and the SMTP adapter stays thin. State is
per relay process and bounded: windows are pruned as they are read, and idle addresses are
forgotten.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = ("127.0.0.0/8", "::1/128")


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR strings (or single addresses) to networks; raises ValueError naming the bad one."""
    out: list[Network] = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an address or network (CIDR)") from exc
    return tuple(out)


def client_address(peer: object) -> str:
    """The IP address of an asyncio peername (tuple) or of 'host:port' text; '' if unknown."""
    if isinstance(peer, (tuple, list)) and peer:
        return str(peer[0])
    text = str(peer or "")
    if text.startswith("["):
        return text[1 : text.find("]")]
    return text.rpartition(":")[0] if text.count(":") == 1 else text


def in_networks(address: str, networks: tuple[Network, ...]) -> bool:
    """Whether `address` lies in one of `networks` (IPv4-mapped IPv6 counts as IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


@dataclass(frozen=True)
class Limits:
    max_connections: int = 200
    max_connections_per_ip: int = 40
    messages_per_minute_per_ip: int = 600
    auth_max_failures: int = 5  # failed AUTH attempts per address within auth_window
    auth_window: float = 600.0  # seconds; also how long an address stays throttled
    auth_failure_delay: float = 1.0  # seconds before a failed AUTH is answered
    max_transfers: int = 64  # DATA transfers at once: bounds buffered mail to this x max size


@dataclass
class SlidingWindow:
    """Events per key within the last `span` seconds."""

    span: float
    events: dict[str, deque[float]] = field(default_factory=dict)

    def count(self, key: str, now: float) -> int:
        queue = self.events.get(key)
        if queue is None:
            return 0
        while queue and queue[0] <= now - self.span:
            queue.popleft()
        if not queue:
            del self.events[key]
            return 0
        return len(queue)

    def add(self, key: str, now: float) -> int:
        """Record one event; returns the count including it."""
        count = self.count(key, now)
        self.events.setdefault(key, deque()).append(now)
        return count + 1

    def clear(self, key: str) -> None:
        self.events.pop(key, None)


class Gatekeeper:
    """Connection counts, message rates and AUTH failures, per client address."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.connections: dict[str, int] = {}
        self.total = 0
        self.messages = SlidingWindow(60.0)
        self.auth_failures = SlidingWindow(limits.auth_window)
        self.transfers = 0

    def begin_transfer(self) -> bool:
        """Reserve a DATA slot; False when max_transfers are already receiving or in work."""
        if self.transfers >= self.limits.max_transfers:
            return False
        self.transfers += 1
        return True

    def end_transfer(self) -> None:
        self.transfers = max(0, self.transfers - 1)

    def connect(self, address: str) -> str | None:
        """Admit a connection (and count it), or return why it is refused."""
        if self.total >= self.limits.max_connections:
            return "too many connections to this relay"
        if self.connections.get(address, 0) >= self.limits.max_connections_per_ip:
            return "too many connections from your address"
        self.total += 1
        self.connections[address] = self.connections.get(address, 0) + 1
        return None

    def disconnect(self, address: str) -> None:
        self.total = max(0, self.total - 1)
        left = self.connections.get(address, 0) - 1
        if left > 0:
            self.connections[address] = left
        else:
            self.connections.pop(address, None)

    def message(self, address: str, now: float) -> bool:
        """Count one transaction; False when the address is over its per-minute rate."""
        if self.messages.count(address, now) >= self.limits.messages_per_minute_per_ip:
            return False
        self.messages.add(address, now)
        return True

    def auth_blocked(self, address: str, now: float) -> bool:
        return self.auth_failures.count(address, now) >= self.limits.auth_max_failures

    def auth_failed(self, address: str, now: float) -> int:
        return self.auth_failures.add(address, now)

    def auth_succeeded(self, address: str) -> None:
        self.auth_failures.clear(address)
