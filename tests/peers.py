"""Real Debian peers for the interop tests: a private Postfix instance, swaks, smtp-source.

`PostfixInstance` runs Postfix with its own configuration, queue and data directories under a
test's temporary folder and its own ports; it never touches the system's /etc/postfix
instance. It needs root (Postfix's master starts as root and drops to the postfix user).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
SENDMAIL = shutil.which("sendmail") or "/usr/sbin/sendmail"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, seconds: float = 20) -> None:
    """Until something accepts connections on 127.0.0.1:port (or `proc` exits)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def relay_toml(
    port: int,
    upstream_port: int,
    *,
    senders: tuple[str, ...] = (),
    server: str = "",
    sections: str = "",
    log: str | Path = "",
) -> str:
    """A test relay's configuration: one worker on 127.0.0.1:port, smarthost delivery without
    TLS to upstream_port; `server` adds [server] keys, `sections` whole tables."""
    text = f'[server]\nlisten = "127.0.0.1:{port}"\n{server or "workers = 1"}\n'
    text += f'[upstream]\nmode = "smarthost"\nport = {upstream_port}\nstarttls = "off"\n'
    if senders:
        text += "[senders]\napproved = [" + ", ".join(f'"{s}"' for s in senders) + "]\n"
    text += sections
    if log:
        text += f'[log]\nfile = "{log}"\nformat = "json"\n'
    return text


def have(program: str) -> bool:
    return shutil.which(program) is not None or Path("/usr/sbin", program).exists()


class PostfixInstance:
    """A throw-away Postfix: config in `root/conf`, queue in `root/queue`, log in root/maillog."""

    def __init__(
        self, root: Path, relayhost: str = "", smtpd_port: int = 0, extra: str = ""
    ) -> None:
        self.root = root
        self.conf = root / "conf"
        self.queue = root / "queue"
        self.data = root / "data"
        self.maillog = root / "maillog"
        self.smtpd_port = smtpd_port
        self.relayhost = relayhost
        self.extra = extra

    def write_config(self) -> None:
        for d in (self.conf, self.queue, self.data):
            d.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.data, "postfix", "postfix")
        master = Path("/etc/postfix/master.cf").read_text()
        lines = []
        for line in master.splitlines():
            if line.startswith("smtp      inet"):
                if not self.smtpd_port:
                    continue
                line = line.replace("smtp      inet", f"127.0.0.1:{self.smtpd_port} inet", 1)
            lines.append(line)
        if not any(ln.startswith("postlog") for ln in lines):
            lines.append("postlog   unix-dgram n  -       n       -       1       postlogd")
        (self.conf / "master.cf").write_text("\n".join(lines) + "\n")
        (self.conf / "main.cf").write_text(
            f"""\
compatibility_level = 3.6
queue_directory = {self.queue}
data_directory = {self.data}
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localdomain
mydomain = localdomain
myorigin = $mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
relayhost = {self.relayhost}
local_transport = error:local delivery is disabled in this test instance
alias_maps =
alias_database =
maillog_file = {self.maillog}
maillog_file_prefixes = {self.root}
smtp_tls_security_level = none
smtpd_tls_security_level = none
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 5s
disable_dns_lookups = yes
smtp_host_lookup = native
smtp_dns_support_level = disabled
biff = no
{self.extra}
"""
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60
        )

    def start(self) -> None:
        self.write_config()
        # postfix-script's set-permissions creates the queue folders with the right owners.
        setup = self.run("set-permissions")
        if setup.returncode:
            raise RuntimeError(f"postfix set-permissions failed: {setup.stderr}")
        started = self.run("start")
        if started.returncode:
            raise RuntimeError(f"postfix start failed: {started.stderr}{self.log()}")
        if self.smtpd_port:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.smtpd_port), timeout=1).close()
                    return
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError(f"postfix smtpd did not listen on {self.smtpd_port}{self.log()}")

    def stop(self) -> None:
        self.run("stop")
        # Postfix's master exits asynchronously; wait for its pid file to go.
        pid = self.data / "master.lock"
        deadline = time.monotonic() + 10
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.1)

    def sendmail(self, sender: str, recipients: list[str], message: bytes) -> None:
        result = subprocess.run(
            [SENDMAIL, "-C", str(self.conf), "-f", sender, "-i", "--", *recipients],
            input=message, capture_output=True, timeout=30,
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(f"sendmail failed: {result.stderr.decode(errors='replace')}")

    def flush(self) -> None:
        self.run("flush")

    def log(self) -> str:
        try:
            return "\n--- maillog ---\n" + self.maillog.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def queue_empty(self) -> bool:
        out = subprocess.run(
            ["postqueue", "-c", str(self.conf), "-p"], capture_output=True, text=True, timeout=30
        ).stdout
        return "Mail queue is empty" in out


def run_env() -> dict[str, str]:
    return dict(os.environ, LC_ALL="C")
