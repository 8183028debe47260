"""The fourth hostile review (issue 20): secrets, locks and whole values.

Each test runs the task as a user types it (`inv_here`: the same program, in this
process) and checks what a user sees: exit status 1 and exactly one ``error:`` line
(no traceback), every project file as it was, no AWS state changed; for a secret, the
password in no output and in no file under the project (the state folder included) in
any spelling: raw, percent-encoded, base64 (``user:password``, as Basic auth has it).
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from support.cli import copy_project, inv_here, make_project, write_requirements
from support.faults import MotoServer
from support.snapshot import aws_state, project_files

LOCK = "pylock.test-layer-x86_64.toml"
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:test-layer:1"


def one_error_line(proc: subprocess.CompletedProcess[str], pattern: str) -> str:
    """The run failed with exit status 1 and one ``error:`` line matching ``pattern``."""
    code, out, err = proc.returncode, proc.stdout, proc.stderr
    assert code == 1, out + err
    assert "Traceback" not in out + err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert re.search(pattern, errors[0]), errors[0]
    return errors[0]


def spellings(user: str, password: str) -> list[str]:
    """Every form of the password a leak could take."""
    forms = {password, quote(password, safe=""), f"{user}:{password}" if user else password}
    for secret in (password, f"{user}:{password}"):
        forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return sorted(forms)


def files_holding(root: Path, forms: list[str], *, skip: tuple[Path, ...] = ()) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path in skip or path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        found += [f"{path}: {form}" for form in forms if form.encode() in data]
    return found


# --- secrets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "user", "password", "shown"),
    [
        (
            "-r http://user:RemIncUU19@127.0.0.1:5066/reqs.txt",
            "user",
            "RemIncUU19",
            "-r http://user:***@127.0.0.1:5066/reqs.txt",
        ),
        (
            "-c https://tok:ConstrUrlOOO15@127.0.0.1:5066/c.txt",
            "tok",
            "ConstrUrlOOO15",
            "-c https://tok:***@127.0.0.1:5066/c.txt",
        ),
        (
            "--requirement=https://ReqEqTokPPP16@127.0.0.1:5066/r.txt",
            "",
            "ReqEqTokPPP16",
            "--requirement https://***@127.0.0.1:5066/r.txt",
        ),
    ],
    ids=["requirement-password", "constraint-password", "requirement-token"],
)
def test_a_remote_include_is_refused_and_its_password_never_shown(
    tmp_path: Path, wheelhouse: Path, line: str, user: str, password: str, shown: str
) -> None:
    """F1-F3: a URL after -r/-c was read as a path (``http:/user:PASS@...``), and the
    password was printed in the "not found" line."""
    project = make_project(tmp_path / "p", wheelhouse)
    requirements = project / "requirements-all.txt"
    write_requirements(requirements, wheelhouse, line, "alpha==1.0")
    before = project_files(project)

    proc = inv_here(project, "layer.build", "--force")

    one_error_line(
        proc,
        rf"^error: {re.escape(str(requirements))}:3: {re.escape(shown)} is a URL, and -r/-c "
        rf"files are read from disk only: download it beside requirements-all\.txt and "
        "give its path$",
    )
    forms = spellings(user, password)
    assert [form for form in forms if form in proc.stdout + proc.stderr] == []
    assert files_holding(project, forms, skip=(requirements,)) == []
    assert project_files(project) == before


def test_a_wheel_url_password_is_masked_where_the_installer_moves_it(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """F4: uv resolves ``file://user:PASS@localhost/...`` against the project folder and
    says ``file:///<project>/user:PASS@localhost/...``: the userinfo after a path."""
    project = make_project(tmp_path / "p", wheelhouse)
    requirements = project / "requirements-all.txt"
    wheel = wheelhouse / "alpha-1.0-py3-none-any.whl"
    write_requirements(
        requirements, wheelhouse, f"alpha @ file://user:FileUrlRRR18@localhost{wheel}"
    )
    before = project_files(project)

    proc = inv_here(project, "layer.build", "--force", env={"INVOKE_LAYER_INDEX_RETRIES": "0"})

    one_error_line(
        proc,
        r"^error: cannot install the layer for python3\.12 x86_64 \(glibc 2\.34\): .*"
        r"file:///\S*/user:\*\*\*@localhost/",
    )
    forms = spellings("user", "FileUrlRRR18")
    assert [form for form in forms if form in proc.stdout + proc.stderr] == []
    assert files_holding(project, forms, skip=(requirements,)) == []
    assert project_files(project) == before


