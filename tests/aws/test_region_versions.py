"""layer.versions --all-regions against the moto server: versions published in two
regions with skew, read side by side; a region that fails is named, the others listed."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from support.fakes import make_settings, sha256_b64, zip_bytes
from support.faults import FaultInjector, client

from layer_tasks.aws.session import make_clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.report.region_versions import SHORT, read_all_regions

HOME, OTHER = "us-east-1", "ap-northeast-2"


def publish(endpoint: str, region: str, name: str, payload: str, arch: str = "x86_64") -> str:
    """One version of ``name`` in ``region`` from a zip made of ``payload``; its ARN."""
    answer = client(endpoint, "lambda", region).publish_layer_version(
        LayerName=name,
        Content={"ZipFile": zip_bytes(payload)},
        CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=[arch],
    )
    return str(answer["LayerVersionArn"])


def lambda_for(settings: LayerSettings, endpoint: str) -> Callable[[str], Any]:
    """Each region's Lambda client as the tasks make it (timeouts, retries)."""
    return lambda region: (
        make_clients(replace(settings, region=region), endpoint_url=endpoint).lambda_
    )


def use_in_stage(settings: LayerSettings, arn: str) -> None:
    config = json.loads(settings.chalice_config.read_text())
    config["stages"]["prod"]["layers"] = [arn]
    settings.chalice_config.write_text(json.dumps(config))


@pytest.fixture
def skewed(tmp_path: Path, endpoint: str) -> LayerSettings:
    """us-east-1 at version 3, ap-northeast-2 at 2, and version 1 a different zip there;
    an arm64 layer in step in both; us-east-1's version 3 in the stage."""
    settings = make_settings(tmp_path, regions=[HOME, OTHER], architectures=["x86_64", "arm64"])
    for payload in ("A = 1\n", "B = 2\n", "C = 3\n"):
        arn = publish(endpoint, HOME, "demo-layer", payload)
    use_in_stage(settings, arn)
    for payload in ("A = 'other'\n", "B = 2\n"):
        publish(endpoint, OTHER, "demo-layer", payload)
    for region in (HOME, OTHER):
        publish(endpoint, region, "demo-layer-arm64", "ARM = 1\n", "arm64")
    return settings


def test_skew_between_regions_in_json(skewed: LayerSettings, endpoint: str) -> None:
    report = read_all_regions(skewed, (HOME, OTHER), lambda_for(skewed, endpoint))
    report.check()  # every region was read and something is published
    data = json.loads(report.json())
    assert data["home_region"] == HOME and data["regions"] == [HOME, OTHER]
    assert data["unreadable"] == {}
    x86, arm = data["layers"]
    assert (x86["layer"], x86["architecture"]) == ("demo-layer", "x86_64")
    assert (arm["layer"], arm["architecture"]) == ("demo-layer-arm64", "arm64")

    home, other = x86["regions"][HOME], x86["regions"][OTHER]
    assert (home["latest"], other["latest"]) == (3, 2)
    assert [v["version"] for v in home["versions"]] == [3, 2, 1]
    assert [v["version"] for v in other["versions"]] == [2, 1]
    # Whole CodeSha256 values, as Lambda reports them (base64 of the zip's sha256).
    assert home["versions"][0]["code_sha256"] == sha256_b64(zip_bytes("C = 3\n"))
    assert other["versions"][1]["code_sha256"] == sha256_b64(zip_bytes("A = 'other'\n"))
    assert home["versions"][0]["arn"].startswith(f"arn:aws:lambda:{HOME}:")
    assert other["versions"][0]["arn"].startswith(f"arn:aws:lambda:{OTHER}:")
    assert [v["in_config"] for v in home["versions"]] == [True, False, False]
    assert not any(v["in_config"] for v in other["versions"])

    latest, sha = x86["skew"]
    assert latest["kind"] == "latest" and latest["by_region"] == {HOME: 3, OTHER: 2}
    assert latest["message"] == f"latest versions differ: {HOME} is at 3, {OTHER} at 2"
    assert sha["kind"] == "code_sha256" and sha["version"] == 1
    assert sha["by_region"] == {
        HOME: sha256_b64(zip_bytes("A = 1\n")),
        OTHER: sha256_b64(zip_bytes("A = 'other'\n")),
    }
    assert sha["message"].startswith("version 1 has different CodeSha256: ")
    assert sha256_b64(zip_bytes("A = 1\n")) + f" in {HOME}" in sha["message"]
    # Version 2 is the same zip in both regions: no skew for it.
    assert arm["skew"] == []
    assert arm["regions"][HOME]["latest"] == arm["regions"][OTHER]["latest"] == 1


