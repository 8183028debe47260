"""Transient AWS faults on every call the deploy makes, against a moto server.

Each AWS request of the deploy is answered once by an injected fault (throttling,
HTTP 500, HTTP 503, a dropped connection); the deploy must still succeed with exactly
one new layer version, because botocore's retry mode (configured by
`session.make_clients`, the same clients the transfer manager uses) retries it. Past
the retry budget the deploy fails with one ``error:`` line naming the operation, and
nothing downstream of the failed step happens.

Set ``LAYER_FAULT_REPORT=<file>`` to get the faults injected per operation as JSON
(docs/reliability.md quotes it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from invoke import Context, Exit
from support import fakes
from support.fakes import make_settings, sha256_b64, write_layer
from support.faults import KINDS, FaultInjector, client, no_backoff

from layer_tasks.aws.session import Clients, make_clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy import run as dep
from layer_tasks.model.manifest import Manifest
from layer_tasks.tasks._common import layer_task

REPORT: Counter[str] = Counter()

# What each scenario's deploy calls (asserted: a call we expected but did not see fails).
FRESH = [
    "HeadBucket",
    "CreateBucket",
    "PutPublicAccessBlock",
    "PutBucketEncryption",
    "PutBucketLifecycleConfiguration",
    "ListLayerVersions",
    "HeadObject",
    "PutObject",
    "PublishLayerVersion",
]
EXISTING = [
    "HeadBucket",
    "GetPublicAccessBlock",
    "GetBucketEncryption",
    "GetBucketLifecycleConfiguration",
    "PutBucketLifecycleConfiguration",
    "ListLayerVersions",
    "GetLayerVersion",
    "HeadObject",
    "PutObject",
    "PublishLayerVersion",
]
MULTIPART = ["CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"]
FUNCTION = ["GetFunctionConfiguration", "UpdateFunctionConfiguration", "GetFunction"]
SCENARIOS = {"fresh": FRESH, "existing": EXISTING, "multipart": MULTIPART, "function": FUNCTION}


@pytest.fixture(scope="module", autouse=True)
def _fault_report() -> Iterator[None]:
    """With LAYER_FAULT_REPORT set, add this module's fault counts to that JSON file."""
    yield
    report = os.environ.get("LAYER_FAULT_REPORT")
    if report:
        old = json.loads(Path(report).read_text()) if Path(report).exists() else {}
        for op, n in REPORT.items():
            old[op] = old.get(op, 0) + n
        Path(report).write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")


def big_layer(settings: LayerSettings, size: int) -> Manifest:
    """A stored (uncompressed) zip above the 16 MiB multipart threshold."""
    manifest = write_layer(settings)
    payload = os.urandom(size)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        info = zipfile.ZipInfo("python/blob.bin", date_time=(1980, 1, 1, 0, 0, 0))
        zf.writestr(info, payload)
    data = buf.getvalue()
    settings.zip_path.write_bytes(data)
    manifest = dataclasses.replace(
        manifest,
        code_sha256=sha256_b64(data),
        zip_bytes=len(data),
        unzipped_bytes=size,
        requirements_sha256=hashlib.sha256(data[:64]).hexdigest(),
    )
    manifest.write(settings.manifest_path)
    return manifest


def create_function(endpoint: str, arn: str) -> None:
    fakes.create_function(client(endpoint, "lambda"), client(endpoint, "iam"), [arn])


def versions(endpoint: str, name: str = "demo-layer") -> list[dict[str, Any]]:
    return list(client(endpoint, "lambda").list_layer_versions(LayerName=name)["LayerVersions"])


def quiet(_line: str) -> None:
    pass


