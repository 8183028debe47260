"""Zip step alone: layer_tasks.build.archive.write_layer_zip against ``zip -9 -r`` on one tree.

    python bench/zip_bench.py TREE [--workers 2] [--level 9] [--repeat 3] [--no-serial]

Runs the tools alternately (so load on the machine hits them alike), each in its own
process under ``/usr/bin/time -v`` when it exists, and prints the median wall time and
CPU time (user + system, pool workers included), the peak RSS (of the largest single process: for the writer that is the parent or one
worker, whichever is larger), the zip size and the ratios. The writer runs with
``--workers`` and, unless ``--no-serial``, with one worker too: the single-core figure
is the one that load from other jobs on the machine distorts least. Outputs go to a
temporary folder outside TREE, so neither tool sees the other's zip. Also checks that
every run of the writer gave the same bytes and that ``unzip -t`` accepts its zip.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GNU_TIME = Path("/usr/bin/time")

# The pool's start method imports __main__ in the workers: keep the guard.
WRITER = """
import sys
from pathlib import Path
from layer_tasks.build.archive import write_layer_zip

if __name__ == "__main__":
    write_layer_zip(Path(sys.argv[1]), Path(sys.argv[2]), level=int(sys.argv[3]),
                    workers=int(sys.argv[4]))
"""


@dataclass
class Runs:
    label: str
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)


def timed(cmd: list[str], cwd: Path, out: Path, runs: Runs) -> None:
    out.unlink(missing_ok=True)
    wrapped = [str(GNU_TIME), "-v", *cmd] if GNU_TIME.exists() else cmd
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    proc = subprocess.run(wrapped, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{runs.label} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    runs.seconds.append(elapsed)
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if match:
        runs.rss_kb.append(int(match.group(1)))
    # User + system CPU of the process and the children it waited for (pool workers):
    # unlike wall time, hardly affected by other jobs competing for the cores.
    cpu = re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", proc.stderr)
    if cpu:
        runs.cpu.append(sum(float(x) for x in cpu))
    runs.sizes.append(out.stat().st_size)
    runs.digests.add(hashlib.sha256(out.read_bytes()).hexdigest())


def row(r: Runs) -> str:
    secs = statistics.median(r.seconds)
    rss = f"{max(r.rss_kb) / 1024:.0f}" if r.rss_kb else "n/a"
    runs = " ".join(f"{s:.2f}" for s in r.seconds)
    cpu = f"{statistics.median(r.cpu):.2f}" if r.cpu else "n/a"
    return f"| {r.label} | {secs:.2f} | {runs} | {cpu} | {rss} | {r.sizes[-1]:,} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--level", type=int, default=9)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-serial", dest="serial", action="store_false")
    args = parser.parse_args()
    tree = args.tree.resolve()
    zip_exe = shutil.which("zip")
    if zip_exe is None:
        sys.exit("zip is not installed")

    theirs = Runs("zip -9 -r")
    ours = Runs(f"write_layer_zip (workers={args.workers}, level={args.level})")
    serial = Runs(f"write_layer_zip (workers=1, level={args.level})")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="zip-bench-") as scratch:
        zip_out = Path(scratch) / "zip.zip"
        ours_out, serial_out = Path(scratch) / "ours.zip", Path(scratch) / "serial.zip"

        def writer(out: Path, workers: int) -> list[str]:
            return [
                sys.executable,
                "-c",
                WRITER,
                str(tree),
                str(out),
                str(args.level),
                str(workers),
            ]

        for _ in range(args.repeat):
            timed([zip_exe, "-9", "-r", "-q", str(zip_out), "."], tree, zip_out, theirs)
            timed(writer(ours_out, args.workers), tree, ours_out, ours)
            if args.serial:
                timed(writer(serial_out, 1), tree, serial_out, serial)
        unzip = shutil.which("unzip")
        unzip_ok = "n/a"
        if unzip:
            check = subprocess.run([unzip, "-tq", str(ours_out)], capture_output=True, check=False)
            unzip_ok = "ok" if check.returncode == 0 else f"FAILED ({check.returncode})"

    zip_median = statistics.median(theirs.seconds)
    growth = (ours.sizes[-1] / theirs.sizes[-1] - 1) * 100
    files = sum(len(f) for _, _, f in os.walk(tree))
    load = " / ".join(" ".join(f"{x:.2f}" for x in la) for la in (load_before, os.getloadavg()))
    print(f"tree: {tree} ({files:,} files), {os.cpu_count()} CPUs, {args.repeat} runs each")
    print(f"load average (1, 5, 15 min) before / after: {load}")
    print("| tool | median s | runs s | median CPU s | peak RSS MB | zip bytes |")
    print("|---|---:|---|---:|---:|---:|")
    for runs in (theirs, serial, ours) if args.serial else (theirs, ours):
        print(row(runs))
    if args.serial:
        print(f"speed-up, 1 worker: {zip_median / statistics.median(serial.seconds):.2f}x")
    speed = zip_median / statistics.median(ours.seconds)
    print(f"speed-up, {args.workers} workers: {speed:.2f}x (target >= 4x)")
    if theirs.cpu and ours.cpu:
        cpu_ratio = statistics.median(theirs.cpu) / statistics.median(ours.cpu)
        print(f"CPU time, zip -9 / writer: {cpu_ratio:.2f}x")
    print(f"size vs zip -9: {growth:+.2f}% (target <= +0.5%)")
    same = len(ours.digests | serial.digests) == 1
    print(f"writer output identical across runs and worker counts: {same}; unzip -t: {unzip_ok}")


if __name__ == "__main__":
    main()
