"""deploy/: the Kubernetes manifests validate offline against the Kubernetes schemas
(kubernetes-validate ships them), and the configuration they carry is one the relay accepts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from relay.config import parse_config

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
MANIFESTS = sorted(
    p for p in (DEPLOY / "kubernetes").glob("*.yaml") if p.name != "kustomization.yaml"
)


def documents(path: Path) -> list[dict[str, object]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_validates_strictly(path: Path) -> None:
    """Every resource passes strict schema validation for Kubernetes 1.30 and the newest."""
    for doc in documents(path):
        for version in ("1.30.0", kubernetes_validate.latest_version()):
            kubernetes_validate.validate(doc, version, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    """kustomization.yaml names each manifest once (nothing forgotten on `kubectl apply -k`)."""
    listed = yaml.safe_load((DEPLOY / "kubernetes" / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in MANIFESTS]


def test_configmap_carries_a_valid_relay_configuration(tmp_path: Path) -> None:
    """The ConfigMap's relay.toml and policy.toml pass the relay's own validation."""
    [config_map] = documents(DEPLOY / "kubernetes" / "configmap.yaml")
    data = config_map["data"]
    assert isinstance(data, dict)
    (tmp_path / "policy.toml").write_text(data["policy.toml"])
    doc = tomllib.loads(data["relay.toml"])
    doc["policy"]["file"] = str(tmp_path / "policy.toml")
    cfg = parse_config(doc, "configmap relay.toml")
    assert (cfg.state_url.startswith("redis://"), cfg.access.shared_limits,
            cfg.metrics.listen) == (True, True, "0.0.0.0:9125")  # fmt: skip


def test_deployment_probes_use_healthz_and_allow_draining() -> None:
    """Readiness and liveness ask /healthz; the grace period outlasts shutdown_grace (30 s)."""
    [deployment] = documents(DEPLOY / "kubernetes" / "deployment.yaml")
    spec = deployment["spec"]["template"]["spec"]  # type: ignore[index]
    probe = spec["containers"][0]["readinessProbe"]["httpGet"]
    assert (probe["path"], spec["terminationGracePeriodSeconds"] > 30) == ("/healthz", True)
