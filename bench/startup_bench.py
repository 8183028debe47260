"""How long the CLI takes to start: ``inv --list``, ``--help`` and a no-change build.

    python bench/startup_bench.py [--repeat 7] [--baseline REV|DIR] [--requirements FILE]

Times, each in a fresh process, on a throwaway project (the tests' offline wheelhouse,
``alpha==1.0``, or ``--requirements FILE``) whose layer is built once first (not timed;
its state in the project's own ``.state``, never the user's):

  - ``inv --version``: Invoke alone, the floor (it does not import ``tasks.py``);
  - ``inv --list``;
  - ``inv --help layer.deploy``;
  - ``inv layer.build`` with nothing changed (the build is reused; the bench checks
    that each run says so and leaves the zip's bytes as they were).

``--baseline REV`` (a git revision of this repository, e.g. ``625c33f``) or ``--baseline
DIR`` (a folder holding an older ``layer_tasks``) also times that code, with its own
project built by it, side by side. Each side's ``layer_tasks`` is a copy in a temporary
folder (``git archive REV layer_tasks`` for a revision; this working tree's for this
side), compiled to bytecode first and put first on ``PYTHONPATH``: Invoke turns off
writing ``.pyc`` files before it imports ``tasks.py`` (``--write-pyc`` turns it back on),
so without that every run would compile every module, which an installed package never
does. One untimed round warms the file caches; then runs are interleaved (every command
of every side per round), so load on the machine hits them alike. Prints the median
wall time of each, its ratio to the same side's ``inv --version``, and the modules each
side's ``inv --list`` imports. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.cli import INV, make_project  # noqa: E402
from support.wheels import build_wheelhouse  # noqa: E402

COMMANDS = {
    "inv --version": ["--version"],
    "inv --list": ["--list"],
    "inv --help layer.deploy": ["--help", "layer.deploy"],
    "inv layer.build (no change)": ["layer.build"],
}
HEAVY = ("elftools", "packaging.pylock", "tomli_w", "cyclonedx", "tqdm", "botocore", "boto3")
# `python -c PROBE ARGS`: Invoke's program, then what it imported, on stderr at exit.
PROBE = f"""
import atexit, sys
def report():
    ours = sum(1 for m in sys.modules if m.split(".")[0] == "layer_tasks")
    heavy = ",".join(h for h in {HEAVY!r} if h in sys.modules) or "-"
    print("probe:", len(sys.modules), ours, heavy, file=sys.stderr)
