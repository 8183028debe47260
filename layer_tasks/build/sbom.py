"""The layer's SBOM: ``<dist_dir>/<name>.cdx.json``, CycloneDX 1.6 JSON.

One component per distribution in the zip: name, version, purl (``pkg:pypi/...``),
licence from its METADATA (``License-Expression``, else ``License``, else the licence
classifiers), and the wheel's SHA-256 when the PEP 751 lock beside the requirements
file (or a ``direct_url.json`` kept in the layer) gives it. uv records no wheel hash
in what it installs, so without a lock there is none, and none is claimed.

Built and serialised with cyclonedx-python-lib, never by hand. Deterministic: the
serial number is a UUID derived from what the SBOM is made of (the zip's CodeSha256,
the lock, this tool's version), and the timestamp is the zip's own entry time
(``SOURCE_DATE_EPOCH``, else 1980-01-01), so two builds of the same zip give the same
bytes, and a reused build whose SBOM is current does not even import the library.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import sys
import uuid
import zipfile
from collections.abc import Mapping
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from layer_tasks import __version__
from layer_tasks.build.archive import build_epoch
from layer_tasks.build.install import Target
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.model.manifest import Manifest
from layer_tasks.util.bounds import check_nesting, check_toml_depth, read_bounded
from layer_tasks.util.fsutil import atomic_write_text

if TYPE_CHECKING:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.license import License

# Bump when the SBOM's content rules change: the serial number (and so reuse) follows it.
FORMAT = 1
_NAMESPACE = uuid.UUID("6f1d3a52-7c1e-4b8e-9a55-1c0f2b3d4e5f")
_ZIP_EPOCH = 315_532_800  # 1980-01-01, the earliest zip time: what archive.py stamps


def sbom_path(settings: LayerSettings) -> Path:
    return sbom_beside(settings.zip_path)


def sbom_beside(zip_path: Path) -> Path:
    """``<dist_dir>/<name>.cdx.json`` for ``<dist_dir>/<name>.zip``."""
    return zip_path.with_suffix(".cdx.json")


def lock_files(requirements: Path) -> list[Path]:
    """PEP 751 locks beside the requirements file: ``pylock.toml``, ``pylock.*.toml``."""
    folder = requirements.parent
    found = [folder / "pylock.toml", *sorted(folder.glob("pylock.*.toml"))]
    return [p for p in found if p.is_file()]


def read_lock_hashes(paths: list[Path]) -> dict[tuple[str, str], dict[str, tuple[str, str]]]:
    """(canonical name, version) -> {wheel filename: (sha256 hex, url)} from the locks.

    Read defensively: a lock that does not parse, is too large or nests too deeply (the
    bounds of every text file the tool reads), or an entry without a name, version or
    sha256, adds nothing.
    """
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

    hashes: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
    for path in paths:
        try:
            text = read_bounded(path, "lock file").decode("utf-8")
            check_toml_depth(text, "lock file")
            data = tomllib.loads(text)
            check_nesting(data, "lock file")
        except (OSError, ValueError, LayerError, RecursionError):
            continue
        for package in data.get("packages") or ():
            if not isinstance(package, dict) or not package.get("name"):
                continue
            key = (canonicalize_name(str(package["name"])), str(package.get("version", "")))
            for wheel in package.get("wheels") or ():
                if not isinstance(wheel, dict):
                    continue
                digest = (wheel.get("hashes") or {}).get("sha256")
                where = str(wheel.get("url") or wheel.get("path") or "")
                filename = str(wheel.get("name") or where.rsplit("/", 1)[-1])
                if digest and filename.endswith(".whl"):
                    hashes.setdefault(key, {})[filename] = (str(digest).lower(), where)
    return hashes


def target_tags(settings: LayerSettings) -> list[Tag]:
    """The target's wheel tags, most preferred first (as an installer ranks them)."""
    major, minor = (int(x) for x in settings.python.split("."))
    target = Target(settings.python, settings.architecture, settings.glibc)
    platforms = [*target.pip_platforms(), "any"]
    version = (major, minor)
    return [
        *cpython_tags(version, platforms=platforms),
        *compatible_tags(version, f"cp{major}{minor}", platforms),
    ]


def pick_wheel(candidates: Mapping[str, tuple[str, str]], ranked: list[Tag]) -> str | None:
    """The filename an installer would take for the target: its best-ranked tag wins."""
    rank = {tag: i for i, tag in enumerate(ranked)}
    best: tuple[int, str] | None = None
    for filename in candidates:
        try:
            tags = parse_wheel_filename(filename)[3]
        except InvalidWheelFilename:
            continue
        score = min((rank[t] for t in tags if t in rank), default=None)
        if score is not None and (best is None or (score, filename) < best):
            best = (score, filename)
    return best[1] if best else None


def read_layer_metadata(zip_path: Path) -> dict[str, tuple[Message, dict[str, Any] | None]]:
    """canonical name -> (METADATA headers, direct_url.json) of every dist-info in the zip."""
    found: dict[str, tuple[Message, dict[str, Any] | None]] = {}
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        for member in sorted(names):
            if not member.endswith(".dist-info/METADATA"):
                continue
            text = zf.read(member).decode("utf-8", errors="replace")
            headers = HeaderParser().parsestr(text, headersonly=True)
            direct_url = None
            sibling = member[: -len("METADATA")] + "direct_url.json"
            if sibling in names:
                try:
                    direct_url = json.loads(zf.read(sibling))
                except ValueError:
                    direct_url = None
            if headers.get("Name"):
                found[canonicalize_name(str(headers["Name"]))] = (headers, direct_url)
    return found


