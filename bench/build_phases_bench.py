"""Cold `inv layer.build --force` phase by phase: this checkout against a baseline checkout.

    python bench/build_phases_bench.py --baseline /path/to/other/checkout/.venv/bin/python
                                       [--requirements requirements-all.txt] [--repeat 3]

Each interpreter runs the layer-tasks installed in its own venv (this one: the running
interpreter), in a project of its own made the way `pipeline_bench.py` makes (b): the
same requirements, python3.12/x86_64, the seed's prune rules, no lock. Runs are
interleaved (baseline, this, baseline, ...) so load on the machine hits both alike;
before each, the project's `<state_dir>/cache` and its uv cache are emptied (cold).

Reports, per phase, the median of the seconds the build itself logs (`install: ...
(3.2 s)`), the wall time of the whole command, and the ratio. The import check and the
zip run side by side: `verify`/`zip` are both the length of that stretch.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline_bench import INVOKE_YAML, REPO

PHASES = ("install", "prune", "elf", "bytecode", "bytecode proof", "zip", "verify")
LOGGED = re.compile(r"^(install|prune|elf|bytecode proof|bytecode|zip|verify): .*\(([\d.]+) s\)$")


def make_project(root: Path, requirements: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copy(requirements, root / "requirements.txt")
    (root / "invoke.yaml").write_text(INVOKE_YAML)
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n")
    return root


def cold_build(python: str, project: Path, uv_cache: Path) -> dict[str, float]:
    shutil.rmtree(project / ".state" / "cache", ignore_errors=True)
    shutil.rmtree(uv_cache, ignore_errors=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", "import sys; from invoke.main import program; sys.exit(program.run())",
         "layer.build", "--force"],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "UV_CACHE_DIR": str(uv_cache)},
    )  # fmt: skip
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: build with {python} failed:\n{proc.stderr[-3000:]}")
    times = {"total": wall}
    for line in (proc.stdout + proc.stderr).splitlines():
        match = LOGGED.match(line.strip())
        if match:
            times[match.group(1)] = float(match.group(2))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", required=True, help="python of the baseline's venv")
    parser.add_argument("--requirements", default=str(REPO / "requirements-all.txt"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="layer-phases-"))
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
    pythons = {"baseline": args.baseline, "this": sys.executable}
    projects = {
        name: make_project(work / name, Path(args.requirements)) for name in ("baseline", "this")
    }
    try:
        for i in range(args.repeat):
            print(f"bench: round {i + 1}/{args.repeat}", file=sys.stderr)
            for name in ("baseline", "this"):
                runs[name].append(cold_build(pythons[name], projects[name], work / f"uv-{name}"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{time.strftime('%Y-%m-%d')}, cold, median of {args.repeat}\n")
    print("| phase | baseline s | this s | ratio |\n|---|---:|---:|---:|")
    for phase in ("total", *PHASES):
        base = [r[phase] for r in runs["baseline"] if phase in r]
        this = [r[phase] for r in runs["this"] if phase in r]
        b = f"{statistics.median(base):.2f}" if base else "-"
        t = f"{statistics.median(this):.2f}" if this else "-"
        ratio = (
            f"{statistics.median(base) / statistics.median(this):.2f}x"
            if base and this and statistics.median(this)
            else ""
        )
        print(f"| {phase} | {b} | {t} | {ratio} |")


if __name__ == "__main__":
    main()
