"""What each distribution costs at every cold start: its import time, next to its size.

Measured as Lambda loads a layer: the zip is extracted into a temporary folder that is
made read-only (as ``/opt`` is), and a fresh target interpreter (``-I -S -B``, with
``PYTHONDONTWRITEBYTECODE``) has only that ``python/`` folder in front of the standard
library on ``sys.path``. Each distribution's top-level modules are imported in a process
of their own, ``repeat`` times, and the median is reported; its time includes whatever
those modules import in turn (another distribution, the standard library), which is
what the function pays for that dependency. A last run imports everything together:
the layer's whole import cost, shared dependencies counted once.

Whatever bytecode the zip holds is used, and nothing is compiled into the layer; the
report says whether there was any, since without it every cold start compiles again.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from layer_tasks.build.footprint import naturalsize
from layer_tasks.build.verify import _module_name, find_interpreter, host_runs
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Distribution, Manifest

# Only builtins before the clock starts: a stdlib module imported here (json, importlib)
# would be free for the distribution that needs it too.
_MEASURE = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
failed = []
start, cpu = time.perf_counter(), time.process_time()
for name in sys.argv[2:]:
    try:
        __import__(name)
    except BaseException as exc:
        failed.append((name, (type(exc).__name__ + ": " + str(exc))[:300]))
elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
import json
result = {"seconds": elapsed, "cpu_seconds": cpu, "failed": dict(failed)}
sys.stdout.write("\n@@RESULT@@" + json.dumps(result))
"""


@dataclass(frozen=True)
class ImportCost:
    name: str
    version: str
    unzipped_bytes: int
    modules: tuple[str, ...]
    seconds: tuple[float, ...] = ()  # wall time, one per fresh process
    # CPU time of the same runs: what the import itself costs, much less moved than the
    # wall time by other work on a busy machine (a sleep or a slow disk shows only there).
    cpu_seconds: tuple[float, ...] = ()
    failures: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    @property
    def cpu_median(self) -> float | None:
        return statistics.median(self.cpu_seconds) if self.cpu_seconds else None


