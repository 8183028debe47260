"""`inv layer.lock` and builds from the lock, on a private offline wheelhouse (real uv/pip)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from support.cli import inv_here, make_split_project, write_requirements
from support.faults import MotoServer
from support.wheels import make_wheel

from layer_tasks.build.pylock import read_lock

LOCK = "pylock.test-layer-x86_64.toml"
NO_VERIFY = {"INVOKE_LAYER_VERIFY": "false"}  # the import check is tested elsewhere


def one_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def ok(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def versions(project: Path) -> dict[str, str]:
    manifest = json.loads((project / "dist" / "test-layer.manifest.json").read_text())
    return {d["name"]: d["version"] for d in manifest["distributions"]}


@pytest.fixture
def house(tmp_path: Path, wheelhouse: Path) -> Path:
    """A wheelhouse of this test's own, so that it can gain newer wheels or be tampered with."""
    own = tmp_path / "wheels"
    shutil.copytree(wheelhouse, own)
    make_wheel(own, "kappa", "1.0", {"kappa/__init__.py": "V = '1.0'\n"})
    return own


@pytest.fixture
def proj(tmp_path: Path, house: Path) -> Path:
    return make_split_project(tmp_path / "p", house, "alpha==1.0", "kappa")


def newer_wheels(house: Path) -> None:
    make_wheel(house, "kappa", "1.1", {"kappa/__init__.py": "V = '1.1'\n"})
    make_wheel(
        house,
        "beta",
        "2.1",
        {"beta/__init__.py": "ARCH = 'x86_64'\n"},
        tag="py3-none-manylinux_2_17_x86_64",
    )


def test_lock_holds_every_wheel_with_its_url_and_sha256(proj: Path, house: Path) -> None:
    proc = ok(inv_here(proj, "layer.lock"))
    out = proc.stdout
    assert f"{LOCK}: 3 wheels for python3.12 x86_64" in out and "new lock" in out
    # A find-links folder is this machine's: the lock says it will not build elsewhere.
    assert "warning: 3 of the 3 locked wheels are local files" in proc.stderr
    locked = {p.name: p for p in read_lock(proj / LOCK)}
    assert {n: p.version for n, p in locked.items()} == {
        "alpha": "1.0",
        "beta": "2.0",
        "kappa": "1.0",
    }
    for package in locked.values():
        wheel = house / package.filename
        assert package.url == wheel.as_uri()
        assert package.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    # The x86_64 wheel of beta, not the aarch64 one.
    assert locked["beta"].filename.endswith("_x86_64.whl")
    text = (proj / LOCK).read_text()
    assert (
        "[tool.layer-tasks]" in text
        and '"kappa"' in text
        and 'platform = "x86_64-manylinux_2_34"' in text
    )


def test_build_installs_exactly_the_lock_and_the_lock_is_in_the_build_key(
    proj: Path, house: Path
) -> None:
    ok(inv_here(proj, "layer.lock"))
    newer_wheels(house)
    build = ok(inv_here(proj, "layer.build", env=NO_VERIFY))
    assert f"from {LOCK}" in build.stderr
    assert versions(proj) == {"alpha": "1.0", "beta": "2.0", "kappa": "1.0"}
    manifest = json.loads((proj / "dist" / "test-layer.manifest.json").read_text())
    lock_sha = hashlib.sha256((proj / LOCK).read_bytes()).hexdigest()
    assert manifest["lock"] == {"file": LOCK, "sha256": lock_sha}
    # Without the lock the same requirements resolve to the newer wheels.
    (proj / LOCK).rename(proj / "aside.toml")
    ok(inv_here(proj, "layer.build", env=NO_VERIFY))
    assert versions(proj) == {"alpha": "1.0", "beta": "2.1", "kappa": "1.1"}
    assert json.loads((proj / "dist" / "test-layer.manifest.json").read_text())["lock"] == {}
    (proj / "aside.toml").rename(proj / LOCK)
    ok(inv_here(proj, "layer.build", env=NO_VERIFY))
    assert versions(proj) == {"alpha": "1.0", "beta": "2.0", "kappa": "1.0"}
    # A new lock is a new build key: no --force needed.
    ok(inv_here(proj, "layer.lock", "--upgrade-package", "beta"))
    rebuilt = ok(inv_here(proj, "layer.build", env=NO_VERIFY))
    assert "unchanged" not in rebuilt.stderr
    assert versions(proj)["beta"] == "2.1"


