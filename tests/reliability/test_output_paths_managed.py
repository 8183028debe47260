"""What the tool writes never replaces what it manages or reads (issue 20, section 2;
docs/bad-inputs.md, "Fourth review").

One list of those files (layer_tasks/report/managed.py) serves three paths the user
gives: ``size-report --html FILE``, ``GITHUB_STEP_SUMMARY`` and the path settings. Each
case runs ``inv`` in this process (`support.cli.inv_here`) and checks the one ``error:``
line, exit status 1, no traceback and every project file byte for byte as it was; the
deploy's and the settings' cases also check that nothing reached the moto server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.chalice_app import add_app
from support.cli import copy_project, inv_here, make_project, write_requirements
from support.snapshot import aws_state, project_files

from layer_tasks.report.html import GENERATOR

MANAGED = (
    ", which the tool manages or reads: give another file name "
    "(it is never replaced, even with --force)"
)
ARN = "arn:aws:lambda:us-east-1:123456789012:layer:test-layer:1"


def refused(project: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run ``inv ARGS``; it must fail with one ``error:`` line and change no file."""
    before = project_files(project)
    proc = inv_here(project, *args, env=env)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(errors) == 1, proc.stderr
    assert project_files(project) == before
    return errors[0]


@pytest.fixture
def app_project(tmp_path: Path, wheelhouse: Path) -> Path:
    """A layer project that is a Chalice app: app.py, chalicelib/, requirements.txt,
    vendor/, and what ``init --ci github`` writes."""
    project = make_project(tmp_path / "app", wheelhouse, "alpha==1.0")
    add_app(project, wheelhouse, "beta==2.0")
    (project / "chalicelib" / "util.py").write_text("def util():\n    return 1\n")
    (project / "vendor").mkdir()
    (project / "vendor" / "tool.py").write_text("X = 1\n")
    (project / ".gitignore").write_text("/dist/\n/.state/\n")
    workflow = project / ".github" / "workflows" / "layer-tasks.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: layer\n")
    return project


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("requirements.txt", "is the Chalice app's requirements.txt" + MANAGED),
        ("app.py", "is the Chalice app's app.py" + MANAGED),
        (
            "chalicelib/util.py",
            "is inside the Chalice app's chalicelib/ (<project>/chalicelib), which the tool "
            "reads: give a file elsewhere",
        ),
        (
            "vendor/tool.py",
            "is inside the Chalice app's vendor/ (<project>/vendor), which the tool reads: "
            "give a file elsewhere",
        ),
    ],
)
def test_html_never_replaces_the_apps_files(app_project: Path, target: str, expect: str) -> None:
    """F5-F7: the duplicates check, the app's size and its imports read these."""
    line = refused(app_project, "layer.size-report", "--html", target, "--force")
    assert line == f"error: --html {target} " + expect.replace("<project>", str(app_project))


@pytest.mark.parametrize(
    ("target", "what"),
    [
        (".gitignore", "the .gitignore init writes"),
        (".github/workflows/layer-tasks.yml", "the deploy workflow init writes"),
    ],
)
def test_html_never_replaces_what_init_writes(app_project: Path, target: str, what: str) -> None:
    """F8-F9."""
    line = refused(app_project, "layer.size-report", "--html", target, "--force")
    assert line == f"error: --html {target} is {what}" + MANAGED


