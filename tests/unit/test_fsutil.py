"""Removing old build folders without waiting for it."""

from __future__ import annotations

from pathlib import Path

from layer_tasks.util.fsutil import remove_in_background


def test_folders_leave_at_once_and_are_deleted_with_what_a_killed_run_left(
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    for rel in ("python/a/b.py", "pruned/c.txt", ".trash/python.999.0/left.py"):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text("x")
    (work / "keep.txt").write_text("not listed")

    thread = remove_in_background(
        [work / "python", work / "pruned", work / "unpruned"], work / ".trash"
    )
    # Gone from their place before the call returns: a new build can use the names.
    assert not (work / "python").exists() and not (work / "pruned").exists()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert sorted(p.name for p in work.iterdir()) == ["keep.txt"]
