"""`bsm-relay passwd` and the users file: scrypt entries, atomic updates, clear refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from relay.errors import ConfigError
from relay.passwords import hash_password, load_users, parse_hash, verify_password


def passwd(*args: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relay", "passwd", *args],
                          input=password + "\n", capture_output=True, text=True, timeout=60)  # fmt: skip


def test_passwd_adds_then_changes_a_user(tmp_path: Path) -> None:
    """First call adds the user (file mode 0600), second replaces the hash; both verify."""
    users = tmp_path / "users"
    first = passwd("helpdesk", "--file", str(users), password="first secret phrase")
    second = passwd("helpdesk", "--file", str(users), password="second secret phrase")
    lines = users.read_text().splitlines()
    loaded = load_users(users)
    assert (
        first.returncode,
        second.returncode,
        first.stdout.split()[0],
        second.stdout.split()[0],
        len(lines),
        oct(users.stat().st_mode & 0o777),
    ) == (0, 0, "added", "changed", 1, "0o600")
    assert (loaded.check("helpdesk", "second secret phrase"),
            loaded.check("helpdesk", "first secret phrase")) == (True, False)  # fmt: skip


@pytest.mark.parametrize(
    ("user", "password", "message"),
    [("help desk", "long enough password", "user name"), ("helpdesk", "short", "12 characters")],
)
def test_passwd_refuses_bad_input(tmp_path: Path, user: str, password: str, message: str) -> None:
    """A bad name or a short password: one line, exit status 2, no file written."""
    result = passwd(user, "--file", str(tmp_path / "users"), password=password)
    assert (result.returncode, message in result.stderr, len(result.stderr.splitlines()),
            (tmp_path / "users").exists()) == (2, True, 1, False)  # fmt: skip


def test_hash_format_and_constant_cost() -> None:
    """Hashes are $scrypt$ln=15,r=8,p=1$salt$key, salted (two hashes differ), and verify."""
    a, b = hash_password("same password"), hash_password("same password")
    assert (a.startswith("$scrypt$ln=15,r=8,p=1$"), a != b, parse_hash(a)[:3]) == (
        True,
        True,
        (15, 8, 1),
    )
    assert (verify_password("same password", a), verify_password("other", a)) == (True, False)


def test_bad_users_file_names_the_line(tmp_path: Path) -> None:
    """A users file with a line that is not user:hash stops start-up, naming file and line."""
    users = tmp_path / "users"
    users.write_text("# comment\nhelpdesk:plaintext-password\n")
    with pytest.raises(ConfigError) as info:
        load_users(users)
    assert f"{users}:2:" in str(info.value)
