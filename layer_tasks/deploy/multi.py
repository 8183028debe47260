"""A deploy to several targets: every architecture in every region, one plan each.

    build:    each architecture's layer once (its own install), checked against the budget
    survey:   every target's reads (`survey.survey`), all of them before any change
    plan:     one `make_plan` per target, and `make_outputs_plan` for the local files
    execute:  the regions at once (a bounded pool); in a region its architectures one
              after another (they share the bucket, whose first publishing plan sets it
              up); a failed target is planned again and retried once
    outputs:  only when every target published: the ARNs file, then the stage target's
              ARN into the ARN file, the Chalice config and the function

A region that fails is named with its error, and no local file changes: the ARN file and
the config never point at a version that is not in every region. What the other regions
published stays published; the next deploy finds it unchanged there and reuses it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from layer_tasks.aws.errors import AwsError, Unavailable, translate
from layer_tasks.aws.session import Clients
from layer_tasks.config.settings import LayerSettings
from layer_tasks.deploy.executor import execute
from layer_tasks.deploy.model import REPLANS, Log, Options, Outcome, Outdated, TargetsFailed
from layer_tasks.deploy.plan import Found, Plan, make_outputs_plan, make_plan, unchanged_version
from layer_tasks.deploy.survey import load_or_build, survey
from layer_tasks.errors import LayerError
from layer_tasks.project import arn_file
from layer_tasks.report.region_versions import Skew
from layer_tasks.util.per_region import each_region

# A target that fails is planned again and run once more before it counts as failed
# (botocore has already retried each call by then).
TARGET_ATTEMPTS = 2


@dataclass(frozen=True)
class Target:
    """One architecture's layer in one region."""

    settings: LayerSettings  # for_architecture(...).for_region(...)
    clients: Clients

    @property
    def label(self) -> str:
        return f"{self.settings.architecture} in {self.settings.region}"


@dataclass(frozen=True)
class _Planned:
    """A target and what its survey found; its plan is `_plan` of these, made once the
    targets' findings are final (bucket sharing, alignment)."""

    target: Target
    found: Found


def deploy_targets(
    settings: LayerSettings,
    clients: Clients,
    clients_for: Callable[[str], Clients],
    options: Options,
    *,
    log: Log = print,
) -> Outcome:
    """Deploy every architecture to every region; ``clients`` are the home region's."""
    home = clients.region
    regions = settings.regions or (home,)
    if home not in regions:
        raise LayerError(
            f"the home region {home} is not in layer.regions ({', '.join(regions)}): "
            "set layer.region to one of them"
        )
    per_arch = settings.per_architecture()
    built = {
        arch.architecture: load_or_build(
            arch,
            build=options.build,
            dry_run=options.dry_run,
            log=_tagged(log, arch.architecture),
            app=options.app,
        )
        for arch in per_arch
    }
    regional = {home: clients} | {r: clients_for(r) for r in regions if r != home}
    targets = [Target(a.for_region(r), regional[r]) for r in regions for a in per_arch]
    stage = next(
        t
        for t in targets
        if t.settings.architecture == settings.stage_architecture and t.settings.region == home
    )
    if not options.dry_run:
        arn_file.check_writable(settings.arns_path)

    def plan_region(region: str) -> list[_Planned]:
        planned = []
        for target in (t for t in targets if t.settings.region == region):
            with _naming(target):
                found = survey(
                    target.settings,
                    target.clients,
                    options,
                    log=_tagged(log, target.label),
                    built=built[target.settings.architecture],
                    outputs=target is stage,
                )
            planned.append(_Planned(target, found))
        return planned

    # Every read and check of every target before the first change anywhere.
    planned = [
        p
        for group in each_region(settings.publish_concurrency, regions, plan_region)
        for p in group
    ]
    planned = _share_buckets(_align(settings, planned, options, log), options)
    labels = tuple(p.target.label for p in planned)
    stage_found = next(p.found for p in planned if p.target is stage)
    outputs = make_outputs_plan(stage.settings, stage_found, labels, force=options.force)
    if options.dry_run:
        log("plan (dry run, nothing changed):")
        for each in [*(_plan(p.target, p.found, options) for p in planned), outputs]:
            log(f"  {each.target}:")
            for line in each.lines():
                log(f"    {line}")
        return Outcome(outputs, arn=None, version=None, published=False, manifest=None)

    def run_region(region: str) -> list[tuple[_Planned, Outcome | LayerError]]:
        results: list[tuple[_Planned, Outcome | LayerError]] = []
        for item in (p for p in planned if p.target.settings.region == region):
            if results and isinstance(results[-1][1], LayerError):
                first = results[-1][0].target.label
                results.append((item, LayerError(f"not run: {first} failed first")))
                continue
            results.append((item, _run_target(item, options, built, log)))
        return results

    done = [
        r for group in each_region(settings.publish_concurrency, regions, run_region) for r in group
    ]
    failed = [(p.target.label, result) for p, result in done if isinstance(result, LayerError)]
    if failed:
        for p, result in done:
            if isinstance(result, Outcome):
                log(f"published: {p.target.label}: {result.arn}")
        raise TargetsFailed(failed, len(done), stage.settings.chalice_config.name)
    outcomes = tuple(result for _, result in done if isinstance(result, Outcome))
    staged = next(result for p, result in done if p.target is stage)
    assert isinstance(staged, Outcome) and staged.manifest is not None and staged.arn
    log(f"outputs: the ARN of {stage.label}")
    return execute(outputs, staged.manifest, clients, log=log, arn=staged.arn, targets=outcomes)


def _plan(target: Target, found: Found, options: Options) -> Plan:
    return make_plan(target.settings, found, force=options.force, outputs=False)


