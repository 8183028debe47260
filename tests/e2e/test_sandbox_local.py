"""The local sandbox: a moto server on 127.0.0.1 that outlives one `inv` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.cli import inv_local

from layer_tasks.errors import LayerError
from layer_tasks.local import sandbox


# `once`: a moto server process that outlives its `inv` processes; the sandbox's code
# runs on every Python in the other --local tests.
@pytest.mark.once
@pytest.mark.slow
def test_local_sandbox_survives_between_commands(project: Path) -> None:
    real_config = (project / ".chalice" / "config.json").read_bytes()
    state = project / ".state" / "sandbox"
    try:
        # No `local.up` first: --local starts the sandbox itself.
        first = inv_local(project, "layer.deploy", "--local")
        assert first.returncode == 0, first.stderr
        arn = first.stdout.strip().splitlines()[-1]
        assert arn.startswith("arn:aws:lambda:us-east-1:") and arn.endswith(":layer:test-layer:1")
        assert "local sandbox started on http://127.0.0.1:" in first.stdout
        assert "TLS-only bucket policy skipped" in first.stderr
        pid = json.loads((state / "server.json").read_text())["pid"]

        second = inv_local(project, "layer.deploy", "--local")
        assert second.returncode == 0, second.stderr
        assert "unchanged, version 1" in second.stderr
        assert second.stdout.strip().splitlines()[-1] == arn

        listed = inv_local(project, "layer.versions", "--local", "--json")
        assert listed.returncode == 0, listed.stderr
        data = json.loads(listed.stdout)
        assert [v["version"] for v in data["versions"]] == [1]
        assert data["versions"][0]["in_config"] is True
        assert data["s3_usage"]["objects"] == 3  # the zip, its manifest and its SBOM

        # Same server all along; the outputs went to the sandbox copies only.
        assert json.loads((state / "server.json").read_text())["pid"] == pid
        assert (project / ".chalice" / "config.json").read_bytes() == real_config
        assert not (project / ".layer-arn.txt").exists()
        assert (state / ".layer-arn.txt").read_text().strip() == arn
        sandbox_config = json.loads((state / "chalice" / "config.json").read_text())
        assert sandbox_config["stages"]["prod"]["layers"] == [arn]
    finally:
        down = inv_local(project, "local.down")
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    assert sandbox.status(project / ".state") is None


def test_up_twice_reuses_the_server_and_down_stops_it(tmp_path: Path) -> None:
    box, started = sandbox.up(tmp_path)
    try:
        assert started and box.host == "127.0.0.1"
        again, started_again = sandbox.up(tmp_path)
        assert again == box and not started_again
        assert sandbox.status(tmp_path) == box
    finally:
        stopped = sandbox.down(tmp_path)
    assert stopped == box
    assert sandbox.status(tmp_path) is None
    assert sandbox.down(tmp_path) is None


@pytest.mark.parametrize(
    "url", ["http://localhost:5000", "http://0.0.0.0:5000", "https://s3.amazonaws.com"]
)
def test_local_refuses_any_endpoint_but_127_0_0_1(url: str) -> None:
    with pytest.raises(LayerError, match="refuses"):
        sandbox.check_local_endpoint(url)
    assert sandbox.check_local_endpoint("http://127.0.0.1:5000")
