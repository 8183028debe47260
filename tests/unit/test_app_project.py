"""The Chalice app beside the layer (issue 19), as pure logic: finding it, its own size,
its static imports, which of them are modules of the layer, duplicates, the budget."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from support.chalice_app import add_app, chalice_config

from layer_tasks.build.app_package import app_modules, check_duplicates, duplicates
from layer_tasks.build.footprint import budget_for, over_budget_message, report_data, report_text
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.local.sandbox import local_settings
from layer_tasks.model.app import App, AppPackage
from layer_tasks.model.manifest import Distribution, Manifest
from layer_tasks.project.app import find_app, static_imports

MiB = 1024 * 1024


def _settings(root: Path, **keys: object) -> LayerSettings:
    return LayerSettings.from_mapping(
        {"requirements": "requirements-layer.txt", "state_dir": ".state", **keys}, base_dir=root
    )


def test_no_app_without_config_or_app_py(tmp_path: Path) -> None:
    config = tmp_path / ".chalice" / "config.json"
    assert find_app(config) is None  # nothing at all
    chalice_config(tmp_path)
    assert find_app(config) is None  # a config, no app.py (this repository's own case)
    (tmp_path / "app.py").write_text("x = 1\n")
    assert find_app(tmp_path / "elsewhere" / "config.json") is None  # not in .chalice/
    app = find_app(config)
    assert app is not None and app.root == tmp_path and app.requirements is None


def test_own_package_counts_app_py_chalicelib_and_vendor(tmp_path: Path) -> None:
    chalice_config(tmp_path)
    add_app(tmp_path, None)
    (tmp_path / "chalicelib" / "__pycache__").mkdir()
    (tmp_path / "chalicelib" / "__pycache__" / "db.cpython-312.pyc").write_bytes(b"x" * 999)
    (tmp_path / "vendor" / "mylib").mkdir(parents=True)
    (tmp_path / "vendor" / "mylib" / "__init__.py").write_bytes(b"y" * 100)
    (tmp_path / "requirements.txt").write_text("\n")
    app = find_app(tmp_path / ".chalice" / "config.json")
    assert app is not None
    lib = sum(p.stat().st_size for p in (tmp_path / "chalicelib").glob("*.py"))
    assert dict(app.own) == {
        "app.py": (tmp_path / "app.py").stat().st_size,
        "chalicelib/": lib,  # no __pycache__: Chalice does not package it
        "vendor/": 100,
    }
    assert app.own_bytes == sum(dict(app.own).values())
    assert app.requirements == tmp_path / "requirements.txt"


def test_static_imports_of_app_py_and_chalicelib(tmp_path: Path) -> None:
    add_app(tmp_path, None)
    (tmp_path / "chalicelib" / "more.py").write_text(
        "import sqlalchemy.orm, numpy as np\n"
        "from dateutil import parser, tz\n"
        "from google.generativeai import *\n"
        "from .db import answer\n"  # relative: the app's own
        "import mylib.sub\n"  # vendored: the app's own
        "import collections.abc\n"  # standard library
        "def handler():\n    import pgvector.sqlalchemy\n"
    )
    (tmp_path / "chalicelib" / "broken.py").write_text("def (:\n")  # skipped, not fatal
    (tmp_path / "vendor" / "mylib").mkdir(parents=True)
    assert static_imports(tmp_path) == [
        "alpha",
        "alpha.cli",
        "alpha.core",
        "alpha.core.answer",
        "dateutil",
        "dateutil.parser",
        "dateutil.tz",
        "google.generativeai",
        "numpy",
        "pgvector.sqlalchemy",
        "sqlalchemy.orm",
    ]


def test_app_modules_are_the_imports_that_are_modules_of_the_layer(tmp_path: Path) -> None:
    sources = (
        "alpha/__init__.py",
        "alpha/cli.py",
        "alpha/core.py",
        "solo.py",
        "ns/pkg/__init__.py",
    )
    for path in map(tmp_path.joinpath, sources):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    (tmp_path / "fast.cpython-312-x86_64-linux-gnu.so").write_bytes(b"")
    (tmp_path / "stray").mkdir()  # in the tree, but no RECORD lists it
    (tmp_path / "stray" / "__init__.py").write_text("")
    records = {
        "alpha-1.0.dist-info": ["alpha/__init__.py", "alpha/cli.py", "alpha/core.py"],
        "solo-1.0.dist-info": ["solo.py", "fast.cpython-312-x86_64-linux-gnu.so"],
        "ns_pkg-1.0.dist-info": ["ns/pkg/__init__.py"],
    }
    imports = [
        "alpha", "alpha.cli", "alpha.core.answer", "alpha.missing", "solo", "fast",
        "ns.pkg", "stray", "requests",
    ]  # fmt: skip
    assert app_modules(tmp_path, records, imports) == [
        "alpha",
        "alpha.cli",
        "fast",
        "ns.pkg",
        "solo",
    ]


def _dist(name: str, size: int) -> Distribution:
    return Distribution(name, "1.0", size, 1)


def _package(root: Path, *dists: Distribution, own: int = 1000) -> AppPackage:
    app = App(root=root, requirements=root / "requirements.txt", own=(("app.py", own),))
    return AppPackage(app, dists)


def test_duplicates_name_each_distribution_with_its_bytes_in_the_layer(tmp_path: Path) -> None:
    layer = [_dist("Requests", 3 * MiB), _dist("urllib3", MiB), _dist("numpy", 70 * MiB)]
    package = _package(tmp_path, _dist("requests", 10), _dist("URLLib3", 20), _dist("idna", 5))
    assert [d.name for d in duplicates(layer, package)] == ["Requests", "urllib3"]
    with pytest.raises(LayerError) as caught:
        check_duplicates(layer, package, _settings(tmp_path))
    assert caught.value.message == (
        f"the layer and the app's {tmp_path}/requirements.txt both install Requests "
        "(3.0 MiB in the layer), urllib3 (1.0 MiB in the layer): Chalice puts requirements.txt "
        "into the function, so 4.0 MiB would ship twice. Remove them from one of the two (the "
        "layer's is requirements-layer.txt), or allow them by name in layer.allow_duplicates"
    )
    # Allowed by name, in any spelling of it.
    allowed = _settings(tmp_path, allow_duplicates=["requests", "URLLIB3"])
    check_duplicates(layer, package, allowed)
    check_duplicates(layer, None, _settings(tmp_path))  # no app: nothing to compare


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", frozenset()),
        ("Requests, urllib3", frozenset({"requests", "urllib3"})),  # INVOKE_LAYER_ALLOW_DUPLICATES
        (["Foo_Bar", "foo.bar"], frozenset({"foo-bar"})),
    ],
)
def test_allow_duplicates_setting(tmp_path: Path, value: object, expected: frozenset[str]) -> None:
    assert _settings(tmp_path, allow_duplicates=value).allow_duplicates == expected


@pytest.mark.parametrize("bad", ["requests\n", "-x", "réquests", "a b"])
def test_allow_duplicates_refuses_what_is_not_a_name(tmp_path: Path, bad: str) -> None:
    with pytest.raises(
        LayerError,
        match=r"layer\.allow_duplicates entry .* (is not a distribution name|has whitespace)",
    ):
        _settings(tmp_path, allow_duplicates=[bad])


def _manifest(size: int) -> Manifest:
    return Manifest(
        name="deps", python="3.12", architecture="x86_64", code_sha256="x", zip_bytes=size // 3,
        unzipped_bytes=size, files=10, requirements_sha256="r",
        distributions=(_dist("numpy", size),), pruned={},
    )  # fmt: skip


def test_budget_counts_the_app_and_names_its_share(tmp_path: Path) -> None:
    settings = _settings(tmp_path, budget_mb=100, reserve_mb=5)
    package = _package(tmp_path, _dist("requests", 2 * MiB), own=MiB)
    manifest = _manifest(93 * MiB)
    assert budget_for(manifest, settings).margin == 2 * MiB  # without the app: fits
    assert over_budget_message(manifest, settings) is None
    with_app = budget_for(manifest, settings, package)
    assert with_app.app_bytes == 3 * MiB and with_app.margin == -MiB
    assert over_budget_message(manifest, settings, package) == (
        "layer deps is 93.0 MiB unzipped + the app's package 3.0 MiB (app.py 1.0 MiB, "
        "requirements.txt 2.0 MiB) + reserve 5.0 MiB, 1.0 MiB over the budget of 100.0 MiB "
        "(104,857,600 bytes); largest: numpy 93.0 MiB. Prune more (layer.prune, "
        "layer.prune_custom) or drop a requirement from the layer or the app's requirements.txt"
    )
    text = report_text(manifest, settings, app=package)
    assert "app              3.0 MiB (app.py 1.0 MiB, requirements.txt 2.0 MiB)" in text
    assert "unzipped limit   96.0 MiB of 250.0 MiB function + layers" in text
    assert (
        "budget           OVER: margin 1.0 MiB over of 100.0 MiB (layer + app + reserve 5.0 MiB)"
        in text
    )
    data = report_data(manifest, settings, app=package)
    assert data["budget"]["app_bytes"] == 3 * MiB and data["app"]["bytes"] == 3 * MiB
    assert data["app"]["requirements"] == [
        {"name": "requests", "version": "1.0", "unzipped_bytes": 2 * MiB}
    ]
    # Without an app the report is as it was: no app line, no app keys.
    assert "app " not in report_text(manifest, settings)
    plain = report_data(manifest, settings)
    assert "app" not in plain and "app_bytes" not in plain["budget"]


def test_local_sandbox_publishes_in_the_configured_region(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert local_settings(settings).region == "us-east-1"  # nothing named: as before
    assert local_settings(settings, "ap-northeast-2").region == "ap-northeast-2"  # boto3's chain
    pinned = replace(settings, region="eu-west-1")
    assert local_settings(pinned, "ap-northeast-2").region == "eu-west-1"  # layer.region first
    several = _settings(tmp_path, regions=["eu-central-1", "us-west-2"])
    assert local_settings(several, "ap-northeast-2").region == "eu-central-1"
