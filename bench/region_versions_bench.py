"""`layer.versions --all-regions`: regions read by the pool against one after another.

    python bench/region_versions_bench.py [--regions 4] [--versions 10] [--repeat 3]
                                          [--concurrency 4] [--latency-ms 0]

Starts the local sandbox (``python -m moto.server`` on 127.0.0.1, its own process, so
the server does not share this process's GIL), publishes ``--versions`` versions of one
layer in each of ``--regions`` regions, then times `read_all_regions` with
``publish_concurrency: 1`` (the baseline: one region after another, as running
``layer.versions`` per region would) and with ``--concurrency``, interleaved round by
round. Each run makes its clients as the task does (`make_clients` per region). Reports
the median of ``--repeat`` runs and the ratio. A local server answers in about a
millisecond; AWS across regions takes tens to hundreds. ``--latency-ms`` adds that
much to every request (a sleep before it is sent) to stand in for it: a simulation,
named as such in the output. Nothing here is a pass/fail test.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGIONS = ["us-east-1", "ap-northeast-2", "eu-west-1", "us-west-2", "eu-central-1", "sa-east-1"]


def tiny_zip(body: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("python/mod.py", body)
    return buf.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", type=int, default=4)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from layer_tasks.aws.session import make_clients
    from layer_tasks.config.settings import LayerSettings
    from layer_tasks.local import sandbox
    from layer_tasks.report.region_versions import read_all_regions

    regions = REGIONS[: args.regions]
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / ".state"
        box, _ = sandbox.up(state)
        try:
            import boto3

            for region in regions:
                lam = boto3.client(
                    "lambda",
                    endpoint_url=box.endpoint,
                    region_name=region,
                    aws_access_key_id=sandbox.CREDENTIALS[0],
                    aws_secret_access_key=sandbox.CREDENTIALS[1],
                )
                for n in range(args.versions):
                    lam.publish_layer_version(
                        LayerName="bench-layer",
                        Content={"ZipFile": tiny_zip(f"N = {n}\n")},
                        CompatibleRuntimes=["python3.12"],
                    )
            base = LayerSettings.from_mapping(
                {"name": "bench-layer", "regions": regions, "state_dir": str(state)},
                base_dir=Path(tmp),
            )

            def delay(**_: object) -> None:
                time.sleep(args.latency_ms / 1000)

            def run(concurrency: int) -> float:
                settings = replace(base, publish_concurrency=concurrency)

                def lambda_for(region: str) -> object:
                    lam = make_clients(
                        replace(settings, region=region),
                        endpoint_url=box.endpoint,
                        credentials=sandbox.CREDENTIALS,
                    ).lambda_
                    if args.latency_ms:
                        lam.meta.events.register("before-send", delay)
                    return lam

                start = time.perf_counter()
                report = read_all_regions(settings, regions, lambda_for)
                elapsed = time.perf_counter() - start
                report.check()
                assert all(len(r.rows) == args.versions for r in report.layers[0].reads)
                return elapsed

            run(1)  # warm: imports, botocore's data files
            times: dict[int, list[float]] = {1: [], args.concurrency: []}
            for _ in range(args.repeat):
                for concurrency in times:
                    times[concurrency].append(run(concurrency))
        finally:
            sandbox.down(state)

    calls = args.regions * (1 + args.versions)
    latency = f"; {args.latency_ms:g} ms added per request, simulated" if args.latency_ms else ""
    print(
        f"{args.regions} regions x {args.versions} versions ({calls} Lambda calls{latency}), "
        f"median of {args.repeat}:"
    )
    one = statistics.median(times[1])
    pooled = statistics.median(times[args.concurrency])
    print(f"  one region after another (publish_concurrency 1): {one:.3f} s")
    print(f"  pool (publish_concurrency {args.concurrency}):                {pooled:.3f} s")
    print(f"  ratio: {one / pooled:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