@pytest.mark.parametrize(
    ("variable", "target", "what"),
    [
        ("PIP_CONFIG_FILE", "pip.conf", "pip's configuration (PIP_CONFIG_FILE)"),
        ("UV_CONFIG_FILE", "uv-config.toml", "uv's configuration (UV_CONFIG_FILE)"),
        (None, "uv.toml", "uv's configuration"),
        ("NETRC", "netrc", "the netrc file"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "creds",
            "the AWS credentials file (AWS_SHARED_CREDENTIALS_FILE)",
        ),
        ("AWS_CONFIG_FILE", "aws-config", "the AWS config file (AWS_CONFIG_FILE)"),
        (None, "constraints.txt", "a requirements file"),  # -c from requirements-all.txt
        (None, "rt.yaml", "a configuration file inv reads"),  # inv -f rt.yaml
    ],
)
def test_html_never_replaces_what_the_installer_or_boto3_reads(
    project: Path, wheelhouse: Path, variable: str | None, target: str, what: str
) -> None:
    """F10-F11: uv, pip and boto3 read these files; so do the requirements' includes
    and Invoke's runtime configuration."""
    content = {"rt.yaml": "layer: {}\n", "constraints.txt": "alpha==1.0\n"}
    (project / target).write_text(content.get(target, "[global]\n"), encoding="utf-8")
    write_requirements(project / "requirements-all.txt", wheelhouse, "-c constraints.txt", "alpha")
    runtime = ["-f", "rt.yaml"] if target == "rt.yaml" else []
    env = {variable: str(project / target)} if variable else None
    args = [*runtime, "layer.size-report", "--html", target, "--force"]
    assert refused(project, *args, env=env) == f"error: --html {target} is {what}" + MANAGED


def test_html_replaces_only_a_page_it_wrote(small_project: Path, tmp_path: Path) -> None:
    """F12: a document that quotes the page's generator tag is not a page; the command's
    own earlier page is replaced without --force."""
    project = copy_project(small_project, tmp_path / "p")
    notes = project / "notes.md"
    notes.write_text(f"# Notes\n\nThe page carries `{GENERATOR}`.\n", encoding="utf-8")
    assert refused(project, "layer.size-report", "--html", "notes.md") == (
        "error: --html notes.md exists and is not a page this command wrote: give another "
        "file name, or pass --force to replace it"
    )
    for _ in range(2):  # the second run replaces the first one's page
        proc = inv_here(project, "layer.size-report", "--html", "size.html")
        assert proc.returncode == 0, proc.stderr
    assert (project / "size.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(
    ("task", "target", "what"),
    [
        ("layer.size-report", ".chalice/config.json", "the Chalice config"),
        ("layer.size-report", ".layer-arn.txt", "the ARN file"),
        ("layer.size-report", "dist/test-layer.zip", "the layer zip"),
        ("layer.budget", "requirements-all.txt", "the requirements file"),
    ],
)
def test_step_summary_is_never_a_file_the_tool_manages(
    small_project: Path, tmp_path: Path, task: str, target: str, what: str
) -> None:
    """F13-F16: the summary was appended to these, exit status 0."""
    project = copy_project(small_project, tmp_path / "p")
    (project / ".layer-arn.txt").write_text(ARN + "\n", encoding="utf-8")
    line = refused(project, task, env={"GITHUB_STEP_SUMMARY": target})
    assert line == (
        f"error: GITHUB_STEP_SUMMARY {target} is {what}, which the tool manages or reads: "
        "unset it or point it at another file"
    )


@pytest.mark.parametrize(
    ("summary", "expect"),
    [
        (
            "/nonexistent/dir/summary.md",
            "/nonexistent/dir/summary.md: folder /nonexistent/dir does not exist; "
            "unset it or fix the path",
        ),
        ("dist", "dist is a folder: unset it or point it at another file"),
        (
            ".chalice/config.json",
            ".chalice/config.json is the Chalice config, which the tool manages or reads: "
            "unset it or point it at another file",
        ),
    ],
)
def test_deploy_checks_the_step_summary_before_any_change(
    small_project: Path, tmp_path: Path, endpoint: str, summary: str, expect: str
) -> None:
    """F17-F18: the deploy uploaded, published and wrote the ARN file and the Chalice
    config, and only then failed on the summary."""
    project = copy_project(small_project, tmp_path / "p")
    before = aws_state(endpoint, "test-layer")
    env = {"GITHUB_STEP_SUMMARY": summary, "AWS_ENDPOINT_URL": endpoint}
    assert refused(project, "layer.deploy", env=env) == f"error: GITHUB_STEP_SUMMARY {expect}"
    assert aws_state(endpoint, "test-layer") == before == ([], [], [])


