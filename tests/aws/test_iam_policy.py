"""The IAM policy in the guide covers every AWS operation the tasks call.

Runs deploy (create + unchanged), lifecycle, versions/code-size reads and the S3 usage
listing against moto, records each operation through botocore's event system, maps it to
its IAM action, and checks the guide's policy document grants it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from moto import mock_aws
from support.fakes import make_settings, moto_clients, write_layer

from layer_tasks.aws import deploy_lock, lambda_, s3
from layer_tasks.deploy import run as dep
from layer_tasks.report.compare import Side, resolve

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "s3-layer-deployment-guide.md"

# API operation -> the IAM action(s) AWS authorizes it with.
IAM_ACTIONS = {
    ("s3", "HeadBucket"): ["s3:ListBucket"],
    ("s3", "CreateBucket"): ["s3:CreateBucket"],
    ("s3", "PutPublicAccessBlock"): ["s3:PutBucketPublicAccessBlock"],
    ("s3", "GetPublicAccessBlock"): ["s3:GetBucketPublicAccessBlock"],
    ("s3", "PutBucketEncryption"): ["s3:PutEncryptionConfiguration"],
    ("s3", "GetBucketEncryption"): ["s3:GetEncryptionConfiguration"],
    ("s3", "PutBucketPolicy"): ["s3:PutBucketPolicy"],
    ("s3", "GetBucketPolicy"): ["s3:GetBucketPolicy"],
    ("s3", "GetBucketLifecycleConfiguration"): ["s3:GetLifecycleConfiguration"],
    ("s3", "PutBucketLifecycleConfiguration"): ["s3:PutLifecycleConfiguration"],
    ("s3", "HeadObject"): ["s3:GetObject"],
    ("s3", "GetObject"): ["s3:GetObject"],
    # A delete conditional on an ETag (the deploy lock's release) also needs GetObject.
    ("s3", "DeleteObject"): ["s3:DeleteObject", "s3:GetObject"],
    ("s3", "PutObject"): ["s3:PutObject"],
    ("s3", "CreateMultipartUpload"): ["s3:PutObject"],
    ("s3", "UploadPart"): ["s3:PutObject"],
    ("s3", "CompleteMultipartUpload"): ["s3:PutObject"],
    ("s3", "AbortMultipartUpload"): ["s3:AbortMultipartUpload"],
    ("s3", "ListObjectsV2"): ["s3:ListBucket"],
    # Lambda reads the object with the caller's permissions when publishing from S3.
    ("lambda", "PublishLayerVersion"): [
        "lambda:PublishLayerVersion",
        "s3:GetObject",
        "s3:GetObjectVersion",
    ],
    ("lambda", "ListLayerVersions"): ["lambda:ListLayerVersions"],
    ("lambda", "GetLayerVersion"): ["lambda:GetLayerVersion"],
    ("lambda", "DeleteLayerVersion"): ["lambda:DeleteLayerVersion"],
    ("lambda", "GetFunctionConfiguration"): ["lambda:GetFunctionConfiguration"],
    ("lambda", "UpdateFunctionConfiguration"): ["lambda:UpdateFunctionConfiguration"],
}


def _policy() -> dict[str, Any]:
    text = GUIDE.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    policies = [json.loads(b) for b in blocks if '"Statement"' in b]
    assert len(policies) == 1, "the guide must hold exactly one IAM policy JSON block"
    return policies[0]


def _granted(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        found = statement["Action"]
        actions.update([found] if isinstance(found, str) else found)
    return actions


def test_policy_is_minimal_json_without_wildcard_actions() -> None:
    granted = _granted(_policy())
    assert granted
    assert not [a for a in granted if "*" in a]


def test_policy_grants_every_operation_the_tasks_call(tmp_path: Path) -> None:
    calls: set[tuple[str, str]] = set()

    def record(model: Any, **_: Any) -> None:
        calls.add((model.service_model.endpoint_prefix, model.name))

    with mock_aws():
        clients = moto_clients(plain_http=False)
        for client in (clients.s3, clients.lambda_):
            client.meta.events.register("before-call", record)
        settings = make_settings(tmp_path)
        write_layer(settings)
        # Over https the TLS policy would block moto's uploads (moto ignores the
        # Deny's condition), so create + inspect the bucket first, then drop the policy.
        s3.create_bucket(clients.s3, settings.bucket, clients.region)
        s3.inspect_bucket(clients.s3, settings.bucket, clients.region)
        clients.s3.delete_bucket_policy(Bucket=settings.bucket)
        dep.deploy(settings, clients, build=False, log=lambda _l: None)
        dep.deploy(settings, clients, build=False, log=lambda _l: None)  # unchanged path
        resolve(Side("version", version=1), settings, clients)  # layer.diff's reads
        s3.ensure_lifecycle(clients.s3, settings.bucket, settings.prefix, settings.name, 7)
        list(lambda_.iter_layer_versions(clients.lambda_, settings.name))
        lambda_.get_layer_version(clients.lambda_, settings.name, 1)
        s3.usage(clients.s3, settings.bucket, settings.prefix, settings.name)
        lambda_.delete_layer_version(clients.lambda_, settings.name, 1)
        # The deploy lock (taken, taken over, refreshed, released) and `layer.unlock`.
        key = deploy_lock.lock_key(settings.prefix, settings.name)
        with deploy_lock.hold(
            clients.s3, settings.bucket, key, wait_seconds=0, stale_after=dt.timedelta(0), log=print
        ):
            deploy_lock.acquire(
                clients.s3,
                settings.bucket,
                key,
                wait_seconds=0,
                stale_after=dt.timedelta(0),
                log=print,
            ).refresh()
        assert deploy_lock.unlock(clients.s3, settings.bucket, key) is not None

    calls.discard(("s3", "DeleteBucketPolicy"))  # the test's own workaround call
    unknown = sorted(op for op in calls if op not in IAM_ACTIONS)
    assert not unknown, f"map these operations to IAM actions: {unknown}"
    needed = {action for op in calls for action in IAM_ACTIONS[op]}
    missing = sorted(needed - _granted(_policy()))
    assert not missing, f"the guide's IAM policy lacks {missing}"
    assert ("lambda", "PublishLayerVersion") in calls
