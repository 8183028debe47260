"""The catalogue of bad inputs (docs/bad-inputs.md): every row is one case here, with the
same id. Each runs the task as a user types it (in-process, ``invoke.main.program``) and
must end in exactly one ``error:`` line containing the catalogued text, exit status 1,
no traceback, and no change to the project's files or to the AWS state.

AWS calls go to a moto server given by ``AWS_ENDPOINT_URL``; permission and credential
failures are injected with a botocore ``before-send`` hook (tests/reliability/faults.py).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from invoke.main import program
from support.chalice_app import add_app
from support.cli import write_requirements
from support.fakes import write_layer
from support.faults import FaultInjector, MotoServer, client, inject_everywhere, no_backoff
from support.silent import SilentServer

from layer_tasks.build.requirements import read_requirements
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.project import chalice_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-inputs.md"
ACCOUNT = "123456789012"
NAME = "test-layer"


def arn(version: int, region: str = "us-east-1", name: str = NAME) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT}:layer:{name}:{version}"


@dataclass
class Ctx:
    project: Path
    endpoint: str
    monkeypatch: pytest.MonkeyPatch
    wheelhouse: Path
    settings: LayerSettings

    def set_layer(self, **values: Any) -> None:
        data = yaml.safe_load((self.project / "invoke.yaml").read_text())
        data["layer"].update(values)
        (self.project / "invoke.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")

    def requirements(self, *lines: str) -> None:
        write_requirements(self.project / "requirements-all.txt", self.wheelhouse, *lines)

    def publish(self, count: int, name: str = NAME) -> list[str]:
        lam = client(self.endpoint, "lambda")
        out = []
        for i in range(count):
            out.append(
                lam.publish_layer_version(
                    LayerName=name,
                    Content={"ZipFile": _tiny_zip(f"X = {i}\n")},
                    CompatibleRuntimes=["python3.12"],
                    CompatibleArchitectures=["x86_64"],
                )["LayerVersionArn"]
            )
        return out

    def fault(self, operation: str, kind: str) -> None:
        inject_everywhere(self.monkeypatch, FaultInjector().add(operation, kind, times=99))


def _tiny_zip(body: str) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/mod.py", body)
    return buf.getvalue()


@dataclass
class Row:
    id: str
    argv: list[str]
    expect: str  # a stable part of the error line (a regex)
    setup: Callable[[Ctx], None] = lambda _c: None
    env: dict[str, str | None] = field(default_factory=dict)
    # The failure comes after the bucket step: the bucket (and for a failed publish, the
    # uploaded zip, left to the lifecycle rule) may exist; no version may be published.
    after_upload: bool = False


def _config(text: str) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        (c.project / ".chalice" / "config.json").write_text(text, encoding="utf-8")

    return setup


def _read_only(c: Ctx) -> None:
    (c.project / ".chalice" / "config.json").chmod(0o444)


def _dangling_symlink(c: Ctx) -> None:
    config = c.project / ".chalice" / "config.json"
    config.unlink()
    config.symlink_to(c.project / "gone" / "config.json")


def _zip_write_fails(code: int) -> Callable[[Ctx], None]:
    """The zip's file system refuses a write (disk full, permission lost) halfway."""

    def setup(c: Ctx) -> None:
        from layer_tasks.build import archive

        real = archive._Writer._write
        written = {"n": 0}

        def write(self: Any, data: bytes) -> None:
            written["n"] += len(data)
            if written["n"] > 2000:
                raise OSError(code, os.strerror(code))
            real(self, data)

        c.monkeypatch.setattr(archive._Writer, "_write", write)

    return setup


def _arn_file(text: str) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        c.publish(1, name="other-layer")
        (c.project / ".layer-arn.txt").write_text(text, encoding="utf-8")

    return setup


def _deleted_version(c: Ctx) -> None:
    c.publish(2)
    client(c.endpoint, "lambda").delete_layer_version(LayerName=NAME, VersionNumber=1)


def _built(c: Ctx) -> None:
    write_layer(c.settings)


def _built_and_fault(operation: str, kind: str) -> Callable[[Ctx], None]:
    def setup(c: Ctx) -> None:
        write_layer(c.settings)
        c.fault(operation, kind)

    return setup


NO_CREDENTIALS: dict[str, str | None] = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_EC2_METADATA_DISABLED": "true",
}