@pytest.mark.parametrize(
    ("variables", "expect"),
    [
        (  # F19: every stage of the config replaced by one ARN line
            {"INVOKE_LAYER_ARN_FILE": ".chalice/config.json"},
            r"layer\.arn_file \(\.chalice/config\.json\) is the Chalice config "
            r"\(layer\.chalice_config\), which the tool manages: give layer\.arn_file a file "
            r"of its own \(set by INVOKE_LAYER_ARN_FILE\)",
        ),
        (
            {"INVOKE_LAYER_CHALICE_CONFIG": ".layer-arn.txt"},
            r"layer\.chalice_config \(\.layer-arn\.txt\) is the ARN file \(layer\.arn_file\), "
            r"which the tool manages: give layer\.chalice_config a file of its own "
            r"\(set by INVOKE_LAYER_CHALICE_CONFIG\)",
        ),
        (
            {"INVOKE_LAYER_ARN_FILE": "requirements-all.txt"},
            r"layer\.arn_file \(requirements-all\.txt\) is the requirements file "
            r"\(layer\.requirements\), which the tool reads: give layer\.arn_file a file of its "
            r"own \(set by INVOKE_LAYER_ARN_FILE\)",
        ),
        (
            {"INVOKE_LAYER_ARN_FILE": "pylock.test-layer-x86_64.toml"},
            r"layer\.arn_file \(pylock\.test-layer-x86_64\.toml\) is the lock \(from "
            r"layer\.requirements\), which the tool manages: give layer\.arn_file a file of "
            r"its own \(set by INVOKE_LAYER_ARN_FILE\)",
        ),
        (
            {"INVOKE_LAYER_ARN_FILE": "tasks.py"},
            r"layer\.arn_file \(tasks\.py\) is tasks\.py, which inv reads: give "
            r"layer\.arn_file a file of its own \(set by INVOKE_LAYER_ARN_FILE\)",
        ),
        (
            {"INVOKE_LAYER_ARN_FILE": ".state/arn.txt"},
            r"layer\.arn_file \(\.state/arn\.txt\) is inside layer\.state_dir \(.*/\.state\), "
            r"which the tool manages: give layer\.arn_file a place outside it "
            r"\(set by INVOKE_LAYER_ARN_FILE\)",
        ),
        (
            {"INVOKE_LAYER_STATE_DIR": ".chalice"},
            r"layer\.state_dir \(\.chalice\) holds the Chalice config \(layer\.chalice_config\), "
            r"and the tool manages everything inside it: give layer\.state_dir a folder of "
            r"its own \(set by INVOKE_LAYER_STATE_DIR\)",
        ),
        (
            {"INVOKE_LAYER_DIST_DIR": "chalicelib"},
            r"layer\.dist_dir \(its layer zip, chalicelib/test-layer\.zip\) is inside the "
            r"Chalice app's chalicelib/ \(.*/chalicelib\), which the tool reads: give "
            r"layer\.dist_dir a place outside it \(set by INVOKE_LAYER_DIST_DIR\)",
        ),
    ],
)
def test_path_settings_never_name_one_file_twice(
    app_project: Path, endpoint: str, variables: dict[str, str], expect: str
) -> None:
    """F19: two path settings on one file, a file the tool writes on one it reads, or
    anything in the state folder, refused when the settings load."""
    (app_project / ".layer-arn.txt").write_text(ARN + "\n", encoding="utf-8")
    env = {**variables, "AWS_ENDPOINT_URL": endpoint}
    line = refused(app_project, "layer.rollback", "--version", "1", env=env)
    assert re.fullmatch("error: " + expect, line), line
    assert aws_state(endpoint, "test-layer") == ([], [], [])


WHEEL = "wh/gamma-1.0-py3-none-any.whl"


