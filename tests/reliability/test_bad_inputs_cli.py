"""Bad inputs from the hostile review (docs/bad-inputs.md, second block), run as a user
types them: ``inv`` with Invoke's own `Program`, so that the failures Invoke itself hits
before any task runs (configuration files, ``INVOKE_*`` casts, task flags) go through
the same net a user's shell sees.

Every row runs in this process (`support.cli.inv_here`: the project folder, the
environment, fds 1 and 2, an uncaught exception through ``sys.excepthook``); a few rows,
one per kind of failure, run again in a real ``inv`` process (`support.cli.inv`), where
the interpreter itself calls the start-up net.

Each case must end in exit status 1, exactly one ``error:`` line on stderr matching the
row, no traceback, every file of the project byte-identical (content and mode), and the
AWS state (a moto server) as it was.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import collection
from support.cli import inv, inv_here
from support.fakes import write_layer
from support.faults import MotoServer
from support.snapshot import aws_state, project_files

from layer_tasks.config.settings import LayerSettings

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-inputs.md"
TESTS = Path(__file__).resolve().parents[1]
NAME = "test-layer"
ARN = f"arn:aws:lambda:us-east-1:123456789012:layer:{NAME}:1"

Setup = Callable[[Path, LayerSettings], None]


def _nothing(_project: Path, _settings: LayerSettings) -> None:
    return None


@dataclass
class Row:
    id: str
    argv: list[str]
    expect: str  # a regex the error line must contain
    setup: Setup = _nothing
    env: dict[str, str] = field(default_factory=dict)


def layer_keys(**values: object) -> Setup:
    """invoke.yaml with these ``layer:`` keys set (written as YAML text, so that YAML's
    own reading of ``.inf`` or ``012345670123`` is what the task sees)."""

    def setup(project: Path, _settings: LayerSettings) -> None:
        lines = "".join(f"  {key}: {value}\n" for key, value in values.items())
        with (project / "invoke.yaml").open("a", encoding="utf-8") as fh:
            fh.write(lines)

    return setup


def write(rel: str, text: str | bytes) -> Setup:
    def setup(project: Path, _settings: LayerSettings) -> None:
        path = project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")

    return setup


def both(*steps: Setup) -> Setup:
    def setup(project: Path, settings: LayerSettings) -> None:
        for step in steps:
            step(project, settings)

    return setup


def _built(_project: Path, settings: LayerSettings) -> None:
    write_layer(settings)


def _hand_edited_manifest(_project: Path, settings: LayerSettings) -> None:
    write_layer(settings)
    data = json.loads(settings.manifest_path.read_text(encoding="utf-8"))
    data["zip_bytes"] = str(data["zip_bytes"])
    settings.manifest_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _include_chain(count: int) -> Setup:
    def setup(project: Path, _settings: LayerSettings) -> None:
        for i in range(1, count):
            (project / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\n", encoding="utf-8")
        (project / f"r{count}.txt").write_text("alpha==1.0\n", encoding="utf-8")
        with (project / "requirements-all.txt").open("a", encoding="utf-8") as fh:
            fh.write("-r r1.txt\n")

    return setup


def _nested_config(depth: int) -> Setup:
    return write(".chalice/config.json", '{"stages": ' + "[" * depth + "]" * depth + "}\n")


def _big_requirements(project: Path, _settings: LayerSettings) -> None:
    # Sparse: 17 MiB of NUL bytes that take no disk space.
    with (project / "big.txt").open("wb") as fh:
        fh.truncate(17 * 1024 * 1024)


ROWS = [
    # --- validation: whole strings, ASCII classes ---------------------------------------
    Row(
        "bucket-trailing-newline",
        ["layer.publish"],
        r"layer\.bucket 'test-layer-bucket\\n' is not a valid S3 bucket name",
        _built,
        env={"INVOKE_LAYER_BUCKET": "test-layer-bucket\n"},
    ),
    Row(
        "layer-name-trailing-newline",
        ["layer.build"],
        r"layer\.name 'name\\n' is not a valid Lambda layer name",
        env={"INVOKE_LAYER_NAME": "name\n"},
    ),
    Row(
        "region-non-ascii-digit",
        ["layer.versions"],
        r"layer\.region 'us-east-\u0661' is not an AWS region name",
        env={"INVOKE_LAYER_REGION": "us-east-\u0661"},
    ),
    Row(
        "region-impossible-characters",
        ["layer.versions"],
        r"layer\.region 'us_east!1' is not an AWS region name",
        env={"INVOKE_LAYER_REGION": "us_east!1"},
    ),
    Row(
        "arn-non-ascii-digits",
        ["layer.update-config", "--arn", ARN.replace("123456789012", "\u0661" * 12)],
        r"layer ARN '.*' is not a Lambda layer version ARN",
    ),
    Row(
        "stage-trailing-newline",
        ["layer.update-config", "--arn", ARN],
        r"layer\.stage 'prod\\n' is not a Chalice stage name: use letters, digits, '-' or '_' "
        r"\(set by INVOKE_LAYER_STAGE\)",
        env={"INVOKE_LAYER_STAGE": "prod\n"},
    ),
    Row(
        "function-name-invalid",
        ["layer.update-config", "--arn", ARN, "--function", "my fn\n"],
        r"layer\.function 'my fn\\n' is not a Lambda function name or ARN",
    ),
    Row(
        "aws-region-impossible-characters",
        ["layer.versions"],
        r"the AWS region \(AWS_REGION, AWS_DEFAULT_REGION or the profile\) 'us east 1' is not "
        r"an AWS region name",
        env={
            "INVOKE_LAYER_REGION": "",
            "AWS_REGION": "us east 1",
            "AWS_DEFAULT_REGION": "us east 1",
        },
    ),
    Row(
        "python-unquoted-yaml-number",
        ["layer.build"],
        r"layer\.python '3\.1' is not a Lambda Python runtime; .*\(quote it, e\.g\. '3\.10': "
        r"YAML reads an unquoted version as the number 3\.1\)",
        layer_keys(python="3.10"),
    ),
    Row(
        "share-with-octal-account",
        ["layer.publish"],
        r"layer\.share_with entry 1402433619 is a number: quote account IDs .*octal",
        both(_built, layer_keys(share_with="[012345670123]")),
    ),
    Row(
        "prefix-parent-segment",
        ["layer.publish"],
        r"layer\.prefix '\.\./x' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "../x"},
    ),
    Row(
        "prefix-leading-slash",
        ["layer.publish"],
        r"layer\.prefix '/x' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "/x"},
    ),
    Row(
        "prefix-trailing-slash",
        ["layer.publish"],
        r"layer\.prefix 'x/' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "x/"},
    ),
    Row(
        "prefix-empty-segment",
        ["layer.publish"],
        r"layer\.prefix 'a//b' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "a//b"},
    ),
    Row(
        "prefix-dot-segment",
        ["layer.publish"],
        r"layer\.prefix 'a/\./b' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "a/./b"},
    ),
    Row(
        "prefix-unsafe-character",
        ["layer.publish"],
        r"layer\.prefix 'a b' is not a safe S3 key prefix",
        _built,
        env={"INVOKE_LAYER_PREFIX": "a b"},
    ),
    # --- numbers -------------------------------------------------------------------------
    Row(
        "budget-mb-inf",
        ["layer.budget"],
        r"layer\.budget_mb must be a finite number of MiB, zero or more, got inf",
        layer_keys(budget_mb=".inf"),
    ),
    Row(
        "reserve-mb-overflow",
        ["layer.budget"],
        r"layer\.reserve_mb must be a number of MiB, got '1\.0e400'",
        layer_keys(reserve_mb="1.0e400"),
    ),
    Row(
        "budget-mb-nan",
        ["layer.budget"],
        r"layer\.budget_mb must be a finite number of MiB, zero or more, got nan",
        layer_keys(budget_mb=".nan"),
    ),
    Row(
        "budget-mb-negative",
        ["layer.budget"],
        r"layer\.budget_mb must be a finite number of MiB, zero or more, got -5",
        layer_keys(budget_mb="-5"),
    ),
    Row(
        "budget-mb-bool",
        ["layer.budget"],
        r"layer\.budget_mb must be a number of MiB, got True",
        layer_keys(budget_mb="true"),
    ),
    Row(
        "lifecycle-days-bool",
        ["layer.budget"],
        r"layer\.lifecycle_days must be a whole number, got True",
        layer_keys(lifecycle_days="yes"),
    ),
    Row(
        "workers-fraction",
        ["layer.budget"],
        r"layer\.workers must be a whole number, got 2\.5",
        layer_keys(workers="2.5"),
    ),
    Row(
        "env-budget-mb-inf",
        ["layer.budget"],
        r"layer\.budget_mb must be a number of MiB, got 'inf' \(set by INVOKE_LAYER_BUDGET_MB\)",
        env={"INVOKE_LAYER_BUDGET_MB": "inf"},
    ),
    Row(
        "env-workers-non-ascii-digit",
        ["layer.budget"],
        r"layer\.workers must be a whole number, got '\u0663' \(set by INVOKE_LAYER_WORKERS\)",
        env={"INVOKE_LAYER_WORKERS": "\u0663"},
    ),
    # --- failures inside layer-tasks that were tracebacks --------------------------------
    Row(
        "prune-pattern-reversed-class",
        ["layer.build"],
        r"layer\.prune_custom\.bad: pattern '\[z-a\]\*\.py' is not a valid glob \(bad character range z-a",
        layer_keys(prune_custom='{bad: {patterns: ["[z-a]*.py"]}}'),
    ),
    Row(
        "aws-config-malformed",
        ["layer.update-config", "--arn", ARN],
        r"cannot parse the AWS config file .*aws-config: fix its syntax",
        write("aws-config", "[default\nregion\n"),
        env={"AWS_CONFIG_FILE": "aws-config", "INVOKE_LAYER_REGION": ""},
    ),
    Row(
        "state-dir-below-file-build",
        ["layer.build"],
        r"cannot create the folder .*/requirements-all\.txt/state \(layer\.state_dir\): "
        r".*requirements-all\.txt is a file",
        env={"INVOKE_LAYER_STATE_DIR": "requirements-all.txt/state"},
    ),
    Row(
        "state-dir-below-file-local-up",
        ["local.up"],
        r"cannot create the folder .*/requirements-all\.txt/state/sandbox \(layer\.state_dir\)",
        env={"INVOKE_LAYER_STATE_DIR": "requirements-all.txt/state"},
    ),
    Row(
        "zip-path-is-a-folder",
        ["layer.build"],
        r"dist/test-layer\.zip is a folder: the build writes a file there; remove it",
        write("dist/test-layer.zip/keep", "x"),
    ),
    Row(
        "chalice-config-nested-deep",
        ["layer.update-config", "--arn", ARN],
        r"Chalice config .*config\.json nests arrays or objects more than 100 levels deep",
        _nested_config(200_000),
    ),
    Row(
        "requirements-include-chain",
        ["layer.build"],
        r"r50\.txt: -r/-c includes nest more than 50 files deep; flatten them",
        _include_chain(450),
    ),
    Row(
        "requirements-endless-device",
        ["layer.check-requirements"],
        r"/dev/zero",
        env={"INVOKE_LAYER_REQUIREMENTS": "/dev/zero"},
    ),
    Row(
        "requirements-too-large",
        ["layer.build"],
        r"requirements file .*big\.txt is larger than 16,777,216 bytes",
        _big_requirements,
        env={"INVOKE_LAYER_REQUIREMENTS": "big.txt"},
    ),
    Row(
        "manifest-edited-by-hand",
        ["layer.publish"],
        r"manifest .*test-layer\.manifest\.json is unreadable \(zip_bytes is '\d+', not a whole "
        r"number\): run `inv layer\.build --force`",
        _hand_edited_manifest,
    ),
    Row(
        "lone-surrogate-in-invoke-yaml",
        ["layer.budget"],
        r"layer\.stage holds '\\ud800' at position 0, a lone surrogate",
        layer_keys(stage='"\\ud800"'),
    ),
    # --- failures inside Invoke, before any task runs ------------------------------------
    Row(
        "runtime-file-layer-null",
        ["-f", "rt.yaml", "layer.budget"],
        r"rt\.yaml: layer must be a mapping of settings, as in invoke\.yaml, got None",
        write("rt.yaml", "layer: null\n"),
    ),
    Row(
        "runtime-file-layer-list",
        ["-f", "rt.yaml", "layer.budget"],
        r"rt\.yaml: layer must be a mapping of settings, as in invoke\.yaml, got \['a'\]",
        write("rt.yaml", "layer: [a]\n"),
    ),
    Row(
        "runtime-file-layer-string",
        ["-f", "rt.yaml", "layer.budget"],
        r"rt\.yaml: layer must be a mapping of settings, as in invoke\.yaml, got 'x'",
        write("rt.yaml", "layer: x\n"),
    ),
    Row(
        "runtime-file-prune-not-mapping",
        ["-f", "rt.yaml", "layer.budget"],
        r"rt\.yaml: layer\.prune must be a mapping of settings, as in invoke\.yaml, got False",
        write("rt.yaml", "layer:\n  prune: off\n"),
    ),
    Row(
        "runtime-file-yaml-syntax",
        ["-f", "rt.yaml", "layer.budget"],
        r"cannot read the configuration file rt\.yaml: while parsing a flow node",
        write("rt.yaml", "layer: [\n"),
    ),
    Row(
        "runtime-file-not-yaml",
        ["-f", "rt.yaml", "layer.budget"],
        r"cannot read the configuration file rt\.yaml: 'utf-8' codec can't decode byte 0xff",
        write("rt.yaml", b"\xff\xd8\xff\xe0 not yaml at all\n"),
    ),
    Row(
        "runtime-file-is-a-folder",
        ["-f", "rt.yaml", "layer.budget"],
        r"cannot read the configuration file rt\.yaml: \[Errno 21\] Is a directory",
        write("rt.yaml/keep", "x"),
    ),
    Row(
        "runtime-file-nested-deep",
        ["-f", "rt.yaml", "layer.budget"],
        r"cannot read the configuration file rt\.yaml: it is nested too deeply to read",
        write("rt.yaml", "layer: " + "[" * 3000 + "]" * 3000 + "\n"),
    ),
    Row(
        "runtime-file-unknown-type",
        ["-f", "rt.txt", "layer.budget"],
        r"Config files of type 'txt' \(from file 'rt\.txt'\) are not supported",
        write("rt.txt", "layer: {}\n"),
    ),
    Row(
        "runtime-file-top-level-not-mapping",
        ["-f", "rt.yaml", "layer.budget"],
        r"rt\.yaml must hold a mapping at the top level",
        write("rt.yaml", "just text\n"),
    ),
    Row(
        "project-yaml-syntax",
        ["layer.budget"],
        r"cannot read the configuration file .*invoke\.yaml: while parsing a flow sequence",
        layer_keys(name="[unclosed"),
    ),
    Row(
        "env-cast-int-fraction",
        ["layer.budget"],
        r"INVOKE_LAYER_LIFECYCLE_DAYS='1\.5' is not a whole number: a configuration file sets "
        r"layer\.lifecycle_days to 90, so Invoke reads the variable as int",
        layer_keys(lifecycle_days=90),
        env={"INVOKE_LAYER_LIFECYCLE_DAYS": "1.5"},
    ),
    Row(
        "env-cast-int-inf",
        ["layer.budget"],
        r"INVOKE_LAYER_BUDGET_MB='inf' is not a whole number: a configuration file sets "
        r"layer\.budget_mb to 250",
        layer_keys(budget_mb=250),
        env={"INVOKE_LAYER_BUDGET_MB": "inf"},
    ),
    Row(
        "env-cast-list",
        ["layer.budget"],
        r"INVOKE_LAYER_SHARE_WITH cannot override layer\.share_with: a configuration file "
        r"sets it as a list",
        layer_keys(share_with='["123456789012"]'),
        env={"INVOKE_LAYER_SHARE_WITH": "210987654321"},
    ),
    Row(
        "flag-wrong-type",
        ["layer.size-report", "--top", "abc"],
        r"--top must be a whole number, got 'abc'",
    ),
    # Issue 20, section 5, fourth review: YAML 1.1 number forms, spaces and signs, and
    # Invoke's own parser messages.
    Row(
        "yaml-number-underscore",
        ["layer.budget"],
        r"^error: layer\.workers is written 1_0 in .*/invoke\.yaml, which YAML reads as 10: "
        r"write the number in plain digits$",
        layer_keys(workers="1_0"),
    ),
    Row(
        "yaml-number-octal",
        ["layer.budget"],
        r"^error: layer\.compression_level is written 010 in .*/invoke\.yaml, which YAML "
        r"reads as 8: write the number in plain digits$",
        layer_keys(compression_level="010"),
    ),
    Row(
        "yaml-number-base-60",
        ["layer.budget"],
        r"^error: layer\.deadline_minutes is written 1:30 in .*/invoke\.yaml, which YAML "
        r"reads as 90: write the number in plain digits$",
        layer_keys(deadline_minutes="1:30"),
    ),
    Row(
        "env-number-surrounding-space",
        ["layer.budget"],
        r"^error: layer\.max_attempts must be a whole number, got ' 5' "
        r"\(set by INVOKE_LAYER_MAX_ATTEMPTS\)$",
        layer_keys(max_attempts="5"),  # Invoke's int() cast would take ' 5'
        env={"INVOKE_LAYER_MAX_ATTEMPTS": " 5"},
    ),
    Row(
        "flag-number-plus-sign",
        ["layer.rollback", "--version", "+2"],
        r"^error: --version must be a positive whole number \(a published layer version, "
        r"see `inv layer\.versions`\), got '\+2'$",
    ),
    Row(
        "flag-given-twice",
        ["layer.size-report", "--top", "5", "--top", "99999"],
        r"^error: '99999' is not a task, a flag, or a flag's value here \(a flag given "
        r"twice\?\): see `inv --list` and `inv --help TASK`$",
    ),
    Row(
        "flag-without-its-value",
        ["layer.rollback", "--version"],
        r"^error: --version needs a value \(--version VALUE\)$",
    ),
    # --- silently ignored before -----------------------------------------------------------
    Row(
        "runtime-file-missing",
        ["-f", "nope.yaml", "layer.budget"],
        r"configuration file nope\.yaml \(inv -f\) not found: check the path",
    ),
    Row(
        "env-prune-not-mapping",
        ["layer.budget"],
        r"INVOKE_LAYER_PRUNE cannot be used: layer\.prune is a mapping, which one environment "
        r"variable cannot hold; set one entry instead, e\.g\. INVOKE_LAYER_PRUNE_",
        env={"INVOKE_LAYER_PRUNE": "off"},
    ),
    Row(
        "env-unknown-key",
        ["layer.budget"],
        r"INVOKE_LAYER_BUKET is not a layer setting, and Invoke would ignore it",
        env={"INVOKE_LAYER_BUKET": "my-bucket"},
    ),
    Row(
        "env-bool-false-read-as-true",
        ["layer.budget"],
        r"INVOKE_LAYER_VERIFY='false' would be read as true: a configuration file sets "
        r"layer\.verify to a boolean, and Invoke reads any text but '' or '0' as true; use 0 or 1",
        layer_keys(verify="true"),
        env={"INVOKE_LAYER_VERIFY": "false"},
    ),
    Row(
        "prune-custom-not-strings",
        ["layer.budget"],
        r"layer\.prune_custom\.extra\.patterns must be a list of strings, got \[1, True\]",
        layer_keys(prune_custom="{extra: {patterns: [1, true]}}"),
    ),
]


# --- issue 20: configuration files Invoke would hang or choke on --------------------------


def _fifo_runtime_file(project: Path, _settings: LayerSettings) -> None:
    os.mkfifo(project / "rt.yaml")  # Invoke would wait in open() for a writer, forever


def _big_runtime_file(project: Path, _settings: LayerSettings) -> None:
    with (project / "rt.yaml").open("wb") as fh:  # sparse: no disk space
        fh.truncate(17 * 1024 * 1024)


def _alias_bomb(project: Path, _settings: LayerSettings) -> None:
    """Nine levels of ten aliases each: 10**9 values once Invoke copies them out."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = (project / "invoke.yaml").read_text(encoding="utf-8")
    (project / "invoke.yaml").write_text("\n".join(lines) + "\n" + text, encoding="utf-8")


