"""The lock benchmark: building from the PEP 751 lock against building without it, in one run.

    python bench/lock_bench.py [--requirements requirements-all.txt] [--repeat 2] [--json OUT]

Side by side, on the same requirements file, every run with an empty uv cache and an
empty layer-tasks state folder of its own (as a fresh CI runner), runs interleaved so
that load on the machine hits them alike:

  (l) ``inv layer.lock`` with no lock present (a full resolution for the target);
  (u) ``inv layer.build --force`` without a lock (uv resolves, then installs);
  (k) ``inv layer.build --force`` with the lock (no resolution: URLs and hashes).

The import check is off in both builds (it is the same work with or without a lock).
pip's own configuration is set aside (``PIP_CONFIG_FILE=/dev/null``, no ``PIP_*``
index variables) so both builds use PyPI only, as the committed lock does.
Reports median wall times, the ratio (u)/(k), and whether every build from the lock
gave the same CodeSha256. Nothing here is a pass/fail test; the README quotes a run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
INV = [sys.executable, "-c", "import sys; from invoke.main import program; sys.exit(program.run())"]

# The import check is off: this bench times the install, which the lock changes.
SETTINGS = {
    "name": "bench-layer",
    "requirements": "requirements.txt",
    "python": '"3.12"',
    "architecture": "x86_64",
    "dist_dir": "dist",
    "state_dir": ".state",
    "verify": "false",
}
INVOKE_YAML = "layer:\n" + "".join(f"  {key}: {value}\n" for key, value in SETTINGS.items())
LOCK = "pylock.bench-layer-x86_64.toml"


def clean_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_"))}
    env.update(PIP_CONFIG_FILE=os.devnull, UV_CACHE_DIR=str(cache), UV_NO_PROGRESS="1")
    return env


def project(root: Path, requirements: Path) -> Path:
    root.mkdir(parents=True)
    shutil.copyfile(requirements, root / "requirements.txt")
    (root / "invoke.yaml").write_text(INVOKE_YAML, encoding="utf-8")
    (root / "tasks.py").write_text("from layer_tasks.tasks import ns\n", encoding="utf-8")
    return root


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run([*INV, *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed in {cwd}:\n{proc.stderr}")
    return seconds, proc.stdout


def code_sha256(stdout: str) -> str:
    return stdout.rsplit("CodeSha256 ", 1)[-1].strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requirements", type=Path, default=REPO / "requirements-all.txt")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    times: dict[str, list[float]] = {"lock": [], "unlocked": [], "locked": []}
    shas: dict[str, list[str]] = {"unlocked": [], "locked": []}
    with tempfile.TemporaryDirectory(prefix="lock-bench-") as tmp:
        work = Path(tmp)
        locked_proj = project(work / "locked", args.requirements)
        for run in range(args.repeat):
            lock_proj = project(work / f"lock-{run}", args.requirements)
            seconds, _ = timed(["layer.lock"], lock_proj, clean_env(work / f"cache-l{run}"))
            times["lock"].append(seconds)
            if run == 0:
                shutil.copyfile(lock_proj / LOCK, locked_proj / LOCK)
            unlocked = project(work / f"unlocked-{run}", args.requirements)
            seconds, out = timed(
                ["layer.build", "--force"], unlocked, clean_env(work / f"cache-u{run}")
            )
            times["unlocked"].append(seconds)
            shas["unlocked"].append(code_sha256(out))
            shutil.rmtree(locked_proj / ".state", ignore_errors=True)
            seconds, out = timed(
                ["layer.build", "--force"], locked_proj, clean_env(work / f"cache-k{run}")
            )
            times["locked"].append(seconds)
            shas["locked"].append(code_sha256(out))

    medians = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "repeat": args.repeat,
        "seconds": times,
        "median_seconds": medians,
        "unlocked_over_locked": medians["unlocked"] / medians["locked"],
        "code_sha256": shas,
        "locked_builds_identical": len(set(shas["locked"])) == 1,
    }
    print(f"{'step':<52}{'median s':>10}   runs")
    for key, label in (
        ("lock", "(l) inv layer.lock, no lock yet, empty uv cache"),
        ("unlocked", "(u) inv layer.build --force, no lock, empty cache"),
        ("locked", "(k) inv layer.build --force, from the lock, empty"),
    ):
        runs = ", ".join(f"{s:.2f}" for s in times[key])
        print(f"{label:<52}{medians[key]:>10.2f}   {runs}")
    print(f"ratio (u)/(k): {result['unlocked_over_locked']:.2f}x")
    print(f"CodeSha256 from the lock: {sorted(set(shas['locked']))}")
    print(f"CodeSha256 without it:    {sorted(set(shas['unlocked']))}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
