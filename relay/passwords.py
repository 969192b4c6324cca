"""The AUTH users file: one `user:hash` line per user, hashes made with scrypt.

Format of a hash: `$scrypt$ln=15,r=8,p=1$<salt, base64>$<key, base64>` (the cost as log2 N,
like passlib's), so the cost can be raised later without invalidating old entries. Verifying
costs ~0.1 s of CPU and 32 MiB on purpose; the SMTP adapter runs it in a thread. An unknown
user is checked against a dummy hash, so the time taken does not tell which users exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from relay.errors import ConfigError

LOG2_N, R, P = 15, 8, 1
KEY_LEN = 32
_MAXMEM = 128 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def hash_password(password: str, log2_n: int = LOG2_N, salt: bytes | None = None) -> str:
    """A new scrypt hash of `password` in the users-file format."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=1 << log2_n, r=R, p=P,
                         maxmem=_MAXMEM, dklen=KEY_LEN)  # fmt: skip
    return f"$scrypt$ln={log2_n},r={R},p={P}${_b64(salt)}${_b64(key)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """(log2 N, r, p, salt, key) of a hash; raises ValueError when it is not one of ours."""
    parts = encoded.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "scrypt":
        raise ValueError("not a $scrypt$ hash")
    params = dict(item.split("=", 1) for item in parts[2].split(",") if "=" in item)
    try:
        log2_n, r, p = int(params["ln"]), int(params["r"]), int(params["p"])
        salt, key = _unb64(parts[3]), _unb64(parts[4])
    except (KeyError, ValueError) as exc:
        raise ValueError("malformed $scrypt$ hash") from exc
    if not (1 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 16 and salt and key):
        raise ValueError("scrypt parameters out of range")
    return log2_n, r, p, salt, key


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of `password` against one users-file hash."""
    try:
        log2_n, r, p, salt, key = parse_hash(encoded)
    except ValueError:
        return False
    actual = hashlib.scrypt(password.encode("utf-8", "surrogateescape"), salt=salt,
                            n=1 << log2_n, r=r, p=p, maxmem=_MAXMEM, dklen=len(key))  # fmt: skip
    return hmac.compare_digest(actual, key)


_DUMMY = hash_password("not a password", salt=b"bsm-relay-dummy!")


class Users:
    """The users file's entries: name -> hash. Frozen after loading."""

    def __init__(self, entries: Mapping[str, str]) -> None:
        self._entries = dict(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def check(self, name: str, password: str) -> bool:
        """True when `name` exists and `password` matches; as slow when it does not exist."""
        encoded = self._entries.get(name)
        ok = verify_password(password, encoded or _DUMMY)
        return ok and encoded is not None


def parse_users(text: str, source: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, encoded = line.partition(":")
        if not sep or not name:
            raise ConfigError(f"{source}:{number}: expected user:hash")
        try:
            parse_hash(encoded)
        except ValueError as exc:
            raise ConfigError(f"{source}:{number}: {exc} (make one with bsm-relay passwd)") from exc
        entries[name] = encoded
    return entries


def load_users(path: str | Path) -> Users:
    """Read the users file, or raise ConfigError naming it and the line."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the users file: {exc}") from exc
    return Users(parse_users(text, str(path)))


def set_user(path: str | Path, name: str, password: str, log2_n: int = LOG2_N) -> bool:
    """Add or replace `name` in the users file (atomically, mode 0600). True if it was new."""
    if not name or ":" in name or any(c.isspace() for c in name):
        raise ValueError("a user name must be non-empty, without ':' or spaces")
    target = Path(path)
    lines: list[str] = []
    if target.exists():
        lines = target.read_text(encoding="utf-8").splitlines()
    entry = f"{name}:{hash_password(password, log2_n)}"
    new = True
    for i, line in enumerate(lines):
        if line.partition(":")[0].strip() == name:
            lines[i], new = entry, False
    if new:
        lines.append(entry)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    return new