ROWS = [
    # requirement files
    Row(
        "requirements-missing",
        ["layer.build"],
        r"requirements file .*nope\.txt not found: create it or set layer\.requirements",
        env={"INVOKE_LAYER_REQUIREMENTS": "nope.txt"},
    ),
    Row(
        "requirements-empty",
        ["layer.build"],
        r"requirements-all\.txt lists no requirements: add the layer's packages to it",
        lambda c: c.requirements("# nothing yet"),
    ),
    Row(
        "requirements-not-utf8",
        ["layer.build"],
        r"requirements-all\.txt is not UTF-8 text \(byte 0\): save it as UTF-8",
        lambda c: (c.project / "requirements-all.txt").write_bytes(b"\xff\xfealpha==1.0\n"),
    ),
    Row(
        "requirements-syntax-error",
        ["layer.build"],
        r"requirements-all\.txt:3: invalid requirement 'alpha=1\.0': ",
        lambda c: c.requirements("alpha=1.0"),
    ),
    Row(
        "requirements-unknown-package",
        ["layer.build"],
        r"cannot install the layer for .*: Because no-such-package was not found in the provided package locations",
        lambda c: c.requirements("no-such-package==1.0"),
    ),
    Row(
        "requirements-sdist-only",
        ["layer.build"],
        r"cannot install the layer for .*gamma.*a layer takes binary wheels only",
        lambda c: c.requirements("gamma==1.0"),
    ),
    Row(
        "requirements-conflicting-pins",
        ["layer.build"],
        r"cannot install the layer for .*alpha",
        lambda c: c.requirements("alpha==1.0", "alpha==2.0"),
    ),
    # invoke.yaml
    Row(
        "yaml-wrong-type",
        ["layer.build"],
        r"layer\.budget_mb must be a number of MiB, got 'lots'",
        lambda c: c.set_layer(budget_mb="lots"),
    ),
    Row(
        "yaml-unknown-key",
        ["layer.build"],
        r"unknown layer setting\(s\) buget_mb in invoke\.yaml; known keys are name, ",
        lambda c: c.set_layer(buget_mb=100),
    ),
    Row(
        "yaml-unknown-architecture",
        ["layer.build"],
        r"layer\.architecture 'sparc' is not a Lambda architecture; use x86_64 or arm64",
        lambda c: c.set_layer(architecture="sparc"),
    ),
    Row(
        "yaml-home-region-not-in-regions",
        ["layer.deploy"],
        r"layer\.region 'us-east-1' \(the home region\) is not in layer\.regions "
        r"\(eu-west-1, ap-northeast-2\)",
        lambda c: c.set_layer(regions=["eu-west-1", "ap-northeast-2"]),
    ),
    Row(
        "yaml-ssm-parameter-without-arch",
        ["layer.deploy"],
        r"layer\.ssm_parameter '/layers/\{name\}' must contain \{arch\} with several "
        r"architectures",
        lambda c: c.set_layer(architectures=["x86_64", "arm64"], ssm_parameter="/layers/{name}"),
    ),
    Row(
        "yaml-unknown-bytecode",
        ["layer.build"],
        r"layer\.bytecode 'sometimes' is not a bytecode mode; use imported, all, none",
        lambda c: c.set_layer(bytecode="sometimes"),
    ),
    Row(
        "yaml-unknown-python",
        ["layer.build"],
        r"layer\.python '3\.9' is not a Lambda Python runtime; use one of 3\.10, ",
        lambda c: c.set_layer(python="3.9"),
    ),
    Row(
        "layer-name-invalid",
        ["layer.build"],
        r"layer\.name 'my layer!' is not a valid Lambda layer name: use 1-140 letters, digits, '-' or '_'",
        lambda c: c.set_layer(name="my layer!"),
    ),
    Row(
        "layer-name-too-long",
        ["layer.build"],
        r"layer\.name 'xxxx.*' is not a valid Lambda layer name",
        lambda c: c.set_layer(name="x" * 141),
    ),
    Row(
        "bucket-name-invalid",
        ["layer.publish"],
        r"layer\.bucket 'Bad_Bucket' is not a valid S3 bucket name: use 3-63 lowercase letters",
        _built,
        env={"INVOKE_LAYER_BUCKET": "Bad_Bucket"},
    ),
    Row(
        "bucket-name-ip-address",
        ["layer.publish"],
        r"layer\.bucket '192\.168\.1\.1' is not a valid S3 bucket name: it must not look like an IP address",
        _built,
        env={"INVOKE_LAYER_BUCKET": "192.168.1.1"},
    ),
    Row(
        "bucket-name-reserved",
        ["layer.publish"],
        r"layer\.bucket 'xn--layers' is not a valid S3 bucket name: the prefixes 'xn--', 'sthree-' and 'amzn-s3-demo-' are reserved",
        _built,
        env={"INVOKE_LAYER_BUCKET": "xn--layers"},
    ),
    # Chalice configs
    Row(
        "chalice-config-missing",
        ["layer.update-config", f"--arn={arn(1)}"],
        r"Chalice config .*config\.json not found: set layer\.chalice_config",
        lambda c: (c.project / ".chalice" / "config.json").unlink(),
    ),
    Row(
        "chalice-config-malformed",
        ["layer.update-config", f"--arn={arn(1)}"],
        r"Chalice config .*config\.json is not valid JSON \(line 1, column 2: .*\); fix it by hand, nothing was changed",
        _config("{stages: }\n"),
    ),
    Row(
        "chalice-config-no-stages",
        ["layer.update-config", f"--arn={arn(1)}"],
        r"Chalice config .*config\.json has no \"stages\" object; add one",
        _config('{"version": "2.0", "app_name": "demo"}\n'),
    ),
    Row(
        "chalice-config-read-only",
        ["layer.update-config", f"--arn={arn(1)}"],
        r"Chalice config .*config\.json is read-only; make it writable \(chmod u\+w\) and run again",
        _read_only,
    ),
    Row(
        "chalice-config-dangling-symlink",
        ["layer.update-config", f"--arn={arn(1)}"],
        r"Chalice config .*config\.json is a symlink to .*gone/config\.json, which does not exist",
        _dangling_symlink,
    ),
    Row(
        "chalice-config-unknown-stage",
        ["layer.update-config", f"--arn={arn(1)}", "--stage=qa"],
        r"stage 'qa' is not in .*config\.json \(stages: dev, prod\); pick one with --stage, or pass --create-stage",
    ),
    # ARNs
    Row(
        "arn-malformed",
        ["layer.update-config", "--arn=arn:aws:lambda:us-east-1:123:layer:x"],
        r"layer ARN 'arn:aws:lambda:us-east-1:123:layer:x' is not a Lambda layer version ARN \(arn:aws:lambda:<region>:<account>:layer:<name>:<version>\)",
    ),
    Row(
        "arn-other-region",
        ["layer.update-config", f"--arn={arn(1, 'eu-west-1')}"],
        r"layer ARN .*eu-west-1.* is in region eu-west-1, but the configured region is us-east-1: a function can only use layers from its own region",
    ),
    Row(
        "arn-file-other-layer",
        ["layer.update-config"],
        r"the ARN file .*\.layer-arn\.txt holds a version of layer other-layer, not test-layer \(layer\.name\)",
        _arn_file(arn(1, name="other-layer") + "\n"),
    ),
    Row(
        "arn-file-garbage",
        ["layer.update-config"],
        r"the ARN in .*\.layer-arn\.txt 'not-an-arn' is not a Lambda layer version ARN",
        _arn_file("not-an-arn\n"),
    ),
    Row(
        "arn-deleted-version",
        ["layer.rollback", "--version=1"],
        r"layer test-layer version 1 does not exist \(never published, or deleted\); `inv layer\.versions` lists the versions you can roll back to",
        _deleted_version,
    ),
    # --version
    Row(
        "version-zero",
        ["layer.rollback", "--version=0"],
        r"--version must be a positive whole number \(a published layer version, see `inv layer\.versions`\), got '0'",
    ),
    Row(
        "version-negative",
        ["layer.rollback", "--version=-1"],
        r"--version must be a positive whole number .*got '-1'",
    ),
    Row(
        "version-not-a-number",
        ["layer.rollback", "--version=two"],
        r"--version must be a positive whole number .*got 'two'",
    ),
    Row(
        "version-missing",
        ["layer.rollback", "--version=99"],
        r"layer test-layer version 99 does not exist \(never published, or deleted\)",
        lambda c: c.publish(1),
    ),
    # build outputs
    Row(
        "dist-dir-is-a-file",
        ["layer.build"],
        r"layer\.dist_dir .*requirements-all\.txt is a file, not a folder: remove it or change dist_dir",
        env={"INVOKE_LAYER_DIST_DIR": "requirements-all.txt"},
    ),
    Row(
        "zip-disk-full",
        ["layer.build"],
        r"cannot write the layer zip .*No space left on device",
        _zip_write_fails(errno.ENOSPC),
    ),
    Row(
        "zip-permission-denied",
        ["layer.build"],
        r"cannot write the layer zip .*Permission denied",
        _zip_write_fails(errno.EACCES),
    ),
    # credentials and permissions
    Row(
        "credentials-missing",
        ["layer.publish"],
        r"no AWS credentials found: configure a profile \(aws configure / AWS_PROFILE\), SSO \(aws sso login\), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        _built,
        env=NO_CREDENTIALS,
    ),
    Row(
        "region-missing",
        ["layer.publish"],
        r"no AWS region set: set layer\.region in invoke\.yaml, INVOKE_LAYER_REGION, AWS_REGION",
        _built,
        env={"INVOKE_LAYER_REGION": "", "AWS_DEFAULT_REGION": None, "AWS_REGION": None},
    ),
    Row(
        "credentials-expired",
        ["layer.publish"],
        r"S3 rejected the request for bucket 'test-layer-bucket' \(400 Bad Request\): the AWS credentials are most likely expired; refresh them",
        _built_and_fault("HeadBucket", "expired-token"),
    ),
    Row(
        "credentials-expired-lambda",
        ["layer.publish"],
        r"AWS credentials have expired \(ListLayerVersions\): refresh them",
        _built_and_fault("ListLayerVersions", "expired-token"),
    ),
    Row(
        "access-denied-put-object",
        ["layer.publish"],
        # The first PutObject of a deploy is its lock, beside the zips.
        r"access denied when trying to take the deploy lock s3://test-layer-bucket/layers/test-layer/deploy\.lock: grant s3:GetObject, s3:PutObject and s3:DeleteObject on arn:aws:s3:::test-layer-bucket/layers/test-layer/deploy\.lock",
        _built_and_fault("PutObject", "access-denied"),
        after_upload=True,
    ),
    Row(
        "access-denied-publish",
        ["layer.publish"],
        r"access denied on PublishLayerVersion: grant it to this identity",
        _built_and_fault("PublishLayerVersion", "access-denied"),
        after_upload=True,
    ),
]

