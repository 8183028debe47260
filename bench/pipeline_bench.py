"""The pipeline benchmark: the seed's shell pipeline against layer-tasks, in one run.

    python bench/pipeline_bench.py [--requirements requirements-all.txt] [--repeat 3]
                                   [--cache warm|cold] [--json OUT]
    nox -s bench            # the same, with the default arguments

Side by side, on the same requirements file and the same cache state, each repeated
``--repeat`` times (runs interleaved, so load on the machine hits them alike):

  (a) the seed's pipeline, exactly: ``pip install -r REQ -t python/``, ``find ... -delete``
      for tests, __pycache__, *.pyc, *.dist-info, *.md and docs, ``zip -9 -r``; each step
      timed on its own too, so the zip step can be compared alone;
  (b) ``inv layer.build --force``; (b') the same with ``verify: false``, (b'') with
      ``bytecode: none``; (b-lock) the same as (b) from this repository's PEP 751 lock
      (``--lock``, default ``pylock.shuking-deps-layer-x86_64.toml`` when the requirements
      are ``requirements-all.txt``), as a build in this repository runs: the locked
      wheels, no resolution;
  (c) ``inv layer.build`` with nothing changed;
  (d) ``inv layer.deploy --local`` with nothing changed (the layer already published);
  (e) the seed-style upload and publish of the same zip to the same sandbox
      (``aws s3 cp`` + ``aws lambda publish-layer-version``; boto3 when no aws CLI);
  (z) the zip step alone: layer_tasks' writer on the tree (a) zipped, vs (a)'s zip step;
  (f) with ``--chalice``: Chalice's automatic layer, ``chalice package`` of a minimal app
      with ``automatic_layer: true`` and the same requirements (Chalice from PyPI, in a
      throwaway python3.12 venv the bench makes); its built-layer cache
      (``.chalice/deployments``) is emptied before every run, so it builds every time.

``--cache warm`` (default) runs every install against a warmed cache (pip's and uv's);
``--cache cold`` gives every install run an empty cache of its own, so both download,
and empties layer-tasks' own cache (``state_dir/cache``: pip's settings, the import
check's bytecode) before each full build, as on a fresh machine.
Both pipelines install for python3.12 with that interpreter's pip, as Lambda would run
them, and (b) uses the same prune rules as the seed (this repo's extra rule that drops
googleapiclient's discovery documents is off), so the zip sizes compare like for like.

Reports the median wall time, peak RSS (``/usr/bin/time -v``), unzipped and zipped bytes
and the ratios. Nothing here is a pass/fail test; the README quotes a run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GNU_TIME = Path("/usr/bin/time")

SEED_PRUNE = r"""
set -e
find python -type d -name tests -prune -exec rm -rf {} +
find python -type d -name __pycache__ -prune -exec rm -rf {} +
find python -name '*.pyc' -delete
find python -type d -name '*.dist-info' -prune -exec rm -rf {} +
find python -name '*.md' -delete
find python -type d -name docs -prune -exec rm -rf {} +
"""

INVOKE_YAML = """\
layer:
  name: bench-layer
  requirements: requirements.txt
  python: "3.12"
  architecture: x86_64
  bucket: bench-layer-bucket
  region: us-east-1
  dist_dir: dist
  state_dir: .state
  # With the seed's prune rules the layer is at ~94% of Lambda's limit, and its bytecode
  # (layer.bytecode: imported, ~14 MB) takes it just over: the budget check would stop
  # the deploy (d). This bench times the pipeline, not the budget.
  budget_mb: 300