ROWS += [
    Row(
        "runtime-file-fifo",
        ["-f", "rt.yaml", "layer.budget"],
        r"^error: configuration file rt\.yaml is not a regular file \(a FIFO, device or "
        r"socket\), which Invoke would wait on or read forever: replace it with a file$",
        _fifo_runtime_file,
    ),
    Row(
        "runtime-file-too-large",
        ["-f", "rt.yaml", "layer.budget"],
        r"^error: configuration file rt\.yaml is larger than 16,777,216 bytes",
        _big_runtime_file,
    ),
    Row(
        "project-yaml-alias-bomb",
        ["layer.budget"],
        r"^error: configuration file .*/invoke\.yaml stands for more than 100,000 values "
        r"once its YAML aliases \(\*name\) are copied out",
        _alias_bomb,
    ),
]

# One row per kind of failure, also in a real process: a task's own error, a -f file
# Invoke merges, an INVOKE_* cast, a task flag, and the YAML parser's RecursionError (the
# depth it is hit at is the interpreter's own stack's).
IN_A_PROCESS = [
    "bucket-trailing-newline",
    "runtime-file-layer-null",
    "env-cast-int-fraction",
    "flag-wrong-type",
    "runtime-file-nested-deep",
]


# What Invoke reads before any code of ours runs (the start-up net that refuses these runs
# as tasks.py is imported, once per process): only a real process shows it.
# Invoke's parser messages too: their one-line form is set on the one `Program` that
# imports tasks.py first in a process (tasks/_startup.one_line_parse_errors).
PROCESS_ONLY = [
    "runtime-file-fifo",
    "runtime-file-too-large",
    "project-yaml-alias-bomb",
    "flag-given-twice",
    "flag-without-its-value",
]
HERE = [row for row in ROWS if row.id not in PROCESS_ONLY]