def _tagged(log: Log, label: str) -> Log:
    # The regions run at once: each line says which target it is about.
    return lambda line: log(f"[{label}] {line}")


def _publishes(found: Found, options: Options) -> bool:
    return options.force or unchanged_version(found) is None


def _share_buckets(planned: list[_Planned], options: Options) -> list[_Planned]:
    """In each region the first publishing plan sets the bucket up for every
    architecture (creation, every layer's lifecycle rule); the others only use it."""
    out = []
    first: dict[str, _Planned] = {}
    for item in planned:
        region = item.target.settings.region
        if not _publishes(item.found, options):
            out.append(item)
        elif region not in first:
            names = tuple(
                p.target.settings.name
                for p in planned
                if p.target.settings.region == region and p is not item
            )
            first[region] = replace(item, found=replace(item.found, lifecycle_names=names))
            out.append(first[region])
        else:
            found = replace(item.found, bucket_by=first[region].target.label)
            out.append(replace(item, found=found))
    return out


def _align(
    settings: LayerSettings, planned: list[_Planned], options: Options, log: Log
) -> list[_Planned]:
    """Say when a layer's version numbers differ between regions. With
    ``align_versions``, a region that publishes and would end one number behind the
    others publishes the same zip once more first, so that all end on the same number."""
    out = list(planned)
    for arch in settings.architectures:
        mine = [i for i, p in enumerate(out) if p.target.settings.architecture == arch]
        name = out[mine[0]].target.settings.name
        latest = {i: _latest_number(out[i].found) for i in mine}
        if len(set(latest.values())) > 1:
            hint = "" if settings.align_versions else "; layer.align_versions: true lines them up"
            # The same wording as `layer.versions --all-regions`.
            by_region = {out[i].target.settings.region: n or None for i, n in latest.items()}
            log(f"versions: {name}: {Skew('latest', None, by_region).line()}{hint}")
        if not settings.align_versions:
            continue
        # The numbers each region ends on: one more where this deploy publishes.
        end = {i: n + _publishes(out[i].found, options) for i, n in latest.items()}
        top = max(end.values())
        for i, number in end.items():
            region = out[i].target.settings.region
            if number == top:
                continue
            if not _publishes(out[i].found, options):
                log(
                    f"versions: {name} in {region} is unchanged at {latest[i] or 'none'} and "
                    "stays behind (`--force` publishes it everywhere)"
                )
            elif top - number > 1:
                raise LayerError(
                    f"layer.align_versions: {name} in {region} would end {top - number} "
                    f"versions behind ({_numbers(out, end)} after this deploy); only one "
                    f"behind is aligned: deploy to {region} alone first, or set "
                    "layer.align_versions to false"
                )
            else:
                out[i] = replace(out[i], found=replace(out[i].found, fillers=1))
                log(f"versions: {name} in {region} is one behind: aligning")
    return out


def _numbers(planned: list[_Planned], numbers: dict[int, int]) -> str:
    return ", ".join(
        f"{planned[i].target.settings.region} {n or 'none'}" for i, n in numbers.items()
    )


@contextlib.contextmanager
def _naming(target: Target) -> Iterator[None]:
    """An AWS error names the target (architecture and region) it happened in."""
    try:
        yield
    except AwsError as exc:
        raise exc.with_context(target.label) from None


def _latest_number(found: Found) -> int:
    return found.latest.version if found.latest is not None else 0


def _run_target(
    item: _Planned, options: Options, built: dict[str, Found], log: Log
) -> Outcome | LayerError:
    """Execute one target's plan; planned again after another deploy published while
    this one waited for the lock, or once after a failure that may pass (throttling,
    5xx, a lost connection). A failure is returned, kind and all."""
    target, found = item.target, item.found
    plan = _plan(target, found, options)
    tagged = _tagged(log, target.label)
    replans = failures = 0
    while True:
        try:
            if replans or failures:
                found = _resurvey(item, options, built, tagged)
                plan = _plan(target, found, _after_own_publish(item.found, found, options))
                tagged("plan, again:")
                for line in plan.lines():
                    tagged(f"  {line}")
            assert found.manifest is not None, "a real run has its build"
            return execute(plan, found.manifest, target.clients, log=tagged)
        except Outdated:
            replans += 1
            if replans >= REPLANS:
                return LayerError(
                    f"the layer changed {REPLANS} times while this deploy waited for its lock"
                )
            tagged("lock: another deploy published while this one waited; planning again")
        except Exception as exc:
            error = exc if isinstance(exc, LayerError) else translate(exc)
            if error is None:
                raise  # a bug: not a failed region
            failures += 1
            # Throttling, a 5xx or a lost connection may pass on one more try; denied
            # access, a mismatched CodeSha256 or a bad request would fail again.
            if failures >= TARGET_ATTEMPTS or not isinstance(error, Unavailable):
                return error
            tagged(f"failed ({error}); planning again and retrying")


def _resurvey(item: _Planned, options: Options, built: dict[str, Found], log: Log) -> Found:
    target = item.target
    found = survey(
        target.settings,
        target.clients,
        replace(options, build=False),
        log=log,
        built=built[target.settings.architecture],
        outputs=False,
    )
    return replace(
        found, bucket_by=item.found.bucket_by, lifecycle_names=item.found.lifecycle_names
    )


def _after_own_publish(before: Found, now: Found, options: Options) -> Options:
    """``--force`` publishes once: when the first attempt already published this zip
    (a later step failed), the retry uses that version instead of publishing again."""
    mine = unchanged_version(now)
    if options.force and mine is not None and mine.version > _latest_number(before):
        return replace(options, force=False)
    return options