# --- locks ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def locked(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A project (alpha==1.0, which requires beta) with its lock; tests copy it."""
    project = make_project(tmp_path_factory.mktemp("locked") / "p", wheelhouse, "alpha==1.0")
    proc = inv_here(project, "layer.lock")
    assert proc.returncode == 0, proc.stderr
    return project


def a_copy(locked: Path, tmp_path: Path) -> tuple[Path, Path]:
    project = copy_project(locked, tmp_path / "p")
    return project, project / LOCK


DEEP = 5000


@pytest.mark.parametrize(
    "nesting",
    [
        "x = " + "[" * DEEP + "]" * DEEP,
        "x = " + "{a = " * DEEP + "1" + "}" * DEEP,
        "[" + ".".join(["t"] * DEEP) + "]\nx = 1",
        ".".join(["k"] * DEEP) + " = 1",
    ],
    ids=["arrays", "inline-tables", "table-header", "dotted-key"],
)
def test_a_lock_nested_too_deep_is_one_line_naming_it(
    locked: Path, tmp_path: Path, nesting: str
) -> None:
    """F23: arrays nested 5000 deep ended in a RecursionError traceback from tomllib;
    tables nested by name (a header, a dotted key) in one from the reader after it."""
    project, lock = a_copy(locked, tmp_path)
    table = "" if nesting.startswith("[") else "[tool.other]\n"  # a header is its own
    with lock.open("a", encoding="utf-8") as fh:
        fh.write(f"\n{table}{nesting}\n")
    before = project_files(project)

    proc = inv_here(project, "layer.build", "--force")

    one_error_line(
        proc,
        rf"^error: lock file {re.escape(LOCK)} nests arrays or tables more than 100 levels "
        "deep; no real one does: check the file$",
    )
    assert project_files(project) == before


def test_another_tools_deep_lock_adds_nothing_to_the_sbom(
    small_project: Path, tmp_path: Path
) -> None:
    """The SBOM reads every pylock*.toml beside the requirements: another tool's lock
    nested too deep adds nothing (as a lock that does not parse), not a traceback."""
    project = copy_project(small_project, tmp_path / "p")
    (project / "pylock.toml").write_text("x = " + "[" * DEEP + "]" * DEEP + "\n")
    proc = inv_here(project, "layer.build", "--force")
    assert proc.returncode == 0, proc.stderr
    assert (project / "dist" / "test-layer.cdx.json").is_file()


def test_a_lock_over_16_mib_is_refused(locked: Path, tmp_path: Path) -> None:
    """A 17 MiB lock was read whole, past the 16 MiB that every text file is held to."""
    project, lock = a_copy(locked, tmp_path)
    with lock.open("a", encoding="utf-8") as fh:
        fh.write("# " + "x" * (17 * 1024 * 1024) + "\n")
    before = project_files(project)

    proc = inv_here(project, "layer.build", "--force")

    one_error_line(
        proc,
        rf"^error: lock file {re.escape(str(lock))} is larger than 16,777,216 bytes, which "
        "no real one is",
    )
    assert project_files(project) == before


@pytest.mark.parametrize("kind", ["folder", "dangling-symlink"])
def test_a_folder_in_place_of_the_lock_is_an_error(
    small_project: Path, tmp_path: Path, kind: str
) -> None:
    """F24: a folder where the lock goes built without a lock and exit 0, skipping the
    lock's proof that it covers every requirement. A build reused from before is not
    taken either (the lock is part of the build key), and `inv layer.lock` does not
    write around it."""
    project = copy_project(small_project, tmp_path / "p")
    lock = project / LOCK
    if kind == "folder":
        lock.mkdir()
        what = "a folder: remove it and run `inv layer.lock` to write the lock"
    else:
        lock.symlink_to(project / "gone.toml")
        what = "a symlink to nothing: remove it, or point it at the lock"
    before = project_files(project)

    for argv in (["layer.build", "--force"], ["layer.build"], ["layer.lock"]):
        proc = inv_here(project, *argv)
        one_error_line(proc, rf"^error: lock file {re.escape(str(lock))} is {re.escape(what)}$")
    assert project_files(project) == before


def test_an_upper_case_sha256_is_the_same_digest(locked: Path, tmp_path: Path) -> None:
    """F25: a sha256 in upper-case hex was "no sha256 for ..." although the lock had one.
    The digest is the same in either case: the build installs from the lock."""
    project, lock = a_copy(locked, tmp_path)
    text = lock.read_text(encoding="utf-8")
    upper = re.sub(r'sha256 = "([0-9a-f]{64})"', lambda m: f'sha256 = "{m[1].upper()}"', text)
    assert upper != text
    lock.write_text(upper, encoding="utf-8")

    proc = inv_here(project, "layer.build", "--force")

    assert proc.returncode == 0, proc.stderr
    assert f"from {LOCK}" in proc.stdout + proc.stderr