# --- issue 19: the Chalice app beside the layer, and init --------------------------------
# The project is also a Chalice app (support.chalice_app): app.py, chalicelib/ and its own
# requirements.txt on the wheelhouse.


def _app(*requirements: str, built: bool = False) -> Callable[[Ctx], None]:
    """A Chalice app whose requirements.txt lists ``requirements``; with ``built``, its
    layer is built (with the app) already, so a deploy reuses it."""

    def setup(c: Ctx) -> None:
        add_app(c.project, c.wheelhouse, *requirements)
        if built:
            program.run(["inv", "layer.build"])

    return setup


def _fresh(*more: Callable[[Path], None]) -> Callable[[Ctx], None]:
    """A Chalice app with no invoke.yaml yet, as init finds it."""

    def setup(c: Ctx) -> None:
        (c.project / "invoke.yaml").unlink()
        add_app(c.project, None)
        for step in more:
            step(c.project)

    return setup


def _one_stage(project: Path) -> None:
    config = project / ".chalice" / "config.json"
    data = json.loads(config.read_text())
    data["stages"] = {"dev": data["stages"]["dev"]}
    config.write_text(json.dumps(data, indent=2) + "\n")


def _file(rel: str, text: str) -> Callable[[Path], None]:
    def step(project: Path) -> None:
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text(text, encoding="utf-8")

    return step


def _no_chalice(project: Path) -> None:
    (project / ".chalice" / "config.json").unlink()


DUPLICATE = (
    r"^error: the layer and the app's .*/requirements\.txt both install alpha \([0-9.]+ KiB in "
    r"the layer\), beta \([0-9.]+ KiB in the layer\): Chalice puts requirements\.txt into the "
    r"function, so [0-9.]+ KiB would ship twice\. Remove them from one of the two \(the "
    r"layer's is requirements-all\.txt\), or allow them by name in layer\.allow_duplicates$"
)

