"""Checks that know the Chalice app (issue 19 section 3), on tiny offline wheels: real uv
installs of the layer and of the app's requirements.txt, real zips and imports."""

from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from invoke.main import program
from support.chalice_app import add_app, make_app_project
from support.cli import make_project, write_requirements
from support.wheels import make_wheel

from layer_tasks.build.app_package import measure_app
from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.verify import find_interpreter
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.project.app import find_app

CLI_PYC = "python/alpha/__pycache__/cli.cpython-312.pyc"


def _settings(project: Path, **keys: object) -> LayerSettings:
    import yaml

    raw = yaml.safe_load((project / "invoke.yaml").read_text())["layer"]
    return LayerSettings.from_mapping({**raw, **keys}, base_dir=project)


def _app(settings: LayerSettings, log: list[str] | None = None):  # type: ignore[no-untyped-def]
    app = find_app(settings.chalice_config)
    assert app is not None
    return measure_app(settings, app, log=(log if log is not None else []).append)


@pytest.mark.skipif(find_interpreter("3.12") is None, reason="no python3.12 on this host")
def test_the_app_imports_join_the_imported_bytecode(tmp_path: Path, wheelhouse: Path) -> None:
    project = make_app_project(tmp_path / "p", wheelhouse, "alpha==1.0", "epsilon==1.0")
    settings = _settings(project)
    lines: list[str] = []
    package = _app(settings)
    assert package.app.imports == ("alpha", "alpha.cli", "alpha.core", "alpha.core.answer")

    result = build_layer(settings, log=lines.append, app=package)
    with zipfile.ZipFile(result.zip_path) as zf:
        names = zf.namelist()
    # Nothing in the layer imports alpha.cli; app.py does (inside a handler).
    assert CLI_PYC in names
    assert result.manifest.verify["app_modules"] == ["alpha.cli", "alpha.core"]
    assert result.manifest.bytecode["proven"] is True  # the same import run proved it
    assert any("the check also imports alpha.cli, alpha.core" in line for line in lines), lines

    # The app's imports are an input of the build: the same build is reused with them,
    # and without the app (or with other imports) it is built again, as before.
    again = build_layer(settings, log=print, app=package)
    assert again.reused
    alone = build_layer(settings, log=print)
    assert not alone.reused and "app_modules" not in alone.manifest.verify
    with zipfile.ZipFile(alone.zip_path) as zf:
        assert CLI_PYC not in zf.namelist()


def test_a_distribution_in_both_fails_before_the_zip_unless_allowed(
    tmp_path: Path, wheelhouse: Path
) -> None:
    # app: alpha (which pulls in beta); layer: alpha, epsilon.
    project = make_app_project(tmp_path / "p", wheelhouse, "alpha==1.0", "alpha==1.0")
    write_requirements(project / "requirements-all.txt", wheelhouse, "alpha==1.0", "epsilon==1.0")
    settings = _settings(project)
    log: list[str] = []
    package = _app(settings, log)
    assert sorted(d.name for d in package.distributions) == ["alpha", "beta"]
    assert any(line.startswith("app: requirements.txt installs 2 distribution(s)") for line in log)

    with pytest.raises(LayerError) as caught:
        build_layer(settings, log=print, app=package)
    message = caught.value.message
    assert message.startswith(f"the layer and the app's {project}/requirements.txt both install ")
    assert "alpha (" in message and " in the layer), beta (" in message
    assert "layer.allow_duplicates" in message
    assert not settings.zip_path.exists() and not settings.manifest_path.exists()

    # The measure is kept: a second look installs nothing (no log line).
    log.clear()
    assert _app(settings, log).distributions == package.distributions and log == []

    allowed = replace(settings, allow_duplicates=frozenset({"alpha", "beta"}))
    assert build_layer(allowed, log=print, app=package).zip_path.is_file()
    # A current build does not hide a duplicate: the reuse path checks too.
    with pytest.raises(LayerError, match="both install alpha"):
        build_layer(settings, log=print, app=package)


def test_budget_and_size_report_count_the_app(
    tmp_path: Path,
    wheelhouse: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The layer alone fits; with the app's package (epsilon's 10 KB of JSON) it does not."""
    project = make_app_project(tmp_path / "p", wheelhouse, "alpha==1.0", "epsilon==1.0")
    monkeypatch.chdir(project)
    assert _inv(["layer.build"], capsys)[0] == 0
    manifest = json.loads((project / "dist" / "test-layer.manifest.json").read_text())
    budget_mb = (manifest["unzipped_bytes"] + 2000) / 1024 / 1024  # less than the app's package
    monkeypatch.setenv("INVOKE_LAYER_BUDGET_MB", f"{budget_mb:.6f}")

    code, _, err = _inv(["layer.budget"], capsys)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert code == 1 and len(errors) == 1, err
    assert " unzipped + the app's package " in errors[0] and "requirements.txt" in errors[0]
    assert "over the budget" in errors[0]

    code, out, _ = _inv(["layer.size-report", "--json"], capsys)
    data = json.loads(out)
    assert code == 0 and data["app"]["parts"]["requirements.txt"] > 10_000
    assert data["budget"]["app_bytes"] == data["app"]["bytes"] and data["budget"]["over"]
    assert [d["name"] for d in data["app"]["requirements"]] == ["epsilon"]


def _inv(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``inv ARGV`` in this process (as the bad-input catalogue runs it)."""
    try:
        program.run(["inv", *argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_without_requirements_txt_the_app_is_its_code(tmp_path: Path, wheelhouse: Path) -> None:
    project = make_app_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    (project / "requirements.txt").unlink()
    add_app(project, None)
    settings = _settings(project)
    package = _app(settings)
    assert package.distributions == () and package.requirements_bytes == 0
    assert [label for label, _ in package.parts()] == ["app.py", "chalicelib/"]


PROXY = """\
import sys
import types


class _Proxy(types.ModuleType):  # as cryptography's deprecation wrapper: no __spec__
    def __init__(self, module):
        super().__init__(module.__name__)
        self._module = module

    def __getattr__(self, name):
        return getattr(self._module, name)


sys.modules[__name__] = _Proxy(sys.modules[__name__])
"""


@pytest.mark.skipif(find_interpreter("3.12") is None, reason="no python3.12 on this host")
def test_a_module_that_puts_a_wrapper_in_sys_modules_keeps_its_bytecode(tmp_path: Path) -> None:
    """cryptography.hazmat.primitives.serialization replaces itself in sys.modules with a
    proxy that has no __spec__: imported all the same, so its pyc ships (it was dropped as
    if its import had failed, and compiled at every cold start)."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(
        wheels, "wrapped", "1.0", {"wrapped/__init__.py": PROXY, "wrapped/plain.py": "X = 1\n"}
    )
    project = tmp_path / "p"
    make_project(project, wheels, "wrapped==1.0")
    result = build_layer(_settings(project), log=print)
    with zipfile.ZipFile(result.zip_path) as zf:
        pycs = sorted(n for n in zf.namelist() if n.endswith(".pyc"))
    assert pycs == ["python/wrapped/__pycache__/__init__.cpython-312.pyc"]
    assert result.manifest.bytecode["proven"] is True
