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
project built by it, side by side: ``git archive REV layer_tasks`` is unpacked into a
temporary folder and put first on ``PYTHONPATH`` (this code gets ``PYTHONPATH`` = this
repository, so both sides pay the same). One untimed round warms the bytecode caches;
then runs are interleaved (every command of every side per round), so load on the
machine hits them alike. Prints the median wall time of each, its ratio to the same
side's ``inv --version``, and the modules each side's ``inv --list`` imports.
Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
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
# What `inv --list` imported, printed by the process itself as it exits.
COUNT = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('modules:', len(sys.modules), sum(1 for m in sys.modules "
    "if m == 'layer_tasks' or m.startswith('layer_tasks.')), ','.join(h for h in {heavy!r} "
    "if h in sys.modules) or '-', file=sys.stderr))\n"
    "from invoke.main import program\n"
    "sys.exit(program.run())\n"
).format(heavy=HEAVY)


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


def baseline_source(spec: str, work: Path) -> Path:
    if Path(spec).is_dir():
        return Path(spec).resolve()
    dest = work / "baseline-src"
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", spec, "layer_tasks"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        sys.exit(f"bench: git archive {spec}: {archive.stderr.decode().strip()}")
    archive_path = work / "baseline.tar"
    archive_path.write_bytes(archive.stdout)
    with tarfile.open(archive_path) as tar:
        tar.extractall(dest, filter="data")
    return dest


def new_project(root: Path, wheelhouse: Path, requirements: str | None) -> Path:
    project = make_project(root, wheelhouse, "alpha==1.0")
    if requirements:
        shutil.copy(requirements, project / "requirements-all.txt")
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
        sides = [Side("this", REPO, new_project(work / "this" / "p", wheelhouse, args.requirements))]
        if args.baseline:
            src = baseline_source(args.baseline, work)
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
            counts[side.label] = side.run(["--list"], [sys.executable, "-c", COUNT, "--list"])[
                2
            ].strip()
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
        total, ours, heavy = counts[side.label].split()[1:4]
        print(
            f"{side.label}: `inv --list` imports {total} modules, {ours} of them layer_tasks; "
            f"heavy: {heavy}"
        )


if __name__ == "__main__":
    main()