"""

CHALICE = '{\n  "app_name": "bench",\n  "stages": {"prod": {"layers": []}}\n}\n'
CHALICE_AUTO = (
    '{\n  "version": "2.0",\n  "app_name": "bench",\n  "automatic_layer": true,\n'
    '  "stages": {"dev": {"api_gateway_stage": "api"}}\n}\n'
)
CHALICE_APP = 'from chalice import Chalice\n\napp = Chalice(app_name="bench")\n\n\n@app.route("/")\ndef index():\n    return {"ok": True}\n'


@dataclass
class Step:
    label: str
    seconds: list[float] = field(default_factory=list)
    rss_kb: list[int] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")

    @property
    def peak_mb(self) -> float:
        return max(self.rss_kb, default=0) / 1024


def run(
    cmd: list[str] | str, cwd: Path, step: Step | None, env: dict[str, str] | None = None
) -> str:
    """Run ``cmd`` (under /usr/bin/time -v), record wall time and peak RSS in ``step``."""
    shell = isinstance(cmd, str)
    argv = ["bash", "-c", cmd] if shell else list(cmd)
    if GNU_TIME.exists():
        argv = [str(GNU_TIME), "-v", *argv]
    start = time.perf_counter()
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(
            f"bench: {cmd!r} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        )
    if step is not None:
        step.seconds.append(elapsed)
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        if match:
            step.rss_kb.append(int(match.group(1)))
    return proc.stdout + proc.stderr


def tree_bytes(root: Path) -> int:
    return sum(p.lstat().st_size for p in root.rglob("*") if p.is_file() or p.is_symlink())


def unzipped_bytes(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as zf:
        return sum(i.file_size for i in zf.infolist())


def python312() -> str:
    sys.path.insert(0, str(REPO))
    from layer_tasks.build.verify import find_interpreter

    found = find_interpreter("3.12")
    if not found:
        sys.exit("bench: needs a python3.12 (the target runtime) on PATH or in pyenv")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", default=str(REPO / "requirements-all.txt"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm")
    parser.add_argument("--json", dest="json_out", default="")
    parser.add_argument(
        "--chalice", action="store_true", help="also time Chalice's automatic layer (PyPI)"
    )
    parser.add_argument(
        "--lock",
        default="",
        help="PEP 751 lock of the requirements for (b-lock); default: this repository's "
        "for requirements-all.txt, none for other requirements",
    )
    args = parser.parse_args()

    py312 = python312()
    inv = [
        sys.executable,
        "-c",
        "import sys; from invoke.main import program; sys.exit(program.run())",
    ]
    work = Path(tempfile.mkdtemp(prefix="layer-bench-"))
    caches = work / "caches"
    seed_dir, project = work / "seed", work / "project"
    seed_dir.mkdir()
    project.mkdir()
    shutil.copy(args.requirements, seed_dir / "requirements.txt")
    shutil.copy(args.requirements, project / "requirements.txt")
    (project / "invoke.yaml").write_text(INVOKE_YAML)
    (project / "tasks.py").write_text("from layer_tasks.tasks import ns\n")
    (project / ".chalice").mkdir()
    (project / ".chalice" / "config.json").write_text(CHALICE)

    if args.chalice:
        setup_chalice(py312, work, args.requirements)

    def cache_env(run_no: int) -> dict[str, str]:
        if args.cache == "cold":
            fresh = caches / f"run{run_no}"
            return {"PIP_CACHE_DIR": str(fresh / "pip"), "UV_CACHE_DIR": str(fresh / "uv")}
        return {"PIP_CACHE_DIR": str(caches / "pip"), "UV_CACHE_DIR": str(caches / "uv")}

    # Warm-up: fills the warm caches, starts the sandbox and publishes version 1.
    print(f"bench: warming up in {work} (cache: {args.cache})", file=sys.stderr)
    if args.cache == "warm":
        run(
            [py312, "-m", "pip", "install", "-q", "-r", "requirements.txt", "-t", "warm"],
            seed_dir,
            None,
            cache_env(0),
        )
        shutil.rmtree(seed_dir / "warm")
    run([*inv, "local.up"], project, None)
    try:
        results = measure(args, py312, inv, work, seed_dir, project, cache_env)
    finally:
        subprocess.run([*inv, "local.down"], cwd=project, capture_output=True, check=False)
    print_table(results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(results, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


def measure(args, py312, inv, work, seed_dir, project, cache_env) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The timed rounds; returns the results table as data."""
    seed_install, seed_prune, seed_zip, seed_total = (
        Step("seed: pip install"), Step("seed: find -delete"), Step("seed: zip -9 -r"), Step("(a) seed pipeline"),
    )  # fmt: skip
    build_noverify = Step("(b') same, verify: false (the seed verifies nothing)")
    build_nobytecode = Step("(b'') same, bytecode: none (verify on)")
    build_locked = Step("(b-lock) same as (b), from the repository's lock")
    build_force, build_same = (
        Step("(b) inv layer.build --force"),
        Step("(c) inv layer.build, no change"),
    )
    deploy_same, seed_publish = (
        Step("(d) inv layer.deploy --local, no change"),
        Step("(e) seed upload + publish"),
    )
    writer_zip = Step("(z) layer_tasks zip writer")
    chalice = Step("(f) chalice package, automatic_layer")
    run([*inv, "layer.deploy", "--local"], project, None, cache_env(0))

    seed_zip_path = seed_dir / "layer.zip"
    lock = Path(args.lock) if args.lock else None
    default_requirements = Path(args.requirements).resolve() == REPO / "requirements-all.txt"
    if lock is None and default_requirements:
        lock = REPO / "pylock.shuking-deps-layer-x86_64.toml"
    for i in range(1, args.repeat + 1):
        print(f"bench: round {i}/{args.repeat}", file=sys.stderr)
        env = cache_env(i)
        # (a) the seed pipeline, step by step, and in total.
        shutil.rmtree(seed_dir / "python", ignore_errors=True)
        seed_zip_path.unlink(missing_ok=True)
        start = time.perf_counter()
        run(
            f"{py312} -m pip install -q -r requirements.txt -t python/", seed_dir, seed_install, env
        )
        run(SEED_PRUNE, seed_dir, seed_prune)
        run("zip -9 -r -q layer.zip python", seed_dir, seed_zip)
        seed_total.seconds.append(time.perf_counter() - start)
        seed_total.rss_kb.append(max(seed_install.rss_kb[-1:] + seed_zip.rss_kb[-1:] + [0]))
        # (z) our writer on exactly the tree the seed zipped.
        (work / "writer.zip").unlink(missing_ok=True)
        run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from layer_tasks.build.archive import write_layer_zip\n"
             "if __name__ == '__main__':\n"
             "    write_layer_zip(Path(sys.argv[1]), Path(sys.argv[2]), level=9, workers=len(__import__('os').sched_getaffinity(0)))",
             str(seed_dir / "python"), str(work / "writer.zip")],
            work, writer_zip,
        )  # fmt: skip
        # (b') and (b) full builds, (c) no-change build. Each full build has a cache of
        # its own, so in cold mode (b') does not warm (b)'s.
        noverify_env = {**cache_env(i + 1000), "INVOKE_LAYER_VERIFY": "false"}
        forget_own_cache(project, args.cache)
        run([*inv, "layer.build", "--force"], project, build_noverify, noverify_env)
        forget_own_cache(project, args.cache)
        nobytecode_env = {**cache_env(i + 3000), "INVOKE_LAYER_BYTECODE": "none"}
        run([*inv, "layer.build", "--force"], project, build_nobytecode, nobytecode_env)
        if lock is not None:
            forget_own_cache(project, args.cache)
            locked = project / "pylock.bench-layer-x86_64.toml"
            shutil.copy(lock, locked)
            try:
                out = run([*inv, "layer.build", "--force"], project, build_locked,
                          cache_env(i + 4000))  # fmt: skip
            finally:
                locked.unlink()
            if f"from {locked.name}" not in out:
                sys.exit(f"bench: (b-lock) did not install from the lock:\n{out}")
        forget_own_cache(project, args.cache)
        run([*inv, "layer.build", "--force"], project, build_force, env)
        run([*inv, "layer.build"], project, build_same, env)
        # (d) no-change deploy against the sandbox, (e) seed-style upload + publish there.
        out = run([*inv, "layer.deploy", "--local"], project, deploy_same, env)
        if "unchanged" not in out:
            sys.exit(f"bench: the no-change deploy published something:\n{out}")
        seed_publish_run(project, seed_publish, i)
        if args.chalice:
            # (f): pip's cache in the same state as (a)'s at its start (cold: a new one).
            app = work / "chalice-app"
            shutil.rmtree(app / ".chalice" / "deployments", ignore_errors=True)
            shutil.rmtree(work / "chalice-out", ignore_errors=True)
            run(
                [str(work / "chalice-venv" / "bin" / "chalice"), "package", str(work / "chalice-out")],
                app, chalice, {**cache_env(i + 2000 if args.cache == "cold" else i),
                               "AWS_DEFAULT_REGION": "us-east-1"},
            )  # fmt: skip

    manifest = json.loads((project / "dist" / "bench-layer.manifest.json").read_text())
    seed_unzipped = tree_bytes(seed_dir / "python")
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "cpus": len(os.sched_getaffinity(0)),
        "cache": args.cache,
        "repeat": args.repeat,
        "requirements": Path(args.requirements).name,
        "steps": {
            s.label: {
                "median_s": round(s.median, 3),
                "runs_s": [round(x, 3) for x in s.seconds],
                "peak_rss_mb": round(s.peak_mb, 1),
            }
            for s in (
                seed_total,
                seed_install,
                seed_prune,
                seed_zip,
                writer_zip,
                build_force,
                *((build_locked,) if lock is not None else ()),
                build_noverify,
                build_nobytecode,
                build_same,
                deploy_same,
                seed_publish,
                *((chalice,) if args.chalice else ()),
            )
        },
        "sizes": {
            "seed_unzipped": seed_unzipped,
            "seed_zip": seed_zip_path.stat().st_size,
            "layer_unzipped": manifest["unzipped_bytes"],
            "layer_zip": manifest["zip_bytes"],
            "writer_zip_same_tree": (work / "writer.zip").stat().st_size,
        },
        "ratios": {
            "build_vs_seed": round(seed_total.median / build_force.median, 2),
            **(
                {
                    "locked_build_vs_seed": round(seed_total.median / build_locked.median, 2),
                    **(
                        {"locked_build_vs_chalice": round(chalice.median / build_locked.median, 2)}
                        if args.chalice
                        else {}
                    ),
                }
                if lock is not None
                else {}
            ),
            "build_without_verify_vs_seed": round(seed_total.median / build_noverify.median, 2),
            "build_without_bytecode_vs_seed": round(seed_total.median / build_nobytecode.median, 2),
            "no_change_build_vs_seed": round(seed_total.median / build_same.median, 1),
            **(
                {"build_vs_chalice_automatic_layer": round(chalice.median / build_force.median, 2)}
                if args.chalice
                else {}
            ),
            "no_change_deploy_vs_seed": round(seed_total.median / deploy_same.median, 1),
            "no_change_deploy_vs_seed_publish": round(seed_publish.median / deploy_same.median, 2),
            "zip_step_vs_zip_9": round(seed_zip.median / writer_zip.median, 2),
            "writer_zip_size_vs_zip_9": round(
                (work / "writer.zip").stat().st_size / seed_zip_path.stat().st_size, 4
            ),
        },
    }
    return results


