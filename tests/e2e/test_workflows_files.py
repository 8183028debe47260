"""The GitHub workflow files parse and run the right commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def _load(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _runs(workflow: dict[Any, Any]) -> list[str]:
    return [
        step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step
    ]


def test_ci_runs_nox() -> None:
    ci = _load("ci.yml")
    assert any(run.startswith("nox") for run in _runs(ci))


def test_deploy_runs_on_main_layer_deploy_then_chalice_prod() -> None:
    deploy = _load("deploy.yml")
    # YAML 1.1 reads the key `on` as True.
    trigger = deploy.get("on", deploy.get(True))
    assert trigger["push"]["branches"] == ["main"]
    assert {"INVOKE_LAYER_BUCKET", "INVOKE_LAYER_NAME"} <= set(deploy["env"])
    runs = _runs(deploy)
    install = next(i for i, r in enumerate(runs) if "pip install -e ." in r)
    layer = runs.index("inv layer.deploy")
    chalice = runs.index("chalice deploy --stage prod")
    assert install < layer < chalice


def test_deploy_reports_size_to_the_job_summary_and_keeps_the_sbom() -> None:
    deploy = _load("deploy.yml")
    runs = _runs(deploy)
    assert runs.index("inv layer.size-report --top 10") < runs.index("inv layer.deploy")
    steps = [step for job in deploy["jobs"].values() for step in job["steps"]]
    (kept,) = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert kept["with"]["path"] == "dist/*.cdx.json"
