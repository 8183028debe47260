"""Wall time of one deploy to 2 regions x 2 architectures against four single deploys.

    python bench/multi_target_bench.py [--requirements requirements-all.txt] [--repeat 3]

Side by side, against the local sandbox (`--local`, a moto server on 127.0.0.1), with
every layer already built (builds are not timed; `inv layer.build` first, once):

  (a) four single-target deploys run one after another: x86_64 and arm64, each in
      ap-northeast-2 and us-east-1 (four projects, each configured for one target);
  (b) one `inv layer.deploy --local` of a project with ``regions: [ap-northeast-2,
      us-east-1]`` and ``architectures: [x86_64, arm64]``.

Before every timed run the sandbox it uses is emptied (moto's reset), so every run
creates its buckets and publishes version 1 of each layer: the same work on both sides.
Runs are interleaved; the table gives the median wall time of each side and the ratio.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]
REGIONS = ("ap-northeast-2", "us-east-1")
ARCHS = ("x86_64", "arm64")
BASE = """\
layer:
  name: bench-layer
  requirements: requirements.txt
  python: "3.12"
  dist_dir: dist
  state_dir: .state
  budget_mb: 300
"""
CHALICE = '{"version": "2.0", "app_name": "bench", "stages": {"prod": {"layers": []}}}\n'


def project(root: Path, requirements: str, extra: str) -> Path:
    root.mkdir(parents=True)
    shutil.copy(requirements, root / "requirements.txt")
    (root / "invoke.yaml").write_text(BASE + extra)
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n")
    (root / ".chalice").mkdir()
    (root / ".chalice" / "config.json").write_text(CHALICE)
    return root


def inv(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([*INV, *args], cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"bench: inv {' '.join(args)} in {cwd} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def reset(root: Path) -> None:
    """Empty the project's sandbox: buckets, layers and parameters."""
    port = json.loads((root / ".state" / "sandbox" / "server.json").read_text())["port"]
    request = urllib.request.Request(f"http://127.0.0.1:{port}/moto-api/reset", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    opener.open(request, timeout=10).close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", default=str(REPO / "requirements-all.txt"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="multi-bench-"))
    singles = [
        project(
            work / f"{arch}-{region}",
            args.requirements,
            f"  architecture: {arch}\n  region: {region}\n  bucket: bench-{arch.replace('_', '-')}"
            f"-{region}\n",
        )
        for arch in ARCHS
        for region in REGIONS
    ]
    several = project(
        work / "several",
        args.requirements,
        f"  regions: [{', '.join(REGIONS)}]\n  architectures: [{', '.join(ARCHS)}]\n"
        "  bucket: bench-layer-{region}\n",
    )
    everything = [*singles, several]
    print(f"bench: building in {work} (not timed)", file=sys.stderr)
    try:
        for root in everything:
            inv(root, "layer.build")
            inv(root, "local.up")
        four: list[float] = []
        one: list[float] = []
        for round_no in range(args.repeat):
            for root in everything:
                reset(root)
            four.append(sum(inv(root, "layer.deploy", "--local") for root in singles))
            one.append(inv(several, "layer.deploy", "--local"))
            print(
                f"bench: round {round_no + 1}: {four[-1]:.2f} s vs {one[-1]:.2f} s", file=sys.stderr
            )
    finally:
        for root in everything:
            subprocess.run([*INV, "local.down"], cwd=root, capture_output=True, check=False)
    a, b = statistics.median(four), statistics.median(one)
    print(f"| deploy (median of {args.repeat}, {Path(args.requirements).name}) | wall time |")
    print("|---|---:|")
    print(f"| (a) four single-target deploys, one after another | {a:.2f} s |")
    print(f"| (b) one deploy, 2 regions x 2 architectures | {b:.2f} s |")
    print(f"| ratio (a)/(b) | {a / b:.2f}x |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
