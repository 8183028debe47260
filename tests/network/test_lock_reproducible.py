"""The committed lock from PyPI (`nox -s network`): two machines build the same bytes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from layer_tasks.build.pipeline import build_layer
from layer_tasks.build.pylock import lock_path, read_lock
from layer_tasks.config.settings import LayerSettings

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.network


def test_two_builds_from_the_lock_with_empty_caches_give_one_code_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = yaml.safe_load((REPO / "invoke.yaml").read_text())["layer"]
    settings = replace(LayerSettings.from_mapping(raw, base_dir=REPO), verify=False)
    assert lock_path(settings).is_file(), "the repository's lock is committed"
    locked = {p.name: p.version for p in read_lock(lock_path(settings))}
    shas = []
    for run in ("a", "b"):
        # A fresh machine each time: an empty uv cache and no state from the other build.
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / f"uv-cache-{run}"))
        here = replace(settings, dist_dir=tmp_path / f"dist-{run}", state_dir=tmp_path / run)
        manifest = build_layer(here, force=True, log=print).manifest
        assert {canonicalize_name(d.name): d.version for d in manifest.distributions} == locked
        shas.append(manifest.code_sha256)
    assert shas[0] == shas[1]
