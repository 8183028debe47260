"""Time to fail against an endpoint and an index that accept connections and never answer.

    python bench/time_to_fail.py [--baseline SRC] [--only endpoint|index] [KEY=VALUE ...]

Runs, each in a fresh ``inv`` on a throwaway project (the tests' offline wheelhouse):
``inv layer.versions`` with ``AWS_ENDPOINT_URL`` at a silent socket, and
``inv layer.build --force`` with the requirements' ``--index-url`` at one; prints the
wall time, the exit status, how many connections the socket accepted and the error
line. ``--baseline SRC`` also runs each with ``PYTHONPATH=SRC`` (a folder holding an
older ``layer_tasks``, e.g. ``git archive <commit> layer_tasks | tar -x -C SRC``),
side by side, with the ratio. ``KEY=VALUE`` are extra environment variables (e.g.
``INVOKE_LAYER_READ_TIMEOUT=2``). One run each: the figures are timeouts, not speed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from support.cli import INV, make_project  # noqa: E402
from support.silent import SilentServer  # noqa: E402
from support.wheels import build_wheelhouse  # noqa: E402

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY123456",
    "AWS_SECRET_ACCESS_KEY": "bench-secret-key-not-real-0123456789abcd",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def run(case: str, project: Path, extra: dict[str, str], src: str | None) -> tuple[float, str]:
    env = {**os.environ, **CREDENTIALS, **extra}
    env.pop("PIP_FIND_LINKS", None)
    if src:
        env["PYTHONPATH"] = src
    with SilentServer(lifetime=900) as silent:
        if case == "endpoint":
            env["AWS_ENDPOINT_URL"] = silent.url
            argv = ["layer.versions"]
        else:
            req = project / "requirements-silent.txt"
            req.write_text(f"--index-url {silent.url}/simple\nalpha==1.0\n", encoding="utf-8")
            argv = ["layer.build", "--force", "--requirements", str(req)]
        start = time.monotonic()
        proc = subprocess.run(
            [*INV, *argv], cwd=project, env=env, capture_output=True, text=True, timeout=900
        )
        elapsed = time.monotonic() - start
        accepted = silent.accepted
    last = (proc.stderr.strip().splitlines() or [""])[-1]
    print(
        f"{case:8} {'baseline' if src else 'current':8} {elapsed:7.1f} s  exit {proc.returncode}"
        f"  connections {accepted}\n    {last[:400]}",
        flush=True,
    )
    return elapsed, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="folder with an older layer_tasks package")
    parser.add_argument("--only", choices=["endpoint", "index"])
    parser.add_argument("env", nargs="*", help="KEY=VALUE environment for every run")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory() as tmp:
        wheelhouse = build_wheelhouse(Path(tmp) / "wheelhouse")
        project = make_project(Path(tmp) / "project", wheelhouse, "alpha==1.0")
        for case in [args.only] if args.only else ["endpoint", "index"]:
            current, _ = run(case, project, extra, None)
            if args.baseline:
                baseline, _ = run(case, project, extra, args.baseline)
                print(f"{case:8} baseline / current: {baseline / current:.1f}x", flush=True)


if __name__ == "__main__":
    main()
