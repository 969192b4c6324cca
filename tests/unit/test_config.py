"""The frozen configuration: defaults, validation, one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from relay.config import Config, load_config, parse_config
from relay.errors import ConfigError
from relay.policy.model import Action


def test_embedded_defaults_make_a_working_relay() -> None:
    """With no file: 127.0.0.1:2525, outbox delivery, SQLite state, quarantine under var/."""
    cfg = load_config(None)
    assert (cfg.server.host, cfg.server.port, cfg.upstream.mode) == ("127.0.0.1", 2525, "outbox")
    assert (str(cfg.quarantine_dir), cfg.state_url) == (
        "var/quarantine",
        "sqlite:///var/state.sqlite3",
    )


def test_example_files_load(tmp_path: Path) -> None:
    """config/relay.toml (every key) and config/policy.toml load as shipped."""
    root = Path(__file__).parents[2]
    cfg = load_config(root / "config" / "relay.toml")
    assert cfg.server.max_message_size == 15728640
    text = (root / "config" / "relay.toml").read_text()
    text = text.replace('\nfile = ""', f'\nfile = "{root}/config/policy.toml"', 1)
    (tmp_path / "relay.toml").write_text(text)
    cfg = load_config(tmp_path / "relay.toml")
    assert cfg.policy.link_allow == ("design.casa-verde.example",)
    assert cfg.policy.action_for("mime_defect", Action.QUARANTINE) is Action.LOG


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"server": {"listen": "nowhere"}}, "server.listen: must be host:port"),
        ({"server": {"max_message_size": "big"}}, "server.max_message_size must be a int"),
        ({"server": {"colour": "blue"}}, "server.colour: unknown key"),
        ({"upstream": {"mode": "carrier-pigeon"}}, "upstream.mode: must be one of"),
        ({"senders": {"approved": "support@x"}}, "senders.approved must be a list"),
        ({"state": {"url": "postgres://x"}}, "state.url: must start with"),
        ({"extra": {}}, "[extra]: unknown section"),
        ({"upstream": {"port": 70000}}, "upstream.port: must be a TCP port"),
    ],
)
def test_invalid_keys_name_the_key(doc: dict[str, object], message: str) -> None:
    """Each mistake stops start-up with a line naming the file and the key."""
    with pytest.raises(ConfigError) as err:
        parse_config(doc, "relay.toml")
    assert str(err.value).startswith("relay.toml: ")
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('[rules.no_such_rule]\naction = "log"\n', "rules.no_such_rule: unknown rule id"),
        (
            '[rules.order_id_missing]\naction = "strip"\n',
            "rules.order_id_missing.action must be one of",
        ),
        ('[links]\nallow = "x"\n', "links.allow must be a list of strings"),
        ("[links\n", "invalid TOML"),
    ],
)
def test_invalid_policy_file(tmp_path: Path, policy: str, message: str) -> None:
    """A bad policy file is refused with its path and the key; strip only where a fixer exists."""
    (tmp_path / "policy.toml").write_text(policy)
    with pytest.raises(ConfigError) as err:
        parse_config({"policy": {"file": str(tmp_path / "policy.toml")}}, "relay.toml")
    assert message in str(err.value)
    assert str(tmp_path / "policy.toml") in str(err.value)


def test_unreadable_file() -> None:
    """A missing configuration file is one line naming it."""
    with pytest.raises(ConfigError, match=r"/nonexistent/relay.toml: cannot read"):
        load_config("/nonexistent/relay.toml")


def test_config_is_frozen() -> None:
    """The configuration cannot be changed after start-up."""
    cfg = Config()
    with pytest.raises(AttributeError):
        cfg.state_url = "memory:"  # type: ignore[misc]
