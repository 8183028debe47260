"""The bucket: created private, encrypted, TLS-only; existing buckets reported, not changed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from support.fakes import moto_clients

from layer_tasks.aws import s3
from layer_tasks.errors import LayerError


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def test_new_bucket_is_private_encrypted_and_tls_only(aws: None) -> None:
    clients = moto_clients(plain_http=False)
    assert not s3.inspect_bucket(clients.s3, "fresh-bucket", "us-east-1").exists

    notes = s3.create_bucket(clients.s3, "fresh-bucket", "us-east-1")

    assert notes == []
    pab = clients.s3.get_public_access_block(Bucket="fresh-bucket")
    assert pab["PublicAccessBlockConfiguration"] == s3.PUBLIC_ACCESS_BLOCK
    assert all(s3.PUBLIC_ACCESS_BLOCK.values()) and len(s3.PUBLIC_ACCESS_BLOCK) == 4
    enc = clients.s3.get_bucket_encryption(Bucket="fresh-bucket")
    rule = enc["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policy = json.loads(clients.s3.get_bucket_policy(Bucket="fresh-bucket")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert "arn:aws:s3:::fresh-bucket/*" in statement["Resource"]
    state = s3.inspect_bucket(clients.s3, "fresh-bucket", "us-east-1")
    assert state.exists and state.differences == ()


def test_kms_key_gives_sse_kms_default_encryption(aws: None) -> None:
    clients = moto_clients(plain_http=True)
    s3.create_bucket(
        clients.s3, "kms-bucket", "us-east-1", kms_key_id="alias/layers", plain_http=True
    )
    rule = clients.s3.get_bucket_encryption(Bucket="kms-bucket")[
        "ServerSideEncryptionConfiguration"
    ]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "alias/layers",
    }


def test_plain_http_endpoint_skips_tls_policy_and_says_so(aws: None) -> None:
    clients = moto_clients(plain_http=True)
    assert clients.plain_http
    notes = s3.create_bucket(clients.s3, "http-bucket", "us-east-1", plain_http=True)
    assert any("TLS-only bucket policy skipped" in n for n in notes)
    with pytest.raises(ClientError, match="NoSuchBucketPolicy"):
        clients.s3.get_bucket_policy(Bucket="http-bucket")
    # Still private and encrypted.
    assert clients.s3.get_public_access_block(Bucket="http-bucket")
    assert clients.s3.get_bucket_encryption(Bucket="http-bucket")


def test_bucket_outside_us_east_1_gets_its_location(aws: None) -> None:
    clients = moto_clients(plain_http=True, region="eu-west-1")
    s3.create_bucket(clients.s3, "eu-bucket", "eu-west-1", plain_http=True)
    location = clients.s3.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"]
    assert location == "eu-west-1"


def test_existing_bucket_differences_are_reported(aws: None) -> None:
    raw = boto3.client("s3", region_name="us-east-1")
    raw.create_bucket(Bucket="old-bucket")
    state = s3.inspect_bucket(raw, "old-bucket", "us-east-1")
    assert state.exists
    text = " | ".join(state.differences)
    assert "no public access block" in text
    assert "aws:SecureTransport" in text
    # Inspecting changes nothing.
    with pytest.raises(ClientError, match="NoSuchPublicAccessBlockConfiguration"):
        raw.get_public_access_block(Bucket="old-bucket")


def test_creating_a_bucket_you_already_own_is_fine(aws: None) -> None:
    clients = moto_clients(plain_http=True, region="eu-west-1")
    clients.s3.create_bucket(
        Bucket="mine", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    weak = {**s3.PUBLIC_ACCESS_BLOCK, "BlockPublicPolicy": False}
    clients.s3.put_public_access_block(Bucket="mine", PublicAccessBlockConfiguration=weak)
    notes = s3.create_bucket(clients.s3, "mine", "eu-west-1", plain_http=True)
    assert any("already existed" in n for n in notes)
    # A setting it has is left alone; one it lacks entirely (our own CreateBucket whose
    # answer was lost lands here too, see tests/reliability) is added.
    pab = clients.s3.get_public_access_block(Bucket="mine")["PublicAccessBlockConfiguration"]
    assert pab == weak
    assert clients.s3.get_bucket_encryption(Bucket="mine")["ServerSideEncryptionConfiguration"]


def test_bucket_in_another_region_is_a_clear_error(aws: None) -> None:
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="far-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    clients = moto_clients(plain_http=True, region="us-east-1")
    with pytest.raises(LayerError, match=r"is in eu-west-1, not us-east-1.*layer\.region"):
        s3.inspect_bucket(clients.s3, "far-bucket", "us-east-1")