def setup_chalice(py312: str, work: Path, requirements: str) -> None:
    """A python3.12 venv with Chalice from PyPI and a minimal app on the same requirements."""
    venv = work / "chalice-venv"
    run([py312, "-m", "venv", str(venv)], work, None)
    run([str(venv / "bin" / "pip"), "install", "-q", "chalice"], work, None)
    app = work / "chalice-app"
    (app / ".chalice").mkdir(parents=True)
    (app / "app.py").write_text(CHALICE_APP)
    (app / ".chalice" / "config.json").write_text(CHALICE_AUTO)
    shutil.copy(requirements, app / "requirements.txt")


def forget_own_cache(project: Path, cache: str) -> None:
    """In cold mode, nothing layer-tasks learnt in an earlier build may help the next."""
    if cache == "cold":
        shutil.rmtree(project / ".state" / "cache", ignore_errors=True)


def seed_publish_run(project: Path, step: Step, round_no: int) -> None:
    """Upload the same zip and publish it from S3 as the seed's scripts did."""
    sys.path.insert(0, str(REPO))
    from layer_tasks.local import sandbox

    box = sandbox.status(project / ".state")
    if box is None:
        sys.exit("bench: the sandbox is not running")
    endpoint = f"http://{sandbox.HOST}:{box.port}"
    key = f"seed/bench-layer/{round_no}/bench-layer.zip"
    env = {
        "AWS_ACCESS_KEY_ID": sandbox.CREDENTIALS[0],
        "AWS_SECRET_ACCESS_KEY": sandbox.CREDENTIALS[1],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    zip_path = project / "dist" / "bench-layer.zip"
    bucket = "bench-layer-bucket"
    if shutil.which("aws"):
        script = (
            f"aws --endpoint-url {endpoint} s3 cp {zip_path} s3://{bucket}/{key} --only-show-errors && "
            f"aws --endpoint-url {endpoint} lambda publish-layer-version --layer-name bench-layer "
            f"--content S3Bucket={bucket},S3Key={key} --compatible-runtimes python3.12 "
            "--compatible-architectures x86_64 >/dev/null"
        )
        run(script, project, step, env)
    else:
        code = (
            "import boto3, sys\n"
            f"s3 = boto3.client('s3', endpoint_url='{endpoint}')\n"
            f"s3.upload_file(sys.argv[1], '{bucket}', '{key}')\n"
            f"boto3.client('lambda', endpoint_url='{endpoint}').publish_layer_version("
            f"LayerName='bench-layer', Content={{'S3Bucket': '{bucket}', 'S3Key': '{key}'}},"
            " CompatibleRuntimes=['python3.12'], CompatibleArchitectures=['x86_64'])\n"
        )
        run([sys.executable, "-c", code, str(zip_path)], project, step, env)


def print_table(results: dict) -> None:  # type: ignore[type-arg]
    print(f"\n{results['date']}, {results['cpus']} cores, {results['cache']} cache, "
          f"median of {results['repeat']}, {results['requirements']}\n")  # fmt: skip
    print("| step | median s | peak RSS MB | runs s |\n|---|---:|---:|---|")
    for label, s in results["steps"].items():
        print(
            f"| {label} | {s['median_s']:.2f} | {s['peak_rss_mb']:.0f} | {', '.join(f'{x:.2f}' for x in s['runs_s'])} |"
        )
    z = results["sizes"]
    print(
        f"\nseed: {z['seed_unzipped']:,} bytes unzipped, {z['seed_zip']:,} zipped; "
        f"layer-tasks (same prune rules): {z['layer_unzipped']:,} unzipped, {z['layer_zip']:,} zipped; "
        f"writer on the seed's tree: {z['writer_zip_same_tree']:,} zipped"
    )
    print("\n| ratio | value |\n|---|---:|")
    for key, value in results["ratios"].items():
        print(f"| {key} | {value} |")


if __name__ == "__main__":
    main()
