"""The static ELF check on the real layer, per architecture: how many files, how long.

    python bench/elf_check_bench.py [--python 3.12] [--arch x86_64 --arch arm64] [--repeat 3]

For each architecture the repository's requirements file is installed for the Lambda
target (uv, from the index: needs the network) and pruned with the repository's rules,
as `inv layer.build` does; then, side by side on that tree, each repeated ``--repeat``
times (interleaved):

  (w) finding the ELF files alone: reading the first 4 bytes of every file (the floor
      of any check that looks at every file);
  (c) `check_elf_tree`: the whole check the build runs (pyelftools, policy lookup);
  (r) ``readelf --dynamic --version-info`` on every ELF file, one process per file: the
      same facts read the way one would by hand (reads only; decides nothing).

Prints the tree's file and ELF counts, the median wall times and the ratios. Nothing
here is a pass/fail test; the README quotes a run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import yaml

from layer_tasks.build.elf_check import check_elf_tree, elf_files
from layer_tasks.build.install import IndexConfig, Target, run_install
from layer_tasks.build.prune import apply_prune, plan_prune
from layer_tasks.config.platform import PYTHON_GLIBC
from layer_tasks.config.settings import LayerSettings

REPO = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def timed(fn: Callable[[], T], runs: list[float]) -> T:
    start = time.perf_counter()
    result = fn()
    runs.append(time.perf_counter() - start)
    return result


def readelf_all(readelf: str, files: list[Path]) -> None:
    for path in files:
        subprocess.run(
            [readelf, "--dynamic", "--version-info", "-W", str(path)],
            capture_output=True,
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default="3.12")
    parser.add_argument("--arch", action="append", dest="archs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    archs = args.archs or ["x86_64", "arm64"]
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    raw["python"] = args.python
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    glibc = PYTHON_GLIBC[args.python]
    readelf = shutil.which("readelf")
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, {args.repeat} runs each")
    print(
        "| target | files | ELF files | (w) find ELF s | (c) check s | (r) readelf s | c/w | r/c |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="elf-bench-") as scratch:
        for arch in archs:
            tree = Path(scratch) / arch / "python"
            tree.mkdir(parents=True)
            target = Target(args.python, arch, glibc)
            run_install(
                "uv", settings.requirements, tree, target, IndexConfig(), log=lambda _: None
            )
            apply_prune(tree, plan_prune(tree, settings.prune, settings.prune_custom))
            total = sum(len(f) for _, _, f in os.walk(tree))
            walk: list[float] = []
            check: list[float] = []
            by_hand: list[float] = []
            for _ in range(args.repeat):
                found = timed(lambda t=tree: elf_files(t), walk)
                report = timed(lambda t=tree, a=arch: check_elf_tree(t, a, glibc), check)
                if readelf:
                    timed(lambda f=found: readelf_all(readelf, f), by_hand)
            if report.findings:
                sys.exit(report.error())
            w, c = statistics.median(walk), statistics.median(check)
            r = f"{statistics.median(by_hand):.3f}" if by_hand else "n/a"
            rc = f"{statistics.median(by_hand) / c:.1f}x" if by_hand else "n/a"
            print(
                f"| python{args.python} {arch} | {total:,} | {report.files} | "
                f"{w:.3f} | {c:.3f} | {r} | {c / w:.1f}x | {rc} |"
            )
            print(f"  {report.summary()}", file=sys.stderr)


if __name__ == "__main__":
    main()
