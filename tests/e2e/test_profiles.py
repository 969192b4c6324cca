"""Agency profiles: each client's senders (or AUTH users) get their own overrides, link
allow-list and quarantine subfolder; everyone else gets the relay's own policy."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest
from client import send
from harness import Sink, make_config
from mail import BUYER, OTHER_SELLER, SELLER, build

from relay.config import ConfigError, Profile, parse_config
from relay.policy.settings import parse_policy

PHONE = "Rufen Sie uns gern an: +49 30 1234567"
SHOP_LINK = "Die Pflegeanleitung: https://shop.casa-verde.example/pflege"

CASA = Profile(
    name="casa-verde",
    senders=(OTHER_SELLER,),
    users=("casa-verde",),
    policy=parse_policy(
        {
            "rules": {"phone_number": {"action": "log"}},
            "links": {"allow": ["shop.casa-verde.example"]},
        }
    ),
    quarantine_subdir="casa-verde",
)


async def test_profile_policy_applies_to_its_senders_only(tmp_path: Path, sink: Sink,
                                                          start_relay) -> None:  # fmt: skip
    """A phone number or the client's shop link: delivered for the profile's sender, held for
    a sender without a profile (the relay's own policy)."""
    relay = await start_relay(make_config(tmp_path, sink.port, profiles=(CASA,)))
    outcomes = {}
    for sender in (SELLER, OTHER_SELLER):
        for name, body in (("phone", PHONE), ("link", SHOP_LINK)):
            reply = await send(relay.port, sender, [BUYER], build(body=body, sender=sender))
            outcomes[(sender, name)] = "held" if "quarantine" in reply.text else str(reply.code)
    assert outcomes == {(SELLER, "phone"): "held", (SELLER, "link"): "held",
                        (OTHER_SELLER, "phone"): "250", (OTHER_SELLER, "link"): "250"}  # fmt: skip


async def test_profile_has_its_own_quarantine_subfolder(tmp_path: Path, sink: Sink,
                                                        start_relay) -> None:  # fmt: skip
    """A message the profile's policy holds lands in quarantine/<subdir>; `quarantine list`
    shows it with its profile and `release` finds it there."""
    cfg = make_config(tmp_path, sink.port, profiles=(CASA,))
    relay = await start_relay(cfg)
    body = "Mehr Ideen: https://blog.unknown-host.example/tipps"
    reply = await send(relay.port, OTHER_SELLER, [BUYER], build(body=body, sender=OTHER_SELLER))
    entry = re.search(r"quarantine as (\S+)", reply.text)
    assert entry is not None, reply.text
    held = sorted(p.name for p in (cfg.quarantine_dir / "casa-verde").glob("*.json"))
    config_file = tmp_path / "relay.toml"
    config_file.write_text(
        f'[upstream]\nmode = "smarthost"\nport = {sink.port}\nstarttls = "off"\n'
        f'[quarantine]\ndir = "{cfg.quarantine_dir}"\n'
        f'[profiles.casa-verde]\nsenders = ["{OTHER_SELLER}"]\n'
    )
    listed = await bsm("list", "--json", "--config", str(config_file))
    released = await bsm("release", entry.group(1), "--config", str(config_file))
    entries = json.loads(listed[1])
    assert held == [f"{entry.group(1)}.json"]
    assert [(e["id"], e["profile"]) for e in entries] == [(entry.group(1), "casa-verde")]
    assert (released[0], len(sink.messages)) == (0, 1), released[2]


async def bsm(*args: str) -> tuple[int, str, str]:
    """`bsm-relay quarantine ...` without blocking the loop the sink runs in."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "relay", "quarantine", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


def test_profile_lookup_prefers_the_auth_user() -> None:
    """The AUTH user decides the profile; without one, the envelope sender does."""
    other = dataclasses.replace(CASA, name="nordlicht", senders=(SELLER,), users=("nordlicht",))
    cfg = make_config(Path("/tmp"), profiles=(CASA, other))
    found = [cfg.profile_for(SELLER, "casa-verde"), cfg.profile_for(SELLER, ""),
             cfg.profile_for("x@y.example", ""), cfg.profile_for(OTHER_SELLER.upper(), "")]  # fmt: skip
    assert [p.name if p else None for p in found] == ["casa-verde", "nordlicht", None, "casa-verde"]


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"a": {"senders": ["x@y.example"]}, "b": {"senders": ["x@y.example"]}}, "in two profiles"),
        ({"a": {"senders": ["x@y.example"], "colour": "red"}}, "profiles.a.colour: unknown key"),
        ({"a": {"quarantine_subdir": "../escape"}}, "plain folder name"),
        ({"a b": {}}, "letters, digits"),
    ],
)
def test_bad_profiles_are_refused(profiles: dict[str, object], message: str) -> None:
    """Overlapping senders, unknown keys, folder escapes and odd names stop start-up."""
    with pytest.raises(ConfigError) as info:
        parse_config({"profiles": profiles}, "relay.toml")
    assert message in str(info.value)


async def test_auth_user_selects_the_profile_over_smtp(tmp_path: Path, sink: Sink,
                                                       start_relay) -> None:  # fmt: skip
    """A helpdesk that logs in as the profile's AUTH user gets the profile's policy, whatever
    envelope sender it uses: its phone number is delivered, not held."""
    import ssl

    import aiosmtplib
    import trustme

    from relay.access import parse_networks
    from relay.config import AccessConfig, TLSConfig
    from relay.passwords import set_user

    ca = trustme.CA()
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "c.pem"))
    set_user(tmp_path / "users", "casa-verde", "a long enough password", log2_n=10)
    cfg = make_config(
        tmp_path, sink.port, profiles=(CASA,),
        tls=TLSConfig(cert=str(tmp_path / "c.pem"), key=str(tmp_path / "c.pem")),
        access=AccessConfig(networks=parse_networks(["192.0.2.0/24"]), users_file=str(tmp_path / "users")),
    )  # fmt: skip
    relay = await start_relay(cfg)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=relay.port, start_tls=True,
                             tls_context=context, local_hostname="helpdesk.test")  # fmt: skip
    await client.connect()
    await client.ehlo()
    await client.login("casa-verde", "a long enough password")
    _, reply = await client.sendmail(SELLER, [BUYER], build(body=PHONE))
    await client.quit()
    assert ("quarantine" in reply, len(sink.messages)) == (False, 1)
