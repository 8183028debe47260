"""Install the requirements for the Lambda target (not the build host) into a folder.

uv is the default installer (a PyPI dependency, so no separate set-up): it resolves
for another platform with ``--python-platform``/``--python-version``. pip is the
alternative (``installer: pip``) with ``--platform``/``--abi``. Both take binary wheels
only (Lambda cannot build an sdist at run time, and a wheel built on this host would be
built for this host), and neither byte-compiles (the ``.pyc`` would be pruned).

pip reads pip.conf and ``PIP_*`` variables itself; uv does not, so the user's pip
index configuration is translated into uv flags: both installers then see the same
indexes, whichever runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename

from layer_tasks.errors import LayerError
from layer_tasks.util import redact
from layer_tasks.util.fsutil import atomic_write_text

_CPU = {"x86_64": "x86_64", "arm64": "aarch64"}
# The manylinux glibc levels uv can name as a --python-platform. 2.26 (Amazon Linux 2)
# is not one of them, so python3.10/3.11 resolve against the highest level below it.
_UV_GLIBC_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)


@dataclass(frozen=True)
class Target:
    python: str  # "3.12"
    architecture: str  # "x86_64" | "arm64"
    glibc: tuple[int, int]

    @property
    def cpu(self) -> str:
        return _CPU[self.architecture]

    @property
    def abi(self) -> str:
        return "cp" + self.python.replace(".", "")

    def uv_platform(self) -> str:
        major, minor = self.glibc
        usable = [m for m in _UV_GLIBC_MINORS if m <= minor]
        return f"{self.cpu}-manylinux_{major}_{max(usable)}"

    def pip_platforms(self) -> list[str]:
        """Every manylinux tag the target's glibc accepts, newest first (pip does not expand)."""
        major, minor = self.glibc
        tags = [f"manylinux_{major}_{m}_{self.cpu}" for m in range(minor, 16, -1)]
        tags.append(f"manylinux2014_{self.cpu}")
        if self.cpu == "x86_64":
            tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
        return tags

    def describe(self) -> str:
        return f"python{self.python} {self.architecture} (glibc {self.glibc[0]}.{self.glibc[1]})"


