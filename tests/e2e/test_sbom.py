"""The SBOM every build writes: valid CycloneDX 1.6 (checked with the library's own
schema validator), licences from METADATA, wheel hashes from a PEP 751 lock, the same
bytes from two builds, and present also when a build is reused."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation import make_schemabased_validator
from support.cli import make_project
from support.wheels import make_wheel

from layer_tasks.aws.sbom_upload import sbom_key
from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.sbom import (
    pick_wheel,
    read_lock_hashes,
    sbom_beside,
    sbom_path,
    target_tags,
)
from layer_tasks.config.settings import LayerSettings


def _validate(text: str) -> None:
    validator = make_schemabased_validator(OutputFormat.JSON, SchemaVersion.V1_6)
    errors = validator.validate_str(text)
    assert errors is None, errors


@pytest.fixture
def licensed(tmp_path: Path, wheelhouse: Path) -> LayerSettings:
    """A project whose wheels declare licences three ways, with a lock beside it."""
    house = tmp_path / "house"
    shutil.copytree(wheelhouse, house)
    make_wheel(
        house,
        "expr",
        "1.0",
        {"expr.py": "X = 1\n"},
        metadata_extra="License-Expression: MIT OR Apache-2.0\n",
    )
    make_wheel(
        house, "field", "2.0", {"field.py": "X = 1\n"}, metadata_extra="License: BSD-3-Clause\n"
    )
    make_wheel(
        house,
        "classy",
        "3.0",
        {"classy.py": "X = 1\n"},
        metadata_extra="License: " + "long licence text " * 20 + "\n"
        "Classifier: License :: OSI Approved :: MIT License\n",
    )
    root = make_project(
        tmp_path / "p", house, "expr==1.0", "field==2.0", "classy==3.0", "beta==2.0"
    )
    lines = ['lock-version = "1.0"', 'created-by = "tests"']
    for name, version in (("expr", "1.0"), ("field", "2.0"), ("beta", "2.0")):
        lines += ["[[packages]]", f'name = "{name}"', f'version = "{version}"', "wheels = ["]
        for wheel in sorted(house.glob(f"{name}-{version}-*.whl")):
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(
                f'  {{ name = "{wheel.name}", url = "https://files.example/{wheel.name}", '
                f'hashes = {{ sha256 = "{digest}" }} }},'
            )
        lines.append("]")
    (root / "pylock.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return LayerSettings.from_mapping(
        {
            "name": "lic",
            "requirements": "requirements-all.txt",
            "dist_dir": "dist",
            "state_dir": ".state",
            "verify": False,
        },
        base_dir=root,
    )


def _components(sbom: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in sbom["components"]}


def test_every_build_writes_a_valid_sbom(licensed: LayerSettings, wheelhouse: Path) -> None:
    result = build_layer(licensed, log=lambda _m: None)
    path = sbom_path(licensed)
    assert path == licensed.dist_dir / "lic.cdx.json"
    text = path.read_text(encoding="utf-8")
    _validate(text)
    sbom = json.loads(text)
    assert sbom["specVersion"] == "1.6" and sbom["bomFormat"] == "CycloneDX"
    comps = _components(sbom)
    assert sorted(comps) == sorted(d.name for d in result.manifest.distributions)
    assert comps["expr"]["purl"] == "pkg:pypi/expr@1.0"
    assert comps["expr"]["licenses"] == [{"expression": "MIT OR Apache-2.0"}]
    assert comps["field"]["licenses"] == [{"license": {"id": "BSD-3-Clause"}}]
    # The long License text is not a name: the classifier is used instead.
    assert comps["classy"]["licenses"] == [{"license": {"name": "MIT License"}}]

    # Hashes from the lock: the wheel the target installs, here beta's x86_64 one of two.
    beta_wheel = next(wheelhouse.glob("beta-2.0-*x86_64.whl"))
    beta_sha = hashlib.sha256(beta_wheel.read_bytes()).hexdigest()
    assert comps["beta"]["hashes"] == [{"alg": "SHA-256", "content": beta_sha}]
    assert comps["beta"]["externalReferences"][0]["url"].endswith(beta_wheel.name)
    assert "hashes" not in comps["classy"]  # not in the lock: no hash is claimed
    root = sbom["metadata"]["component"]
    zip_sha = hashlib.sha256(licensed.zip_path.read_bytes()).hexdigest()
    assert root["hashes"] == [{"alg": "SHA-256", "content": zip_sha}]


def test_sbom_is_deterministic_and_rewritten_when_missing(licensed: LayerSettings) -> None:
    build_layer(licensed, log=lambda _m: None)
    first = sbom_path(licensed).read_bytes()
    build_layer(licensed, force=True, log=lambda _m: None)  # a second install and zip
    assert sbom_path(licensed).read_bytes() == first

    sbom_path(licensed).unlink()
    assert build_layer(licensed, log=lambda _m: None).reused
    assert sbom_path(licensed).read_bytes() == first

    # A changed lock is a changed SBOM input, even when the zip is reused.
    lock = licensed.requirements.parent / "pylock.toml"
    lock.write_text(lock.read_text().replace('name = "expr"', 'name = "nothing-here"'))
    assert build_layer(licensed, log=lambda _m: None).reused
    again = json.loads(sbom_path(licensed).read_text())
    assert "hashes" not in _components(again)["expr"]
    assert again["serialNumber"] != json.loads(first)["serialNumber"]


def test_lock_reading_is_defensive(tmp_path: Path, licensed: LayerSettings) -> None:
    broken = tmp_path / "pylock.toml"
    broken.write_text("this is [not toml")
    odd = tmp_path / "pylock.odd.toml"
    odd.write_text('[[packages]]\nversion = "1"\n[[packages]]\nname = "a"\nwheels = ["x"]\n')
    assert read_lock_hashes([broken, odd]) == {}
    ranked = target_tags(licensed)
    candidates = {
        "b-1-py3-none-manylinux_2_17_aarch64.whl": ("1", ""),
        "b-1-py3-none-any.whl": ("2", ""),
        "b-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl": ("3", ""),
        "not a wheel name.whl": ("4", ""),
    }
    assert pick_wheel(candidates, ranked) == (
        "b-1-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    )
    assert sbom_key("layers/x/20261101-100000/x.zip") == "layers/x/20261101-100000/x.cdx.json"
    assert (
        sbom_beside(licensed.zip_path) == sbom_path(licensed) == licensed.dist_dir / "lic.cdx.json"
    )
