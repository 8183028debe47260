"""What the SBOM costs a build: a no-change `inv layer.build` before and after it, in one run.

    inv layer.build                          # once: the layer to measure on
    python bench/sbom_bench.py [--base main] [--repeat 5]

Side by side, runs interleaved so load on the machine hits them alike:

  (a) ``inv layer.build`` with nothing changed, with the code of ``--base`` (exported
      with ``git archive`` to a temporary folder and put first on PYTHONPATH): no SBOM;
      every run starts in a folder holding only ``tasks.py`` and ``invoke.yaml`` (the
      paths point back here), so that the package in this tree cannot shadow the base;
  (b) the same with this tree's code, the SBOM already current (the usual no-change
      build: it reads the SBOM's serial number and stops);
  (c) the same with the SBOM deleted before each run, so it is written again (what a
      rebuild pays on top of install, prune, verify and zip).

Prints the median wall time of each and the ratios to (a). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]


def export(rev: str, dest: Path) -> Path:
    data = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "layer_tasks"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def timed(cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [*INV, "layer.build"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "reusing" not in proc.stderr:
        raise SystemExit(f"not a no-change build:\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision without the SBOM")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import yaml

    from layer_tasks.settings import LayerSettings

    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    sbom = settings.dist_dir / f"{settings.name}.cdx.json"
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp) / "base")
        project = Path(tmp) / "project"
        project.mkdir()
        for name in ("tasks.py", "invoke.yaml"):
            (project / name).write_bytes((REPO / name).read_bytes())
        plain = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        plain.update(
            INVOKE_LAYER_REQUIREMENTS=str(settings.requirements),
            INVOKE_LAYER_DIST_DIR=str(settings.dist_dir),
            INVOKE_LAYER_STATE_DIR=str(settings.state_dir),
        )
        runs: dict[str, list[float]] = {"a": [], "b": [], "c": []}
        timed(project, plain)  # warm the caches and make sure the SBOM is current
        for _ in range(args.repeat):
            sbom.unlink()
            runs["a"].append(timed(project, {**plain, "PYTHONPATH": str(base)}))
            if sbom.exists():
                raise SystemExit(f"--base {args.base} wrote an SBOM: it is not the baseline")
            runs["c"].append(timed(project, plain))
            runs["b"].append(timed(project, plain))
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"layer {settings.name}: {len(settings.zip_path.read_bytes()):,} bytes zipped")
    print(f"median of {args.repeat}, no-change `inv layer.build`:")
    print(f"  (a) {args.base} (no SBOM)          {median['a']:.3f} s")
    print(
        f"  (b) this tree, SBOM current   {median['b']:.3f} s  ({median['b'] / median['a']:.2f}x)"
    )
    print(
        f"  (c) this tree, SBOM rewritten {median['c']:.3f} s  ({median['c'] / median['a']:.2f}x)"
    )
    print(f"  SBOM writing alone, (c) - (b): {median['c'] - median['b']:.3f} s")


if __name__ == "__main__":
    main()
