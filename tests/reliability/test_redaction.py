"""No secret in anything a task prints or writes, for each way a secret was seen leaking.

Each case runs ``inv`` as a user types it, plain and with ``--debug`` (botocore, urllib3
and invoke log at DEBUG then: headers, URLs, tokens), and then searches stdout, stderr
and every file under the project (its state folder and caches included) for the
secret's core: a run of letters and digits that every printed form keeps (raw,
``repr``/``bytes`` escapes, JSON, percent-encoding), so one absent core means no form
of the secret is there.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.cli import inv, write_requirements
from support.faults import MotoServer

TOKEN_CORE = "TokenCoreQ7w8e9r0"
SECRET_CORE = "SecretKeyCoreZx9Yw8"
PASSWORD_CORE = "PassCoreM3n4b5"
TOKEN = f"FwoGZXIvYXdzE+{TOKEN_CORE}/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="
SECRET = f"wJalrXUtnFEMI/{SECRET_CORE}/bPxRfiCY"
# '@' and '/' in a password are percent-encoded in the URL; the decoded form is printed too.
PASSWORD = f"p%40ss%2F{PASSWORD_CORE}"
CORES = (TOKEN_CORE, SECRET_CORE, PASSWORD_CORE)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Case:
    id: str
    argv: list[str]
    env: dict[str, str]
    expect: str  # in the error line
    requirements: list[str] = field(default_factory=lambda: ["alpha==1.0"])
    no_index: bool = True  # the requirements file's own --no-index --find-links wheelhouse


def cases(moto: str) -> list[Case]:
    port = closed_port()
    moto_port = moto.rsplit(":", 1)[1]
    return [
        Case(
            "session-token-trailing-newline",
            ["layer.versions"],
            {"AWS_SESSION_TOKEN": TOKEN + "\n", "AWS_ENDPOINT_URL": moto},
            "the environment variable AWS_SESSION_TOKEN contains a control character",
        ),
        Case(
            "region-trailing-newline",
            ["layer.versions"],
            {
                "AWS_SESSION_TOKEN": TOKEN,
                "AWS_DEFAULT_REGION": "us-east-1\n",
                "INVOKE_LAYER_REGION": "",
                "AWS_ENDPOINT_URL": moto,
            },
            "the environment variable AWS_DEFAULT_REGION contains a control character",
        ),
        Case(
            "endpoint-url-with-password",
            ["layer.versions"],
            {
                "AWS_SESSION_TOKEN": TOKEN,
                "AWS_ENDPOINT_URL": f"http://user:{PASSWORD}@127.0.0.1:{moto_port}",
            },
            "has no published versions",
        ),
        Case(
            "endpoint-url-with-password-unreachable",
            ["layer.versions"],
            {
                "AWS_SESSION_TOKEN": TOKEN,
                "AWS_ENDPOINT_URL": f"http://user:{PASSWORD}@127.0.0.1:{port}",
                "INVOKE_LAYER_MAX_ATTEMPTS": "1",
            },
            "http://user:***@127.0.0.1",
        ),
        Case(
            "pip-index-url-with-password-build",
            ["layer.build"],
            {"PIP_INDEX_URL": f"http://user:{PASSWORD}@127.0.0.1:{port}/simple"},
            "",  # succeeds: the requirements file says --no-index; pip's config is still read
        ),
        Case(
            "pip-index-url-with-password-unreachable",
            ["layer.build"],
            {
                "PIP_INDEX_URL": f"http://user:{PASSWORD}@127.0.0.1:{port}/simple",
                "INVOKE_LAYER_INDEX_RETRIES": "0",
            },
            f"127.0.0.1:{port}",
            no_index=False,
        ),
        Case(
            "requirements-index-url-with-password",
            ["layer.build"],
            {"INVOKE_LAYER_INDEX_RETRIES": "0"},
            f"127.0.0.1:{port}",
            requirements=[
                f"--index-url http://user:{PASSWORD}@127.0.0.1:{port}/simple",
                "alpha==1.0",
            ],
            no_index=False,
        ),
    ]


CASE_IDS = [c.id for c in cases("http://127.0.0.1:1")]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("case_id", CASE_IDS)
def test_no_form_of_a_secret_in_any_output_or_file(
    case_id: str, debug: bool, project: Path, wheelhouse: Path, server: MotoServer
) -> None:
    server.reset()
    case = next(c for c in cases(server.url) if c.id == case_id)
    req = project / "requirements-all.txt"
    if case.no_index:
        write_requirements(req, wheelhouse, *case.requirements)
    else:
        req.write_text("".join(f"{line}\n" for line in case.requirements), encoding="utf-8")
    env = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY123456", "AWS_SECRET_ACCESS_KEY": SECRET, **case.env}
    proc = inv(project, *(["--debug"] if debug else []), *case.argv, env=env)

    output = proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    if case.expect:
        assert proc.returncode == 1, output[-3000:]
        assert len(errors) == 1 and case.expect in errors[0], output[-3000:]
    else:
        assert proc.returncode == 0, output[-3000:]
    if debug:
        assert "invoke.loader" in output  # the debug logs really were on
    else:
        assert "Traceback" not in output  # (--debug logs the tracebacks botocore retried)
    for core in CORES:
        assert core not in output, (core, output[output.find(core) - 300 :][:600])
    for path in project.rglob("*"):
        if path.is_file() and not path.is_symlink() and path != req:  # req: the user's input
            data = path.read_bytes()
            for core in CORES:
                assert core.encode() not in data, (core, path)
