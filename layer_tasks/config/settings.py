"""Layer settings: every ``layer.*`` key, its one default, and the value they make.

Invoke only applies an ``INVOKE_LAYER_<KEY>`` environment override to a key that
already exists in the configuration, so every key has a default here (`DEFAULTS`, which
``tasks/env.py`` registers on the ``layer`` collection). `LayerSettings.from_mapping`
turns the merged ``c.layer`` mapping into a typed, validated value; nothing below
the task modules ever sees an Invoke ``Context``.

Each default is written once, in `DEFAULTS`, as a user would write it in ``invoke.yaml``
(a path as text, a list as ``""``). The `LayerSettings` field of a key has no default:
`from_mapping` is the one place a value, the user's or the default, becomes a field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from layer_tasks.config.platform import ARCHITECTURES, PYTHON_GLIBC, MiB, lambda_runtime
from layer_tasks.config.validate import (
    as_account_ids,
    as_bool,
    as_choice,
    as_int,
    as_mib,
    as_positive,
    as_str,
    as_str_list,
    as_template,
    as_text,
    unique,
    validate_account_id,
    validate_bucket_name,
    validate_function,
    validate_layer_name,
    validate_prefix,
    validate_region,
    validate_ssm_parameter,
    validate_stage,
)
from layer_tasks.errors import LayerError
from layer_tasks.util.globs import glob_regex
from layer_tasks.util.redact import redact

INSTALLERS = ("uv", "pip")
BYTECODE_MODES = ("imported", "all", "none")

# Built-in prune rules and whether each is on by default (see prune.BUILTIN_RULES).
DEFAULT_PRUNE: dict[str, bool] = {
    # Console scripts in bin/: their shebang names the build host's Python, and Lambda
    # does not put /opt/python/bin on PATH. entry_points.txt stays.
    "scripts": True,
    "tests": True,
    "pycache": True,
    "bytecode": True,
    "markdown": True,
    "docs": True,
    "dist_info": True,
    "type_stubs": False,
    "c_sources": False,
    "strip_so": False,
}

DEFAULTS: dict[str, Any] = {
    "name": "python-deps-layer",
    "requirements": "requirements-all.txt",
    # Glob of the split requirement sets whose union must equal `requirements`.
    "split_requirements": "requirements-*.txt",
    "python": "3.12",
    "architecture": "x86_64",
    # Several architectures: one layer each, from its own install. Empty: [architecture].
    "architectures": "",
    # The layer name of every architecture after the first ({name}, {arch}).
    "arch_name": "{name}-{arch}",
    # Whose ARN goes into the Chalice stage and the ARN file; empty: the first one.
    "stage_architecture": "",
    "installer": "uv",
    "bucket": "",
    # Empty: boto3's own chain decides (AWS_REGION, AWS_DEFAULT_REGION, profile).
    "region": "",
    # Several regions get the same zip; `region` is the home region (the config's ARN).
    # With several regions, `bucket` holds {region}, or gets -{region} appended.
    "regions": "",
    # Regions published at once.
    "publish_concurrency": 4,
    # Publish the zip once more first where a region's latest version is one behind the
    # others, so that every region ends on the same version number.
    "align_versions": False,
    # SSM parameter written with each published version's ARN, in its region
    # ({name}, {python}, {arch}); empty: none.
    "ssm_parameter": "",
    "prefix": "layers",
    "stage": "prod",
    "chalice_config": ".chalice/config.json",
    "arn_file": ".layer-arn.txt",
    "dist_dir": "dist",
    # Build trees, caches, the local sandbox's state and locks; keep it out of git.
    "state_dir": ".layer-tasks",
    "lifecycle_days": 90,
    "budget_mb": 250,
    # Room kept for the function's own code and any other layer, inside budget_mb.
    "reserve_mb": 0,
    "compression_level": 9,
    # Zip worker processes; 0 means one per available core.
    "workers": 0,
    "verify": True,
    # Checked-hash .pyc in the layer: imported (what the import check loads), all, none.
    "bytecode": "imported",
    "prune": dict(DEFAULT_PRUNE),
    # name -> {"patterns": [...], "keep": [...]}; globs relative to the layer's python/ dir.
    "prune_custom": {},
    "kms_key_id": "",
    # The account that must own the bucket (ExpectedBucketOwner on every S3 call);
    # empty: the caller's own account (STS GetCallerIdentity).
    "bucket_owner": "",
    "license_info": "",
    "share_with": [],
    "function": "",
    "retry_mode": "standard",
    "max_attempts": 5,
    # The deploy lock in S3 (aws/deploy_lock.py): how long a deploy waits for another
    # one to finish, and after how long without a refresh a lock counts as abandoned.
    "lock_wait_seconds": 300,
    "lock_timeout_minutes": 30,
    # No silent hang (seconds): AWS control-plane calls answer at once; only an upload
    # (a body streamed, then S3 assembling the parts) may keep a connection quiet longer.
    "connect_timeout": 5,
    "read_timeout": 30,
    "upload_read_timeout": 120,
    # No AWS request (or retry) starts that could end after this, from the first one.
    "deadline_minutes": 15,
    # The package index: seconds without an answer, and retries, for uv and pip.
    "index_timeout": 15,
    "index_retries": 2,
    # Distributions that both the layer and the Chalice app's requirements.txt may install
    # (each then ships twice, in the function and in the layer), by name.
    "allow_duplicates": [],
}


@dataclass(frozen=True)
class CustomRule:
    name: str
    patterns: tuple[str, ...]
    keep: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerSettings:
    """Validated ``layer.*`` configuration. Paths are absolute.

    One field per key of `DEFAULTS`, in the same order, none with a default of its own.
    """

    name: str
    requirements: Path
    split_requirements: str
    python: str
    architecture: str  # the first of architectures
    architectures: tuple[str, ...]  # never empty: (architecture,) unless configured
    arch_name: str
    stage_architecture: str  # one of architectures
    installer: str
    bucket: str  # may hold {region} until `for_region`
    region: str
    regions: tuple[str, ...]  # empty: the one region boto3's chain resolves
    publish_concurrency: int
    align_versions: bool
    ssm_parameter: str
    prefix: str
    stage: str
    chalice_config: Path
    arn_file: Path
    dist_dir: Path
    state_dir: Path
    lifecycle_days: int
    budget_mb: float
    reserve_mb: float
    compression_level: int
    workers: int
    verify: bool
    bytecode: str
    prune: dict[str, bool]
    prune_custom: tuple[CustomRule, ...]
    kms_key_id: str
    bucket_owner: str
    license_info: str
    share_with: tuple[str, ...]
    function: str
    retry_mode: str
    max_attempts: int
    lock_wait_seconds: int
    lock_timeout_minutes: int
    connect_timeout: float
    read_timeout: float
    upload_read_timeout: float
    deadline_minutes: float
    index_timeout: float
    index_retries: int
    allow_duplicates: frozenset[str]  # canonical names (PEP 503)
    # Not keys: the folder relative paths were resolved from, and ``bucket`` as
    # configured (`for_region` fills {region} into a copy's ``bucket``).
    base_dir: Path
    bucket_template: str
    # Set by `for_architecture`: the configured name (the lock file, the ARNs file),
    # and the stem of the zip and manifest file names.
    family: str = ""
    artifact: str = ""
    arns_file: Path | None = None  # None: beside the zips (the sandbox keeps its own)

    def layer_name(self, arch: str) -> str:
        """The layer's name for ``arch``: ``name`` for the first, else ``arch_name``."""
        base = self.family or self.name
        if arch == self.architectures[0]:
            return base
        return self.arch_name.format(name=base, arch=arch)

    def for_architecture(self, arch: str) -> LayerSettings:
        """The settings of one architecture's layer (its own name, zip and install)."""
        if self.family and arch == self.architecture:
            return self  # already that layer's
        several = len(self.architectures) > 1
        base = self.family or self.name
        return replace(
            self,
            name=self.layer_name(arch),
            architecture=arch,
            architectures=(arch,),
            stage_architecture=arch,
            family=base,
            artifact=f"{base}-{arch}" if several else self.artifact,
        )

    def for_region(self, region: str) -> LayerSettings:
        """The settings of one region: its own bucket (``{region}`` filled in)."""
        template = self.bucket_template or self.bucket
        return replace(self, region=region, bucket=template.format(region=region))

    def stage_layer(self) -> LayerSettings:
        """The one layer the stage uses (``stage_architecture``): what the tasks that read
        or change a single layer work on."""
        return self.for_architecture(self.stage_architecture)

    def per_architecture(self) -> list[LayerSettings]:
        return [self.for_architecture(arch) for arch in self.architectures]

    @property
    def ssm_name(self) -> str:
        """The SSM parameter of this (one-architecture) layer, or ``""``."""
        if not self.ssm_parameter:
            return ""
        return self.ssm_parameter.format(
            name=self.family or self.name, python=self.python, arch=self.architecture
        )

    @property
    def runtime(self) -> str:
        """The Lambda runtime identifier, e.g. ``python3.12``."""
        return lambda_runtime(self.python)

    @property
    def glibc(self) -> tuple[int, int]:
        return PYTHON_GLIBC[self.python]

    @property
    def budget_bytes(self) -> int:
        return int(self.budget_mb * MiB)

    @property
    def reserve_bytes(self) -> int:
        return int(self.reserve_mb * MiB)

    @property
    def zip_path(self) -> Path:
        return self.dist_dir / f"{self.artifact or self.name}.zip"

    @property
    def manifest_path(self) -> Path:
        return self.dist_dir / f"{self.artifact or self.name}.manifest.json"

    @property
    def arns_path(self) -> Path:
        """Every target's ARN, after a deploy to several regions or architectures."""
        return self.arns_file or self.dist_dir / f"{self.family or self.name}.arns.json"

    @property
    def effective_workers(self) -> int:
        if self.workers > 0:
            return self.workers
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], base_dir: Path | None = None) -> LayerSettings:
        """Validate the merged ``layer`` config; raise `LayerError` naming the bad key."""
        base = (base_dir or Path.cwd()).resolve()
        merged = _with_defaults(raw)
        python = _python(merged)
        architectures = _architectures(merged)
        stage_architecture = _stage_architecture(merged, architectures)
        name, arch_name = _layer_names(merged, architectures)
        ssm_parameter = _ssm_parameter(merged, name, python, architectures)
        region, regions = _regions(merged)
        bucket = _bucket(merged, region, regions)
        checked: dict[str, Any] = {key: check(key, merged[key]) for key, check in _CHECKS.items()}
        _check_deadline(checked)
        checked.update(_paths(merged, base))
        return cls(
            name=name,
            python=python,
            architecture=architectures[0],
            architectures=architectures,
            arch_name=arch_name,
            stage_architecture=stage_architecture,
            ssm_parameter=ssm_parameter,
            region=region,
            regions=regions,
            bucket=bucket,
            bucket_template=bucket,
            base_dir=base,
            **checked,
        )