ROWS += [
    Row("app-duplicate-build", ["layer.build"], DUPLICATE, _app("alpha==1.0")),
    Row("app-duplicate-deploy", ["layer.deploy"], DUPLICATE, _app("alpha==1.0")),
    Row("app-duplicate-budget", ["layer.budget"], DUPLICATE, _app("alpha==1.0")),
    Row(
        "app-over-budget-deploy",
        ["layer.deploy"],
        r"^error: layer test-layer is [0-9.]+ KiB unzipped \+ the app's package [0-9.]+ KiB "
        r"\(app\.py [0-9.]+ Bytes, chalicelib/ [0-9.]+ Bytes, requirements\.txt [0-9.]+ "
        r"(Bytes|KiB)\), [0-9.]+ KiB over the budget of 20\.0 KiB .* or drop a requirement "
        r"from the layer or the app's requirements\.txt \(nothing was uploaded\)$",
        _app("delta==1.0", built=True),
        env={"INVOKE_LAYER_BUDGET_MB": "0.01953125"},  # 20 KiB
    ),
    Row(
        "app-requirements-sdist-only",
        ["layer.build"],
        r"^error: cannot install the app's .*/requirements\.txt for python3\.12 x86_64 \(glibc "
        r"2\.34\): Because gamma==1\.0 has no usable wheels .* \(the app is measured from binary "
        r"wheels: pin a version that has a wheel for this target\)$",
        _app("gamma==1.0"),
    ),
    Row(
        "allow-duplicates-not-a-name",
        ["layer.build"],
        r"^error: layer\.allow_duplicates entry 'requests ok' is not a distribution name: use "
        r"letters, digits, '\.', '-' or '_' \(e\.g\. requests\) \(set by "
        r"INVOKE_LAYER_ALLOW_DUPLICATES\)$",
        env={"INVOKE_LAYER_ALLOW_DUPLICATES": "requests ok"},
    ),
    Row(
        "init-outside-chalice-project",
        ["layer.init"],
        r"^error: no Chalice project here: looked for .*/\.chalice/config\.json "
        r"\(layer\.chalice_config\) and found nothing; run init in your app's folder",
        _fresh(_no_chalice),
    ),
    Row(
        "init-several-stages",
        ["layer.init"],
        r"^error: .*/\.chalice/config\.json has several stages \(dev, prod\): which one uses "
        r"the layer\? pass --stage NAME$",
        _fresh(),
    ),
    Row(
        "init-unknown-stage",
        ["layer.init", "--stage", "qa"],
        r"^error: stage 'qa' is not in .*/\.chalice/config\.json \(stages: dev, prod\): pass "
        r"one of them$",
        _fresh(),
    ),
    Row(
        "init-no-region",
        ["layer.init"],
        r"^error: which AWS region\? none is set: pass --region \(e\.g\. --region eu-west-1\), "
        r"or set AWS_REGION or a profile's region; the layer and its bucket live there$",
        _fresh(_one_stage),
        env={"AWS_REGION": None, "AWS_DEFAULT_REGION": None},
    ),
    Row(
        "init-region-invalid",
        ["layer.init", "--stage", "dev", "--region", "us_east!1"],
        r"^error: --region 'us_east!1' is not an AWS region name \(e\.g\. us-east-1\)$",
        _fresh(),
    ),
    Row(
        "init-python-not-lambda",
        ["layer.init", "--stage", "dev", "--python", "3.9"],
        r"^error: Lambda has no python3\.9 runtime \(3\.10, 3\.11, 3\.12, 3\.13, 3\.14\), and "
        r"Chalice deploys for the Python that runs it: run init \(and chalice\) with one of "
        r"those, or pass --python 3\.12$",
        _fresh(),
    ),
    Row(
        "init-layer-section-incomplete",
        ["layer.init", "--stage", "dev"],
        r"^error: .*/invoke\.yaml already has a layer: section, without name, requirements, "
        r"python, stage, region; init adds files and lines but never edits yours: add them "
        r'under layer: \(name: "demo-deps"; ',
        _fresh(_file("invoke.yaml", "layer:\n  bucket: my-own-bucket\n")),
    ),
    Row(
        "init-invoke-yaml-flow-mapping",
        ["layer.init", "--stage", "dev"],
        r"^error: .*/invoke\.yaml ends in a way that a layer: section appended to it would not "
        r"be read as part of it: add the section yourself",
        _fresh(_file("invoke.yaml", "{run: {echo: true}}")),
    ),
    Row(
        "init-workflow-not-inits",
        ["layer.init", "--stage", "dev", "--ci", "github"],
        r"^error: .*/\.github/workflows/layer-tasks\.yml exists and is not the workflow init "
        r"writes; init never edits a file: remove it, or leave out --ci$",
        _fresh(_file(".github/workflows/layer-tasks.yml", "name: ours\n")),
    ),
]

# --- secrets and silent hangs (issue 14, sections 3 and 4) ----------------------------------


def _no_region_in_yaml(c: Ctx) -> None:
    c.set_layer(region="")


def _credentials_file(c: Ctx) -> None:
    path = c.project.parent / "credentials"
    path.write_text(
        "[default]\naws_access_key_id = AKIAEXAMPLEKEY123456\n"
        "aws_secret_access_key = wJalrXUtnFEMI\x07bPxRfiCYEXAMPLEKEY\n",
        encoding="utf-8",
    )
    c.monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))


def _silent_endpoint(c: Ctx) -> None:
    silent = SilentServer(lifetime=60)
    c.monkeypatch.setenv("AWS_ENDPOINT_URL", silent.url)
    c.set_layer(connect_timeout=1, read_timeout=1, upload_read_timeout=1, max_attempts=2)


def _silent_index(c: Ctx) -> None:
    silent = SilentServer(lifetime=60)
    (c.project / "requirements-all.txt").write_text(
        f"--index-url {silent.url}/simple\nalpha==1.0\n", encoding="utf-8"
    )
    c.set_layer(index_timeout=1, index_retries=0)


def _fifo(c: Ctx) -> Path:
    # Outside the project: the snapshot of the project's files must not open it.
    fifo = c.project.parent / "requirements.fifo"
    if not fifo.exists():
        os.mkfifo(fifo)
    return fifo


def _fifo_requirements(c: Ctx) -> None:
    c.set_layer(requirements=str(_fifo(c)))


def _fifo_include(c: Ctx) -> None:
    c.requirements("alpha==1.0", f"-r {_fifo(c)}")


def _socket_requirements(c: Ctx) -> None:
    path = c.project.parent / "requirements.sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # the socket file stays after the socket is closed
    c.set_layer(requirements=str(path))


