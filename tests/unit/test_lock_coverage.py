"""A build from a lock proves the lock covers the layer (issue 20, section 4): each
requirement that applies to the target is locked at a version it allows, and each
dependency of what is locked (markers and extras evaluated for the target) is too."""

from __future__ import annotations

from pathlib import Path

from layer_tasks.build.install import Target
from layer_tasks.build.pylock import (
    LockedPackage,
    LockFile,
    uncovered_requirements,
    unlocked_dependencies,
)
from layer_tasks.build.requirements import read_requirements

TARGET = Target("3.12", "x86_64", (2, 34))


def lock(**versions: str) -> LockFile:
    packages = tuple(
        LockedPackage(name, version, f"https://files/{name}-{version}-py3-none-any.whl", "0" * 64)
        for name, version in versions.items()
    )
    return LockFile(Path("pylock.x.toml"), packages, (), "3.12", "x86_64", "", "", True)


def requirements(tmp_path: Path, *lines: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "requirements-all.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return read_requirements(path)


def installed(tmp_path: Path, name: str, version: str, *requires: str) -> None:
    info = tmp_path / "tree" / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = [f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_requirements_for_another_target_need_no_lock(tmp_path: Path) -> None:
    reqs = requirements(
        tmp_path,
        "six==1.17.0",
        'pywin32==306; sys_platform == "win32"',
        'tomli>=2; python_version < "3.11"',
        'Alpha[fast]>=1.0,<2; platform_machine == "x86_64"',
    )
    assert uncovered_requirements(lock(six="1.17.0", alpha="1.4"), reqs, TARGET) == []
    assert uncovered_requirements(lock(alpha="1.4"), reqs, TARGET) == [
        "requirements-all.txt:1 asks for six==1.17.0, which it does not lock"
    ]
    assert uncovered_requirements(lock(six="1.17.0", alpha="2.0"), reqs, TARGET) == [
        'requirements-all.txt:4 asks for Alpha[fast]<2,>=1.0; platform_machine == "x86_64", '
        "which it locks at 2.0"
    ]


def test_dependencies_with_markers_and_extras(tmp_path: Path) -> None:
    reqs = requirements(tmp_path, "alpha[fast]==1.0")
    installed(
        tmp_path,
        "alpha",
        "1.0",
        "beta>=2",
        'colorama; sys_platform == "win32"',
        'gamma[c]==3; extra == "fast"',
        'delta; extra == "docs"',
    )
    installed(tmp_path, "beta", "2.0")
    installed(tmp_path, "gamma", "3", 'epsilon; extra == "c"')
    tree = tmp_path / "tree"
    full = lock(alpha="1.0", beta="2.0", gamma="3", epsilon="1")
    assert unlocked_dependencies(full, reqs, tree, TARGET) == []
    # gamma is asked for with [c], so its epsilon counts; delta (extra docs) never does.
    partial = lock(alpha="1.0", beta="1.0", gamma="3")
    assert unlocked_dependencies(partial, reqs, tree, TARGET) == [
        "alpha 1.0 requires beta>=2, which it locks at 1.0",
        'gamma 3 requires epsilon; extra == "c", which it does not lock',
    ]


def test_the_lock_records_a_wheel_url_requirement_without_its_credentials(tmp_path: Path) -> None:
    from layer_tasks.build.pylock import normalized_requirements

    reqs = requirements(
        tmp_path, "Alpha @ https://user:S3cretPw@files.example/alpha-1.0-py3-none-any.whl"
    )
    assert normalized_requirements(reqs) == (
        "alpha @ https://files.example/alpha-1.0-py3-none-any.whl",
    )