@dataclass(frozen=True)
class IndexConfig:
    """The index settings pip would use (pip.conf files and PIP_* variables)."""

    index_url: str = ""
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False

    def uv_args(self, *, urls: bool = True) -> list[str]:
        """uv's flags; without ``urls`` the index URLs are left to `uv_env`."""
        args: list[str] = []
        if self.no_index:
            args.append("--no-index")
        if self.index_url and urls:
            args += ["--index-url", self.index_url]
        for url in self.extra_index_urls if urls else ():
            args += ["--extra-index-url", url]
        for link in self.find_links:
            args += ["--find-links", link]
        if self.extra_index_urls:
            # pip takes the best version across all indexes; uv's default stops at the
            # first index that has the name. Match pip, so the same config means the same set.
            args += ["--index-strategy", "unsafe-best-match"]
        return args

    def uv_env(self) -> dict[str, str]:
        """The index URLs as uv's own variables (the same meaning as its flags): a
        password in a command line is visible to every local user (ps, /proc)."""
        env = {}
        if self.index_url:
            env["UV_INDEX_URL"] = self.index_url
        if self.extra_index_urls:
            env["UV_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)
        return env

    def as_key(self) -> str:
        return repr(self)

    def urls(self) -> tuple[str, ...]:
        return (self.index_url, *self.extra_index_urls, *self.find_links)

    def has_credentials(self) -> bool:
        """Whether a URL carries userinfo (a password or a token)."""
        return any("@" in urlsplit(url).netloc for url in self.urls() if url)


# pip's configuration scopes, lowest precedence first (pip's own loading order).
_SYSTEM_PIP_CONF = "/etc/pip.conf"
_SCOPE_RANK = {"global": 0, "user": 1, "site": 2, ":env:": 3}


def _xdg() -> tuple[list[str], str]:
    """The XDG system configuration folders and the user's, as pip and uv find them."""
    dirs = os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg"
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [d for d in dirs.split(os.pathsep) if d], home


def pip_config_files(python: str = sys.executable) -> list[str]:
    """The configuration files pip reads (pip._internal.configuration), whether they
    exist or not: the XDG system dirs and /etc, the interpreter's prefix, ~/.pip and the
    XDG user dir, and PIP_CONFIG_FILE."""
    home = os.path.expanduser("~")
    xdg_dirs, xdg_home = _xdg()
    prefix = sys.prefix if python == sys.executable else str(Path(python).resolve().parent.parent)
    files = [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs]
    files += [
        _SYSTEM_PIP_CONF,
        os.path.join(prefix, "pip.conf"),
        os.path.join(home, ".pip", "pip.conf"),
        os.path.join(xdg_home, "pip", "pip.conf"),
        os.environ.get("PIP_CONFIG_FILE", ""),
    ]
    return [name for name in files if name]


def installer_files(cwd: Path, python: str = sys.executable) -> list[tuple[str, str]]:
    """(path, what it is) of every file uv or pip reads besides the requirements, existing
    or not (one written there would be read at the next install): pip's configuration,
    uv's (``UV_CONFIG_FILE``, the user's and the system's ``uv.toml``, and ``uv.toml`` or
    ``pyproject.toml`` in ``cwd``, where the install runs, and the folders above it), and
    the netrc file both take index credentials from."""
    xdg_dirs, xdg_home = _xdg()
    pip_named = os.environ.get("PIP_CONFIG_FILE", "")
    found = [
        (name, "pip's configuration" + (" (PIP_CONFIG_FILE)" if name == pip_named else ""))
        for name in pip_config_files(python)
    ]
    uv = [os.path.join(d, "uv", "uv.toml") for d in xdg_dirs]
    uv += ["/etc/uv/uv.toml", os.path.join(xdg_home, "uv", "uv.toml")]
    uv += [str(cwd / "uv.toml"), str(cwd / "pyproject.toml")]
    uv += [
        str(p) for d in cwd.parents for p in (d / "uv.toml", d / "pyproject.toml") if p.is_file()
    ]
    found += [(name, "uv's configuration") for name in uv]
    if uv_named := os.environ.get("UV_CONFIG_FILE", ""):
        found.append((uv_named, "uv's configuration (UV_CONFIG_FILE)"))
    netrc = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    found.append((netrc, "the netrc file"))
    return found


# What the installer reads besides the requirements file, named by a variable: the
# files (constraints, overrides, more requirements) and the --find-links places. pip
# splits its list values at whitespace; uv's lists are comma- or space-separated.
_NAMED_FILES = (
    "PIP_CONSTRAINT",
    "PIP_REQUIREMENT",
    "UV_CONSTRAINT",
    "UV_OVERRIDE",
    "UV_BUILD_CONSTRAINT",
    # The certificates pip and uv trust or present (uv reads SSL_CERT_FILE too).
    "PIP_CERT",
    "PIP_CLIENT_CERT",
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
)
_NAMED_LINKS = ("PIP_FIND_LINKS", "UV_FIND_LINKS")
# The pip.conf keys that name files or --find-links places, in the sections pip install
# reads ([global], then [install]).
_PIP_CONF_FILES = ("constraint", "requirement", "cert", "client-cert")
_PIP_CONF_SECTIONS = ("global", "install")


def _local(value: str, cwd: Path) -> Path | None:
    """The path ``value`` names, relative to ``cwd`` (where the install runs); None for a
    URL (``https://``, ``file://``): only a local path is a file that can be replaced."""
    from layer_tasks.build.requirements import is_url

    if not value or is_url(value):
        return None
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else cwd / path


def _pip_conf_values(path: str) -> dict[str, list[str]]:
    """key -> the words of its value, for the keys that name files, from one pip.conf;
    a file that is missing or does not parse names nothing (pip reports it itself)."""
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error, UnicodeDecodeError):
        return {}
    found: dict[str, list[str]] = {}
    for section in _PIP_CONF_SECTIONS:
        if not parser.has_section(section):
            continue
        for key, value in parser.items(section):
            key = key.replace("_", "-")
            if key in (*_PIP_CONF_FILES, "find-links"):
                found.setdefault(key, []).extend(value.split())
    return found