NOT_A_FILE = r"is not a regular file \(a FIFO, device or socket\): point layer.requirements \(or the -r/-c line\) at a file"
CONTROL_CHARACTER = r"contains a control character, surrounding whitespace or a non-ASCII character"

ROWS += [
    Row(
        "session-token-newline",
        ["layer.versions"],
        rf"^error: the environment variable AWS_SESSION_TOKEN {CONTROL_CHARACTER}",
        env={"AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLESESSIONTOKEN\n"},
    ),
    Row(
        "region-env-newline",
        ["layer.versions"],
        rf"^error: the environment variable AWS_DEFAULT_REGION {CONTROL_CHARACTER}",
        _no_region_in_yaml,
        env={"AWS_DEFAULT_REGION": "us-east-1\n"},
    ),
    Row(
        "region-env-non-ascii",
        ["layer.versions"],
        rf"^error: the environment variable AWS_DEFAULT_REGION {CONTROL_CHARACTER}",
        _no_region_in_yaml,
        env={"AWS_DEFAULT_REGION": "us-east-\u0661"},
    ),
    Row(
        "credentials-file-control-character",
        ["layer.versions"],
        rf"^error: the AWS secret access key from shared-credentials-file {CONTROL_CHARACTER}",
        _credentials_file,
        env={"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
    ),
    Row(
        "endpoint-url-password",
        ["layer.versions"],
        r"^error: cannot reach AWS: .*\"http://user:\*\*\*@127\.0\.0\.1:1/",
        env={
            "AWS_ENDPOINT_URL": "http://user:Passw0rdSecret@127.0.0.1:1",
            "INVOKE_LAYER_MAX_ATTEMPTS": "1",
        },
    ),
    Row(
        "endpoint-silent",
        ["layer.versions"],
        r"^error: ListLayerVersions to http://127\.0\.0\.1:\d+ got no answer within layer\.read_timeout \(1 s\) in 2 attempt\(s\): check that the endpoint answers \(AWS_ENDPOINT_URL, the network\), or raise layer\.read_timeout$",
        _silent_endpoint,
    ),
    Row(
        "index-silent",
        ["layer.build"],
        r"^error: the package index http://127\.0\.0\.1:\d+/simple/alpha/ did not answer within layer\.index_timeout \(1 s, layer\.index_retries: 0\)",
        _silent_index,
    ),
    Row(
        "deadline-too-short",
        ["layer.versions"],
        r"^error: layer\.deadline_minutes \(0\.5 min\) is shorter than one AWS request may take \(connect_timeout \+ the longer read timeout = 125 s\): raise it$",
        lambda c: c.set_layer(deadline_minutes=0.5),
    ),
    Row(
        "timeout-not-a-number",
        ["layer.versions"],
        r"^error: layer\.read_timeout must be a number of seconds, got 'soon' \(set by INVOKE_LAYER_READ_TIMEOUT\)$",
        env={"INVOKE_LAYER_READ_TIMEOUT": "soon"},
    ),
    Row("requirements-fifo", ["layer.build"], NOT_A_FILE, _fifo_requirements),
    Row("requirements-include-fifo", ["layer.build"], NOT_A_FILE, _fifo_include),
    Row(
        "requirements-socket",
        ["layer.build"],
        r"^error: cannot read requirements path .*/requirements\.sock: No such device or address; point layer\.requirements \(or the -r/-c line\) at a regular file$",
        _socket_requirements,
    ),
    Row(
        "requirements-device",
        ["layer.build"],
        r"^error: requirements path /dev/zero " + NOT_A_FILE,
        lambda c: c.set_layer(requirements="/dev/zero"),
    ),
]


# --- issue 20: hostile inputs, third round ------------------------------------------------


def _silent_read_only(c: Ctx) -> None:
    """The defaults' rule on a small scale: a read-only task gets the attempts that fit in
    READ_ONLY_SECONDS (120 s: 3 of 5 with the default 5 + 30 s; here 2 in 5 s)."""
    from layer_tasks.aws import deadline

    silent = SilentServer(lifetime=60)
    c.monkeypatch.setenv("AWS_ENDPOINT_URL", silent.url)
    c.monkeypatch.setattr(deadline, "READ_ONLY_SECONDS", 5.0)
    c.set_layer(connect_timeout=1, read_timeout=1, max_attempts=5)


def _split_link_out(c: Ctx) -> None:
    outside = c.project.parent / "someone-elses.txt"
    outside.write_text("secret-token-line==1.0\n", encoding="utf-8")
    (c.project / "requirements-z.txt").symlink_to(outside)


def _lock_with_credentials(c: Ctx) -> None:
    """A lock by `inv layer.lock`, edited by hand: a wheel URL now carries a password."""
    from layer_tasks.build.install import IndexConfig
    from layer_tasks.build.pylock import lock_path, write_lock

    write_lock(c.settings, IndexConfig())
    path = lock_path(c.settings)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(f"file://{c.wheelhouse}", "http://user:S3cretPassw0rd@files.example"),
        encoding="utf-8",
    )


def _link_to_arn_file(c: Ctx) -> None:
    (c.project / ".layer-arn.txt").write_text(arn(1) + "\n", encoding="utf-8")
    (c.project / "page.html").symlink_to(c.project / ".layer-arn.txt")


MANAGED = r", which the tool manages or reads: give another file name \(it is never replaced, even with --force\)$"


def _write_lock(c: Ctx) -> Path:
    from layer_tasks.build.install import IndexConfig
    from layer_tasks.build.pylock import lock_path, write_lock

    write_lock(c.settings, IndexConfig())
    return lock_path(c.settings)


def _locked_without(name: str) -> Callable[[Ctx], None]:
    """A lock by `inv layer.lock` whose package ``name`` was deleted by hand: its
    [tool.layer-tasks] record of the requirement lines is untouched."""

    def setup(c: Ctx) -> None:
        path = _write_lock(c)
        blocks = path.read_text(encoding="utf-8").split("\n\n")
        mine = f'[[packages]]\nname = "{name}"\n'
        path.write_text("\n\n".join(b for b in blocks if not b.startswith(mine)), encoding="utf-8")

    return setup