def test_skew_between_regions_as_a_table(skewed: LayerSettings, endpoint: str) -> None:
    report = read_all_regions(skewed, (HOME, OTHER), lambda_for(skewed, endpoint))
    lines = report.text().splitlines()
    a, b, c, other_a = (
        sha256_b64(zip_bytes(p))[:SHORT] for p in ("A = 1\n", "B = 2\n", "C = 3\n", "A = 'other'\n")
    )
    start = lines.index("layer demo-layer (x86_64)")
    header, v3, v2, v1 = (line.split() for line in lines[start + 1 : start + 5])
    assert header == ["version", HOME, OTHER]
    assert v3 == ["3", c + "*", "-"]
    assert v2 == ["2", b, b]
    assert v1 == ["1", a, other_a]
    assert f"skew: latest versions differ: {HOME} is at 3, {OTHER} at 2" in lines
    assert (
        f"skew: version 1 has different CodeSha256: {a} in {HOME}, {other_a} in {OTHER}"
    ) in lines
    arm = lines.index("layer demo-layer-arm64 (arm64)")
    assert (
        f"in step: {HOME} and {OTHER} are at 1, with the same CodeSha256 for each version"
        in (lines[arm:])
    )
    assert f"*: used by stage prod in {skewed.chalice_config} (home region {HOME})" in lines


def test_a_region_that_fails_is_named_and_the_others_listed(
    skewed: LayerSettings, endpoint: str
) -> None:
    made = lambda_for(skewed, endpoint)
    injector = FaultInjector().add("ListLayerVersions", "access-denied", times=99)

    def clients(region: str) -> Any:
        lam = made(region)
        if region == OTHER:
            injector.attach(lam)
        return lam

    report = read_all_regions(skewed, (HOME, OTHER), clients)
    assert injector.count("ListLayerVersions") == 2  # both layers, in that region only
    assert list(report.unreadable) == [OTHER]
    assert "access denied on ListLayerVersions" in report.unreadable[OTHER]
    # What could be read is still there; an unknown region is not skew.
    x86 = report.layers[0]
    assert [r.latest for r in x86.reads] == [3, None]
    assert x86.skew() == ()
    text = report.text()
    assert f"{OTHER}: not read: access denied on ListLayerVersions" in text
    assert "      3  " in text and "?" in text.splitlines()[2]
    data = json.loads(report.json())
    assert data["layers"][0]["regions"][OTHER]["error"].startswith("access denied")
    with pytest.raises(LayerError, match=rf"could not be read in 1 of 2 regions.*{OTHER}: access"):
        report.check()


def test_a_region_whose_clients_cannot_be_made_is_named(
    skewed: LayerSettings, endpoint: str
) -> None:
    made = lambda_for(skewed, endpoint)

    def clients(region: str) -> Any:
        if region == OTHER:
            # What make_clients raises, e.g. for credentials that do not resolve there.
            raise LayerError("no AWS credentials found: configure a profile")
        return made(region)

    report = read_all_regions(skewed, (HOME, OTHER), clients)
    assert report.unreadable == {OTHER: "no AWS credentials found: configure a profile"}
    assert [r.latest for r in report.layers[1].reads] == [1, None]


def test_nothing_published_anywhere_is_one_error(tmp_path: Path, endpoint: str) -> None:
    settings = make_settings(tmp_path, regions=[HOME, OTHER])
    report = read_all_regions(settings, (HOME, OTHER), lambda_for(settings, endpoint))
    with pytest.raises(LayerError, match=rf"no published versions in {HOME} and {OTHER}"):
        report.check()


def test_a_region_with_no_versions_is_skew(tmp_path: Path, endpoint: str) -> None:
    settings = make_settings(tmp_path, regions=[HOME, OTHER, "eu-west-1"])
    for region in (HOME, "eu-west-1"):
        publish(endpoint, region, "demo-layer", "A = 1\n")
    report = read_all_regions(settings, settings.regions, lambda_for(settings, endpoint))
    report.check()
    (skew,) = report.layers[0].skew()
    assert skew.line() == f"latest versions differ: {HOME} and eu-west-1 are at 1, {OTHER} has none"


def test_regions_are_read_concurrently_within_the_bound(tmp_path: Path, endpoint: str) -> None:
    regions = (HOME, OTHER, "eu-west-1")
    for region in regions:
        publish(endpoint, region, "demo-layer", "A = 1\n")
    made: Callable[[str], Any] | None = None
    active, peak, lock = [0], [0], threading.Lock()

    def counting(region: str) -> Any:
        assert made is not None
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            lam = made(region)
            lam.list_layer_versions(LayerName="demo-layer")
            return lam
        finally:
            with lock:
                active[0] -= 1

    one = make_settings(tmp_path / "one", regions=list(regions), publish_concurrency=1)
    made = lambda_for(one, endpoint)
    read_all_regions(one, regions, counting).check()
    assert peak[0] == 1

    # With room for two, two regions are read at the same time: each waits for the other.
    two = make_settings(tmp_path / "two", regions=[HOME, OTHER], publish_concurrency=2)
    made = lambda_for(two, endpoint)
    both = threading.Barrier(2, timeout=30)

    def together(region: str) -> Any:
        assert made is not None
        both.wait()
        return made(region)

    report = read_all_regions(two, (HOME, OTHER), together)
    assert [r.latest for r in report.layers[0].reads] == [1, 1]
