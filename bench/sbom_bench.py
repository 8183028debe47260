"""What the SBOM costs a build: a no-change `inv layer.build` without and with it, in one run.

    inv layer.build                          # once: the layer to measure on
    python bench/sbom_bench.py [--repeat 5]

Side by side, runs interleaved so load on the machine hits them alike, all on the same
code and the same built layer:

  (a) ``inv layer.build`` with nothing changed and the SBOM step switched off (the
      build module's ``ensure_sbom`` replaced by a no-op in that process): the baseline;
  (b) the same with the SBOM step, the SBOM already current (the usual no-change build:
      it reads the SBOM's serial number and stops);
  (c) the same with the SBOM deleted before each run, so it is written again (what a
      rebuild pays on top of install, prune, verify and zip).

Prints the median wall time of each and the ratios to (a). Nothing here is a test.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN_INV = "import sys; from invoke.main import program; sys.exit(program.run())"
WITHOUT_SBOM = (
    "import layer_tasks.build.pipeline as b; b.ensure_sbom = lambda *a, **k: None; " + RUN_INV
)


def timed(code: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, "layer.build"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or "reusing" not in proc.stderr:
        raise SystemExit(f"not a no-change build (run `inv layer.build` first):\n{proc.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import yaml

    from layer_tasks.build.sbom import sbom_path
    from layer_tasks.config.settings import LayerSettings

    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    sbom = sbom_path(settings)
    runs: dict[str, list[float]] = {"a": [], "b": [], "c": []}
    timed(RUN_INV)  # warm the caches and make sure the SBOM is current
    for _ in range(args.repeat):
        sbom.unlink()
        runs["a"].append(timed(WITHOUT_SBOM))
        if sbom.exists():
            raise SystemExit("the baseline wrote an SBOM: it is not the baseline")
        runs["c"].append(timed(RUN_INV))
        runs["b"].append(timed(RUN_INV))
    median = {k: statistics.median(v) for k, v in runs.items()}
    print(f"layer {settings.name}: {settings.zip_path.stat().st_size:,} bytes zipped")
    print(f"median of {args.repeat}, no-change `inv layer.build`:")
    print(f"  (a) without the SBOM step     {median['a']:.3f} s")
    print(
        f"  (b) SBOM current              {median['b']:.3f} s  ({median['b'] / median['a']:.2f}x)"
    )
    print(
        f"  (c) SBOM written again        {median['c']:.3f} s  ({median['c'] / median['a']:.2f}x)"
    )
    print(f"  writing the SBOM, (c) - (b):  {median['c'] - median['b']:.3f} s")


if __name__ == "__main__":
    main()