# --- from_mapping, step by step --------------------------------------------------------
# Each step checks its key(s) and returns the field(s); a message always names the key.


def _with_defaults(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every key: ``raw``'s value, or the default where it has none (or None)."""
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise LayerError(
            f"unknown layer setting(s) {', '.join(unknown)} in invoke.yaml; "
            f"known keys are {', '.join(DEFAULTS)}"
        )
    return {**DEFAULTS, **{k: v for k, v in dict(raw).items() if v is not None}}


def _python(merged: Mapping[str, Any]) -> str:
    python = as_text("python", str(merged["python"]))
    if python not in PYTHON_GLIBC:
        # YAML reads python: 3.10 as the number 3.1.
        quote = (
            f" (quote it, e.g. '3.10': YAML reads an unquoted version as the number "
            f"{merged['python']!r})"
            if isinstance(merged["python"], float)
            else ""
        )
        raise LayerError(
            f"layer.python {python!r} is not a Lambda Python runtime; use one of "
            f"{', '.join(PYTHON_GLIBC)}{quote}"
        )
    return python


def _architectures(merged: Mapping[str, Any]) -> tuple[str, ...]:
    archs = unique("architectures", as_str_list("architectures", merged["architectures"]))
    for arch in archs:
        if arch not in ARCHITECTURES:
            raise LayerError(
                f"layer.architectures entry {arch!r} is not a Lambda architecture; "
                f"use {' or '.join(ARCHITECTURES)}"
            )
    if archs:
        return archs
    architecture = as_choice(
        "architecture", merged["architecture"], ARCHITECTURES, "a Lambda architecture", " or "
    )
    return (architecture,)


def _stage_architecture(merged: Mapping[str, Any], architectures: tuple[str, ...]) -> str:
    """One of ``architectures``; empty means the first."""
    stage_architecture = as_str("stage_architecture", merged["stage_architecture"])
    if stage_architecture and stage_architecture not in architectures:
        raise LayerError(
            f"layer.stage_architecture {stage_architecture!r} is not one of the layer's "
            f"architectures ({', '.join(architectures)})"
        )
    return stage_architecture or architectures[0]


def _layer_names(merged: Mapping[str, Any], architectures: tuple[str, ...]) -> tuple[str, str]:
    """``name`` and ``arch_name``: each architecture's layer name valid, and its own."""
    name = validate_layer_name(as_str("name", merged["name"]))
    arch_name = as_template("arch_name", as_str("arch_name", merged["arch_name"]), ("name", "arch"))
    names = [name] + [arch_name.format(name=name, arch=a) for a in architectures[1:]]
    for layer in names[1:]:
        validate_layer_name(layer)
    if len(set(names)) < len(names):
        raise LayerError(
            f"layer.arch_name {arch_name!r} gives the same layer name to two "
            "architectures: put {arch} in it"
        )
    return name, arch_name


def _ssm_parameter(
    merged: Mapping[str, Any], name: str, python: str, architectures: tuple[str, ...]
) -> str:
    """A template whose every filled-in name is an SSM parameter name, one per layer."""
    ssm_parameter = as_template(
        "ssm_parameter", as_str("ssm_parameter", merged["ssm_parameter"]),
        ("name", "python", "arch"),
    )  # fmt: skip
    if not ssm_parameter:
        return ""
    for arch in architectures:
        validate_ssm_parameter(ssm_parameter.format(name=name, python=python, arch=arch))
    if len(architectures) > 1 and "{arch}" not in ssm_parameter:
        raise LayerError(
            f"layer.ssm_parameter {ssm_parameter!r} must contain {{arch}} with several "
            "architectures: each layer needs a parameter of its own"
        )
    return ssm_parameter


def _regions(merged: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The home region and the region list: ``region`` must be one of ``regions``."""
    region = as_str("region", merged["region"])
    if region:
        validate_region(region)
    regions = unique("regions", as_str_list("regions", merged["regions"]))
    for item in regions:
        validate_region(item, "layer.regions entry")
    if regions and region and region not in regions:
        raise LayerError(
            f"layer.region {region!r} (the home region) is not in layer.regions "
            f"({', '.join(regions)}): add it, or leave layer.region empty to use the first"
        )
    return region or (regions[0] if regions else ""), regions


def _bucket(merged: Mapping[str, Any], region: str, regions: tuple[str, ...]) -> str:
    """``bucket`` as a template with ``{region}``; each region's name is checked now
    (without a region yet, us-east-1 stands in: boto3's chain names it later)."""
    bucket = as_template("bucket", as_str("bucket", merged["bucket"]), ("region",))
    if len(regions) > 1 and "{region}" not in bucket and bucket:
        bucket += "-{region}"  # one bucket per region: a layer is published from its region
    for each in regions or (region or "us-east-1",):
        if bucket:
            validate_bucket_name(bucket.format(region=each))
    return bucket


def _prune(key: str, value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise LayerError(f"layer.{key} must be a mapping of rule name to true/false, got {value!r}")
    unknown = sorted(set(value) - set(DEFAULT_PRUNE))
    if unknown:
        raise LayerError(
            f"layer.{key} has unknown rule(s) {', '.join(unknown)}; built-in rules are "
            f"{', '.join(DEFAULT_PRUNE)} (put your own globs under layer.prune_custom)"
        )
    merged = dict(DEFAULT_PRUNE)
    for rule, enabled in value.items():
        if enabled is not None:
            merged[rule] = as_bool(f"{key}.{rule}", enabled)
    return merged


def _prune_custom(key: str, value: Any) -> tuple[CustomRule, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, Mapping):
        raise LayerError(f"layer.{key} must map a rule name to {{patterns: [...], keep: [...]}}")
    rules = []
    for name, body in value.items():
        if isinstance(body, (list, tuple)):
            body = {"patterns": body}
        if not isinstance(body, Mapping) or not body.get("patterns"):
            raise LayerError(f"layer.{key}.{name} needs a non-empty 'patterns' list")
        extra = sorted(set(body) - {"patterns", "keep"})
        if extra:
            raise LayerError(
                f"layer.{key}.{name} has unknown key(s) {', '.join(extra)}; "
                "use 'patterns' and 'keep'"
            )
        patterns = as_str_list(f"{key}.{name}.patterns", body.get("patterns"))
        keep = as_str_list(f"{key}.{name}.keep", body.get("keep"))
        for pattern in patterns + keep:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise LayerError(
                    f"layer.{key}.{name}: pattern {pattern!r} must be relative to the "
                    "layer's python/ folder and must not contain '..'"
                )
            try:
                glob_regex(pattern)  # a bad glob ([z-a]) fails here, before any work
            except LayerError as exc:
                raise LayerError(f"layer.{key}.{name}: {exc}") from None
        rules.append(CustomRule(str(name), patterns, keep))
    return tuple(rules)


_PATHS = ("requirements", "chalice_config", "arn_file", "dist_dir", "state_dir")


def _paths(merged: Mapping[str, Any], base: Path) -> dict[str, Path]:
    """The path keys, absolute: ``~`` expanded, a relative one taken from ``base``."""

    def path(key: str) -> Path:
        text = as_str(key, merged[key])
        if not text:
            raise LayerError(f"layer.{key} must not be empty")
        return base / os.path.expanduser(text)  # an absolute path stays as it is

    return {key: path(key) for key in _PATHS}


def _check_deadline(checked: Mapping[str, Any]) -> None:
    """The deadline must leave room for one AWS request at its slowest."""
    deadline = checked["deadline_minutes"]
    longest = checked["connect_timeout"] + max(
        checked["read_timeout"], checked["upload_read_timeout"]
    )
    if deadline * 60 < longest:
        raise LayerError(
            f"layer.deadline_minutes ({deadline:g} min) is shorter than one AWS request may "
            f"take (connect_timeout + the longer read timeout = {longest:g} s): raise it"
        )


def _retry_mode(key: str, value: Any) -> str:
    retry_mode = as_str(key, value)
    if retry_mode not in ("standard", "adaptive"):
        raise LayerError(f"layer.{key} must be standard or adaptive, got {retry_mode!r}")
    return retry_mode


def _license_info(key: str, value: Any) -> str:
    license_info = as_str(key, value)
    if len(license_info) > 512:
        raise LayerError(f"layer.{key} must be at most 512 characters")
    if redact(license_info) != license_info:
        # LicenseInfo is published with every version: anyone it is shared with reads it.
        # What the redaction would mask (URL userinfo, tokens) is what must not be there.
        raise LayerError(
            f"layer.{key} holds a URL with credentials in it ({redact(license_info)!r}): it is "
            "published with every layer version, readable by every account it is shared "
            "with; give the URL without them"
        )
    return license_info


Check = Callable[[str, Any], Any]

# The range of every numeric key, both ends included (a timeout's 0 excluded): checked
# when the settings load, before any work, and written in the README's configuration
# table (tests/unit/test_number_rule.py holds the two together). Each upper end is
# far past any real use; it exists so that no value overflows later (a timedelta, a
# socket timeout, an installer's retry count) far from the key that caused it.
RANGES: dict[str, tuple[int, int]] = {
    "publish_concurrency": (1, 64),
    "lifecycle_days": (1, 36500),  # a century
    "budget_mb": (0, 10240),  # 10 GiB, Lambda's largest container image
    "reserve_mb": (0, 10240),
    "compression_level": (0, 9),  # zlib's levels
    "workers": (0, 256),
    "max_attempts": (1, 20),
    "lock_wait_seconds": (0, 86400),  # a day
    "lock_timeout_minutes": (1, 1440),  # a day
    "connect_timeout": (0, 3600),  # seconds: an hour
    "read_timeout": (0, 3600),
    "upload_read_timeout": (0, 3600),
    "deadline_minutes": (0, 1440),  # a day
    "index_timeout": (0, 3600),
    "index_retries": (0, 20),
}


def _whole(key: str) -> Check:
    low, high = RANGES[key]
    return partial(as_int, minimum=low, maximum=high)


def _mib(key: str) -> Check:
    return partial(as_mib, maximum=RANGES[key][1])


def _positive(key: str, unit: str) -> Check:
    return partial(as_positive, unit=unit, maximum=RANGES[key][1])


# A distribution's name (PEP 508 / core metadata), ASCII only.
_DISTRIBUTION_RE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")


def _distribution_names(key: str, value: Any) -> frozenset[str]:
    """A list of distribution names, each in its canonical form (PEP 503: ``Foo_Bar`` and
    ``foo-bar`` are one distribution)."""
    names = as_str_list(key, value)
    for name in names:
        if not _DISTRIBUTION_RE.fullmatch(name):
            raise LayerError(
                f"layer.{key} entry {name!r} is not a distribution name: use letters, digits, "
                "'.', '-' or '_' (e.g. requests)"
            )
    return frozenset(re.sub(r"[-_.]+", "-", name).lower() for name in names)


def check_setting(key: str, value: Any) -> Any:
    """One key's own check, for a value that reaches Invoke before `from_mapping` can see
    it (an ``INVOKE_LAYER_*`` string that Invoke casts to the type invoke.yaml gave)."""
    return _CHECKS[key](key, value)


def _str_then(validate: Callable[[str], str]) -> Check:
    """A string (None: empty), then ``validate``d."""
    return lambda key, value: validate(as_str(key, value))


# The keys that are each checked on its own, in the order of `DEFAULTS`: value -> field.
_CHECKS: dict[str, Check] = {
    "split_requirements": as_str,
    "installer": partial(as_choice, choices=INSTALLERS, what="supported", joiner=" or "),
    "publish_concurrency": _whole("publish_concurrency"),
    "align_versions": as_bool,
    "prefix": _str_then(validate_prefix),
    "stage": _str_then(validate_stage),
    "lifecycle_days": _whole("lifecycle_days"),
    "budget_mb": _mib("budget_mb"),
    "reserve_mb": _mib("reserve_mb"),
    "compression_level": _whole("compression_level"),
    "workers": _whole("workers"),
    "verify": as_bool,
    "bytecode": partial(as_choice, choices=BYTECODE_MODES, what="a bytecode mode"),
    "prune": _prune,
    "prune_custom": _prune_custom,
    "kms_key_id": as_str,
    "bucket_owner": _str_then(validate_account_id),
    "license_info": _license_info,
    "share_with": as_account_ids,
    "function": _str_then(validate_function),
    "retry_mode": _retry_mode,
    "max_attempts": _whole("max_attempts"),
    "lock_wait_seconds": _whole("lock_wait_seconds"),
    "lock_timeout_minutes": _whole("lock_timeout_minutes"),
    "connect_timeout": _positive("connect_timeout", "seconds"),
    "read_timeout": _positive("read_timeout", "seconds"),
    "upload_read_timeout": _positive("upload_read_timeout", "seconds"),
    "deadline_minutes": _positive("deadline_minutes", "minutes"),
    "index_timeout": _positive("index_timeout", "seconds"),
    "index_retries": _whole("index_retries"),
    "allow_duplicates": _distribution_names,
}