atexit.register(report)
from invoke.main import program
sys.exit(program.run())
"""


class Side:
    """One version of layer_tasks: its PYTHONPATH and its own built project."""

    def __init__(self, label: str, src: Path, project: Path) -> None:
        self.label = label
        self.src = src
        self.project = project
        self.env = {**os.environ, "PYTHONPATH": str(src)}
        for var in list(self.env):
            if var.startswith("INVOKE_"):
                del self.env[var]  # the project's invoke.yaml, nothing of the caller's
        self.env["UV_CACHE_DIR"] = str(project.parent / "uv-cache")
        self.times: dict[str, list[float]] = {name: [] for name in COMMANDS}

    def run(self, args: list[str], argv: list[str] | None = None) -> tuple[float, str, str]:
        start = time.perf_counter()
        proc = subprocess.run(
            argv or [*INV, *args],
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"bench: {self.label}: inv {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
        return elapsed, proc.stdout, proc.stderr

    def zip_digest(self) -> str:
        return hashlib.sha256((self.project / "dist" / "test-layer.zip").read_bytes()).hexdigest()

    def check_source(self) -> None:
        """Each side must import layer_tasks from its own folder, not the installed one."""
        _, out, _ = self.run(
            [], [sys.executable, "-c", "import layer_tasks; print(layer_tasks.__file__)"]
        )
        if not Path(out.strip()).resolve().is_relative_to(self.src.resolve()):
            sys.exit(f"bench: {self.label} imports layer_tasks from {out.strip()}, not {self.src}")


def source_copy(spec: str, dest: Path) -> Path:
    """``layer_tasks`` of ``spec`` (this working tree when empty, a folder, or a git
    revision) copied into ``dest``, with its bytecode."""
    dest.mkdir(parents=True)
    if not spec or Path(spec).is_dir():
        shutil.copytree(
            Path(spec or REPO) / "layer_tasks",
            dest / "layer_tasks",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    else:
        _git_archive(spec, dest)
    if not compileall.compile_dir(dest, quiet=1):
        sys.exit(f"bench: cannot compile {dest}")
    return dest


def _git_archive(spec: str, dest: Path) -> None:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", spec, "layer_tasks"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        sys.exit(f"bench: git archive {spec}: {archive.stderr.decode().strip()}")
    archive_path = dest / "layer_tasks.tar"
    archive_path.write_bytes(archive.stdout)
    with tarfile.open(archive_path) as tar:
        tar.extractall(dest, filter="data")
    archive_path.unlink()


def new_project(root: Path, wheelhouse: Path, requirements: str | None) -> Path:
    project = make_project(root, wheelhouse, "alpha==1.0")
    if requirements:
        shutil.copy(requirements, project / "requirements-all.txt")
    compileall.compile_file(project / "tasks.py", quiet=1)
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--baseline", default="", help="a git revision (e.g. 625c33f) or a folder with layer_tasks"
    )
    parser.add_argument(
        "--requirements", default="", help="requirements file (default: the offline wheelhouse)"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    try:
        wheelhouse = build_wheelhouse(work / "wheelhouse")
        sides = [
            Side(
                "this",
                source_copy("", work / "this" / "src"),
                new_project(work / "this" / "p", wheelhouse, args.requirements),
            )
        ]
        if args.baseline:
            src = source_copy(args.baseline, work / "baseline" / "src")
            project = new_project(work / "baseline" / "p", wheelhouse, args.requirements)
            sides.insert(0, Side(f"baseline {args.baseline}", src, project))
        print(f"bench: building in {work} (not timed)", file=sys.stderr)
        digests = {}
        counts = {}
        for side in sides:
            side.check_source()
            side.run(["layer.build"])
            digests[side.label] = side.zip_digest()
            # Untimed: fills the bytecode caches, and counts what --list imports.
            for args_ in COMMANDS.values():
                side.run(args_)
            for name in ("inv --list", "inv layer.build (no change)"):
                err = side.run(COMMANDS[name], [sys.executable, "-c", PROBE, *COMMANDS[name]])[2]
                probe = next(line for line in err.splitlines() if line.startswith("probe: "))
                counts[side.label, name] = probe.split()[1:]
        for round_no in range(args.repeat):
            for name, argv in COMMANDS.items():
                for side in sides:
                    elapsed, _, err = side.run(argv)
                    side.times[name].append(elapsed)
                    if argv == ["layer.build"] and "build: unchanged, reusing" not in err:
                        sys.exit(f"bench: {side.label}: the no-change build did not reuse:\n{err}")
            print(f"bench: round {round_no + 1} of {args.repeat} done", file=sys.stderr)
        for side in sides:
            if side.zip_digest() != digests[side.label]:
                sys.exit(f"bench: {side.label}: the no-change builds changed the zip")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(
        f"\n{time.strftime('%Y-%m-%d')}, python {sys.version.split()[0]}, median of "
        f"{args.repeat}, wall time of a fresh process; ratio = against the same side's "
        "`inv --version`\n"
    )
    header = "| command |" + "".join(f" {s.label} | ratio |" for s in sides)
    print(header)
    print("|---|" + "---:|---:|" * len(sides))
    for name in COMMANDS:
        row = f"| {name} |"
        for side in sides:
            median = statistics.median(side.times[name])
            floor = statistics.median(side.times["inv --version"])
            row += f" {median:.3f} s | {median / floor:.2f}x |"
        print(row)
    print()
    for side in sides:
        for (label, name), (total, ours, heavy) in counts.items():
            if label == side.label:
                print(
                    f"{label}: `{name}` imports {total} modules, {ours} of them layer_tasks; "
                    f"heavy: {heavy}"
                )


if __name__ == "__main__":
    main()
