"""Every way boto3's credential chain can fail while it resolves the credentials is one
line (a `CredentialsProblem`), before any request: nothing else reaches the user."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.fakes import make_settings

from layer_tasks.aws.errors import CredentialsProblem
from layer_tasks.aws.session import check_credentials, make_session


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    (tmp_path / "credentials").write_text("")
    (tmp_path / "config").write_text("")
    return tmp_path


def _profile(folder: Path, monkeypatch: pytest.MonkeyPatch, output: str | None) -> None:
    """A profile whose credential_process prints ``output``, or fails (None)."""
    script = folder / "creds.sh"
    script.write_text("#!/bin/sh\n" + ("exit 1\n" if output is None else f"echo {output}\n"))
    script.chmod(0o755)
    (folder / "config").write_text(f"[profile p]\ncredential_process = {script}\n")
    monkeypatch.setenv("AWS_PROFILE", "p")


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        # A key without its secret (botocore's PartialCredentialsError).
        (
            lambda f, m: m.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            "Partial credentials found in env, missing: AWS_SECRET_ACCESS_KEY",
        ),
        # A credentials file with half of a key pair.
        (
            lambda f, m: (f / "credentials").write_text("[default]\naws_access_key_id = AKIA\n"),
            "Partial credentials found in shared-credentials-file",
        ),
        # A credential_process that fails (CredentialRetrievalError) ...
        (lambda f, m: _profile(f, m, None), "Error when retrieving credentials"),
        # ... or prints no JSON (json's JSONDecodeError, a ValueError).
        (lambda f, m: _profile(f, m, "notjson"), "Expecting value"),
    ],
    ids=["key-without-secret", "file-half-a-pair", "process-fails", "process-not-json"],
)
def test_a_chain_that_fails_to_resolve_is_one_line(
    setup: object, said: str, no_keys: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(no_keys, monkeypatch)  # type: ignore[operator]
    session = make_session(make_settings(no_keys, region="us-east-1"))
    with pytest.raises(CredentialsProblem) as info:
        check_credentials(session)
    message = str(info.value)
    assert message.startswith("the AWS credentials could not be resolved (")
    assert said in message and "\n" not in message