@pytest.mark.parametrize("row", HERE, ids=[row.id for row in HERE])
def test_bad_input_from_the_command_line(
    row: Row, project: Path, settings: LayerSettings, server: MotoServer
) -> None:
    check(row, project, settings, server, inv_here)


@pytest.mark.parametrize(
    "row",
    [{row.id: row for row in ROWS}[id_] for id_ in IN_A_PROCESS + PROCESS_ONLY],
    ids=IN_A_PROCESS + PROCESS_ONLY,
)
def test_bad_input_from_an_inv_process(
    row: Row, project: Path, settings: LayerSettings, server: MotoServer
) -> None:
    check(row, project, settings, server, inv)


def check(
    row: Row,
    project: Path,
    settings: LayerSettings,
    server: MotoServer,
    run: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    server.reset()
    row.setup(project, settings)
    files_before = project_files(project)
    aws_before = aws_state(server.url, NAME)

    proc = run(project, *row.argv, env={"AWS_ENDPOINT_URL": server.url, **row.env})

    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    assert re.search(row.expect, errors[0]), errors[0]
    print(f"\n{row.id}\t{errors[0].replace(str(project), '<project>')}")
    assert project_files(project) == files_before
    assert not any(p.name.endswith(".partial") for p in project.rglob("*"))
    assert aws_state(server.url, NAME) == aws_before


@pytest.mark.parametrize(
    ("code", "raised"),
    [
        (
            "import no_such_module_here",
            "ModuleNotFoundError: No module named 'no_such_module_here'",
        ),
        # A ValueError, like YAML's and JSON's errors, but raised by the user's own code.
        ("raise ValueError('from the config file')", "ValueError: from the config file"),
    ],
)
def test_a_failure_that_is_not_a_known_input_keeps_its_traceback(
    project: Path, code: str, raised: str
) -> None:
    """The start-up net turns only known Invoke failures into one line: a bug (here, a
    Python config file that raises) still shows where it happened."""
    (project / "rt.py").write_text(code + "\n", encoding="utf-8")
    proc = inv(project, "-f", "rt.py", "layer.budget")
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
    assert raised in proc.stderr
    assert not any(line.startswith("error:") for line in proc.stderr.splitlines())


def _collected(config: pytest.Config) -> list[str]:
    """The tests of reliability/, unit/ and e2e/: as this session collected them where it
    collected them all (the whole suite, under xdist in each worker too), else from a
    ``pytest --collect-only`` of those folders."""
    folders = [TESTS / "reliability", TESTS / "unit", TESTS / "e2e"]
    here = collection.collected_in(config, folders)
    if here is not None:
        return here
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"),
            *(str(folder) for folder in folders),
        ],
        capture_output=True,
        text=True,
        cwd=TESTS.parent,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_catalogue_ids_and_collected_tests_agree(pytestconfig: pytest.Config) -> None:
    """docs/bad-inputs.md and the tests, read together: every id in the doc's tables is
    a collected test (a case id of a ``test_bad_input*`` test, or a test's name), and
    every case of every ``test_bad_input*`` test of reliability/ has a row."""
    ids = re.findall(r"^\| `([A-Za-z0-9_-]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    cases, names = set(), set()
    for node in _collected(pytestconfig):
        function, _, param = node.split("::")[-1].partition("[")
        names.add(function)
        if function.startswith("test_bad_input") and param and "/reliability/" in f"/{node}":
            cases.add(param.rstrip("]"))
    assert cases, "no bad-input cases collected"
    assert sorted(set(ids) - cases - names) == [], "rows without a test"
    assert sorted(cases - set(ids)) == [], "cases without a row"