def installer_inputs(cwd: Path, python: str = sys.executable) -> list[tuple[Path, str, bool]]:
    """(path, what it is, whether a --find-links place) of every local file or folder
    the installer is told to read by pip's configuration or a variable: constraints,
    overrides and requirements (``PIP_CONSTRAINT``, ``constraint =`` in pip.conf, ...),
    and ``--find-links`` places (``PIP_FIND_LINKS``, ``find-links =``), whose files the
    installer lists and reads. A replaced one would change the next install."""
    found: list[tuple[Path, str, bool]] = []

    def add(value: str, what: str, links: bool) -> None:
        path = _local(value, cwd)
        if path is not None:
            found.append((path, what, links))

    for variable in _NAMED_FILES:
        for value in os.environ.get(variable, "").replace(",", " ").split():
            add(value, f"a file the installer reads ({variable})", False)
    for variable in _NAMED_LINKS:
        for value in os.environ.get(variable, "").replace(",", " ").split():
            add(value, f"the --find-links place {_local(value, cwd)} ({variable})", True)
    for conf in pip_config_files(python):
        for key, values in _pip_conf_values(conf).items():
            for value in values:
                if key == "find-links":
                    add(value, f"the --find-links place {_local(value, cwd)} ({conf})", True)
                else:
                    add(value, f"a file the installer reads ({key} in {conf})", False)
    return found


def _pip_config_inputs(python: str) -> tuple[str, bool]:
    """Everything `pip config list` depends on (PIP_* variables and pip's config files),
    as a cache key, and whether any of them is set at all.

    A file counts by path, size and mtime, so editing one changes the key.
    """
    xdg_dirs, xdg_home = _xdg()
    stats = []
    for name in pip_config_files(python):
        try:
            st = os.stat(name)
            stats.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((name, -1, 0))
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("PIP_"))
    anything = bool(env) or any(size >= 0 for _name, size, _mtime in stats)
    return json.dumps([python, env, os.pathsep.join(xdg_dirs), xdg_home, stats]), anything


def pip_index_config(python: str = sys.executable, cache_dir: Path | None = None) -> IndexConfig:
    """The index settings pip would use, from ``pip config list``, cached in ``cache_dir``.

    Asking pip itself means every file and variable pip reads counts; the answer is
    cached by `_pip_config_inputs`, since starting pip costs about half a second on
    every build, including the no-change ones that should be nearly free. With no
    config file and no PIP_* variable (a typical CI runner) pip is not asked at all.
    """
    inputs, anything = _pip_config_inputs(python)
    if not anything:
        return IndexConfig()  # no file, no variable: pip's defaults, no need to ask
    if cache_dir is None:
        return _ask_pip(python)
    key = hashlib.sha256(inputs.encode()).hexdigest()
    cache = cache_dir / f"pip-config-{key[:32]}.json"
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
        cached = IndexConfig(
            index_url=data["index_url"],
            extra_index_urls=tuple(data["extra_index_urls"]),
            find_links=tuple(data["find_links"]),
            no_index=bool(data["no_index"]),
        )
        if not cached.has_credentials():
            return cached
        cache.unlink()  # written by an older version, password and all
    except (OSError, ValueError, KeyError, TypeError):
        pass
    config = _ask_pip(python)
    if config.has_credentials():
        return config  # a password never goes to disk: pip is asked again next time
    try:
        cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        atomic_write_text(cache, json.dumps(dataclasses.asdict(config)))
        cache.chmod(0o600)
    except OSError:
        pass  # a cache we cannot write only costs time
    return config


def settings_index(installer: str, state_dir: Path) -> IndexConfig:
    """The index settings a build gives ``installer``: pip reads its own configuration;
    uv gets pip's index settings translated (cached under ``state_dir``)."""
    if installer != "uv":
        return IndexConfig()
    return pip_index_config(cache_dir=state_dir / "cache")


