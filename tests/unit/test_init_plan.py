"""What `layer-tasks init` writes (project/init.py), on tmp_path: it adds files and lines,
never edits a byte the user wrote, and a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from support.chalice_app import chalice_config

from layer_tasks.errors import LayerError
from layer_tasks.project import init as setup


def _infer(root: Path, **overrides: object) -> setup.Inferred:
    config = root / ".chalice" / "config.json"
    app_name, stages = setup.chalice_project(root, config)
    args: dict[str, object] = {
        "config": config, "stage": None, "region": "ap-northeast-2", "bucket": None, "python": "3.12",
    }  # fmt: skip
    args.update(overrides)
    return setup.infer(app_name, stages, **args)  # type: ignore[arg-type]


def _run(root: Path, ci: str = "", **overrides: object) -> list[setup.FileChange]:
    inferred = _infer(root, **overrides)
    setup.check(inferred, root)
    changes = setup.plan_files(
        root, inferred, folders=(root / "dist", root / ".layer-tasks"), ci=ci,
        tool_version="9.9", load_yaml=yaml.safe_load,
    )  # fmt: skip
    setup.apply(changes)
    return changes


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_fresh_app_gets_its_settings_and_a_second_run_changes_nothing(tmp_path: Path) -> None:
    chalice_config(tmp_path, app_name="My_App")
    changes = _run(tmp_path, ci="github")
    assert [(c.path.name, c.kind) for c in changes] == [
        ("invoke.yaml", "create"),
        ("requirements-layer.txt", "create"),
        (".gitignore", "create"),
        ("layer-tasks.yml", "create"),
    ]
    layer = yaml.safe_load((tmp_path / "invoke.yaml").read_text())["layer"]
    assert layer == {
        "name": "My_App-deps",
        "requirements": "requirements-layer.txt",
        "python": "3.12",  # a string, not the number 3.12
        "stage": "dev",
        "region": "ap-northeast-2",
        "bucket": "my-app-layers-{region}",
    }
    assert (tmp_path / ".gitignore").read_text().splitlines()[1:] == ["/dist/", "/.layer-tasks/"]
    workflow = yaml.safe_load((tmp_path / ".github/workflows/layer-tasks.yml").read_text())
    runs = [s["run"] for s in workflow["jobs"]["deploy"]["steps"] if "run" in s]
    assert runs[1:] == ["layer-tasks budget", "layer-tasks deploy", "chalice deploy --stage dev"]

    before = _files(tmp_path)
    again = _run(tmp_path, ci="github")
    assert [c.kind for c in again] == ["unchanged"] * 4
    assert _files(tmp_path) == before
    report = setup.report(again, _infer(tmp_path), tmp_path)
    assert report[0] == (
        "init: nothing to change: invoke.yaml, requirements-layer.txt, .gitignore, "
        ".github/workflows/layer-tasks.yml already hold it"
    )
    assert report[-3:] == [
        "  layer-tasks deploy --local   # the whole pipeline against a local sandbox",
        "  layer-tasks deploy           # publish to AWS; stages.dev.layers gets the ARN",
        "  chalice deploy --stage dev",
    ]


def test_existing_files_are_added_to_never_rewritten(tmp_path: Path) -> None:
    chalice_config(tmp_path)
    invoke_yaml = b"run:\n  echo: true  # mine\n"  # no layer: section yet
    gitignore = b"*.pyc\ndist/"  # one line already there, no final newline
    (tmp_path / "invoke.yaml").write_bytes(invoke_yaml)
    (tmp_path / ".gitignore").write_bytes(gitignore)
    (tmp_path / "requirements-layer.txt").write_bytes(b"numpy\n")
    changes = _run(tmp_path)
    assert [c.kind for c in changes] == ["append", "unchanged", "append"]
    assert (tmp_path / "invoke.yaml").read_bytes().startswith(invoke_yaml + b"\n# layer-tasks 9.9")
    data = yaml.safe_load((tmp_path / "invoke.yaml").read_text())
    assert data["run"] == {"echo": True} and data["layer"]["name"] == "demo-deps"
    assert (tmp_path / ".gitignore").read_bytes() == (
        gitignore + b"\n# layer-tasks: the built layer and the build's state\n/.layer-tasks/\n"
    )
    assert (tmp_path / "requirements-layer.txt").read_bytes() == b"numpy\n"
    assert [c.kind for c in _run(tmp_path)] == ["unchanged"] * 3


def test_a_layer_section_of_the_users_own_is_left_as_it_is(tmp_path: Path) -> None:
    chalice_config(tmp_path)
    mine = (
        b"layer:\n  name: x\n  requirements: r.txt\n  python: '3.11'\n  stage: prod\n"
        b"  region: eu-west-1\n  bucket: b-b-b\n"
    )
    (tmp_path / "invoke.yaml").write_bytes(mine)
    assert _run(tmp_path)[0].kind == "unchanged"  # other values than init's: still the user's
    assert (tmp_path / "invoke.yaml").read_bytes() == mine


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"invoke.yaml": "layer:\n  bucket: mine\n"},
            r"invoke\.yaml already has a layer: section, without name, requirements, python, "
            r"stage, region; init adds files and lines but never edits yours: add them under "
            r'layer: \(name: "demo-deps"; requirements: "requirements-layer.txt"; ',
        ),
        ({"invoke.yaml": "{run: {echo: true}}"}, "ends in a way that a layer: section appended"),
        ({"invoke.yaml": "- a\n- b\n"}, "does not hold a mapping at the top level"),
        ({"invoke.yaml": "run: [\n"}, r"invoke\.yaml does not parse as YAML"),
        ({"invoke.yml": "run: {}\n"}, r"this project's Invoke configuration is .*invoke\.yml"),
        ({".gitignore": b"\xff\xfe"}, r"\.gitignore is not UTF-8 text"),
    ],
)
def test_what_init_cannot_add_is_refused_before_any_write(
    tmp_path: Path, files: dict[str, str | bytes], message: str
) -> None:
    chalice_config(tmp_path)
    for name, text in files.items():
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = _files(tmp_path)
    with pytest.raises(LayerError, match=message):
        _run(tmp_path)
    assert _files(tmp_path) == before


def test_a_workflow_that_is_not_inits_is_refused(tmp_path: Path) -> None:
    chalice_config(tmp_path)
    workflow = tmp_path / ".github" / "workflows" / "layer-tasks.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: mine\n")
    before = _files(tmp_path)
    with pytest.raises(
        LayerError, match=r"layer-tasks\.yml exists and is not the workflow init writes"
    ):
        _run(tmp_path, ci="github")
    assert _files(tmp_path) == before
    with pytest.raises(LayerError, match="--ci 'gitlab' is not supported; use github"):
        _run(tmp_path, ci="gitlab")


def test_questions_where_nothing_can_be_inferred(tmp_path: Path) -> None:
    with pytest.raises(
        LayerError, match=r"no Chalice project here: looked for .*\.chalice/config\.json"
    ):
        _infer(tmp_path)
    chalice_config(tmp_path, stages=("dev", "prod"))
    with pytest.raises(
        LayerError, match=r"several stages \(dev, prod\): which one .* pass --stage"
    ):
        _infer(tmp_path)
    assert _infer(tmp_path, stage="prod").stage == "prod"
    with pytest.raises(LayerError, match=r"stage 'qa' is not in .* \(stages: dev, prod\)"):
        _infer(tmp_path, stage="qa")
    with pytest.raises(LayerError, match="which AWS region"):
        _infer(tmp_path, stage="dev", region="")
    with pytest.raises(LayerError, match=r"Lambda has no python3\.9 runtime"):
        _infer(tmp_path, stage="dev", python="3.9")
    chalice_config(tmp_path, app_name="---")
    with pytest.raises(LayerError, match="no app_name to name the layer after"):
        _infer(tmp_path)


def test_the_bucket_name_fits_s3_whatever_the_app_is_called(tmp_path: Path) -> None:
    chalice_config(tmp_path, app_name="Very_Long_" + "x" * 80)
    inferred = _infer(tmp_path, region="ap-southeast-2")
    bucket = inferred.bucket.format(region="ap-southeast-2")
    assert len(bucket) <= 63 and bucket.endswith("-layers-ap-southeast-2")
    setup.check(inferred, tmp_path)  # the tasks accept it
    assert _infer(tmp_path, bucket="given-bucket").bucket == "given-bucket"
