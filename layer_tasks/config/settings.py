"""Layer settings: the defaults every ``layer.*`` key has, and their validation.

Invoke only applies an ``INVOKE_LAYER_<KEY>`` environment override to a key that
already exists in the configuration, so every key is declared here with a default
(`DEFAULTS`, registered on the ``layer`` collection). `LayerSettings.from_mapping`
turns the merged ``c.layer`` mapping into a typed, validated value; nothing below
the task modules ever sees an Invoke ``Context``.
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from layer_tasks.config.platform import ARCHITECTURES, PYTHON_GLIBC, MiB, lambda_runtime
from layer_tasks.errors import LayerError
from layer_tasks.util.globs import glob_regex

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
}


def _for_invoke(value: Any) -> Any:
    # Invoke casts an INVOKE_LAYER_* string to the type of the default it replaces:
    # int("lots") would end in a traceback before any task runs, bool("false") is True,
    # and a list cannot be set at all. Registering None for every non-string value makes
    # Invoke pass the raw string through, and `from_mapping` parses it with a clear error.
    if isinstance(value, dict):
        return {k: _for_invoke(v) for k, v in value.items()} if value else {}
    return value if isinstance(value, str) else None


# What is registered on the `layer` collection: every key present, so every key can be
# overridden from the environment; None means "the default in DEFAULTS".
INVOKE_DEFAULTS: dict[str, Any] = {key: _for_invoke(value) for key, value in DEFAULTS.items()}

# Every pattern below is used with `fullmatch` and ASCII classes only: `$` also matches
# before a trailing newline ('name\n' passed), and `\d` matches any Unicode digit
# ('us-east-\u0661'), neither of which AWS accepts.
_LAYER_NAME_RE = re.compile(r"[a-zA-Z0-9_-]{1,140}")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4_RE = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")
_REGION_RE = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
# S3's "safe characters" for object keys.
_PREFIX_SEGMENT_RE = re.compile(r"[A-Za-z0-9!_.*'()-]+")
# Lambda's FunctionName: a name, a partial ARN (account:function:name) or a full ARN,
# with an optional version or alias qualifier.
_FUNCTION_RE = re.compile(
    r"(arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]:)?([0-9]{12}:)?(function:)?"
    r"[a-zA-Z0-9_-]{1,64}(:(\$LATEST|[a-zA-Z0-9_-]{1,128}))?"
)
_STAGE_RE = re.compile(r"[A-Za-z0-9_-]+")
# SSM parameter names: a-zA-Z0-9_.- with '/' levels; a hierarchy starts with '/'.
_SSM_RE = re.compile(r"(/[A-Za-z0-9_.-]+)+|[A-Za-z0-9_.-]+")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def validate_layer_name(name: str) -> str:
    if not _LAYER_NAME_RE.fullmatch(name):
        raise LayerError(
            f"layer.name {name!r} is not a valid Lambda layer name: use 1-140 letters, "
            "digits, '-' or '_'"
        )
    return name


def validate_bucket_name(bucket: str) -> str:
    """S3's general-purpose bucket naming rules, checked before any AWS call."""
    if not bucket:
        raise LayerError(
            "no S3 bucket configured: set layer.bucket in invoke.yaml or INVOKE_LAYER_BUCKET"
        )
    problem = None
    if not _BUCKET_RE.fullmatch(bucket):
        problem = (
            "use 3-63 lowercase letters, digits, '.' or '-', starting and ending "
            "with a letter or digit"
        )
    elif ".." in bucket or ".-" in bucket or "-." in bucket:
        problem = "adjacent '.', '.-' or '-.' are not allowed"
    elif _IPV4_RE.fullmatch(bucket):
        problem = "it must not look like an IP address"
    elif bucket.startswith(("xn--", "sthree-", "amzn-s3-demo-")):
        problem = "the prefixes 'xn--', 'sthree-' and 'amzn-s3-demo-' are reserved"
    elif bucket.endswith(("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")):
        problem = "that suffix is reserved by S3"
    if problem:
        raise LayerError(f"layer.bucket {bucket!r} is not a valid S3 bucket name: {problem}")
    return bucket


