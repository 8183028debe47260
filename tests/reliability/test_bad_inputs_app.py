"""Bad inputs about the user's Chalice app and `init` (issue 19; docs/bad-inputs.md, third
block). Each row runs the command as a user types it, in this process (``inv`` or the
``layer-tasks`` program), and checks: exit status 1, exactly one ``error:`` line matching
the row, no traceback, every project file byte-identical (content and mode), and the
buckets, objects and layer versions on the moto server as they were."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from invoke.main import program as inv_program
from support.chalice_app import add_app
from support.faults import MotoServer, no_backoff
from support.snapshot import aws_state, project_files

from layer_tasks.tasks.program import make_program

NAME = "test-layer"
DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-inputs.md"

Setup = Callable[[Path, Path], None]  # (project, wheelhouse)


@dataclass
class Row:
    id: str
    argv: list[str]  # "inv ..." or "layer-tasks ..."
    expect: str  # a regex the error line must match
    setup: Setup = lambda _p, _w: None
    env: dict[str, str | None] = field(default_factory=dict)


def _app(*requirements: str, built: bool = False) -> Setup:
    """The project is a Chalice app whose requirements.txt lists ``requirements``; with
    ``built``, its layer is built (with the app) already."""

    def setup(project: Path, wheelhouse: Path) -> None:
        add_app(project, wheelhouse, *requirements)
        if built:
            make_program().run(["layer-tasks", "build"])

    return setup


def _yaml(text: str) -> Setup:
    def setup(project: Path, _wheelhouse: Path) -> None:
        (project / "invoke.yaml").write_text(text, encoding="utf-8")

    return setup


def _fresh(*more: Setup) -> Setup:
    """A Chalice app as `chalice new-project` leaves it: no invoke.yaml, no tasks.py."""

    def setup(project: Path, wheelhouse: Path) -> None:
        (project / "invoke.yaml").unlink()
        (project / "tasks.py").unlink()
        add_app(project, None)
        for step in more:
            step(project, wheelhouse)

    return setup


def _one_stage(project: Path, _wheelhouse: Path) -> None:
    config = project / ".chalice" / "config.json"
    data = json.loads(config.read_text())
    data["stages"] = {"dev": data["stages"]["dev"]}
    config.write_text(json.dumps(data, indent=2) + "\n")


def _other_workflow(project: Path, _wheelhouse: Path) -> None:
    workflow = project / ".github" / "workflows" / "layer-tasks.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: ours\n")


def _no_chalice(project: Path, _wheelhouse: Path) -> None:
    (project / ".chalice" / "config.json").unlink()
    (project / ".chalice").rmdir()


DUPLICATE = (
    r"^error: the layer and the app's .*/requirements\.txt both install alpha \([0-9.]+ KiB in "
    r"the layer\), beta \([0-9.]+ KiB in the layer\): Chalice puts requirements\.txt into the "
    r"function, so [0-9.]+ KiB would ship twice\. Remove them from one of the two \(the "
    r"layer's is requirements-all\.txt\), or allow them by name in layer\.allow_duplicates$"
)
NO_REGION = {"AWS_REGION": None, "AWS_DEFAULT_REGION": None}

ROWS = [
    Row("app-duplicate-build", ["inv", "layer.build"], DUPLICATE, _app("alpha==1.0")),
    Row("app-duplicate-deploy", ["inv", "layer.deploy"], DUPLICATE, _app("alpha==1.0")),
    Row("app-duplicate-budget", ["inv", "layer.budget"], DUPLICATE, _app("alpha==1.0")),
    Row(
        "app-over-budget-deploy",
        ["inv", "layer.deploy"],
        r"^error: layer test-layer is [0-9.]+ KiB unzipped \+ the app's package [0-9.]+ KiB "
        r"\(app\.py [0-9.]+ Bytes, chalicelib/ [0-9.]+ Bytes, requirements\.txt [0-9.]+ "
        r"(Bytes|KiB)\), [0-9.]+ KiB over the budget of 20\.0 KiB .* or drop a requirement "
        r"from the layer or the app's requirements\.txt \(nothing was uploaded\)$",
        _app("delta==1.0", built=True),  # deploy reuses the build: no file changes
        env={"INVOKE_LAYER_BUDGET_MB": "0.01953125"},  # 20 KiB
    ),
    Row(
        "allow-duplicates-not-a-name",
        ["inv", "layer.build"],
        r"^error: layer\.allow_duplicates entry 'requests ok' is not a distribution name: use "
        r"letters, digits, '\.', '-' or '_' \(e\.g\. requests\) \(set by "
        r"INVOKE_LAYER_ALLOW_DUPLICATES\)$",
        env={"INVOKE_LAYER_ALLOW_DUPLICATES": "requests ok"},
    ),
    Row(
        "init-outside-chalice-project",
        ["layer-tasks", "init"],
        r"^error: no Chalice project here: looked for .*/\.chalice/config\.json "
        r"\(layer\.chalice_config\) and found nothing; run init in your app's folder",
        _fresh(_no_chalice),
    ),
    Row(
        "init-several-stages",
        ["layer-tasks", "init"],
        r"^error: .*/\.chalice/config\.json has several stages \(dev, prod\): which one uses "
        r"the layer\? pass --stage NAME$",
        _fresh(),
    ),
    Row(
        "init-unknown-stage",
        ["layer-tasks", "init", "--stage", "qa"],
        r"^error: stage 'qa' is not in .*/\.chalice/config\.json \(stages: dev, prod\): pass "
        r"one of them$",
        _fresh(),
    ),
    Row(
        "init-no-region",
        ["layer-tasks", "init"],
        r"^error: which AWS region\? none is set: pass --region \(e\.g\. --region eu-west-1\), "
        r"or set AWS_REGION or a profile's region; the layer and its bucket live there$",
        _fresh(_one_stage),
        env=NO_REGION,
    ),
    Row(
        "init-region-invalid",
        ["layer-tasks", "init", "--stage", "dev", "--region", "us_east!1"],
        r"^error: --region 'us_east!1' is not an AWS region name \(e\.g\. us-east-1\)$",
        _fresh(),
    ),
    Row(
        "init-python-not-lambda",
        ["layer-tasks", "init", "--stage", "dev", "--python", "3.9"],
        r"^error: Lambda has no python3\.9 runtime \(3\.10, 3\.11, 3\.12, 3\.13, 3\.14\), and "
        r"Chalice deploys for the Python that runs it: run init \(and chalice\) with one of "
        r"those, or pass --python 3\.12$",
        _fresh(),
    ),
    Row(
        "init-layer-section-incomplete",
        ["layer-tasks", "init", "--stage", "dev"],
        r"^error: .*/invoke\.yaml already has a layer: section, without name, requirements, "
        r"python, stage, region; init adds files and lines but never edits yours: add them "
        r'under layer: \(name: "demo-deps"; ',
        _fresh(_yaml("layer:\n  bucket: my-own-bucket\n")),
    ),
    Row(
        "init-invoke-yaml-flow-mapping",
        ["layer-tasks", "init", "--stage", "dev"],
        r"^error: .*/invoke\.yaml ends in a way that a layer: section appended to it would not "
        r"be read as part of it: add the section yourself",
        _fresh(_yaml("{run: {echo: true}}")),
    ),
    Row(
        "init-workflow-not-inits",
        ["layer-tasks", "init", "--stage", "dev", "--ci", "github"],
        r"^error: .*/\.github/workflows/layer-tasks\.yml exists and is not the workflow init "
        r"writes; init never edits a file: remove it, or leave out --ci$",
        _fresh(_other_workflow),
    ),
]


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    program = make_program() if argv[0] == "layer-tasks" else inv_program
    with pytest.raises(SystemExit) as exit_info:
        program.run(argv)
    return int(exit_info.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
def test_bad_input_about_the_app(
    row: Row,
    project: Path,
    wheelhouse: Path,
    server: MotoServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.reset()
    monkeypatch.chdir(project)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    no_backoff(monkeypatch)
    row.setup(project, wheelhouse)
    for name, value in row.env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    files_before = project_files(project)
    aws_before = aws_state(server.url, NAME)

    code, err = run(row.argv, capsys)

    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1, err
    assert "Traceback" not in err, err
    assert len(errors) == 1, err
    assert re.search(row.expect, errors[0]), errors[0]
    print(f"\n{row.id}\t{errors[0].replace(str(project), '<project>')}")
    assert project_files(project) == files_before
    assert not any(p.name.endswith(".partial") for p in project.rglob("*"))
    assert aws_state(server.url, NAME) == aws_before


def test_every_row_here_is_in_the_catalogue() -> None:
    ids = re.findall(r"^\| `([a-z0-9-]+)` \|", DOC.read_text(encoding="utf-8"), re.M)
    assert sorted({row.id for row in ROWS} - set(ids)) == []
