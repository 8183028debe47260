"""Load: a layer of 20,000 small files, and one with a 200 MB member, zipped with
`archive.write_layer_zip` and deployed to a moto server, in a subprocess whose peak
memory (``VmHWM`` of the subprocess; the zip runs with one worker, in that process) must
stay under 300 MB.

The moto server runs in the test process, so what it stores does not count; the
subprocess holds only the pipeline. Set ``LAYER_LOAD_REPORT=1`` and run with ``-s`` to
see the figures (docs/reliability.md quotes them).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.faults import MotoServer, client

# `once`: memory and time bounds at scale (20,000 files, a 200 MB member); the code they
# run is exercised on every Python by the small cases in tests/unit and tests/aws.
pytestmark = pytest.mark.once

LIMIT_MB = 300

SCRIPT = textwrap.dedent(
    """
    import json, os, resource, sys, time
    from pathlib import Path
    from support.fakes import make_settings
    from layer_tasks.deploy import run as dep
    from layer_tasks.build.archive import write_layer_zip
    from layer_tasks.aws.session import make_clients
    from layer_tasks.model.manifest import Manifest

    root, endpoint, kind = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    tree = root / "tree"
    start = time.perf_counter()
    if kind == "many":
        for i in range(20_000):
            folder = tree / f"pkg{i // 500:03d}"
            if i % 500 == 0:
                folder.mkdir(parents=True)
            (folder / f"m{i:05d}.py").write_text(f"VALUE_{i} = {i!r}\\n" * 3)
    else:
        tree.mkdir(parents=True)
        with open(tree / "big.bin", "wb") as fh:
            block = os.urandom(1 << 20)
            for i in range(200):  # 200 MiB that deflate cannot shrink much
                fh.write(block[i:] + block[:i])
    made = time.perf_counter()
    settings = make_settings(root / "project", compression_level=1)
    settings.dist_dir.mkdir(parents=True)
    # One worker: the compression runs in this process, so ru_maxrss sees all of it
    # (pool workers are forkserver children, which RUSAGE_CHILDREN does not count).
    result = write_layer_zip(tree, settings.zip_path, level=1, workers=1)
    zipped = time.perf_counter()
    manifest = Manifest(
        name=settings.name, python=settings.python, architecture=settings.architecture,
        code_sha256=result.code_sha256, zip_bytes=result.zip_bytes,
        unzipped_bytes=result.unzipped_bytes, files=result.entries,
        requirements_sha256="0" * 64, distributions=(), pruned={},
    )
    manifest.write(settings.manifest_path)
    clients = make_clients(settings, endpoint_url=endpoint)
    outcome = dep.deploy(settings, clients, build=False, log=lambda _l: None)
    done = time.perf_counter()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child of a
    # large pytest process would report the parent's size; VmHWM belongs to this image.
    status = Path("/proc/self/status")
    if status.exists():
        hwm = [line for line in status.read_text().splitlines() if line.startswith("VmHWM:")]
        own = int(hwm[0].split()[1]) / 1024
    else:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "kind": kind, "entries": result.entries, "zip_bytes": result.zip_bytes,
        "unzipped_bytes": result.unzipped_bytes, "arn": outcome.arn,
        "peak_rss_mb": round(own, 1),
        "make_s": round(made - start, 2), "zip_s": round(zipped - made, 2),
        "deploy_s": round(done - zipped, 2),
    }))
    """
)


def run(kind: str, tmp_path: Path, server: MotoServer) -> dict[str, object]:
    server.reset()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])  # tests/: `support`
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            str(tmp_path),
            server.url,
            kind,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    figures: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    if os.environ.get("LAYER_LOAD_REPORT"):
        print(f"\nload {kind}: {figures}")
    return figures


def test_twenty_thousand_small_files_deploy_in_bounded_memory(
    tmp_path: Path, server: MotoServer
) -> None:
    figures = run("many", tmp_path, server)
    assert figures["entries"] == 20_000
    assert float(figures["peak_rss_mb"]) < LIMIT_MB  # type: ignore[arg-type]
    lam = client(server.url, "lambda")
    (version,) = lam.list_layer_versions(LayerName="demo-layer")["LayerVersions"]
    assert version["LayerVersionArn"] == figures["arn"]


@pytest.mark.slow
def test_a_200_mb_member_streams_through_zip_and_upload(tmp_path: Path, server: MotoServer) -> None:
    figures = run("big", tmp_path, server)
    assert int(figures["unzipped_bytes"]) == 200 << 20  # type: ignore[call-overload]
    # Well under the member's size: neither the zip writer nor the upload holds it whole.
    assert float(figures["peak_rss_mb"]) < LIMIT_MB  # type: ignore[arg-type]
    s3 = client(server.url, "s3")
    (obj,) = [
        o
        for o in s3.list_objects_v2(Bucket="demo-layer-bucket")["Contents"]
        if o["Key"].endswith(".zip")
    ]
    assert obj["Size"] == figures["zip_bytes"]
