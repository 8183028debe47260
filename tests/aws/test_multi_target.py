"""Several architectures in several regions from one deploy, against a moto server.

Two regions x two architectures: one bucket per region, one layer per architecture in
each, the same CodeSha256 per architecture everywhere (the local zip's), an SSM
parameter per target, the ARNs file; a region that fails leaves every local file as it
was and is named; `--dry-run` prints every target's plan and changes nothing. ``inv``
runs in this process (`support.cli.inv_here`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from support.cli import inv_here, make_project
from support.faults import FaultInjector, MotoServer, client

from layer_tasks.aws.session import Clients, make_clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import run as deploy
from layer_tasks.errors import LayerError

REGIONS = ("ap-northeast-2", "us-east-1")
ARCHS = ("x86_64", "arm64")
NAMES = {"x86_64": "test-layer", "arm64": "test-layer-arm64"}
SEVERAL = """\
  regions: [ap-northeast-2, us-east-1]
  architectures: [x86_64, arm64]
  bucket: test-layer-{region}
  ssm_parameter: /layers/{name}/{python}/{arch}
"""


def several_targets(root: Path, wheelhouse: Path, extra: str = "") -> Path:
    project = make_project(root, wheelhouse, "alpha==1.0")
    yaml = (project / "invoke.yaml").read_text().replace("  region: us-east-1\n", "")
    yaml = yaml.replace("  bucket: test-layer-bucket\n", "")
    (project / "invoke.yaml").write_text(yaml + SEVERAL + extra)
    return project


def local_sha(project: Path, arch: str) -> str:
    data = (project / "dist" / f"test-layer-{arch}.zip").read_bytes()
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def outputs(project: Path) -> dict[str, bytes | None]:
    paths = [".layer-arn.txt", ".chalice/config.json", "dist/test-layer.arns.json"]
    return {p: (project / p).read_bytes() if (project / p).exists() else None for p in paths}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """Both architectures built once; each test copies the project and reuses the zips."""
    project = several_targets(tmp_path_factory.mktemp("multi") / "p", wheelhouse)
    proc = inv_here(project, "layer.build")
    assert proc.returncode == 0, proc.stderr
    return project


@pytest.fixture
def project(built: Path, server: MotoServer, tmp_path: Path) -> Path:
    """A copy of the built project, and an empty moto server."""
    server.reset()
    return Path(shutil.copytree(built, tmp_path / "p", symlinks=True))


@pytest.mark.slow
def test_two_regions_by_two_architectures(project: Path, server: MotoServer) -> None:
    env = {"AWS_ENDPOINT_URL": server.url}

    first = inv_here(project, "layer.deploy", env=env)

    assert first.returncode == 0, first.stderr
    arns = json.loads((project / "dist" / "test-layer.arns.json").read_text())["layers"]
    assert {(a["architecture"], a["region"]) for a in arns} == {
        (arch, region) for arch in ARCHS for region in REGIONS
    }
    for region in REGIONS:
        s3 = client(server.url, "s3", region)
        assert s3.head_bucket(Bucket=f"test-layer-{region}")["ResponseMetadata"]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=f"test-layer-{region}")["Rules"]
        assert {r["ID"] for r in rules} == {f"layer-tasks-{n}" for n in NAMES.values()}
        lam = client(server.url, "lambda", region)
        ssm = client(server.url, "ssm", region)
        for arch in ARCHS:
            versions = lam.list_layer_versions(LayerName=NAMES[arch])["LayerVersions"]
            assert [v["Version"] for v in versions] == [1]
            assert versions[0]["CompatibleArchitectures"] == [arch]
            got = lam.get_layer_version(LayerName=NAMES[arch], VersionNumber=1)
            assert got["Content"]["CodeSha256"] == local_sha(project, arch)
            parameter = ssm.get_parameter(Name=f"/layers/test-layer/3.12/{arch}")["Parameter"]
            assert parameter["Value"] == got["LayerVersionArn"]
            entry = next(a for a in arns if (a["architecture"], a["region"]) == (arch, region))
            assert entry["arn"] == got["LayerVersionArn"]
    # The home region (the first of regions) and the first architecture feed the stage.
    home = next(a for a in arns if (a["architecture"], a["region"]) == ARCHS[0:1] + REGIONS[0:1])
    assert (project / ".layer-arn.txt").read_text().strip() == home["arn"]
    stage = json.loads((project / ".chalice" / "config.json").read_text())["stages"]["prod"]
    assert stage["layers"] == [home["arn"]]
    assert first.stdout.strip().splitlines()[-1] == home["arn"]

    # Nothing changed: nothing is published, and no parameter is written again.
    before = outputs(project)
    again = inv_here(project, "layer.deploy", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("unchanged, version 1") == 4
    assert outputs(project) == before
    for region in REGIONS:
        ssm = client(server.url, "ssm", region)
        for arch in ARCHS:
            parameter = ssm.get_parameter(Name=f"/layers/test-layer/3.12/{arch}")["Parameter"]
            assert parameter["Version"] == 1


@pytest.mark.slow
def test_dry_run_prints_every_target_and_changes_nothing(project: Path, server: MotoServer) -> None:
    before = outputs(project)

    proc = inv_here(project, "layer.deploy", "--dry-run", env={"AWS_ENDPOINT_URL": server.url})

    assert proc.returncode == 0, proc.stderr
    for arch in ARCHS:
        for region in REGIONS:
            assert f"  {NAMES[arch]} (python3.12, {arch}) in {region}:" in proc.stderr
    assert "  outputs: the ARN of test-layer (python3.12, x86_64) in ap-northeast-2:" in proc.stderr
    # One bucket setup per region; the other architecture's plan uses it.
    assert proc.stderr.count("bucket:    create s3://test-layer-") == 2
    assert proc.stderr.count("set up by the x86_64 in") == 2
    assert outputs(project) == before
    assert client(server.url, "s3").list_buckets()["Buckets"] == []


def region_settings(project: Path, **extra: object) -> LayerSettings:
    import yaml

    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    return LayerSettings.from_mapping({**raw, **extra}, base_dir=project)


def deploy_with_faults(
    project: Path, server: MotoServer, service: str, faults: FaultInjector, force: bool = False
) -> tuple[list[str], LayerError | None]:
    """A deploy of `project` whose us-east-1 ``service`` client has ``faults``."""
    settings = region_settings(project)

    def clients_for(region: str) -> Clients:
        clients = make_clients(
            settings.for_region(region), endpoint_url=server.url, credentials=("testing", "testing")
        )
        if region == "us-east-1":
            faults.attach({"lambda": clients.lambda_, "ssm": clients.ssm}[service])
        return clients

    lines: list[str] = []
    try:
        deploy.deploy(
            settings.for_region(REGIONS[0]),
            clients_for(REGIONS[0]),
            force=force,
            clients_for=clients_for,
            log=lines.append,
        )
    except LayerError as exc:
        return lines, exc
    return lines, None


@pytest.mark.slow
def test_a_failing_region_is_named_and_no_local_file_changes(
    project: Path, server: MotoServer
) -> None:
    assert inv_here(project, "layer.deploy", env={"AWS_ENDPOINT_URL": server.url}).returncode == 0
    before = outputs(project)
    assert before[".layer-arn.txt"] is not None
    # Forced, so every target publishes; us-east-1's Lambda always answers 500.
    faults = FaultInjector().add("PublishLayerVersion", "http500", times=1000)

    lines, failed = deploy_with_faults(project, server, "lambda", faults, force=True)

    assert failed is not None
    message = str(failed)
    assert "failed for 2 of 4 targets" in message
    assert (
        "x86_64 in us-east-1: publishing layer test-layer from s3://test-layer-us-east-1" in message
    )
    assert "arm64 in us-east-1: not run" in message
    assert "left as they were" in message
    # The ARN file, the config and the ARNs file are byte-identical to before.
    assert outputs(project) == before
    # The failing target was planned again and retried once before it counted as failed.
    assert sum("[x86_64 in us-east-1] failed (" in line for line in lines) == 1
    # The other region published, and says so.
    lam = client(server.url, "lambda", "ap-northeast-2")
    for arch in ARCHS:
        assert len(lam.list_layer_versions(LayerName=NAMES[arch])["LayerVersions"]) == 2
    assert sum(line.startswith("published: ") for line in lines) == 2
    east = client(server.url, "lambda", "us-east-1")
    assert len(east.list_layer_versions(LayerName="test-layer")["LayerVersions"]) == 1


@pytest.mark.slow
def test_a_region_that_cannot_be_read_is_named_before_any_change(
    project: Path, server: MotoServer
) -> None:
    faults = FaultInjector().add("ListLayerVersions", "access-denied", times=1000)

    _lines, failed = deploy_with_faults(project, server, "lambda", faults)

    assert failed is not None
    assert str(failed).startswith("x86_64 in us-east-1: access denied on ListLayerVersions")
    assert client(server.url, "s3").list_buckets()["Buckets"] == []
    for region in REGIONS:
        lam = client(server.url, "lambda", region)
        assert lam.list_layer_versions(LayerName="test-layer")["LayerVersions"] == []


@pytest.mark.slow
def test_a_forced_retry_after_its_publish_does_not_publish_again(
    project: Path, server: MotoServer
) -> None:
    assert inv_here(project, "layer.deploy", env={"AWS_ENDPOINT_URL": server.url}).returncode == 0
    # us-east-1's first PutParameter attempt fails past botocore's retries (5 attempts),
    # after its publish; the target is planned again and retried.
    faults = FaultInjector().add("PutParameter", "http503", times=5)

    lines, failed = deploy_with_faults(project, server, "ssm", faults, force=True)

    assert failed is None, failed
    assert any("[x86_64 in us-east-1] failed (" in line for line in lines)
    for region in REGIONS:
        lam = client(server.url, "lambda", region)
        versions = lam.list_layer_versions(LayerName="test-layer")["LayerVersions"]
        assert [v["Version"] for v in versions] == [2, 1], region  # one forced publish each
        ssm = client(server.url, "ssm", region)
        value = ssm.get_parameter(Name="/layers/test-layer/3.12/x86_64")["Parameter"]["Value"]
        assert value.endswith(":layer:test-layer:2")


@pytest.mark.slow
def test_skewed_version_numbers_are_aligned_or_reported(project: Path, server: MotoServer) -> None:
    # us-east-1 already has one version of test-layer (another zip): one ahead.
    s3 = client(server.url, "s3", "us-east-1")
    s3.create_bucket(Bucket="seed-bucket")
    s3.put_object(Bucket="seed-bucket", Key="old.zip", Body=b"PK\x05\x06" + b"\0" * 18)
    client(server.url, "lambda", "us-east-1").publish_layer_version(
        LayerName="test-layer", Content={"S3Bucket": "seed-bucket", "S3Key": "old.zip"}
    )
    env = {"AWS_ENDPOINT_URL": server.url}

    reported = inv_here(project, "layer.deploy", "--dry-run", env=env)
    assert reported.returncode == 0, reported.stderr
    assert (
        "versions: test-layer: latest versions differ: us-east-1 is at 1, "
        "ap-northeast-2 has none; layer.align_versions: true lines them up" in reported.stderr
    )

    yaml = (project / "invoke.yaml").read_text() + "  align_versions: true\n"
    (project / "invoke.yaml").write_text(yaml)
    aligned = inv_here(project, "layer.deploy", env=env)

    assert aligned.returncode == 0, aligned.stderr
    tag = "[x86_64 in ap-northeast-2]"
    assert f"{tag} publish: version 1 (aligning the regions' numbers)" in aligned.stderr
    assert f"{tag} publish: version 2\n" in aligned.stderr
    for region in REGIONS:
        lam = client(server.url, "lambda", region)
        versions = lam.list_layer_versions(LayerName="test-layer")["LayerVersions"]
        assert max(v["Version"] for v in versions) == 2, region
        latest = lam.get_layer_version(LayerName="test-layer", VersionNumber=2)
        assert latest["Content"]["CodeSha256"] == local_sha(project, "x86_64")


def test_build_reports_and_budget_work_per_architecture(project: Path) -> None:
    for arch in ARCHS:
        manifest = json.loads((project / "dist" / f"test-layer-{arch}.manifest.json").read_text())
        assert (manifest["name"], manifest["architecture"]) == (NAMES[arch], arch)
        assert manifest["code_sha256"] == local_sha(project, arch)

    report = inv_here(project, "layer.size-report", "--json")
    assert report.returncode == 0, report.stderr
    assert [r["name"] for r in json.loads(report.stdout)] == [NAMES[a] for a in ARCHS]
    budget = inv_here(project, "layer.budget")
    assert budget.returncode == 0, budget.stderr
    assert "budget ok (x86_64)" in budget.stdout and "budget ok (arm64)" in budget.stdout

    one = inv_here(project, "layer.build", "--architecture", "arm64")
    assert one.returncode == 0, one.stderr
    assert one.stdout.count(".zip:") == 1 and "test-layer-arm64.zip" in one.stdout
    wrong = inv_here(project, "layer.build", "--architecture", "s390x")
    assert wrong.returncode == 1
    assert wrong.stderr.strip().splitlines() == [
        "error: --architecture 's390x' is not one of layer.architectures (x86_64, arm64)"
    ]


@pytest.mark.slow
def test_local_sandbox_keeps_its_own_arns_file_and_summary(project: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    try:
        proc = inv_here(project, "layer.deploy", "--local", env=env)
        assert proc.returncode == 0, proc.stderr
    finally:
        inv_here(project, "local.down")
    sandbox_arns = project / ".state" / "sandbox" / "test-layer.arns.json"
    layers = json.loads(sandbox_arns.read_text())["layers"]
    assert len(layers) == 4
    # The project's own outputs are untouched by a sandbox run.
    assert not (project / "dist" / "test-layer.arns.json").exists()
    assert not (project / ".layer-arn.txt").exists()
    text = summary.read_text()
    for arch in ARCHS:
        for region in REGIONS:
            assert f"| {arch} in {region} | published `arn:aws:lambda:{region}:" in text


def set_regions(project: Path, *regions: str) -> None:
    yaml = (project / "invoke.yaml").read_text()
    start = yaml.index("  regions: ")
    end = yaml.index("\n", start)
    (project / "invoke.yaml").write_text(
        f"{yaml[:start]}  regions: [{', '.join(regions)}]{yaml[end:]}"
    )


@pytest.mark.slow
def test_alignment_counts_only_the_regions_that_publish(project: Path, server: MotoServer) -> None:
    env = {"AWS_ENDPOINT_URL": server.url}
    # us-east-1 already holds this zip (version 1); ap-northeast-2 has nothing yet.
    set_regions(project, "us-east-1")
    assert inv_here(project, "layer.deploy", env=env).returncode == 0
    set_regions(project, "us-east-1", "ap-northeast-2")  # the home region stays us-east-1
    (project / "invoke.yaml").write_text(
        (project / "invoke.yaml").read_text() + "  align_versions: true\n"
    )

    proc = inv_here(project, "layer.deploy", env=env)

    assert proc.returncode == 0, proc.stderr
    # Both end on version 1: us-east-1 unchanged, ap-northeast-2 publishes once, no filler.
    assert "aligning" not in proc.stderr
    for region in REGIONS:
        lam = client(server.url, "lambda", region)
        for arch in ARCHS:
            versions = lam.list_layer_versions(LayerName=NAMES[arch])["LayerVersions"]
            assert [v["Version"] for v in versions] == [1], (region, arch)


@pytest.mark.slow
def test_regions_and_architectures_from_the_environment(
    built: Path, server: MotoServer, tmp_path: Path, wheelhouse: Path
) -> None:
    server.reset()
    project = make_project(tmp_path / "env", wheelhouse, "alpha==1.0")  # one target in YAML
    env = {
        "AWS_ENDPOINT_URL": server.url,
        "INVOKE_LAYER_REGIONS": "ap-northeast-2,us-east-1",
        "INVOKE_LAYER_ARCHITECTURES": "x86_64,arm64",
    }

    proc = inv_here(project, "layer.deploy", "--dry-run", env=env)

    assert proc.returncode == 0, proc.stderr
    for arch in ARCHS:
        for region in REGIONS:
            assert f"  {NAMES[arch]} (python3.12, {arch}) in {region}:" in proc.stderr
    # The YAML's one bucket gets -{region}: a bucket per region.
    assert "bucket:    create s3://test-layer-bucket-us-east-1 in us-east-1" in proc.stderr


def test_an_architecture_flag_outside_a_one_item_list_builds_it(project: Path) -> None:
    yaml = (project / "invoke.yaml").read_text().replace("[x86_64, arm64]", "[x86_64]")
    (project / "invoke.yaml").write_text(yaml)

    proc = inv_here(project, "layer.build", "--architecture", "arm64")

    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((project / "dist" / "test-layer.manifest.json").read_text())
    assert manifest["architecture"] == "arm64"