@dataclass(frozen=True)
class ImportReport:
    name: str
    runtime: str
    architecture: str
    measured: bool
    reason: str = ""  # why not, when not measured
    interpreter: str = ""
    repeat: int = 0
    bytecode_files: int = 0  # .pyc files in the layer
    costs: tuple[ImportCost, ...] = ()
    together: ImportCost | None = None

    def to_json(self) -> str:
        data = asdict(self)
        for cost, raw in zip(self.costs, data["costs"], strict=True):
            raw["median_seconds"], raw["cpu_median_seconds"] = cost.median, cost.cpu_median
        if self.together is not None:
            data["together"]["median_seconds"] = self.together.median
            data["together"]["cpu_median_seconds"] = self.together.cpu_median
        return json.dumps(data, indent=2) + "\n"

    def text(self) -> str:
        if not self.measured:
            return f"imports not measured: {self.reason}\n"
        bytecode = (
            f"the layer has bytecode ({self.bytecode_files:,} .pyc files)"
            if self.bytecode_files
            else "the layer has no bytecode: every cold start compiles its sources"
        )
        rows = [("distribution", "version", "import", "cpu", "unzipped", "modules")]
        for c in (*self.costs, *([self.together] if self.together else [])):
            shown = ", ".join(c.modules) if len(c.modules) <= 3 else f"{len(c.modules)} modules"
            if c.failures:
                shown += f" ({len(c.failures)} failed: {', '.join(sorted(c.failures))})"
            rows.append(
                (
                    c.name,
                    c.version,
                    _seconds(c.median),
                    _seconds(c.cpu_median),
                    naturalsize(c.unzipped_bytes),
                    shown if c.modules else "(no importable module)",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        rule = "-" * (sum(widths) + 16)
        lines = [
            f"Import time at cold start: layer {self.name} ({self.runtime}, {self.architecture}), "
            f"{self.interpreter}",
            f"median of {self.repeat} fresh processes each (-I -S -B, layer read-only), wall "
            f"and CPU time; {bytecode}; a time includes what the modules import in turn",
            "",
        ]
        for i, r in enumerate(rows):
            if self.together and i == len(rows) - 1:
                lines.append(rule)
            lines.append(
                f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  "
                f"{r[3]:>{widths[3]}}  {r[4]:>{widths[4]}}  {r[5]}".rstrip()
            )
            if i == 0:
                lines.append(rule)
        return "\n".join(lines) + "\n"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def distribution_modules(dist: Distribution, tree: Path) -> list[str]:
    """The importable top-level modules of ``dist`` in the extracted ``tree``.

    From the manifest's per-folder sizes (``google/auth`` inside a namespace package),
    or its top-level names for a manifest written before those existed. A namespace
    folder is replaced by what is below it: importing it alone loads nothing.
    """
    keys = list(dist.folders) or list(dist.top_level)
    names: list[str] = []
    for key in keys:
        first, _, second = key.partition("/")
        if second:
            sub = _module_name(second)
            name = f"{first}.{sub}" if sub and first.isidentifier() else None
        else:
            name = _module_name(first)
        if name is None:
            continue
        folder = tree.joinpath(*name.split("."))
        if folder.is_dir() and not (folder / "__init__.py").exists():
            below = [
                _module_name(p.name) for p in sorted(folder.iterdir()) if p.name != "__pycache__"
            ]
            names += [f"{name}.{b}" for b in below if b]
        elif folder.is_dir() or any(folder.parent.glob(folder.name + ".*")):
            names.append(name)
    return sorted(set(names))


@contextmanager
def read_only_layer(zip_path: Path) -> Iterator[Path]:
    """The zip extracted into a temporary folder, made read-only; yields its ``python/``."""
    tmp = Path(tempfile.mkdtemp(prefix="layer-imports-"))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                dest = Path(zf.extract(info, tmp))
                if not info.is_dir():
                    # The zip's own times, as Lambda extracts it: a timestamp-checked .pyc
                    # stays valid only against its source's recorded mtime.
                    stamp = time.mktime((*info.date_time, 0, 0, -1))
                    os.utime(dest, (stamp, stamp))
        for root, dirs, files in os.walk(tmp):
            for f in files:
                os.chmod(os.path.join(root, f), 0o444)
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o555)
        yield tmp / "python"
    finally:
        for root, dirs, _files in os.walk(tmp):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(tmp, ignore_errors=True)


def _run(
    interpreter: str, tree: Path, modules: list[str], cwd: str, timeout: float
) -> tuple[float, float, dict[str, str]]:
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        proc = subprocess.run(
            [interpreter, "-I", "-S", "-B", "-c", _MEASURE, str(tree), *modules],
            capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return timeout, timeout, {"(all)": f"timed out after {timeout:.0f} s"}
    marker = proc.stdout.rfind("@@RESULT@@")
    if marker == -1:
        detail = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        return 0.0, 0.0, {"(all)": f"the process died: {detail}"[:300]}
    result = json.loads(proc.stdout[marker + len("@@RESULT@@") :])
    return float(result["seconds"]), float(result["cpu_seconds"]), dict(result["failed"])


def _measure(
    interpreter: str, tree: Path, cost: ImportCost, repeat: int, cwd: str, timeout: float
) -> ImportCost:
    if not cost.modules:
        return cost
    seconds: list[float] = []
    cpu: list[float] = []
    failures: dict[str, str] = {}
    for _ in range(repeat):
        elapsed, used, failed = _run(interpreter, tree, list(cost.modules), cwd, timeout)
        seconds.append(elapsed)
        cpu.append(used)
        failures.update(failed)
    return ImportCost(
        cost.name,
        cost.version,
        cost.unzipped_bytes,
        cost.modules,
        tuple(seconds),
        tuple(cpu),
        failures,
    )


def measure_imports(
    zip_path: Path, manifest: Manifest, *, repeat: int = 3, timeout: float = 120
) -> ImportReport:
    """Median import time of every distribution in the layer zip, in the target Python."""
    if repeat < 1:
        raise LayerError(f"--repeat must be at least 1, got {repeat}")
    m = manifest
    if not host_runs(m.architecture):
        reason = f"this host ({platform.machine()}) cannot run {m.architecture} code"
        return ImportReport(m.name, m.runtime, m.architecture, measured=False, reason=reason)
    interpreter = find_interpreter(m.python)
    if not interpreter:
        reason = f"no python{m.python} on this host (PATH or pyenv) to import with"
        return ImportReport(m.name, m.runtime, m.architecture, measured=False, reason=reason)
    with zipfile.ZipFile(zip_path) as zf:
        bytecode_files = sum(1 for n in zf.namelist() if n.endswith(".pyc"))
    with read_only_layer(zip_path) as tree, tempfile.TemporaryDirectory() as cwd:
        costs = [
            ImportCost(d.name, d.version, d.unzipped_bytes, tuple(distribution_modules(d, tree)))
            for d in m.distributions
        ]
        measured = [_measure(interpreter, tree, c, repeat, cwd, timeout) for c in costs]
        every = tuple(sorted({name for c in costs for name in c.modules}))
        together = _measure(
            interpreter,
            tree,
            ImportCost(f"all together ({len(every)} modules)", "", m.unzipped_bytes, every),
            repeat,
            cwd,
            timeout,
        )
    measured.sort(key=lambda c: (-(c.median if c.median is not None else -1.0), c.name.lower()))
    return ImportReport(
        m.name,
        m.runtime,
        m.architecture,
        measured=True,
        interpreter=interpreter,
        repeat=repeat,
        bytecode_files=bytecode_files,
        costs=tuple(measured),
        together=together,
    )
