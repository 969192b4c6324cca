"""deploy/postfix in a real Postfix: only buyer mail goes through the relay."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from interop_tools import SmtpSink, start_relay_process
from mail import BUYER, SELLER, build
from peers import PostfixInstance, free_port

pytestmark = pytest.mark.interop
DEPLOY = Path(__file__).parents[2] / "deploy" / "postfix"


def test_transport_maps_route_only_buyer_mail_through_the_relay(
    tmp_path: Path, smtp_sink: SmtpSink, postfix_root: Path
) -> None:
    """With bsm-transport and main.cf.snippet from deploy/: mail to a buyer arrives through the
    relay (and is checked); mail to another domain takes Postfix's normal route."""
    workdir = tmp_path / "relay"
    workdir.mkdir()
    relay = start_relay_process(workdir, smtp_sink.port)
    direct_dir = postfix_root / "direct"
    direct_dir.mkdir(mode=0o777)
    shutil.chown(direct_dir, "nobody")
    direct_port = free_port()
    direct = subprocess.Popen(["/usr/sbin/smtp-sink", "-u", "nobody", "-d", f"{direct_dir}/%H%M%S.",
                               f"127.0.0.1:{direct_port}", "16"])  # fmt: skip
    snippet = (
        (DEPLOY / "main.cf.snippet").read_text().replace("/etc/postfix/", f"{postfix_root}/conf/")
    )
    # Postfix's normal route in production is DNS; here a second smtp-sink stands in for it.
    postfix = PostfixInstance(postfix_root, relayhost=f"[127.0.0.1]:{direct_port}", extra=snippet)
    postfix.write_config()
    transport = (
        (DEPLOY / "bsm-transport")
        .read_text()
        .replace("127.0.0.1]:2525", f"127.0.0.1]:{relay.port}")
    )
    (postfix_root / "conf" / "bsm-transport").write_text(transport)
    try:
        postfix.start()
        postfix.sendmail(SELLER, [BUYER], build(message_id="<to-buyer@x>"))
        postfix.sendmail(SELLER, ["friend@elsewhere.example"], build(to="friend@elsewhere.example",
                                                                     message_id="<to-friend@x>"))  # fmt: skip
        via_relay = smtp_sink.wait_for(1)
        deadline = time.monotonic() + 20
        while not list(direct_dir.rglob("*.*")) and time.monotonic() < deadline:
            time.sleep(0.1)
        direct_msgs = [p.read_bytes() for p in direct_dir.rglob("*") if p.is_file()]
        assert [b"<to-buyer@x>" in m for m in via_relay] == [True], postfix.log()
        assert [b"<to-friend@x>" in m for m in direct_msgs] == [True], postfix.log()
        log = relay.log_holding('"message_id": "<to-buyer@x>"')
        assert "<to-friend@x>" not in log
        assert '"message_id": "<to-buyer@x>"' in log
    finally:
        postfix.stop()
        direct.terminate()
        direct.wait(10)
        relay.proc.terminate()
        relay.proc.wait(15)