def validate_region(region: str, what: str = "layer.region") -> str:
    """An AWS region name, checked before botocore sees it (it raises InvalidRegionError)."""
    if not _REGION_RE.fullmatch(region):
        raise LayerError(f"{what} {region!r} is not an AWS region name (e.g. us-east-1)")
    return region


def validate_function(function: str) -> str:
    """``layer.function`` (or ``--function``): empty, or a name or ARN Lambda accepts."""
    if function and not _FUNCTION_RE.fullmatch(function):
        raise LayerError(
            f"layer.function {function!r} is not a Lambda function name or ARN: use 1-64 "
            "letters, digits, '-' or '_', or the function's ARN"
        )
    return function


def validate_prefix(prefix: str) -> str:
    """The S3 key prefix: ``a/b/c`` made of S3-safe characters; empty means the bucket root."""
    if prefix and not all(
        _PREFIX_SEGMENT_RE.fullmatch(part) and part not in (".", "..") for part in prefix.split("/")
    ):
        raise LayerError(
            f"layer.prefix {prefix!r} is not a safe S3 key prefix: use segments of letters, "
            "digits and !-_.*'() joined by single '/', no '.' or '..' segment, and no '/' "
            "at either end (e.g. layers or team/layers)"
        )
    return prefix


def _int(key: str, value: Any, minimum: int | None = None) -> int:
    # Strings come from INVOKE_LAYER_*; int() alone would take ' 7', '1_0' and '\u0667'.
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and _INT_RE.fullmatch(value.strip()))
    ):
        raise LayerError(f"layer.{key} must be a whole number, got {value!r}")
    number = int(value)
    if minimum is not None and number < minimum:
        raise LayerError(f"layer.{key} must be at least {minimum}, got {number}")
    return number


def _number(key: str, value: Any) -> float:
    # YAML's .inf and 1.0e400 are floats too: infinity and NaN are refused here, not
    # later as an OverflowError when MiB become bytes.
    if isinstance(value, bool) or not (
        isinstance(value, (int, float))
        or (isinstance(value, str) and _FLOAT_RE.fullmatch(value.strip()))
    ):
        raise LayerError(f"layer.{key} must be a number of MiB, got {value!r}")
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise LayerError(f"layer.{key} must be a finite number of MiB, zero or more, got {value!r}")
    return number


