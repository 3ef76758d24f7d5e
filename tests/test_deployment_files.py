"""The Dockerfile and deploy/kubernetes.yaml stay in step with the code they run.

No container engine here, so these check what can drift silently: settings that do not
exist, files the image copies, paths the probes call, the user the image runs as.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import yaml

from cds_service.settings import Settings

ROOT = Path(__file__).parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")
MANIFESTS = list(
    yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text(encoding="utf-8"))
)
SETTINGS = {f"CDS_{name.upper()}" for name in Settings.model_fields}


def runtime_stage() -> str:
    return DOCKERFILE.split("\nFROM ")[-1]


def dockerfile_env() -> dict[str, str]:
    block = re.search(r"^ENV (.+?)(?=^\S)", runtime_stage(), re.MULTILINE | re.DOTALL)
    assert block is not None
    pairs = re.findall(r"(\w+)=(\S+)", block.group(1))
    return dict(pairs)


def container() -> dict[str, Any]:
    deployment = next(m for m in MANIFESTS if m["kind"] == "Deployment")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def test_image_settings_exist_and_point_at_copied_files() -> None:
    env = dockerfile_env()
    cds = {k for k in env if k.startswith("CDS_")}
    assert cds <= SETTINGS, cds - SETTINGS
    copied = dict(re.findall(r"^COPY (?!--from)(\S+) (\S+)$", runtime_stage(), re.MULTILINE))
    for source in copied:
        assert (ROOT / source).exists(), source
    assert env["CDS_HOOKS_DIR"] == "/app/hooks" and copied["hooks"] == "./hooks"
    assert env["CDS_MAPPINGS_DIR"] == "/app/mappings" and copied["mappings"] == "./mappings"
    assert env["CDS_EXAMPLES_DIR"] == "/app/examples" and copied["examples"] == "./examples"
    assert env["CDS_TRUSTED_CLIENTS"] == "/app/trusted/clients.yaml"
    assert (ROOT / "trusted" / "clients.yaml").is_file()
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for needed in ("pyproject.toml", "README.md", "cds_service", *copied):
        assert needed not in ignored, needed


def test_image_runs_as_a_non_root_user_with_a_liveness_healthcheck() -> None:
    stage = runtime_stage()
    user = re.findall(r"^USER (\S+)$", stage, re.MULTILINE)
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in stage and "/healthz" in stage
    assert re.search(r'^CMD \["cds-service", "serve"\]$', stage, re.MULTILINE)
    assert DOCKERFILE.count("\nFROM python:3.11-slim") == 2  # multi-stage, both slim


def test_manifest_settings_exist_and_secrets_come_from_secrets() -> None:
    env = {e["name"]: e for e in container()["env"]}
    cds = {name for name in env if name.startswith("CDS_")}
    assert cds <= SETTINGS, cds - SETTINGS
    for secret in ("CDS_DATABASE_URL", "CDS_AUDIT_KEY"):
        assert "secretKeyRef" in env[secret]["valueFrom"], secret
    assert container()["ports"][0]["containerPort"] == int(dockerfile_env()["CDS_PORT"])


def test_probes_and_scrape_call_routes_that_exist(service_url: str) -> None:
    spec = container()
    paths = {
        spec[probe]["httpGet"]["path"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    assert spec["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert spec["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for path in paths:
        assert httpx.get(f"{service_url}{path}", timeout=10).status_code == 200, path
    annotations = next(m for m in MANIFESTS if m["kind"] == "Deployment")["spec"]["template"][
        "metadata"
    ]["annotations"]
    assert (
        httpx.get(f"{service_url}{annotations['prometheus.io/path']}", timeout=10).status_code
        == 200
    )


def test_operations_guide_lists_every_setting_and_metric() -> None:
    from cds_service.observability import metrics

    guide = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    for setting in SETTINGS:
        assert f"| `{setting}` |" in guide, setting
    names = [
        value._name
        for value in vars(metrics).values()
        if hasattr(value, "_name") and hasattr(value, "_documentation")
    ]
    assert len(names) >= 10
    for name in names:
        assert f"`{name}" in guide, name
