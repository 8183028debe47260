"""`inv layer.versions --all-regions` as a user types it: against the local sandbox
(`--local`), and against a moto server where one region cannot be read."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from invoke.main import program
from support.cli import inv_local_here
from support.faults import FaultInjector, MotoServer, client, inject_everywhere, no_backoff

from layer_tasks.local import sandbox

HOME, OTHER = "us-east-1", "ap-northeast-2"
NAME = "test-layer"  # support.cli's invoke.yaml


def with_regions(project: Path, *regions: str) -> None:
    path = project / "invoke.yaml"
    data = yaml.safe_load(path.read_text())
    data["layer"]["regions"] = list(regions)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")


def tiny_zip(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/mod.py", body)
    return buf.getvalue()


def publish(lam: Any, *bodies: str) -> None:
    for body in bodies:
        lam.publish_layer_version(
            LayerName=NAME,
            Content={"ZipFile": tiny_zip(body)},
            CompatibleRuntimes=["python3.12"],
            CompatibleArchitectures=["x86_64"],
        )


@pytest.mark.slow
def test_all_regions_through_the_local_sandbox(project: Path) -> None:
    with_regions(project, HOME, OTHER)
    box, _ = sandbox.up(project / ".state")
    try:
        for region, bodies in ((HOME, ("A = 1", "B = 2", "C = 3")), (OTHER, ("A = 9", "B = 2"))):
            lam = boto3.client(
                "lambda",
                endpoint_url=box.endpoint,
                region_name=region,
                aws_access_key_id=sandbox.CREDENTIALS[0],
                aws_secret_access_key=sandbox.CREDENTIALS[1],
            )
            publish(lam, *bodies)

        text = inv_local_here(project, "layer.versions", "--all-regions", "--local")
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0] == f"layer {NAME} (x86_64)"
        assert lines[1].split() == ["version", HOME, OTHER]
        assert [line.split()[0] for line in lines[2:5]] == ["3", "2", "1"]
        assert lines[2].split()[2] == "-"
        assert f"skew: latest versions differ: {HOME} is at 3, {OTHER} at 2" in lines
        assert any(line.startswith("skew: version 1 has different CodeSha256: ") for line in lines)
        assert "Traceback" not in text.stderr

        data = json.loads(
            inv_local_here(project, "layer.versions", "--all-regions", "--local", "--json").stdout
        )
        x86 = data["layers"][0]["regions"]
        assert (x86[HOME]["latest"], x86[OTHER]["latest"]) == (3, 2)
        assert len(x86[HOME]["versions"][0]["code_sha256"]) == 44  # whole, not shortened
        assert [s["kind"] for s in data["layers"][0]["skew"]] == ["latest", "code_sha256"]

        # Without the flag: the home region's listing, as before.
        plain = inv_local_here(project, "layer.versions", "--local", "--json")
        assert plain.returncode == 0, plain.stderr
        assert [v["version"] for v in json.loads(plain.stdout)["versions"]] == [3, 2, 1]
    finally:
        sandbox.down(project / ".state")


def test_an_unreadable_region_prints_the_rest_then_one_error(
    project: Path,
    server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.reset()
    with_regions(project, HOME, OTHER)
    publish(client(server.url, "lambda", HOME), "A = 1", "B = 2")
    publish(client(server.url, "lambda", OTHER), "A = 1")
    monkeypatch.chdir(project)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    no_backoff(monkeypatch)
    injector = FaultInjector().add("ListLayerVersions", "access-denied", times=99, region=OTHER)
    inject_everywhere(monkeypatch, injector)

    with pytest.raises(SystemExit) as exited:
        program.run(["inv", "layer.versions", "--all-regions"])
    out, err = capsys.readouterr()

    assert exited.value.code == 1
    assert injector.count("ListLayerVersions") == 1  # the other region only
    lines = out.splitlines()
    assert [line.split()[:1] + line.split()[2:] for line in lines[2:4]] == [["2", "?"], ["1", "?"]]
    assert f"{OTHER}: not read: access denied on ListLayerVersions" in out
    assert "skew" not in out  # an unknown region is not a difference
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [line for line in err.splitlines() if line]
    assert len(errors) == 1
    assert errors[0].startswith(
        "error: layer versions could not be read in 1 of 2 regions, so the listing is "
        f"incomplete: {OTHER}: access denied on ListLayerVersions"
    )