def _positive(key: str, value: Any, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LayerError(f"layer.{key} must be a number of {unit}, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise LayerError(f"layer.{key} must be a number of {unit}, got {value!r}") from None
    if not 0 < number < float("inf"):
        raise LayerError(f"layer.{key} must be a number of {unit} above zero, got {value!r}")
    return number


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in (
        "1",
        "true",
        "yes",
        "on",
        "0",
        "false",
        "no",
        "off",
    ):
        return value.lower() in ("1", "true", "yes", "on")
    raise LayerError(f"layer.{key} must be true or false, got {value!r}")


def _text(key: str, value: str) -> str:
    # A lone surrogate (YAML "\ud800") is not text: it fails later, far from here, as
    # a UnicodeEncodeError when it becomes a path or a request.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise LayerError(
            f"layer.{key} holds {value[exc.start]!r} at position {exc.start}, a lone "
            "surrogate that is not text: remove the \\u escape"
        ) from None
    return value


def _choice(
    key: str, merged: Mapping[str, Any], choices: Sequence[str], what: str, joiner: str = ", "
) -> str:
    """``merged[key]`` when it is one of ``choices``, whole; else one line naming them."""
    value = _str(key, merged[key])
    if value not in choices:
        raise LayerError(f"layer.{key} {value!r} is not {what}; use {joiner.join(choices)}")
    return value


def _str(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise LayerError(f"layer.{key} must be a string, got {value!r}")
    return _text(key, value)


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        # Comma-separated, so that one string (e.g. from YAML) also works.
        return tuple(part.strip() for part in _text(key, value).split(",") if part.strip())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(_text(key, v) for v in value)
    raise LayerError(f"layer.{key} must be a list of strings, got {value!r}")


def _accounts(value: Any) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, int) and not isinstance(item, bool):
                raise LayerError(
                    f"layer.share_with entry {item!r} is a number: quote account IDs "
                    "('012345678901'), because YAML reads an unquoted ID with a leading 0 "
                    "as an octal number, which is another account"
                )
    return _str_list("share_with", value)


def _template(key: str, value: str, fields: Sequence[str]) -> str:
    """A ``str.format`` template that uses only ``fields``, each plainly (``{name}``)."""
    allowed = ", ".join("{" + f + "}" for f in fields)
    try:
        parsed = list(string.Formatter().parse(value))
    except ValueError:
        raise LayerError(f"layer.{key} {value!r} is not a template: use {allowed}") from None
    for _, name, spec, conversion in parsed:
        if name is not None and (name not in fields or spec or conversion):
            raise LayerError(f"layer.{key} {value!r} uses {{{name}}}: use only {allowed}")
    return value


def _unique(key: str, items: tuple[str, ...]) -> tuple[str, ...]:
    seen = [item for i, item in enumerate(items) if item in items[:i]]
    if seen:
        raise LayerError(f"layer.{key} names {seen[0]!r} twice")
    return items


def validate_ssm_parameter(name: str) -> str:
    """An SSM parameter name (after the template is filled in)."""
    if (
        len(name) > 1011
        or not _SSM_RE.fullmatch(name)
        or name.lstrip("/").lower().startswith(("aws", "ssm"))
        or name.count("/") > 15
    ):
        raise LayerError(
            f"layer.ssm_parameter gives {name!r}, which is not an SSM parameter name: use "
            "letters, digits and _.- in up to 15 '/'-separated levels starting with '/', "
            "not beginning with aws or ssm (e.g. /layers/{name}/{python}/{arch})"
        )
    return name


def _regions(merged: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    """The home region and the region list: ``region`` must be one of ``regions``."""
    region = _str("region", merged["region"])
    if region:
        validate_region(region)
    regions = _unique("regions", _str_list("regions", merged["regions"]))
    for item in regions:
        validate_region(item, "layer.regions entry")
    if regions and region and region not in regions:
        raise LayerError(
            f"layer.region {region!r} (the home region) is not in layer.regions "
            f"({', '.join(regions)}): add it, or leave layer.region empty to use the first"
        )
    return region or (regions[0] if regions else ""), regions


def _architectures(merged: Mapping[str, Any]) -> tuple[str, ...]:
    archs = _unique("architectures", _str_list("architectures", merged["architectures"]))
    for arch in archs:
        if arch not in ARCHITECTURES:
            raise LayerError(
                f"layer.architectures entry {arch!r} is not a Lambda architecture; "
                f"use {' or '.join(ARCHITECTURES)}"
            )
    if archs:
        return archs
    return (_choice("architecture", merged, ARCHITECTURES, "a Lambda architecture", " or "),)


def _bucket(merged: Mapping[str, Any], region: str, regions: tuple[str, ...]) -> str:
    """``bucket`` as a template with ``{region}``; each region's name is checked now
    (without a region yet, us-east-1 stands in: boto3's chain names it later)."""
    bucket = _template("bucket", _str("bucket", merged["bucket"]), ("region",))
    if len(regions) > 1 and "{region}" not in bucket and bucket:
        bucket += "-{region}"  # one bucket per region: a layer is published from its region
    for each in regions or (region or "us-east-1",):
        if bucket:
            validate_bucket_name(bucket.format(region=each))
    return bucket


@dataclass(frozen=True)
class CustomRule:
    name: str
    patterns: tuple[str, ...]
    keep: tuple[str, ...] = ()


def _prune(value: Any) -> dict[str, bool]:
    if not isinstance(value, Mapping):
        raise LayerError(f"layer.prune must be a mapping of rule name to true/false, got {value!r}")
    unknown = sorted(set(value) - set(DEFAULT_PRUNE))
    if unknown:
        raise LayerError(
            f"layer.prune has unknown rule(s) {', '.join(unknown)}; built-in rules are "
            f"{', '.join(DEFAULT_PRUNE)} (put your own globs under layer.prune_custom)"
        )
    merged = dict(DEFAULT_PRUNE)
    for rule, enabled in value.items():
        if enabled is not None:
            merged[rule] = _bool(f"prune.{rule}", enabled)
    return merged


def _prune_custom(value: Any) -> tuple[CustomRule, ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, Mapping):
        raise LayerError(
            "layer.prune_custom must map a rule name to {patterns: [...], keep: [...]}"
        )
    rules = []
    for name, body in value.items():
        if isinstance(body, (list, tuple)):
            body = {"patterns": body}
        if not isinstance(body, Mapping) or not body.get("patterns"):
            raise LayerError(f"layer.prune_custom.{name} needs a non-empty 'patterns' list")
        extra = sorted(set(body) - {"patterns", "keep"})
        if extra:
            raise LayerError(
                f"layer.prune_custom.{name} has unknown key(s) {', '.join(extra)}; "
                "use 'patterns' and 'keep'"
            )
        patterns = _str_list(f"prune_custom.{name}.patterns", body.get("patterns"))
        keep = _str_list(f"prune_custom.{name}.keep", body.get("keep"))
        for pattern in patterns + keep:
            if pattern.startswith("/") or ".." in Path(pattern).parts:
                raise LayerError(
                    f"layer.prune_custom.{name}: pattern {pattern!r} must be relative to the "
                    "layer's python/ folder and must not contain '..'"
                )
            try:
                glob_regex(pattern)  # a bad glob ([z-a]) fails here, before any work
            except LayerError as exc:
                raise LayerError(f"layer.prune_custom.{name}: {exc}") from None
        rules.append(CustomRule(str(name), patterns, keep))
    return tuple(rules)


@dataclass(frozen=True)
class LayerSettings:
    """Validated ``layer.*`` configuration. Paths are absolute."""

    name: str
    requirements: Path
    split_requirements: str
    python: str
    architecture: str
    installer: str
    bucket: str
    region: str
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
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    upload_read_timeout: float = 120.0
    deadline_minutes: float = 15.0
    index_timeout: float = 15.0
    index_retries: int = 2
    base_dir: Path = field(default_factory=Path.cwd)
    bytecode: str = "imported"
    architectures: tuple[str, ...] = ("x86_64",)
    arch_name: str = "{name}-{arch}"
    stage_architecture: str = "x86_64"
    regions: tuple[str, ...] = ()  # empty: the one region boto3's chain resolves
    publish_concurrency: int = 4
    align_versions: bool = False
    ssm_parameter: str = ""
    # Not keys: set by `for_architecture`. The configured name (the lock file, the ARNs
    # file), and the stem of the zip and manifest file names.
    family: str = ""
    artifact: str = ""
    bucket_template: str = ""  # ``bucket`` as configured, before {region} is filled in
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
        unknown = sorted(set(raw) - set(DEFAULTS))
        if unknown:
            raise LayerError(
                f"unknown layer setting(s) {', '.join(unknown)} in invoke.yaml; "
                f"known keys are {', '.join(DEFAULTS)}"
            )
        merged = {**DEFAULTS, **{k: v for k, v in dict(raw).items() if v is not None}}

        def path(key: str) -> Path:
            text = _str(key, merged[key])
            if not text:
                raise LayerError(f"layer.{key} must not be empty")
            p = Path(os.path.expanduser(text))
            return p if p.is_absolute() else base / p

        python = _text("python", str(merged["python"]).strip())
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
        architectures = _architectures(merged)
        stage_architecture = _str("stage_architecture", merged["stage_architecture"])
        if stage_architecture and stage_architecture not in architectures:
            raise LayerError(
                f"layer.stage_architecture {stage_architecture!r} is not one of the layer's "
                f"architectures ({', '.join(architectures)})"
            )
        name = validate_layer_name(_str("name", merged["name"]))
        arch_name = _template("arch_name", _str("arch_name", merged["arch_name"]), ("name", "arch"))
        names = [name] + [arch_name.format(name=name, arch=a) for a in architectures[1:]]
        for layer in names[1:]:
            validate_layer_name(layer)
        if len(set(names)) < len(names):
            raise LayerError(
                f"layer.arch_name {arch_name!r} gives the same layer name to two "
                "architectures: put {arch} in it"
            )
        ssm_parameter = _template(
            "ssm_parameter", _str("ssm_parameter", merged["ssm_parameter"]),
            ("name", "python", "arch"),
        )  # fmt: skip
        for arch in architectures:
            if ssm_parameter:
                validate_ssm_parameter(ssm_parameter.format(name=name, python=python, arch=arch))
        if ssm_parameter and len(architectures) > 1 and "{arch}" not in ssm_parameter:
            raise LayerError(
                f"layer.ssm_parameter {ssm_parameter!r} must contain {{arch}} with several "
                "architectures: each layer needs a parameter of its own"
            )
        installer = _str("installer", merged["installer"])
        if installer not in INSTALLERS:
            raise LayerError(f"layer.installer {installer!r} is not supported; use uv or pip")
        region, regions = _regions(merged)
        bucket = _bucket(merged, region, regions)
        prefix = validate_prefix(_str("prefix", merged["prefix"]))
        level = _int("compression_level", merged["compression_level"], 0)
        if level > 9:
            raise LayerError(f"layer.compression_level must be 0-9, got {level}")
        retry_mode = _str("retry_mode", merged["retry_mode"])
        if retry_mode not in ("standard", "adaptive"):
            raise LayerError(f"layer.retry_mode must be standard or adaptive, got {retry_mode!r}")
        stage = _str("stage", merged["stage"])
        if not stage:
            raise LayerError("layer.stage must not be empty")
        if not _STAGE_RE.fullmatch(stage):
            # Chalice names each function <app>-<stage>: Lambda's name characters only.
            raise LayerError(
                f"layer.stage {stage!r} is not a Chalice stage name: use letters, digits, "
                "'-' or '_'"
            )
        bucket_owner = _str("bucket_owner", merged["bucket_owner"])
        if bucket_owner and not re.fullmatch(r"[0-9]{12}", bucket_owner, re.ASCII):
            raise LayerError(
                f"layer.bucket_owner {bucket_owner!r} is not a 12-digit AWS account ID "
                "(quote it in YAML, or its leading zeros are lost)"
            )
        bytecode = _choice("bytecode", merged, BYTECODE_MODES, "a bytecode mode")
        license_info = _str("license_info", merged["license_info"])
        if len(license_info) > 512:
            raise LayerError("layer.license_info must be at most 512 characters")
        timeouts = {
            key: _positive(key, merged[key], "seconds")
            for key in ("connect_timeout", "read_timeout", "upload_read_timeout", "index_timeout")
        }
        deadline = _positive("deadline_minutes", merged["deadline_minutes"], "minutes")
        longest = timeouts["connect_timeout"] + max(
            timeouts["read_timeout"], timeouts["upload_read_timeout"]
        )
        if deadline * 60 < longest:
            raise LayerError(
                f"layer.deadline_minutes ({deadline:g} min) is shorter than one AWS request may "
                f"take (connect_timeout + the longer read timeout = {longest:g} s): raise it"
            )
        return cls(
            name=name,
            requirements=path("requirements"),
            split_requirements=_str("split_requirements", merged["split_requirements"]),
            python=python,
            architecture=architectures[0],
            installer=installer,
            bucket=bucket,
            region=region,
            prefix=prefix,
            stage=stage,
            chalice_config=path("chalice_config"),
            arn_file=path("arn_file"),
            dist_dir=path("dist_dir"),
            state_dir=path("state_dir"),
            lifecycle_days=_int("lifecycle_days", merged["lifecycle_days"], 1),
            budget_mb=_number("budget_mb", merged["budget_mb"]),
            reserve_mb=_number("reserve_mb", merged["reserve_mb"]),
            compression_level=level,
            workers=_int("workers", merged["workers"], 0),
            verify=_bool("verify", merged["verify"]),
            prune=_prune(merged["prune"]),
            prune_custom=_prune_custom(merged["prune_custom"]),
            kms_key_id=_str("kms_key_id", merged["kms_key_id"]),
            bucket_owner=bucket_owner,
            license_info=license_info,
            share_with=_accounts(merged["share_with"]),
            function=validate_function(_str("function", merged["function"])),
            retry_mode=retry_mode,
            max_attempts=_int("max_attempts", merged["max_attempts"], 1),
            lock_wait_seconds=_int("lock_wait_seconds", merged["lock_wait_seconds"], 0),
            lock_timeout_minutes=_int("lock_timeout_minutes", merged["lock_timeout_minutes"], 1),
            connect_timeout=timeouts["connect_timeout"],
            read_timeout=timeouts["read_timeout"],
            upload_read_timeout=timeouts["upload_read_timeout"],
            index_timeout=timeouts["index_timeout"],
            deadline_minutes=deadline,
            index_retries=_int("index_retries", merged["index_retries"], 0),
            base_dir=base,
            bytecode=bytecode,
            architectures=architectures,
            arch_name=arch_name,
            stage_architecture=stage_architecture or architectures[0],
            regions=regions,
            publish_concurrency=_int("publish_concurrency", merged["publish_concurrency"], 1),
            align_versions=_bool("align_versions", merged["align_versions"]),
            ssm_parameter=ssm_parameter,
            bucket_template=bucket,
        )


ENV_PREFIX = "INVOKE_LAYER_"


def name_env_source(
    message: str, environ: Mapping[str, str], overridden: Iterable[str] = ()
) -> str:
    """``message`` about ``layer.<key>``, saying which ``INVOKE_LAYER_*`` variable set it.

    A value from the environment is easy to forget: the error names the variable to
    change, not only the key. ``overridden`` keys came from a task flag instead.
    """
    for key in sorted(DEFAULTS, key=len, reverse=True):  # prune_custom before prune
        var = ENV_PREFIX + key.upper()
        if var in environ and key not in overridden and re.match(rf"layer\.{key}\b", message):
            return f"{message} (set by {var})"
    return message


def check_environment(environ: Mapping[str, str], layer: Mapping[str, Any]) -> None:
    """Refuse ``INVOKE_LAYER_*`` variables that Invoke would silently ignore.

    Invoke only reads a variable that names a leaf of the merged ``layer`` config
    (``layer`` is that config, as plain data): ``INVOKE_LAYER_PRUNE=off`` (a mapping) or
    a misspelt key would otherwise leave the setting as it was without a word.
    """
    leaves: set[str] = set()
    booleans: dict[str, str] = {}
    mappings: dict[str, str] = {}

    def walk(path: tuple[str, ...], value: Any) -> None:
        name = ENV_PREFIX + "_".join(path).upper()
        if isinstance(value, Mapping):
            mappings[name] = ".".join(path)
            for key, item in value.items():
                walk((*path, str(key)), item)
        else:
            leaves.add(name)
            if isinstance(value, bool):
                booleans[name] = ".".join(path)

    for key, value in layer.items():
        walk((str(key),), value)
    for var in sorted(environ):
        if var in booleans and environ[var].strip().lower() in ("false", "no", "off"):
            # Invoke casts to the type a configuration file gave the key: for a bool,
            # every string but '' and '0' is true.
            raise LayerError(
                f"{var}={environ[var]!r} would be read as true: a configuration file sets "
                f"layer.{booleans[var]} to a boolean, and Invoke reads any text but '' or "
                "'0' as true; use 0 or 1"
            )
        if not var.startswith(ENV_PREFIX) or var in leaves:
            continue
        if var in mappings:
            key = mappings[var]
            entries = [n for n in sorted(leaves) if n.startswith(var + "_")]
            hint = (
                f"set one entry instead, e.g. {entries[0]}=..."
                if entries
                else "set it under layer: in invoke.yaml"
            )
            raise LayerError(
                f"{var} cannot be used: layer.{key} is a mapping, which one environment "
                f"variable cannot hold; {hint}"
            )
        raise LayerError(
            f"{var} is not a layer setting, and Invoke would ignore it; the variables are "
            f"{ENV_PREFIX}<KEY> for the keys {', '.join(DEFAULTS)}"
        )