def setup(scenario: str, tmp_path: Path, endpoint: str) -> tuple[LayerSettings, Manifest]:
    """Bring the server and project to the scenario's starting point (no faults)."""
    settings = make_settings(tmp_path, lifecycle_days=30)
    write_layer(settings, "VALUE = 1\n")
    if scenario != "fresh":
        first = dep.deploy(
            settings, make_clients(settings, endpoint_url=endpoint), build=False, log=quiet
        )
        if scenario == "existing":
            settings = dataclasses.replace(settings, lifecycle_days=45)  # the rule changes too
        if scenario == "function":
            assert first.arn
            create_function(endpoint, first.arn)
            settings = dataclasses.replace(settings, function="api")
    if scenario == "multipart":
        return settings, big_layer(settings, 17 * 1024 * 1024)
    return settings, write_layer(settings, "VALUE = 2\n")


def faulted_clients(settings: LayerSettings, endpoint: str, injector: FaultInjector) -> Clients:
    clients = make_clients(settings, endpoint_url=endpoint)
    injector.attach(clients.s3, clients.uploads, clients.lambda_)
    return clients


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_one_fault_on_every_call_is_retried_and_the_deploy_converges(
    scenario: str, kind: str, tmp_path: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, manifest = setup(scenario, tmp_path, endpoint)
    before = len(versions(endpoint))
    asked = no_backoff(monkeypatch)
    injector = FaultInjector()
    for op in SCENARIOS[scenario]:
        injector.add(op, kind, times=1)

    outcome = dep.deploy(
        settings, faulted_clients(settings, endpoint, injector), build=False, log=quiet
    )

    # Every call of the scenario was hit once, and botocore retried each of them.
    assert {op: injector.count(op) for op in SCENARIOS[scenario]} == dict.fromkeys(
        SCENARIOS[scenario], 1
    )
    assert len(asked) >= len(SCENARIOS[scenario])
    REPORT.update({op: 1 for op in SCENARIOS[scenario]})
    # Exactly one new version, holding the local zip, and the outputs point at it.
    after = versions(endpoint)
    assert len(after) == before + 1
    assert outcome.published and outcome.arn == after[0]["LayerVersionArn"]
    detail = client(endpoint, "lambda").get_layer_version(
        LayerName="demo-layer", VersionNumber=after[0]["Version"]
    )
    assert detail["Content"]["CodeSha256"] == manifest.code_sha256
    assert settings.arn_file.read_text().strip() == outcome.arn
    config = json.loads(settings.chalice_config.read_text())
    assert config["stages"]["prod"]["layers"] == [outcome.arn]
    s3 = client(endpoint, "s3")
    assert s3.list_multipart_uploads(Bucket=settings.bucket).get("Uploads", []) == []
    if scenario == "fresh":
        assert all(
            s3.get_public_access_block(Bucket=settings.bucket)[
                "PublicAccessBlockConfiguration"
            ].values()
        )
        assert s3.get_bucket_encryption(Bucket=settings.bucket)
    if scenario == "function":
        layers = client(endpoint, "lambda").get_function_configuration(FunctionName="api")["Layers"]
        assert [layer["Arn"] for layer in layers] == [outcome.arn]


# --- beyond the retry budget --------------------------------------------------------------

# (operation, scenario, kind, what the error line must name). The kinds rotate so every
# kind also appears past the budget.
BEYOND = [
    ("HeadBucket", "fresh", "http500", "HeadBucket"),
    ("CreateBucket", "fresh", "throttle", "CreateBucket"),
    ("PutPublicAccessBlock", "fresh", "http503", "PutPublicAccessBlock"),
    ("PutBucketEncryption", "fresh", "dropped", "PutBucketEncryption"),
    ("PutBucketLifecycleConfiguration", "fresh", "throttling", "PutBucketLifecycleConfiguration"),
    ("ListLayerVersions", "fresh", "throttle", "ListLayerVersions"),
    ("HeadObject", "fresh", "http500", "HeadObject"),
    # The first PutObject of a deploy takes its lock; the upload's are multipart below.
    ("PutObject", "fresh", "http503", "cannot take the deploy lock"),
    ("GetPublicAccessBlock", "existing", "dropped", "GetPublicAccessBlock"),
    ("GetBucketEncryption", "existing", "http500", "GetBucketEncryption"),
    (
        "GetBucketLifecycleConfiguration",
        "existing",
        "throttling",
        "GetBucketLifecycleConfiguration",
    ),
    ("GetLayerVersion", "existing", "throttle", "GetLayerVersion"),
    ("PublishLayerVersion", "existing", "http500", "publishing layer demo-layer"),
    ("PublishLayerVersion", "existing", "dropped", "PublishLayerVersion"),
    ("CreateMultipartUpload", "multipart", "throttle", "upload to s3://"),
    ("UploadPart", "multipart", "dropped", "UploadPart failed after retries"),
    ("CompleteMultipartUpload", "multipart", "http503", "upload to s3://"),
    ("GetFunctionConfiguration", "function", "http500", "GetFunctionConfiguration"),
    ("UpdateFunctionConfiguration", "function", "throttle", "updating the layers of function"),
]
# Where each operation sits in the pipeline: a failure there must leave everything
# after it undone.
UPLOAD_OPS = {"HeadObject", "PutObject", *MULTIPART}
BEFORE_PUBLISH = {*FRESH, *EXISTING, *MULTIPART} - {"PublishLayerVersion"}


@pytest.mark.parametrize(
    ("operation", "scenario", "kind", "names"), BEYOND, ids=[f"{b[0]}-{b[2]}" for b in BEYOND]
)
def test_faults_beyond_the_retry_budget_fail_with_one_line_and_nothing_downstream(
    operation: str,
    scenario: str,
    kind: str,
    names: str,
    tmp_path: Path,
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings, _ = setup(scenario, tmp_path, endpoint)
    arn_before = settings.arn_file.read_bytes() if settings.arn_file.exists() else None
    config_before = settings.chalice_config.read_bytes()
    versions_before = versions(endpoint)
    fn_before = (
        client(endpoint, "lambda").get_function_configuration(FunctionName="api")["Layers"]
        if scenario == "function"
        else None
    )
    no_backoff(monkeypatch)
    injector = FaultInjector().add(operation, kind, times=settings.max_attempts + 2)
    clients = faulted_clients(settings, endpoint, injector)

    @layer_task
    def run(c: Context) -> None:
        dep.deploy(settings, clients, build=False, log=quiet)

    with pytest.raises(Exit) as failed:
        run(Context())

    # Every attempt botocore allows was made, then one error line naming the step.
    # (UploadPart: the parts go in parallel, so the other part may be hit too.)
    assert injector.count(operation) == settings.max_attempts or (
        operation == "UploadPart" and injector.count(operation) > settings.max_attempts
    )
    REPORT[operation] += injector.count(operation)
    print(f"{operation}/{kind}: {failed.value.message}")
    assert failed.value.code == 1
    message = str(failed.value.message)
    assert message.startswith("error: ") and "\n" not in message
    assert names in message, message
    if operation in BEFORE_PUBLISH:
        assert versions(endpoint) == versions_before  # no publish after a failed step
        assert (
            settings.arn_file.read_bytes() if settings.arn_file.exists() else None
        ) == arn_before
        assert settings.chalice_config.read_bytes() == config_before
    if operation in UPLOAD_OPS or operation == "PublishLayerVersion":
        s3 = client(endpoint, "s3")
        # A failed multipart upload is aborted, not left to the lifecycle rule.
        assert s3.list_multipart_uploads(Bucket=settings.bucket).get("Uploads", []) == []
    if operation == "PublishLayerVersion" and kind != "dropped":
        assert versions(endpoint) == versions_before
        assert settings.chalice_config.read_bytes() == config_before
    if scenario == "function":
        # The stage config is written before the function is touched; the function keeps
        # its layers when its update failed.
        layers = client(endpoint, "lambda").get_function_configuration(FunctionName="api")["Layers"]
        assert layers == fn_before
