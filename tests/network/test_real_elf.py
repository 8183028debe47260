"""The real requirements-all.txt from PyPI (`nox -s network`): every ELF file of the
x86_64 and the arm64 layer passes the static check (issue 11, section 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from layer_tasks.build.pipeline import build_layer
from layer_tasks.config.settings import LayerSettings

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.network


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_real_layer_passes_the_static_elf_check(tmp_path: Path, architecture: str) -> None:
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    raw.update(
        architecture=architecture,
        dist_dir=str(tmp_path / "dist"),
        state_dir=str(tmp_path / "state"),
    )
    settings = LayerSettings.from_mapping(raw, base_dir=REPO)
    logs: list[str] = []
    result = build_layer(settings, log=logs.append)  # raises LayerError on any finding
    elf = result.manifest.elf
    # numpy, grpcio, pydantic-core, psycopg2 and their vendored libraries at least.
    assert elf["files"] >= 10
    assert elf["machine"] == {"x86_64": "x86_64", "arm64": "aarch64"}[architecture]
    assert elf["glibc_limit"] == "2.34"
    assert tuple(int(n) for n in elf["newest_glibc"].split(".")) <= (2, 34)
    print(next(line for line in logs if line.startswith("elf:")))
