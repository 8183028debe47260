"""Cold-start import time of the layer with and without its bytecode, in one run.

    python bench/bytecode_bench.py [--requirements requirements-all.txt] [--repeat 5]
                                   [--modes none,imported,imported+app,all] [--json OUT]

Builds the layer once per ``layer.bytecode`` mode (``inv layer.build --force``, this
repository's prune rules); ``imported+app`` is ``imported`` in a Chalice app whose
``app.py`` imports what the seed app imports (issue 19: the build compiles what those
imports load too). Extracts each zip into a read-only folder, and times, as a Lambda
cold start would see it (``python3.12 -I -S -B``, the layer's ``python/`` first on
``sys.path``, nothing writable):

  - importing every top-level module of the layer (a namespace package such as
    ``google`` counts as its subpackages), each in try/except, in one process;
  - the app's imports from issue 11: google.generativeai, sqlalchemy + orm, pydantic,
    numpy, requests, psycopg2, pgvector.sqlalchemy, dateutil.parser, dotenv.

Each is a fresh process, the modes interleaved round by round so load on the machine
hits them alike; reports the median of ``--repeat`` runs, the unzipped and zipped
sizes per mode, and the ratios to ``none``. Nothing here is a pass/fail test.
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
import zipfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
APP_IMPORTS = [
    "google.generativeai",
    "sqlalchemy",
    "sqlalchemy.orm",
    "pydantic",
    "numpy",
    "requests",
    "psycopg2",
    "pgvector.sqlalchemy",
    "dateutil.parser",
    "dotenv",
]
# app.py of the Chalice app for `imported+app`: the seed app's imports, as its code has them.
APP_PY = """\
from chalice import Chalice
import google.generativeai as genai
import sqlalchemy
from sqlalchemy.orm import Session, declarative_base
import pydantic
import numpy as np
import requests
import psycopg2
from pgvector.sqlalchemy import Vector
from dateutil import parser
import dotenv

app = Chalice(app_name="bench")
"""
CHALICE_CONFIG = '{"version": "2.0", "app_name": "bench", "stages": {"prod": {}}}\n'
IMPORT_SCRIPT = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
failed = []
for name in json.loads(sys.argv[2]):
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name)
print(json.dumps(failed))
"""


def top_level_names(tree: Path) -> list[str]:
    sys.path.insert(0, str(REPO))
    from layer_tasks.build.verify import top_level_modules

    names = []
    for name in top_level_modules(tree):
        folder = tree / name
        if folder.is_dir() and not (folder / "__init__.py").exists():
            subs = sorted(
                p.name if p.is_dir() else p.stem
                for p in folder.iterdir()
                if (p.is_dir() and p.name.isidentifier() and p.name != "__pycache__")
                or (p.suffix == ".py" and p.stem.isidentifier())
            )
            names += [f"{name}.{sub}" for sub in subs]
        else:
            names.append(name)
    return names


def make_read_only(root: Path) -> None:
    for folder, _dirs, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)