def _ask_pip(python: str) -> IndexConfig:
    try:
        proc = subprocess.run(
            [python, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return IndexConfig()
    if proc.returncode != 0:
        return IndexConfig()
    values: dict[str, tuple[int, str]] = {}
    for line in proc.stdout.splitlines():
        match = re.fullmatch(
            r"(?P<scope>[^.]+|:env:)\.(?P<key>[A-Za-z0-9_-]+)='(?P<value>.*)'", line
        )
        if not match:
            continue
        rank = _SCOPE_RANK.get(match["scope"], 0)
        key = match["key"].replace("_", "-")
        if key not in values or rank >= values[key][0]:
            values[key] = (rank, match["value"])

    def words(key: str) -> tuple[str, ...]:
        return tuple(values[key][1].split()) if key in values else ()

    no_index = values.get("no-index", (0, ""))[1].lower() in ("1", "true", "yes", "on")
    config = IndexConfig(
        index_url=values.get("index-url", (0, ""))[1],
        extra_index_urls=words("extra-index-url"),
        find_links=words("find-links"),
        no_index=no_index,
    )
    redact.add_url(*config.urls())
    return config


def uv_binary() -> str:
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if not found:
            raise LayerError(
                "uv is not installed: `python -m pip install uv`, or set layer.installer: pip"
            ) from None
        return found


# Never let uv fetch an interpreter (it does when it finds none to describe the
# environment: no virtualenv, no python on PATH): the target's Python is given by
# --python-version/--python-platform, and a download would reach out to GitHub.
UV_ENV = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}


def uv_python() -> list[str]:
    """uv's ``--python``: the interpreter running this tool, which always exists.

    It only stands in for "an environment": ``--target``, ``--python-version`` and
    ``--python-platform`` decide what is installed, for the Lambda target."""
    return ["--python", sys.executable] if sys.executable else []


def install_command(
    installer: str,
    requirements: Path,
    target_dir: Path,
    target: Target,
    index: IndexConfig,
    *,
    pinned: bool = False,
) -> list[str]:
    # A lock's pinned wheels: exactly those files, each hash checked, nothing resolved.
    locked = ["--no-deps", "--require-hashes"] if pinned else []
    if installer == "uv":
        return [
            uv_binary(), "pip", "install",
            "--target", str(target_dir),
            "--python-platform", target.uv_platform(),
            "--python-version", target.python,
            "--only-binary", ":all:",
            *uv_python(),
            *index.uv_args(urls=False),  # the URLs go in uv's environment: run_install
            *locked,
            "-r", str(requirements),
        ]  # fmt: skip
    platforms = [arg for tag in target.pip_platforms() for arg in ("--platform", tag)]
    return [
        sys.executable, "-m", "pip", "install",
        "--target", str(target_dir),
        *platforms,
        "--python-version", target.python,
        "--implementation", "cp",
        "--abi", target.abi, "--abi", "abi3", "--abi", "none",
        "--only-binary", ":all:",
        "--no-compile",
        "--no-warn-script-location",
        "--disable-pip-version-check",
        "--no-input",
        *locked,
        "-r", str(requirements),
    ]  # fmt: skip


@dataclass
class InstallResult:
    distributions: dict[str, str] = field(default_factory=dict)  # canonical name -> version


@dataclass(frozen=True)
class IndexLimits:
    """How long the installer waits for an index (seconds without an answer, and retries)."""

    timeout: float = 15.0
    retries: int = 2

    def env(self) -> dict[str, str]:
        # uv reads UV_HTTP_*; pip reads every option from PIP_<OPTION> (--timeout, --retries).
        timeout, retries = f"{self.timeout:g}", str(self.retries)
        return {
            "UV_HTTP_TIMEOUT": timeout,
            "UV_HTTP_CONNECT_TIMEOUT": timeout,
            "UV_HTTP_RETRIES": retries,
            "PIP_TIMEOUT": timeout,
            "PIP_RETRIES": retries,
        }


# uv: "Failed to fetch: URL ... operation timed out"; pip: "ReadTimeoutError(HTTPConnectionPool(
# host='h', port=p): Read timed out" or "ConnectTimeoutError(...)".
_TIMED_OUT = re.compile(r"timed out|TimeoutError", re.I)
_FETCHED = re.compile(r"Failed to fetch: `?(\S+?)`?(?:\s|$)|host='([^']+)', port=(\d+)")


def _timeout_line(output: str, index: IndexConfig, limits: IndexLimits) -> str | None:
    """The error line for an index that did not answer, or None for another failure."""
    if not _TIMED_OUT.search(output):
        return None
    match = _FETCHED.search(output)
    if match and match.group(1):
        where = match.group(1)
    elif match:
        where = f"{match.group(2)}:{match.group(3)}"
    else:
        where = " ".join(url for url in index.urls() if url) or "the package index"
    return (
        f"the package index {redact.redact(where)} did not answer within layer.index_timeout "
        f"({limits.timeout:g} s, layer.index_retries: {limits.retries}): check the index URL (pip config, "
        "PIP_INDEX_URL, the requirements file) and the network, or raise layer.index_timeout"
    )


def _clean_env(installer: str, limits: IndexLimits) -> dict[str, str]:
    env = dict(os.environ)
    # The host interpreter's own path settings must not leak into the target tree.
    for var in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "PIP_TARGET",
        "PIP_PREFIX",
        "PIP_USER",
    ):
        env.pop(var, None)
    env.update(UV_ENV)
    env.update(limits.env())
    if installer == "pip":
        env["PIP_NO_COMPILE"] = "1"
    return env