# --- whole values -----------------------------------------------------------------------


@pytest.mark.parametrize("given", [f"{ARN} ", f" {ARN}", f"{ARN}\n", f"{ARN}\u00a0"])
def test_an_arn_with_whitespace_around_it_is_refused_not_trimmed(
    small_project: Path, tmp_path: Path, given: str
) -> None:
    """F20: ``--arn 'ARN '`` was trimmed and written into the Chalice config, exit 0."""
    project = copy_project(small_project, tmp_path / "p")
    before = project_files(project)

    proc = inv_here(project, "layer.update-config", "--arn", given)

    one_error_line(
        proc,
        rf"^error: layer ARN {re.escape(repr(given))} has whitespace around it: remove it "
        r"\(names, ARNs and IDs are used exactly as given, never trimmed\)$",
    )
    assert project_files(project) == before


@pytest.mark.parametrize(
    "content",
    [f"{ARN} \n", f" {ARN}\n", f"{ARN}\t", f"{ARN}\n\n", f"{ARN}\r\n\r\n", f"\n{ARN}\n"],
    ids=["space-before-newline", "leading-space", "tab", "blank-line", "blank-crlf", "first"],
)
def test_an_arn_file_is_one_line_and_one_line_ending(
    small_project: Path, tmp_path: Path, content: str
) -> None:
    """F21: ``ARN \\n`` in the ARN file was trimmed by ``strip()`` and used. One line
    ending (``\\n`` or ``\\r\\n``) ends the one line; anything else is refused."""
    project = copy_project(small_project, tmp_path / "p")
    arn_file = project / ".layer-arn.txt"
    arn_file.write_bytes(content.encode())
    before = project_files(project)

    proc = inv_here(project, "layer.update-config")

    one_error_line(
        proc,
        rf"^error: (the ARN in {re.escape(str(arn_file))} '.*' has whitespace around it: "
        rf"remove it|the ARN file {re.escape(str(arn_file))} has 2 lines; it must hold one "
        "layer version ARN$)",
    )
    assert project_files(project) == before


@pytest.mark.parametrize(
    ("yaml_line", "env", "shown"),
    [
        ('  share_with: ["123456789012\\n"]\n', {}, "layer.share_with entry '123456789012\\n'"),
        ('  share_with: [" 123456789012"]\n', {}, "layer.share_with entry ' 123456789012'"),
        ("", {"INVOKE_LAYER_SHARE_WITH": "123456789012 "}, "layer.share_with '123456789012 '"),
        (
            "",
            {"INVOKE_LAYER_SHARE_WITH": "123456789012,\t210987654321"},
            "layer.share_with entry '\\t210987654321'",
        ),
    ],
    ids=["yaml-newline", "yaml-leading-space", "env-trailing-space", "env-tab-after-comma"],
)
def test_a_share_with_entry_with_whitespace_publishes_nothing(
    small_project: Path,
    tmp_path: Path,
    server: MotoServer,
    yaml_line: str,
    env: dict[str, str],
    shown: str,
) -> None:
    """F22: ``share_with: ["123456789012\\n"]`` was trimmed: publish published the layer
    and granted lambda:GetLayerVersion to the account. Now the settings are refused
    before any AWS call."""
    server.reset()
    project = copy_project(small_project, tmp_path / "p")
    if yaml_line:
        with (project / "invoke.yaml").open("a", encoding="utf-8") as fh:
            fh.write(yaml_line)
    before = project_files(project)
    aws_before = aws_state(server.url, "test-layer")

    proc = inv_here(project, "layer.publish", env={"AWS_ENDPOINT_URL": server.url, **env})

    one_error_line(
        proc,
        rf"^error: {re.escape(shown)} has whitespace around it: remove it \(names, ARNs and "
        r"IDs are used exactly as given, never trimmed\)",
    )
    assert project_files(project) == before
    assert aws_state(server.url, "test-layer") == aws_before == ([], [], [])


# --- the fifth pass: quotes in a password, malformed Chalice layer entries -----------------