def _direct_url_sha256(direct_url: dict[str, Any] | None) -> str | None:
    info = (direct_url or {}).get("archive_info") or {}
    digest = (info.get("hashes") or {}).get("sha256")
    if not digest and str(info.get("hash", "")).startswith("sha256="):
        digest = str(info["hash"]).split("=", 1)[1]
    return str(digest).lower() if digest else None


def licences(headers: Message | None) -> list[License]:
    """The licence(s) METADATA declares, most precise field first."""
    from cyclonedx.contrib.license.factories import LicenseFactory

    if headers is None:
        return []
    factory = LicenseFactory()
    expression = str(headers.get("License-Expression") or "").strip()
    if expression:
        return [factory.make_from_string(expression)]
    text = str(headers.get("License") or "").strip()
    # The License field sometimes holds the whole licence text: not a name.
    if text and text.upper() != "UNKNOWN" and "\n" not in text and len(text) <= 100:
        return [factory.make_from_string(text)]
    classifiers = [
        str(c).split("::")[-1].strip()
        for c in headers.get_all("Classifier") or []
        if str(c).startswith("License ::") and str(c).count("::") >= 2
    ]
    return [factory.make_with_name(name) for name in dict.fromkeys(classifiers)]


def _hex(code_sha256: str) -> str:
    return base64.b64decode(code_sha256).hex()


def _timestamp() -> dt.datetime:
    try:
        epoch = build_epoch()
    except LayerError:
        epoch = _ZIP_EPOCH  # the build refused it before it began
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def serial_number(manifest: Manifest, locks: list[Path]) -> uuid.UUID:
    """A UUID from everything the SBOM is made of; the same inputs give the same one."""
    digest = hashlib.sha256()
    for part in (str(FORMAT), __version__, manifest.code_sha256, _timestamp().isoformat()):
        digest.update(part.encode() + b"\0")
    for lock in locks:
        digest.update(lock.name.encode() + b"\0" + lock.read_bytes() + b"\0")
    return uuid.uuid5(_NAMESPACE, digest.hexdigest())


def make_bom(
    manifest: Manifest,
    metadata: Mapping[str, tuple[Message, dict[str, Any] | None]],
    lock_hashes: Mapping[tuple[str, str], Mapping[str, tuple[str, str]]],
    ranked: list[Tag],
    serial: uuid.UUID,
) -> Bom:
    """The BOM of one layer: the layer as the root component, one per distribution."""
    from cyclonedx.model import (
        ExternalReference,
        ExternalReferenceType,
        HashAlgorithm,
        HashType,
        Property,
        XsUri,
    )
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    root = Component(
        type=ComponentType.LIBRARY,
        name=manifest.name,
        bom_ref=f"layer:{manifest.name}",
        hashes=[HashType(alg=HashAlgorithm.SHA_256, content=_hex(manifest.code_sha256))],
        properties=[
            Property(name="layer-tasks:runtime", value=manifest.runtime),
            Property(name="layer-tasks:architecture", value=manifest.architecture),
            Property(name="layer-tasks:code_sha256", value=manifest.code_sha256),
        ],
    )
    components = []
    for dist in manifest.distributions:
        key = canonicalize_name(dist.name)
        headers, direct_url = metadata.get(key, (None, None))
        hashes, refs = [], []
        candidates = lock_hashes.get((key, dist.version), {})
        chosen = pick_wheel(candidates, ranked)
        sha256 = candidates[chosen][0] if chosen else _direct_url_sha256(direct_url)
        if sha256:
            hashes.append(HashType(alg=HashAlgorithm.SHA_256, content=sha256))
        if chosen and candidates[chosen][1].startswith(("https://", "http://")):
            refs.append(
                ExternalReference(
                    type=ExternalReferenceType.DISTRIBUTION,
                    url=XsUri(candidates[chosen][1]),
                    hashes=list(hashes),
                )
            )
        purl = PackageURL(type="pypi", name=key, version=dist.version)
        components.append(
            Component(
                type=ComponentType.LIBRARY,
                name=dist.name,
                version=dist.version,
                purl=purl,
                bom_ref=purl.to_string(),
                licenses=licences(headers),
                hashes=hashes,
                external_references=refs,
            )
        )
    bom = Bom(
        serial_number=serial,
        metadata=BomMetaData(component=root, timestamp=_timestamp()),
        components=components,
    )
    bom.register_dependency(root, components)
    return bom


def render_json(bom: Bom) -> str:
    from cyclonedx.output.json import JsonV1Dot6

    return JsonV1Dot6(bom).output_as_string(indent=2) + "\n"


def _current_serial(path: Path) -> str | None:
    try:
        return str(json.loads(path.read_text(encoding="utf-8")).get("serialNumber"))
    except (OSError, ValueError, AttributeError):
        return None


def ensure_sbom(settings: LayerSettings, manifest: Manifest) -> Path:
    """Write ``<dist_dir>/<name>.cdx.json`` for the built zip unless it is already current."""
    path = sbom_path(settings)
    locks = lock_files(settings.requirements)
    serial = serial_number(manifest, locks)
    if _current_serial(path) == serial.urn:
        return path
    try:
        metadata = read_layer_metadata(settings.zip_path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise LayerError(f"cannot read {settings.zip_path} for its SBOM: {exc}") from None
    bom = make_bom(manifest, metadata, read_lock_hashes(locks), target_tags(settings), serial)
    atomic_write_text(path, render_json(bom))
    return path