def _requirement_bumped_in_both(c: Ctx) -> None:
    """epsilon==2.0 written into the requirements and into the lock's record of them (the
    staleness check compares those two), the locked package left at 1.0."""
    path = _write_lock(c)
    path.write_text(path.read_text().replace('"epsilon==1.0"', '"epsilon==2.0"'), encoding="utf-8")
    req = c.project / "requirements-all.txt"
    req.write_text(req.read_text().replace("epsilon==1.0", "epsilon==2.0"), encoding="utf-8")


def _lock_body_huge_pid(c: Ctx) -> None:
    """A deploy lock of this machine (its host and boot id) whose pid no system has: the
    check whether its process still runs (os.kill) raised OverflowError."""
    from layer_tasks.aws import deploy_lock

    _built(c)
    c.set_layer(lock_wait_seconds=0)
    here = deploy_lock.Holder.here()
    body = {**json.loads(here.body()), "pid": 10**30}
    s3 = client(c.endpoint, "s3")
    s3.create_bucket(Bucket="test-layer-bucket")
    s3.put_object(
        Bucket="test-layer-bucket", Key="layers/test-layer/deploy.lock", Body=json.dumps(body)
    )


NOT_COVERED = r"^error: pylock\.test-layer-x86_64\.toml does not cover the layer: "

OUTSIDE = r"reaches outside the project folder .*: give a glob inside it, relative to the requirements file's folder \(e\.g\. requirements-\*\.txt\)$"

HUGE = "99999999999999999999"
TOO_BIG = rf"has version {HUGE}, more than Lambda can hold \(9223372036854775807\): check the ARN$"
KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"