@pytest.mark.parametrize(
    ("line", "password"),
    [
        ("--index-url http://user:Zq'x9w7K@127.0.0.1:5066/simple/", "Zq'x9w7K"),
        ('--extra-index-url http://user:Dq"7Kx2Lm@127.0.0.1:1/simple/', 'Dq"7Kx2Lm'),
        ("--index-url=http://user:Pq'!$&()*+,;=~%41z@127.0.0.1:1/simple/", "Pq'!$&()*+,;=~%41z"),
    ],
    ids=["single-quote", "double-quote", "every-sub-delim"],
)
def test_a_quote_in_a_password_never_shows_when_an_option_line_cannot_be_split(
    tmp_path: Path, wheelhouse: Path, line: str, password: str
) -> None:
    """A1/A2: shlex stopped at the quote ("No closing quotation"), the URL was registered
    only after a line parsed, and the masking shape stopped at a quote: the error line
    quoted the line with the password in clear."""
    project = make_project(tmp_path / "p", wheelhouse)
    requirements = project / "requirements-all.txt"
    requirements.write_text(f"{line}\nalpha==1.0\n", encoding="utf-8")
    before = project_files(project)

    proc = inv_here(project, "layer.build", "--force")

    shown = line.replace(password, "***")
    error = one_error_line(
        proc,
        rf"^error: {re.escape(str(requirements))}:1: cannot parse option line "
        rf".*{re.escape(shown)}.*: No closing quotation$",
    )
    assert "user:***@127.0.0.1" in error
    forms = [*spellings("user", password), quote(password), password.replace("%41", "A")]
    assert [form for form in forms if form in proc.stdout + proc.stderr] == []
    assert files_holding(project, forms, skip=(requirements,)) == []
    assert project_files(project) == before


BAD_ENTRIES = {
    "a-number": (5, "5, which is not a layer version ARN string"),
    "arabic-indic-digit": (
        ARN[:-1] + "\u0661",
        re.escape(repr(ARN[:-1] + "\u0661")) + " is not a Lambda layer version ARN",
    ),
    "version-out-of-range": (
        ARN[:-1] + str(2**63),
        re.escape(repr(ARN[:-1] + str(2**63))) + " has version 9223372036854775808",
    ),
}
ENTRY_TASKS = {
    "cleanup": ("dev", ("layer.cleanup", "--keep", "1", "--dry-run")),
    "rollback": ("prod", ("layer.rollback", "--version", "1")),
    "update-config": ("prod", ("layer.update-config", "--arn", ARN)),
    "deploy": ("prod", ("layer.deploy",)),
}


@pytest.mark.parametrize("task", list(ENTRY_TASKS))
@pytest.mark.parametrize("entry", list(BAD_ENTRIES))
def test_a_malformed_chalice_layer_entry_is_refused_not_skipped(
    small_project: Path, tmp_path: Path, server: MotoServer, entry: str, task: str
) -> None:
    """I: ``stages.dev.layers = [5]`` or a version in Arabic-Indic digits was passed over
    as "not an ARN": cleanup said "nothing to delete" (the version it meant counted as
    unused). Every task that reads the config's layers refuses it, before any change."""
    server.reset()
    project = copy_project(small_project, tmp_path / "p")
    stage, args = ENTRY_TASKS[task]
    value, shown = BAD_ENTRIES[entry]
    config = project / ".chalice" / "config.json"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["stages"][stage]["layers"] = [value]
    config.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    before = project_files(project)
    aws_before = aws_state(server.url, "test-layer")

    proc = inv_here(project, *args, env={"AWS_ENDPOINT_URL": server.url})

    one_error_line(
        proc, rf"^error: stages\.{stage}\.layers in {re.escape(str(config))} holds {shown}"
    )
    assert project_files(project) == before
    assert aws_state(server.url, "test-layer") == aws_before


def test_other_layers_in_the_chalice_config_are_still_entries(
    small_project: Path, tmp_path: Path, server: MotoServer
) -> None:
    """Another layer's version, of another account, is a legitimate entry: kept, and
    cleanup reads past it."""
    server.reset()
    project = copy_project(small_project, tmp_path / "p")
    config = project / ".chalice" / "config.json"
    other = "arn:aws:lambda:us-east-1:999999999999:layer:other-layer:7"
    data = json.loads(config.read_text(encoding="utf-8"))
    data["stages"]["prod"]["layers"] = [other]
    config.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    proc = inv_here(project, "layer.update-config", "--arn", ARN)

    assert proc.returncode == 0, proc.stderr
    assert json.loads(config.read_text(encoding="utf-8"))["stages"]["prod"]["layers"] == [ARN]
    proc = inv_here(
        project, "layer.cleanup", "--keep", "1", "--dry-run", env={"AWS_ENDPOINT_URL": server.url}
    )
    assert proc.returncode == 0, proc.stderr
