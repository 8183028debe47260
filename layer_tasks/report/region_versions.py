"""`layer.versions --all-regions`: one layer's versions in every region, side by side.

`read_all_regions` lists each region (a bounded pool, one region per worker) with
`versions.version_rows`, the same listing `layer.versions` prints; a region that cannot
be read is kept with its error instead of ending the run. `AllRegionsReport` holds
plain data: the table, the skew between regions and the JSON are derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.report.versions import stage_arns, version_rows
from layer_tasks.util.per_region import each_region
from layer_tasks.util.redact import redact

# Characters of a CodeSha256 shown in the table: enough to tell two zips apart by eye;
# --json has them whole.
SHORT = 12


def short(sha: str | None) -> str:
    return (sha or "?")[:SHORT]


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


@dataclass(frozen=True)
class RegionRead:
    """One layer in one region: its version rows (newest first), or why it could not be read."""

    region: str
    rows: tuple[dict[str, Any], ...] = ()
    error: str = ""

    @property
    def latest(self) -> int | None:
        return int(self.rows[0]["version"]) if self.rows else None


@dataclass(frozen=True)
class Skew:
    """Regions that disagree: on their latest version (``version`` None, ``by_region``
    region -> latest or None for none), or on the CodeSha256 of one version number."""

    kind: str  # "latest" | "code_sha256"
    version: int | None
    by_region: dict[str, Any]

    def line(self, whole: bool = False) -> str:
        # Regions with the same value together, highest version first.
        groups: dict[Any, list[str]] = {}
        for region, value in self.by_region.items():
            groups.setdefault(value, []).append(region)
        if self.kind == "latest":
            ordered = sorted(groups.items(), key=lambda g: -1 if g[0] is None else g[0])
            parts = []
            for value, regions in reversed(ordered):
                one = len(regions) == 1
                if value is None:
                    parts.append(f"{_and(regions)} {'has' if one else 'have'} none")
                elif not parts:
                    parts.append(f"{_and(regions)} {'is' if one else 'are'} at {value}")
                else:
                    parts.append(f"{_and(regions)} at {value}")
            return f"latest versions differ: {', '.join(parts)}"
        shas = [f"{sha if whole else short(sha)} in {_and(r)}" for sha, r in groups.items()]
        return f"version {self.version} has different CodeSha256: {', '.join(shas)}"

    def data(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "version": self.version,
            "by_region": self.by_region,
            "message": self.line(whole=True),
        }


@dataclass(frozen=True)
class LayerAcross:
    """One layer (one architecture) in every region, in the order of ``layer.regions``."""

    layer: str
    architecture: str
    reads: tuple[RegionRead, ...]

    @property
    def readable(self) -> tuple[RegionRead, ...]:
        return tuple(r for r in self.reads if not r.error)

    def skew(self) -> tuple[Skew, ...]:
        """What differs between the regions that could be read: unreadable ones are
        unknown, not different."""
        readable = self.readable
        found: list[Skew] = []
        latest = {r.region: r.latest for r in readable}
        if len(set(latest.values())) > 1:
            found.append(Skew("latest", None, latest))
        by_version: dict[int, dict[str, str]] = {}
        for read in readable:
            for row in read.rows:
                if row["code_sha256"]:  # None: deleted between list and get; unknown
                    by_version.setdefault(int(row["version"]), {})[read.region] = str(
                        row["code_sha256"]
                    )
        for number in sorted(by_version, reverse=True):
            shas = by_version[number]
            if len(set(shas.values())) > 1:
                found.append(Skew("code_sha256", number, shas))
        return tuple(found)

    def numbers(self) -> list[int]:
        """Every version number published in any region, newest first."""
        return sorted({int(row["version"]) for r in self.reads for row in r.rows}, reverse=True)


@dataclass(frozen=True)
class AllRegionsReport:
    home: str
    regions: tuple[str, ...]
    stage: str
    config: str
    layers: tuple[LayerAcross, ...]

    @property
    def unreadable(self) -> dict[str, str]:
        """Region -> its first error, for every region that could not be read."""
        errors: dict[str, str] = {}
        for layer in self.layers:
            for read in layer.reads:
                if read.error:
                    errors.setdefault(read.region, read.error)
        return errors

    def check(self) -> None:
        """Raise the `LayerError` the task ends with: some region was not read (the
        report, printed first, shows the rest), or nothing is published anywhere."""
        errors = self.unreadable
        if errors:
            named = "; ".join(f"{region}: {error}" for region, error in errors.items())
            raise LayerError(
                f"layer versions could not be read in {len(errors)} of {len(self.regions)} "
                f"regions, so the listing is incomplete: {named}"
            )
        if not any(read.rows for layer in self.layers for read in layer.reads):
            names = ", ".join(layer.layer for layer in self.layers)
            raise LayerError(
                f"layer {names} has no published versions in {_and(list(self.regions))}: "
                "run `inv layer.deploy`"
            )

    def json(self) -> str:
        return json.dumps(
            {
                "home_region": self.home,
                "regions": list(self.regions),
                "layers": [
                    {
                        "layer": layer.layer,
                        "architecture": layer.architecture,
                        "regions": {
                            read.region: {
                                "error": read.error or None,
                                "latest": read.latest,
                                "versions": list(read.rows),
                            }
                            for read in layer.reads
                        },
                        "skew": [skew.data() for skew in layer.skew()],
                    }
                    for layer in self.layers
                ],
                "unreadable": self.unreadable,
            },
            indent=2,
        )

    def text(self) -> str:
        out: list[str] = []
        marked = False
        for layer in self.layers:
            if out:
                out.append("")
            out.append(f"layer {layer.layer} ({layer.architecture})")
            width = max(SHORT + 3, *(len(r) + 2 for r in self.regions))
            out.append(
                (f"{'version':>7}  " + "".join(f"{r:<{width}}" for r in self.regions)).rstrip()
            )
            cells = {r.region: {int(row["version"]): row for row in r.rows} for r in layer.reads}
            for number in layer.numbers():
                line = f"{number:>7}  "
                for read in layer.reads:
                    row = cells[read.region].get(number)
                    if read.error:
                        cell = "?"
                    elif row is None:
                        cell = "-"
                    else:
                        cell = short(row["code_sha256"]) + ("*" if row["in_config"] else "")
                        marked = marked or bool(row["in_config"])
                    line += f"{cell:<{width}}"
                out.append(line.rstrip())
            if not layer.numbers():
                out.append(f"{'-':>7}  no versions in any region read")
            skews = layer.skew()
            out.extend(f"skew: {skew.line()}" for skew in skews)
            readable = layer.readable
            if not skews and len(readable) > 1 and readable[0].latest is not None:
                out.append(
                    f"in step: {_and([r.region for r in readable])} are at "
                    f"{readable[0].latest}, with the same CodeSha256 for each version"
                )
            out.extend(f"{r.region}: not read: {r.error}" for r in layer.reads if r.error)
        out.append(f"CodeSha256: its first {SHORT} characters (--json has them whole)")
        out.append("-: no such version there; ?: not known (region or version not read)")
        if marked:
            out.append(f"*: used by stage {self.stage} in {self.config} (home region {self.home})")
        return "\n".join(out)


def _problem(exc: Exception) -> str:
    from layer_tasks.aws.errors import translate

    error = translate(exc)
    if error is None:
        raise exc  # a bug, not a region's problem: let it surface
    return redact(str(error))


def _read_region(
    region: str,
    names: Sequence[str],
    lambda_for: Callable[[str], LambdaClient],
    in_use: Collection[str],
) -> list[RegionRead]:
    try:
        client = lambda_for(region)
    except Exception as exc:  # _problem re-raises what is not AWS's
        error = _problem(exc)
        return [RegionRead(region, error=error) for _ in names]
    reads = []
    for name in names:
        try:
            rows = version_rows(client, name, in_use)
        except Exception as exc:
            reads.append(RegionRead(region, error=_problem(exc)))
            continue
        reads.append(RegionRead(region, tuple(rows)))
    return reads


def read_all_regions(
    settings: LayerSettings,
    regions: Iterable[str],
    lambda_for: Callable[[str], LambdaClient],
) -> AllRegionsReport:
    """Every architecture's layer in every one of ``regions``, read concurrently
    (``publish_concurrency`` regions at a time). ``settings`` are the home region's
    (its Chalice config marks the version in use); ``lambda_for(region)`` gives that
    region's Lambda client, with the clients' timeouts."""
    regions = tuple(regions)
    targets = settings.per_architecture()
    names = [target.name for target in targets]
    in_use = stage_arns(settings)
    per_region = each_region(
        settings.publish_concurrency,
        regions,
        lambda region: _read_region(region, names, lambda_for, in_use),
    )
    layers = tuple(
        LayerAcross(target.name, target.architecture, tuple(reads[i] for reads in per_region))
        for i, target in enumerate(targets)
    )
    return AllRegionsReport(
        home=settings.region,
        regions=regions,
        stage=settings.stage,
        config=str(settings.chalice_config),
        layers=layers,
    )