ROWS += [
    Row(
        "deploy-lock-body-huge-pid",
        ["layer.publish"],
        r"^error: another deploy holds the lock s3://test-layer-bucket/layers/test-layer/"
        r"deploy\.lock: an unreadable lock body \([0-9]+ s old\); waited 0 s - run again "
        r"when it has finished, or, if no deploy is running, remove the lock with "
        r"`inv layer\.unlock`$",
        _lock_body_huge_pid,
        after_upload=True,
    ),
    Row(
        "lock-missing-a-requirement",
        ["layer.build"],
        NOT_COVERED + r"requirements-all\.txt:4 asks for epsilon==1\.0, which it does not "
        r"lock: run `inv layer\.lock`$",
        _locked_without("epsilon"),
    ),
    Row(
        "lock-missing-a-dependency",
        ["layer.build"],
        NOT_COVERED + r"alpha 1\.0 requires beta>=2, which it does not lock: run "
        r"`inv layer\.lock`$",
        _locked_without("beta"),
    ),
    Row(
        "lock-version-outside-the-requirement",
        ["layer.build"],
        NOT_COVERED + r"requirements-all\.txt:4 asks for epsilon==2\.0, which it locks at "
        r"1\.0: run `inv layer\.lock`$",
        _requirement_bumped_in_both,
    ),
    Row(
        "function-arn-other-region",
        ["layer.deploy", "--force", "--function=arn:aws:lambda:eu-west-1:123456789012:function:fn"],
        r"^error: layer\.function 'arn:aws:lambda:eu-west-1:123456789012:function:fn' is in "
        r"region eu-west-1, but this run targets us-east-1: a function can only use layers "
        r"from its own region; name a function there, or set layer\.region to the function's$",
    ),
    Row(
        "function-arn-other-account",
        [
            "layer.rollback",
            "--version=1",
            "--function=arn:aws:lambda:us-east-1:999999999999:function:fn",
        ],
        r"^error: layer\.function 'arn:aws:lambda:us-east-1:999999999999:function:fn' belongs "
        r"to account 999999999999, but the AWS credentials are for account 123456789012: use "
        r"that account's credentials, or name a function of this one$",
        lambda c: c.publish(1),
    ),
    Row(
        "function-arn-partition-mismatch",
        [
            "layer.cleanup",
            "--keep=1",
            "--function=arn:aws-cn:lambda:us-east-1:123456789012:function:fn",
        ],
        r"^error: layer\.function 'arn:aws-cn:lambda:us-east-1:123456789012:function:fn' names "
        r"partition aws-cn, but region us-east-1 is in partition aws: check the ARN$",
        lambda c: c.publish(2),
    ),
    Row(
        "function-version-too-large",
        ["layer.update-config", f"--arn={arn(1)}", f"--function=fn:{HUGE}"],
        rf"^error: layer\.function 'fn:{HUGE}' " + TOO_BIG,
    ),
    Row(
        "arn-partition-mismatch",
        ["layer.update-config", f"--arn=arn:aws-us-gov:lambda:us-east-1:{ACCOUNT}:layer:x:1"],
        r"^error: layer ARN 'arn:aws-us-gov:lambda:us-east-1:123456789012:layer:x:1' names "
        r"partition aws-us-gov, but region us-east-1 is in partition aws: check the ARN$",
    ),
    Row(
        "arn-version-too-large",
        ["layer.update-config", f"--arn={arn(1)[:-1]}{HUGE}"],
        rf"^error: layer ARN '{arn(1)[:-1]}{HUGE}' " + TOO_BIG,
    ),
    Row(
        "arn-file-version-too-large",
        ["layer.update-config"],
        rf"^error: the ARN in .*\.layer-arn\.txt '{arn(1)[:-1]}{HUGE}' " + TOO_BIG,
        _arn_file(f"{arn(1)[:-1]}{HUGE}\n"),
    ),
    Row(
        "kms-key-other-region",
        ["layer.publish"],
        rf"^error: layer\.kms_key_id '{KMS_KEY}' is a key in region eu-west-1, but the zips go "
        r"to a bucket in us-east-1: S3 needs a key of the bucket's region; use an alias "
        r"\(alias/<name>\) defined in every region$",
        lambda c: (c.set_layer(kms_key_id=KMS_KEY), _built(c)),
    ),
    Row(
        "kms-key-malformed",
        ["layer.publish"],
        r"^error: layer\.kms_key_id 'my key!' is not a KMS key: use a key ID, alias/<name>, or "
        r"the ARN of either \(arn:aws:kms:<region>:<account>:key/<id>\)$",
        lambda c: (c.set_layer(kms_key_id="my key!"), _built(c)),
    ),
    # Issue 20, section 5: every number has a range, and one rule (ASCII) for its text.
    Row(
        "lock-timeout-minutes-huge",
        ["layer.publish"],
        r"^error: layer\.lock_timeout_minutes must be at most 1440, got 99999999999999999999$",
        lambda c: c.set_layer(lock_timeout_minutes=99999999999999999999),
    ),
    Row(
        "connect-timeout-huge",
        ["layer.versions"],
        r"^error: layer\.connect_timeout must be at most 3600, got 99999999\.5$",
        lambda c: c.set_layer(connect_timeout=99999999.5),
    ),
    Row(
        "index-retries-huge",
        ["layer.build"],
        r"^error: layer\.index_retries must be at most 20, got 99999999999999999999$",
        lambda c: c.set_layer(index_retries=99999999999999999999),
    ),
    Row(
        "lifecycle-days-huge",
        ["layer.publish"],
        r"^error: layer\.lifecycle_days must be at most 36500, got 1000000000000$",
        lambda c: c.set_layer(lifecycle_days=1000000000000),
    ),
    Row(
        "lifecycle-days-flag-huge",
        ["layer.lifecycle", "--days", "36501"],
        r"^error: --days must be at most 36500, got '36501'$",
    ),
    Row(
        "env-number-non-ascii-digit",
        ["layer.versions"],
        r"^error: layer\.read_timeout must be a number of seconds, got '\u0662' "
        r"\(set by INVOKE_LAYER_READ_TIMEOUT\)$",
        lambda c: c.set_layer(read_timeout=30),  # Invoke then casts the variable: float()
        env={"INVOKE_LAYER_READ_TIMEOUT": "\u0662"},
    ),
    Row(
        "env-number-underscore",
        ["layer.build"],
        r"^error: layer\.workers must be a whole number, got '1_0' "
        r"\(set by INVOKE_LAYER_WORKERS\)$",
        env={"INVOKE_LAYER_WORKERS": "1_0"},
    ),
    Row(
        "env-timeout-huge",
        ["layer.versions"],
        r"^error: layer\.deadline_minutes must be at most 1440, got '99999' "
        r"\(set by INVOKE_LAYER_DEADLINE_MINUTES\)$",
        env={"INVOKE_LAYER_DEADLINE_MINUTES": "99999"},
    ),
    Row(
        "flag-number-non-ascii-digit",
        ["layer.size-report", "--top", "\u0662"],
        r"^error: --top must be a whole number, got '\u0662'$",
    ),
    Row(
        "flag-repeat-huge",
        ["layer.size-report", "--imports", "--repeat", "1000"],
        r"^error: --repeat must be at most 100, got '1000'$",
    ),
    Row(
        "flag-version-past-lambdas-range",
        ["layer.code-size", "--version", "9223372036854775808"],
        r"^error: --version must be at most 9223372036854775807, got '9223372036854775808'$",
    ),
    Row(
        "diff-version-past-lambdas-range",
        ["layer.diff", "--from", "99999999999999999999"],
        r"^error: a layer version must be at most 9223372036854775807, "
        r"got '99999999999999999999'$",
    ),
    Row(
        "html-over-chalice-config",
        ["layer.size-report", "--html=.chalice/config.json"],
        r"^error: --html \.chalice/config\.json is the Chalice config" + MANAGED,
    ),
    Row(
        "html-over-zip-even-with-force",
        ["layer.size-report", "--html=dist/test-layer.zip", "--force"],
        r"^error: --html dist/test-layer\.zip is the layer zip" + MANAGED,
        _built,
    ),
    Row(
        "html-over-invoke-yaml",
        ["layer.size-report", "--html=invoke.yaml"],
        r"^error: --html invoke\.yaml is invoke\.yaml, which inv reads" + MANAGED,
    ),
    Row(
        "html-over-requirements",
        ["layer.size-report", "--html=requirements-all.txt", "--force"],
        r"^error: --html requirements-all\.txt is the requirements file" + MANAGED,
    ),
    Row(
        "html-over-lock",
        ["layer.size-report", "--html=pylock.test-layer-x86_64.toml"],
        r"^error: --html pylock\.test-layer-x86_64\.toml is the lock" + MANAGED,
    ),
    Row(
        "html-through-symlink-to-arn-file",
        ["layer.size-report", "--html=page.html", "--force"],
        r"^error: --html page\.html is the ARN file" + MANAGED,
        _link_to_arn_file,
    ),
    Row(
        "html-into-state-dir",
        ["layer.size-report", "--html=.state/size.html"],
        r"^error: --html \.state/size\.html is inside layer\.state_dir \(.*\.state\), which "
        r"the tool manages: give a file elsewhere$",
        lambda c: (c.project / ".state").mkdir(exist_ok=True),
    ),
    Row(
        "html-over-another-file",
        ["layer.size-report", "--html=notes.html"],
        r"^error: --html notes\.html exists and is not a page this command wrote: give another "
        r"file name, or pass --force to replace it$",
        lambda c: (c.project / "notes.html").write_text("<p>mine</p>\n", encoding="utf-8"),
    ),
    Row(
        "lock-url-credentials",
        ["layer.build"],
        r"^error: pylock\.test-layer-x86_64\.toml holds credentials in a URL "
        r"\(http://user:\*\*\*@files\.example/alpha-1\.0-py3-none-any\.whl\): a lock is "
        r"shared \(git, the SBOM, S3\) and must not; give the index's credentials to pip's "
        r"configuration, UV_INDEX_URL or ~/\.netrc instead, and run `inv layer\.lock` "
        r"\(it writes URLs without them\)$",
        _lock_with_credentials,
    ),
    Row(
        "split-requirements-outside-project",
        ["layer.check-requirements"],
        r"^error: layer\.split_requirements '\.\./\.\./\.\./\*\*/\*\.txt' " + OUTSIDE,
        lambda c: c.set_layer(split_requirements="../../../**/*.txt"),
    ),
    Row(
        "split-requirements-absolute-flag",
        ["layer.check-requirements", "--parts=/etc/*.conf"],
        r"^error: --parts '/etc/\*\.conf' " + OUTSIDE,
    ),
    Row(
        "split-requirements-symlink-out",
        ["layer.check-requirements"],
        r"^error: layer\.split_requirements 'requirements-\*\.txt' matches "
        r".*requirements-z\.txt, which leads outside the project folder .* \(a symlink\?\)",
        _split_link_out,
    ),
    Row(
        "endpoint-silent-read-only",
        ["layer.versions"],
        r"^error: ListLayerVersions to http://127\.0\.0\.1:\d+ got no answer within "
        r"layer\.read_timeout \(1 s\) in 2 attempt\(s\) \(a read-only task gives up on a "
        r"silent endpoint within 5 s\): check that the endpoint answers \(AWS_ENDPOINT_URL, "
        r"the network\), or raise layer\.read_timeout$",
        _silent_read_only,
    ),
]