def _hash_mismatch(output: str) -> str | None:
    """uv's or pip's report of a wheel whose sha256 is not the one the lock asked for."""
    uv = re.search(
        r"Hash mismatch for `[^`]*?@\s*(?P<url>[^`\s]+)`.*?Expected:\s*sha256:(?P<want>\w+)"
        r".*?Computed:\s*sha256:(?P<got>\w+)",
        output,
        re.S,
    )
    pip = re.search(
        r"@ (?P<url>\S+) from \S+.*?Expected sha256 (?P<want>\w+)\s+Got\s+(?P<got>\w+)",
        output,
        re.S,
    )
    found = uv or pip
    if not found:
        return None
    filename = unquote(urlsplit(found["url"]).path.rsplit("/", 1)[-1])
    try:
        package = str(parse_wheel_filename(filename)[0])
    except InvalidWheelFilename:
        package = "<name>"
    return (
        f"hash mismatch for {filename}: the lock says sha256 {found['want']}, the file has "
        f"{found['got']}; the file changed after the lock was made: find out why, and only "
        f"if the change is expected run `inv layer.lock --upgrade-package {package}`"
    )


def failure_line(output: str, target: Target) -> str:
    """The one sentence of installer output that says what is wrong."""
    mismatch = _hash_mismatch(output)
    if mismatch:
        return mismatch
    text = " ".join(output.split())
    # Sentences end at ". " (a version such as 1.0 has no space after its dot).
    for pattern in (
        r"(Because .*?we can conclude that .*?\.)(?:\s|$)",
        r"(No matching distribution found for \S+)",
        r"(Could not find a version that satisfies the requirement [^)]*\))",
        r"((?:ERROR|error): .*?\.)(?:\s|$)",
    ):
        match = re.search(pattern, text)
        if match:
            reason = match.group(1).strip()
            break
    else:
        reason = text[-300:] or "the installer failed without output"
    reason = reason.replace("╰─▶", "").strip()
    reason = re.sub(r"^(ERROR|error): ", "", reason)
    return f"cannot install the layer for {target.describe()}: {reason}" + (
        " (a layer takes binary wheels only: pin a version that has a wheel for this target)"
        if re.search(
            r"no (usable |matching )?wheels?|only .* sdist|No matching distribution", reason, re.I
        )
        else ""
    )


def run_install(
    installer: str,
    requirements: Path,
    target_dir: Path,
    target: Target,
    index: IndexConfig,
    *,
    limits: IndexLimits = IndexLimits(),
    log: Callable[[str], None] = print,
    pinned: bool = False,
) -> InstallResult:
    """Install into an empty ``target_dir``; raise `LayerError` with the installer's reason."""
    cmd = install_command(installer, requirements, target_dir, target, index, pinned=pinned)
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env={**_clean_env(installer, limits), **(index.uv_env() if installer == "uv" else {})},
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except OSError as exc:
        raise LayerError(f"cannot run {installer}: {exc}") from None
    output = (proc.stdout or "") + (proc.stderr or "")
    if proc.returncode != 0:
        raise LayerError(_timeout_line(output, index, limits) or failure_line(output, target))
    # uv's --target install leaves its lock file behind; it is not part of the layer.
    (target_dir / ".lock").unlink(missing_ok=True)
    return InstallResult(distributions=installed_distributions(target_dir))


def installed_distributions(tree: Path) -> dict[str, str]:
    """canonical name -> version, from the ``*.dist-info`` folders; each exactly once."""
    found: dict[str, list[str]] = {}
    for info in sorted(tree.glob("*.dist-info")):
        name, _, version = info.name[: -len(".dist-info")].partition("-")
        found.setdefault(canonicalize_name(name), []).append(version)
    duplicates = {name: versions for name, versions in found.items() if len(versions) > 1}
    if duplicates:
        listed = "; ".join(f"{n} {', '.join(v)}" for n, v in sorted(duplicates.items()))
        raise LayerError(
            f"the layer would hold two versions of one distribution ({listed}): "
            "pin one version in the requirements"
        )
    return {name: versions[0] for name, versions in found.items()}
