"""The one exception tree for operational failures.

Policy violations are never exceptions: rules return findings (see `relay.policy.model`).
These classes describe what went wrong around the mail, not in it: a bad configuration,
an upstream that does not answer, a quarantine folder that cannot be written. Foreign
errors (OSError, aiosmtplib, dnspython, sqlite3) are mapped onto this tree at the
boundary that meets them, with ``raise ... from exc`` so the cause stays visible.

    RelayError
    +-- ConfigError            start-up stops: one line naming the key or file, exit 2
    +-- UsageError             a command was called wrongly or its input is unreadable
    +-- InspectionError        parsing or policy could not run (worker died, budget spent)
    +-- UpstreamError          the next hop did not take the message
    |   +-- UpstreamTemporary  connection refused, timeout, dropped, 4xx: the sender retries
    |   +-- UpstreamPermanent  a 5xx from the next hop: passed back to the sender
    +-- StoreError             quarantine, outbox or state store failed
        +-- QuarantineConflict the entry was released or deleted by someone else
        +-- EntryNotFound      no quarantine entry with that id
"""

from __future__ import annotations


class RelayError(Exception):
    """Base of every operational failure the relay reports."""


class ConfigError(RelayError):
    """The configuration or policy file is unreadable or invalid."""


class UsageError(RelayError):
    """A command-line call that cannot be carried out as given."""


class InspectionError(RelayError):
    """Parsing and policy evaluation did not finish for this message."""


class UpstreamError(RelayError):
    """The upstream did not accept the message.

    ``code`` and ``text`` are what the sender is told; ``upstream`` is what the next hop
    said (or the transport error), for the log line.
    """

    def __init__(self, code: int, enhanced: str, text: str, upstream: str = "") -> None:
        super().__init__(f"{code} {enhanced} {text}")
        self.code = code
        self.enhanced = enhanced
        self.text = text
        self.upstream = upstream or text


class UpstreamTemporary(UpstreamError):
    """A temporary failure: the sending mail system keeps the message and retries."""


class UpstreamPermanent(UpstreamError):
    """The upstream refused the message for good (5xx); passed back unchanged."""


class StoreError(RelayError):
    """A durable store (quarantine, outbox, state) could not be read or written."""


class QuarantineConflict(StoreError):
    """Another operator or relay already released or deleted this entry."""


class EntryNotFound(StoreError):
    """There is no quarantine entry with the requested id."""