@pytest.mark.parametrize(
    ("case", "target", "what"),
    [
        # B1: a --find-links folder of the requirements, of an -r include, of pip's
        # configuration or a variable: the installer lists the folder and reads its files.
        ("requirements", WHEEL, "the --find-links place <project>/wh (requirements-all.txt)"),
        ("include", WHEEL, "the --find-links place <project>/wh (requirements-all.txt)"),
        ("PIP_FIND_LINKS", WHEEL, "the --find-links place <project>/wh (PIP_FIND_LINKS)"),
        ("UV_FIND_LINKS", WHEEL, "the --find-links place <project>/wh (UV_FIND_LINKS)"),
        ("pip.conf find-links", WHEEL, "the --find-links place <project>/wh (<project>/pip.conf)"),
        # B2-B3: constraints, requirements and overrides named by pip.conf or a variable.
        ("pip.conf constraint", "c.txt", "a file the installer reads (constraint in <project>/pip.conf)"),
        ("pip.conf requirement", "c.txt", "a file the installer reads (requirement in <project>/pip.conf)"),
        ("PIP_CONSTRAINT", "c.txt", "a file the installer reads (PIP_CONSTRAINT)"),
        ("UV_CONSTRAINT", "c.txt", "a file the installer reads (UV_CONSTRAINT)"),
        ("PIP_REQUIREMENT", "c.txt", "a file the installer reads (PIP_REQUIREMENT)"),
        ("UV_OVERRIDE", "c.txt", "a file the installer reads (UV_OVERRIDE)"),
        ("UV_BUILD_CONSTRAINT", "c.txt", "a file the installer reads (UV_BUILD_CONSTRAINT)"),
    ],
)  # fmt: skip
def test_html_never_replaces_what_the_installer_is_told_to_read(
    project: Path, wheelhouse: Path, case: str, target: str, what: str
) -> None:
    """B1-B3: `--html FILE --force` turned a --find-links wheel, or a constraints file
    pip.conf or PIP_CONSTRAINT named, into HTML, exit 0."""
    (project / "wh").mkdir()
    (project / WHEEL).write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (project / "c.txt").write_text("alpha==1.0\n", encoding="utf-8")
    lines = ["alpha"]
    if case == "requirements":
        lines.insert(0, "--find-links ./wh")
    if case == "include":
        (project / "more.txt").write_text("-f wh\n", encoding="utf-8")
        lines.insert(0, "-r more.txt")
    write_requirements(project / "requirements-all.txt", wheelhouse, *lines)
    env: dict[str, str] = {}
    if case.startswith("pip.conf"):
        key = case.split()[1]
        value = "./wh" if key == "find-links" else str(project / "c.txt")
        (project / "pip.conf").write_text(f"[global]\n{key} = {value}\n", encoding="utf-8")
        env["PIP_CONFIG_FILE"] = str(project / "pip.conf")
    elif case.endswith("FIND_LINKS"):
        env[case] = str(project / "wh")
    elif case.isupper():
        env[case] = str(project / "c.txt")
    line = refused(project, "layer.size-report", "--html", target, "--force", env=env)
    what = what.replace("<project>", str(project))
    if target == WHEEL:
        assert line == f"error: --html {target} is inside {what}, which the tool reads: " + (
            "give a file elsewhere"
        )
    else:
        assert line == f"error: --html {target} is {what}" + MANAGED


@pytest.mark.parametrize("include", ["-r", "-c"])
def test_the_lock_is_never_a_file_the_tool_reads(
    project: Path, wheelhouse: Path, include: str
) -> None:
    """C: the lock was also an -r include of the requirements; `inv layer.lock` exited
    0 and replaced it (every entry of one setting was skipped as "the same key")."""
    lock = "pylock.test-layer-x86_64.toml"
    (project / lock).write_text("gamma==1.0\n", encoding="utf-8")
    write_requirements(project / "requirements-all.txt", wheelhouse, f"{include} {lock}", "alpha")
    assert refused(project, "layer.lock") == (
        f"error: layer.requirements (its lock, {lock}) is also a requirements file (from "
        "layer.requirements), which the tool reads: the lock would replace it; give the one "
        "the tool reads another name"
    )


@pytest.mark.parametrize(
    ("value", "expect"),
    [
        ("", "--html is empty: give a file name, e.g. --html size.html"),
        (
            "page.html/",
            "--html page.html/ ends in a separator, so it names a folder: give a file name, "
            "e.g. --html page.html",
        ),
    ],
)
def test_html_names_a_file(small_project: Path, tmp_path: Path, value: str, expect: str) -> None:
    """J: `--html ''` exited 0 and wrote nothing; `--html page.html/` wrote a file."""
    project = copy_project(small_project, tmp_path / "p")
    assert refused(project, "layer.size-report", "--html", value) == f"error: {expect}"
    assert not (project / "page.html").exists()