def timed_import(python: str, tree: Path, names: list[str]) -> tuple[float, list[str]]:
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-I", "-S", "-B", "-c", IMPORT_SCRIPT, str(tree), json.dumps(names)],
        capture_output=True, text=True, check=True, cwd=tree,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", default=str(REPO / "requirements-all.txt"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--modes", default="none,imported,imported+app,all")
    parser.add_argument("--json", dest="json_out", default="")
    args = parser.parse_args()
    modes = args.modes.split(",")

    sys.path.insert(0, str(REPO))
    from layer_tasks.build.verify import find_interpreter

    python = find_interpreter("3.12")
    if not python:
        sys.exit("bench: needs a python3.12 (the target runtime) on PATH or in pyenv")
    work = Path(tempfile.mkdtemp(prefix="bytecode-bench-"))
    project = work / "project"
    project.mkdir()
    layer = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    layer.update(
        name="bench-layer",
        # The layer's own file: requirements.txt would be the Chalice app's.
        requirements="requirements-layer.txt",
        dist_dir="dist",
        state_dir=".state",
    )
    (project / "invoke.yaml").write_text(yaml.safe_dump({"layer": layer}))
    (project / "tasks.py").write_text("from layer_tasks.tasks import ns\n")
    shutil.copy(args.requirements, project / "requirements-layer.txt")
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text(CHALICE_CONFIG)
    inv = [
        sys.executable,
        "-c",
        "import sys; from invoke.main import program; sys.exit(program.run())",
    ]

    sizes, trees = {}, {}
    pycs: dict[str, set[str]] = {}
    for mode in modes:
        print(f"bench: building with bytecode: {mode}", file=sys.stderr)
        bytecode, _, with_app = mode.partition("+")
        app_py = project / "app.py"
        if with_app:
            app_py.write_text(APP_PY)
        else:
            app_py.unlink(missing_ok=True)  # no app.py: no app, as before issue 19
        proc = subprocess.run(
            [*inv, "layer.build", "--force"], cwd=project, capture_output=True, text=True,
            env={**os.environ, "INVOKE_LAYER_BYTECODE": bytecode}, check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            sys.exit(f"bench: build failed:\n{proc.stderr[-3000:]}")
        manifest = json.loads((project / "dist" / "bench-layer.manifest.json").read_text())
        sizes[mode] = {
            "unzipped_bytes": manifest["unzipped_bytes"],
            "zip_bytes": manifest["zip_bytes"],
            "pyc_files": manifest["bytecode"]["files"],
            "pyc_bytes": manifest["bytecode"]["bytes"],
        }
        opt = work / f"opt-{mode}"
        with zipfile.ZipFile(project / "dist" / "bench-layer.zip") as zf:
            zf.extractall(opt)
            pycs[mode] = {n for n in zf.namelist() if n.endswith(".pyc")}
        make_read_only(opt)
        trees[mode] = opt / "python"

    names = top_level_names(trees[modes[0]])
    sets = {"top-level modules": names, "app imports (issue 11)": APP_IMPORTS}
    times: dict[str, dict[str, list[float]]] = {s: {m: [] for m in modes} for s in sets}
    failed: dict[str, list[str]] = {}
    for i in range(args.repeat):
        print(f"bench: round {i + 1}/{args.repeat}", file=sys.stderr)
        for label, imports in sets.items():
            for mode in modes:
                elapsed, bad = timed_import(python, trees[mode], imports)
                times[label][mode].append(elapsed)
                failed[label] = bad

    results = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": len(os.sched_getaffinity(0)),
        "python": subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip(),
        "repeat": args.repeat,
        "sizes": sizes,
        "imports": {
            label: {
                "modules": len(sets[label]),
                "failed": failed[label],
                "median_s": {m: round(statistics.median(t), 3) for m, t in by_mode.items()},
                "runs_s": {m: [round(x, 3) for x in t] for m, t in by_mode.items()},
            }
            for label, by_mode in times.items()
        },
    }
    if "imported" in pycs and "imported+app" in pycs:
        # What compiling the app's imports adds, per top-level package (or namespace/sub).
        added = sorted(pycs["imported+app"] - pycs["imported"])
        by_package: dict[str, int] = {}
        for name in added:
            parts = name.split("/")[1:]  # python/<top>/...
            key = "/".join(parts[:2]) if parts[0] == "google" else parts[0]
            by_package[key] = by_package.get(key, 0) + 1
        results["app_added_pycs"] = {"count": len(added), "by_package": by_package}
    print_table(results, modes)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    for folder, _dirs, _files in os.walk(work):
        os.chmod(folder, 0o755)
    shutil.rmtree(work, ignore_errors=True)


def print_table(results: dict, modes: list[str]) -> None:  # type: ignore[type-arg]
    print(f"\n{results['date']}, {results['cpus']} cores, python {results['python']}, "
          f"median of {results['repeat']}, read-only layer, -I -S -B\n")  # fmt: skip
    labels = list(results["imports"])
    print("| bytecode | " + " | ".join(f"{label}, s" for label in labels)
          + " | unzipped | zipped | .pyc files |")  # fmt: skip
    print("|---|" + "---:|" * (len(labels) + 3))
    base = results["imports"]
    for mode in modes:
        z = results["sizes"][mode]
        cells = []
        for label in labels:
            t = base[label]["median_s"][mode]
            ratio = base[label]["median_s"][modes[0]] / t if t else 0
            cells.append(f"{t:.2f} ({ratio:.1f}x)")
        print(f"| {mode} | " + " | ".join(cells)
              + f" | {z['unzipped_bytes']:,} | {z['zip_bytes']:,} | {z['pyc_files']:,} |")  # fmt: skip
    if "app_added_pycs" in results:
        added = results["app_added_pycs"]
        parts = ", ".join(f"{k} {v}" for k, v in sorted(added["by_package"].items()))
        print(f"\nimported+app ships {added['count']} .pyc more than imported: {parts}")
    for label in labels:
        info = base[label]
        print(
            f"\n{label}: {info['modules']} imports, failing in every mode: {info['failed'] or 'none'}"
        )


if __name__ == "__main__":
    main()