def test_upgrade_and_upgrade_package(proj: Path, house: Path) -> None:
    ok(inv_here(proj, "layer.lock"))
    newer_wheels(house)
    same = ok(inv_here(proj, "layer.lock")).stdout
    assert "no version changed" in same

    def locked() -> dict[str, str]:
        return {p.name: p.version for p in read_lock(proj / LOCK)}

    assert locked() == {"alpha": "1.0", "beta": "2.0", "kappa": "1.0"}
    one = ok(inv_here(proj, "layer.lock", "--upgrade-package", "beta")).stdout
    assert "beta 2.0 -> 2.1" in one
    assert locked() == {"alpha": "1.0", "beta": "2.1", "kappa": "1.0"}
    ok(inv_here(proj, "layer.lock", "--upgrade"))
    assert locked() == {"alpha": "1.0", "beta": "2.1", "kappa": "1.1"}
    error = one_error(inv_here(proj, "layer.lock", "--upgrade-package", "nope"))
    assert f"neither {LOCK} nor requirements-all.txt has such a package" in error


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (("alpha==1.0", "kappa", "epsilon==1.0"), "added epsilon==1.0"),
        (("alpha==1.0",), "removed kappa"),
        (("alpha==1.0", "kappa>=1.0"), "changed kappa -> kappa>=1.0"),
    ],
)
def test_stale_lock_is_one_line_naming_the_difference(
    proj: Path, house: Path, lines: tuple[str, ...], needle: str
) -> None:
    ok(inv_here(proj, "layer.lock"))
    write_requirements(proj / "requirements-all.txt", house, *lines)
    error = one_error(inv_here(proj, "layer.build", env=NO_VERIFY))
    assert f"{LOCK} is stale: requirements-all.txt {needle}" in error
    assert "inv layer.lock" in error
    assert not (proj / "dist").exists(), "a refused build changes nothing"
    # check-requirements says so too (the split files still match where they do).
    write_requirements(proj / "requirements-b.txt", house, *lines[1:])
    checked = inv_here(proj, "layer.check-requirements")
    assert checked.returncode == 1 and needle in checked.stderr
    # Re-locking fixes it.
    ok(inv_here(proj, "layer.lock"))
    ok(inv_here(proj, "layer.build", env=NO_VERIFY))


def test_spelling_and_order_of_requirements_do_not_make_a_lock_stale(
    proj: Path, house: Path
) -> None:
    ok(inv_here(proj, "layer.lock"))
    write_requirements(proj / "requirements-all.txt", house, "Kappa", "ALPHA == 1.0")
    ok(inv_here(proj, "layer.build", env=NO_VERIFY))


def test_lock_for_another_target_is_stale(proj: Path) -> None:
    ok(inv_here(proj, "layer.lock"))
    error = one_error(
        inv_here(proj, "layer.build", env={**NO_VERIFY, "INVOKE_LAYER_PYTHON": "3.13"})
    )
    assert "was made for python3.12 x86_64" in error and "python3.13" in error


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_hash_mismatch_is_one_line_naming_the_file(proj: Path, house: Path, installer: str) -> None:
    ok(inv_here(proj, "layer.lock"))
    # The same name and version, other bytes: as if the file were replaced after locking.
    with zipfile.ZipFile(house / "kappa-1.0-py3-none-any.whl", "a") as zf:
        zf.writestr("kappa/extra.py", "X = 1\n")
    env = {**NO_VERIFY, "INVOKE_LAYER_INSTALLER": installer}
    error = one_error(inv_here(proj, "layer.build", env=env))
    assert "hash mismatch for kappa-1.0-py3-none-any.whl" in error
    assert not (proj / "dist" / "test-layer.zip").exists()


def test_pip_installer_installs_the_locked_wheels(proj: Path, house: Path) -> None:
    ok(inv_here(proj, "layer.lock"))
    newer_wheels(house)
    ok(inv_here(proj, "layer.build", env={**NO_VERIFY, "INVOKE_LAYER_INSTALLER": "pip"}))
    assert versions(proj) == {"alpha": "1.0", "beta": "2.0", "kappa": "1.0"}
    with zipfile.ZipFile(proj / "dist" / "test-layer.zip") as zf:
        assert "python/beta/ARCH" in zf.namelist()  # the lock's beta 2.0, not 2.1


def test_deploy_warns_once_without_a_lock_and_not_with_one(
    proj: Path, server: MotoServer, tmp_path: Path
) -> None:
    server.reset()
    env = {
        **NO_VERIFY,
        "AWS_ENDPOINT_URL": server.url,
        "INVOKE_LAYER_ARN_FILE": str(tmp_path / "arn.txt"),
    }
    unlocked = ok(inv_here(proj, "layer.deploy", "--dry-run", env=env))
    warnings = [line for line in unlocked.stderr.splitlines() if "no lock file" in line]
    assert warnings == [
        f"warning: no lock file ({LOCK}): dependencies that requirements-all.txt does not "
        "pin can change between builds; `inv layer.lock` pins every wheel"
    ]
    ok(inv_here(proj, "layer.lock"))
    locked = ok(inv_here(proj, "layer.deploy", "--dry-run", env=env))
    assert "no lock file" not in locked.stderr
