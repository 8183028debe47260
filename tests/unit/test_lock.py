"""Reading a PEP 751 lock, choosing the target's wheels, and telling when it is stale."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from layer_tasks.build.install import Target
from layer_tasks.build.pylock import (
    load_lock,
    lock_path,
    normalized_requirements,
    pinned_requirements,
    read_lock,
    stale_reason,
    unpinned_warning,
)
from layer_tasks.build.requirements import RequirementSet, read_requirements
from layer_tasks.config.settings import LayerSettings
from layer_tasks.config.validate import shown
from layer_tasks.errors import LayerError

X86 = Target("3.12", "x86_64", (2, 34))
ARM = Target("3.12", "arm64", (2, 34))
SHA = {c: c * 64 for c in "abcdef"}

# Two platforms' wheels for one package, as a hand-written or universal lock has them.
LOCK = f"""\
lock-version = "1.0"
created-by = "hand"
requires-python = ">=3.10"

[[packages]]
name = "numpy"
version = "1.26.4"
wheels = [
  {{ url = "https://files.example/numpy-1.26.4-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", hashes = {{ sha256 = "{SHA["a"]}" }} }},
  {{ url = "https://files.example/numpy-1.26.4-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hashes = {{ sha256 = "{SHA["b"]}" }} }},
]

[[packages]]
name = "six"
version = "1.17.0"
wheels = [{{ path = "wheels/six-1.17.0-py2.py3-none-any.whl", hashes = {{ sha256 = "{SHA["c"]}" }} }}]

[tool.layer-tasks]
requirements = ["numpy==1.26.4", "six"]
python = "3.12"
architecture = "x86_64"
platform = "x86_64-manylinux_2_34"
"""


def write(tmp_path: Path, text: str = LOCK, name: str = "pylock.t-x86_64.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def reqs(tmp_path: Path, *lines: str) -> RequirementSet:
    path = tmp_path / "requirements-all.txt"
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return read_requirements(path)


def test_the_target_architecture_picks_its_wheel(tmp_path: Path) -> None:
    path = write(tmp_path)
    x86 = {p.name: p for p in load_lock(path, X86).packages}
    arm = {p.name: p for p in load_lock(path, ARM).packages}
    assert x86["numpy"].filename.endswith("_x86_64.manylinux2014_x86_64.whl")
    assert x86["numpy"].sha256 == SHA["b"]
    assert arm["numpy"].sha256 == SHA["a"]
    # A PEP 751 path is relative to the lock's folder.
    assert x86["six"].url == (tmp_path / "wheels" / "six-1.17.0-py2.py3-none-any.whl").as_uri()
    assert pinned_requirements(load_lock(path, X86)).splitlines()[0] == (
        f"numpy @ {x86['numpy'].url} --hash=sha256:{SHA['b']}"
    )


def test_read_lock_gives_the_wheels_of_the_recorded_target(tmp_path: Path) -> None:
    packages = read_lock(write(tmp_path))
    # The lock records x86_64: its numpy wheel, not the first one listed (aarch64).
    assert [(p.name, p.version, p.sha256) for p in packages] == [
        ("numpy", "1.26.4", SHA["b"]),
        ("six", "1.17.0", SHA["c"]),
    ]


def test_a_lock_without_a_wheel_for_the_target_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path, LOCK.replace("manylinux_2_17_x86_64.manylinux2014_x86_64", "macosx_11_0_x86_64")
    )
    with pytest.raises(LayerError, match=r"nothing to install for python3.12 x86_64"):
        load_lock(path, X86)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (LOCK.replace(f'sha256 = "{SHA["c"]}"', 'md5 = "00"'), "no sha256 for six-1.17.0"),
        ("lock-version = [", "is not valid TOML"),
        (LOCK.replace('lock-version = "1.0"\n', ""), "not a valid PEP 751 lock"),
    ],
)
def test_a_broken_lock_is_one_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(LayerError, match=needle) as caught:
        load_lock(write(tmp_path, text), X86)
    assert "\n" not in str(caught.value)


def test_an_up_to_date_lock_is_not_stale_whatever_the_spelling(tmp_path: Path) -> None:
    lock = load_lock(write(tmp_path), X86)
    assert stale_reason(lock, reqs(tmp_path, "Six", "NumPy == 1.26.4"), X86) is None
    assert normalized_requirements(reqs(tmp_path, "Six", "NumPy == 1.26.4")) == (
        "numpy==1.26.4",
        "six",
    )


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (("numpy==1.26.4", "six", "idna"), "added idna"),
        (("numpy==1.26.4",), "removed six"),
        (("numpy==2.0", "six"), "changed numpy==1.26.4 -> numpy==2.0"),
        (("numpy==1.26.4", "six; python_version < '3.13'"), "changed six -> six"),
    ],
)
def test_a_changed_requirement_line_makes_it_stale(
    tmp_path: Path, lines: tuple[str, ...], needle: str
) -> None:
    lock = load_lock(write(tmp_path), X86)
    reason = stale_reason(lock, reqs(tmp_path, *lines), X86)
    assert reason is not None and needle in reason and "inv layer.lock" in reason


def test_another_target_or_no_provenance_makes_it_stale(tmp_path: Path) -> None:
    lock = load_lock(write(tmp_path), X86)
    same = reqs(tmp_path, "numpy==1.26.4", "six")
    other = stale_reason(lock, same, Target("3.13", "x86_64", (2, 34)))
    assert other is not None and "made for python3.12 x86_64" in other
    bare = load_lock(write(tmp_path, LOCK.split("[tool.layer-tasks]")[0]), X86)
    reason = stale_reason(bare, same, X86)
    assert reason is not None and "not made by `inv layer.lock`" in reason


def test_lock_name_and_the_deploy_warning(tmp_path: Path) -> None:
    settings = LayerSettings.from_mapping(
        {"name": "my-layer", "architecture": "arm64"}, base_dir=tmp_path
    )
    assert lock_path(settings) == tmp_path / "pylock.my-layer-arm64.toml"
    warning = unpinned_warning(settings)
    assert warning is not None and "pylock.my-layer-arm64.toml" in warning
    assert "\n" not in warning
    write(tmp_path, name="pylock.my-layer-arm64.toml")
    assert unpinned_warning(settings) is None
    assert unpinned_warning(replace(settings, architecture="x86_64")) is not None


def test_a_sha256_in_upper_case_hex_is_read_as_the_same_digest(tmp_path: Path) -> None:
    upper = LOCK.replace(SHA["b"], SHA["b"].upper()).replace(SHA["c"], "C0ffee" * 10 + "ABCD")
    packages = load_lock(write(tmp_path, upper), X86).packages
    assert [p.sha256 for p in packages] == [SHA["b"], "c0ffee" * 10 + "abcd"]
    assert f"--hash=sha256:{SHA['b']}\n" in pinned_requirements(load_lock(write(tmp_path, upper)))


@pytest.mark.parametrize("digest", ["abc", "g" * 64, "a" * 65, "a" * 63 + "\u0661"])
def test_a_sha256_that_is_not_64_hex_digits_is_named_as_such(tmp_path: Path, digest: str) -> None:
    with pytest.raises(LayerError) as caught:
        load_lock(write(tmp_path, LOCK.replace(SHA["c"], digest)), X86)
    assert caught.value.message.startswith(
        f"pylock.t-x86_64.toml has a sha256 for six-1.17.0-py2.py3-none-any.whl that is not "
        f"64 hex digits ({shown(digest)}): run `inv layer.lock`"
    )


@pytest.mark.parametrize(
    "nesting",
    [
        "x = " + "[" * 101 + "]" * 101,
        "x = " + "{a = " * 101 + "1" + "}" * 101,
        "[tool.deep." + ".".join(["t"] * 101) + "]",
    ],
    ids=["arrays", "inline-tables", "table-names"],
)
def test_a_lock_nested_past_the_bound_is_refused_before_any_reader_recurses(
    tmp_path: Path, nesting: str
) -> None:
    with pytest.raises(LayerError, match=r"nests arrays or tables more than 100 levels deep"):
        load_lock(write(tmp_path, f"{LOCK}\n[tool.other]\n{nesting}\n"), X86)


def test_brackets_in_toml_strings_and_comments_do_not_nest(tmp_path: Path) -> None:
    from layer_tasks.util.bounds import check_toml_depth

    text = (
        'a = "[[[[[[\\" {{{{" # [[[[[[\n'
        "b = '[[[[[['\n"
        "c = '''\n[[[[[[\n'''\n"
        'd = """[[[[ \\""" [[[["""\n'
        "e = [[1], [2], {x = [3]}]\n"
    )
    check_toml_depth(text, "lock", limit=3)
    with pytest.raises(LayerError):
        check_toml_depth(text, "lock", limit=2)


def test_whatever_is_in_place_of_the_lock_is_not_taken_for_no_lock(tmp_path: Path) -> None:
    from layer_tasks.build.pylock import lock_exists, lock_sha256

    settings = LayerSettings.from_mapping({"name": "t"}, base_dir=tmp_path)
    path = lock_path(settings)
    assert not lock_exists(path) and lock_sha256(settings) == ""
    path.mkdir()
    with pytest.raises(LayerError, match=r"is a folder: remove it and run `inv layer\.lock`"):
        lock_exists(path)
    # No build was made with this key: a reused build does not skip the refusal.
    assert lock_sha256(settings) == "unreadable"
    assert unpinned_warning(settings) is None  # the build says what is wrong, not "no lock"
    path.rmdir()
    path.symlink_to(tmp_path / "gone")
    with pytest.raises(LayerError, match=r"is a symlink to nothing"):
        lock_exists(path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(LayerError, match=r"is not a regular file \(a FIFO, device or socket\)"):
        lock_exists(path)