def _snapshot(root: Path) -> dict[str, tuple[str, int]]:
    """Every file of the project (not the build's state folder): content hash and mode."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith(".state") or (path.is_dir() and not path.is_symlink()):
            continue
        if path.is_symlink():
            out[rel] = (f"-> {os.readlink(path)}", 0)
        else:
            out[rel] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mode)
    return out


def _aws_state(endpoint: str) -> tuple[list[str], list[Any], list[str]]:
    s3 = client(endpoint, "s3")
    buckets = sorted(b["Name"] for b in s3.list_buckets().get("Buckets", []))
    objects = []
    for bucket in buckets:
        objects += [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    versions = client(endpoint, "lambda").list_layer_versions(LayerName=NAME)["LayerVersions"]
    return buckets, [v["LayerVersionArn"] for v in versions], objects


def run_task(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_info:
        program.run(["inv", *argv])
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_is_one_error_line_and_changes_nothing(
    row: Row,
    project: Path,
    settings: LayerSettings,
    wheelhouse: Path,
    server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.reset()
    monkeypatch.chdir(project)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    no_backoff(monkeypatch)
    row.setup(Ctx(project, server.url, monkeypatch, wheelhouse, settings))
    for name, value in row.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    files_before = _snapshot(project)
    aws_before = _aws_state(server.url)

    code, err = run_task(row.argv, capsys)

    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(errors) == 1, err
    assert re.search(row.expect, errors[0]), errors[0]
    print(f"\n{row.id}\t{errors[0]}")
    assert _snapshot(project) == files_before
    buckets, versions, objects = _aws_state(server.url)
    if row.after_upload:
        assert versions == aws_before[1]
        if "PutObject" in row.id or "put-object" in row.id:
            assert objects == []
    else:
        assert (buckets, versions, objects) == aws_before


def test_every_catalogue_row_has_a_case_and_every_case_a_row() -> None:
    """Every case above has a row in docs/bad-inputs.md (rows of other test modules are
    checked against the collected tests by test_bad_inputs_cli.py's catalogue test)."""
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    assert sorted({row.id for row in ROWS} - set(ids)) == []
    assert len(ids) == len(set(ids))


def test_chalice_config_symlink_is_followed_and_stays_a_link(tmp_path: Path) -> None:
    """Decision (catalogued): a symlinked config is edited where it points; the link stays."""
    real = tmp_path / "shared" / "config.json"
    real.parent.mkdir()
    real.write_text('{\n  "stages": {\n    "prod": {}\n  }\n}\n', encoding="utf-8")
    link = tmp_path / "config.json"
    link.symlink_to(real)
    chalice_config.set_stage_layers(link, "prod", [arn(3)], region="us-east-1")
    assert link.is_symlink()
    assert json.loads(real.read_text())["stages"]["prod"]["layers"] == [arn(3)]
    assert (real.parent / "config.json.bak").exists()
    assert not (tmp_path / "config.json.bak").exists()


# --- property tests: the parsers raise LayerError or nothing ---------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
CONFIG_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "stages": st.dictionaries(
            st.sampled_from(["prod", "dev", ""]),
            JSON | st.fixed_dictionaries({}, optional={"layers": JSON}),
            max_size=3,
        ),
        "automatic_layer": JSON,
    },
)


@hsettings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(doc=JSON | CONFIG_LIKE, raw=st.binary(max_size=40), use_raw=st.booleans())
def test_chalice_config_parser_raises_only_layer_error(
    tmp_path: Path, doc: Any, raw: bytes, use_raw: bool
) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(raw if use_raw else json.dumps(doc).encode())
    before = path.read_bytes()
    try:
        chalice_config.read_stage_layers(path, "prod")
        chalice_config.all_referenced_arns(path)
        chalice_config.set_stage_layers(path, "prod", [arn(1)], region="us-east-1")
    except LayerError:
        assert path.read_bytes() == before  # a refused edit changes nothing


REQUIREMENT_TEXT = st.lists(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)),
        max_size=30,
    )
    | st.sampled_from(
        [
            "-r",
            "-c x.txt",
            "--hash",
            "-e .",
            "alpha==1.0",
            "alpha[",
            "a @ b",
            "\\",
            "#",
            "--index-url",
        ]
    ),
    max_size=6,
)


@hsettings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=REQUIREMENT_TEXT)
def test_requirements_parser_raises_only_layer_error(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "requirements.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    with contextlib.suppress(LayerError):
        read_requirements(path)
