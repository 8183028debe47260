"""Deterministic, parallel zip writer for the layer, and the CodeSha256 Lambda reports.

The archive is assembled here with ``struct`` rather than through ``zipfile`` because
members are compressed in worker processes and only their bytes come back; that also
keeps every byte under our control, which is what makes the output reproducible.

What makes two runs (and any worker count) give identical bytes:

- Entries are regular files only, sorted by arcname, all under ``<root>/``; files a
  build adds while the zip is written (``then``: its bytecode) follow, in their order. Directory
  entries are not written: they are implied by the file paths, every unzip tool and
  Lambda create them, and leaving them out means an empty folder (uv leaves empty
  ``*.libs`` folders) never changes the zip.
- A symlink whose target resolves inside the tree is stored as that content (a file
  link as a file, a folder link as the files under it); a link out of the tree, a
  dangling link or a loop is a `LayerError`, never followed. So are sockets, FIFOs
  and devices. Names are ASCII, or UTF-8 with the UTF-8 flag; never absolute or ``..``.
- One timestamp for every entry: ``SOURCE_DATE_EPOCH`` (argument, else environment),
  else 1980-01-01 00:00:00, clamped to the range a DOS timestamp can hold (UTC).
- ``external_attr`` is ``S_IFREG | 0644``, or ``| 0755`` when any execute bit is set;
  ``create_system`` is 3 (unix); no extra fields except ZIP64 sizes when needed; no
  data descriptors; no comments.
- Compression depends only on the bytes: raw deflate at ``level`` (memLevel 8, default
  strategy) with zlib-ng when it is importable, else the standard library's zlib. The
  two libraries produce different (equally valid) bytes, so byte-identity across
  machines needs the same backend and version: `deflate_backend` names it, for the
  build cache key. A member is stored (method 0) when deflate would not make it
  smaller, the same rule ``zip`` uses; empty files are always stored.
- With libdeflate (the ``deflate`` package) importable, every member up to
  `WHOLE_MAX` bytes is compressed in one call by libdeflate, at a level that makes this
  kind of tree slightly *smaller* than zlib's level 9 with about half its CPU (see
  `_LIBDEFLATE_LEVEL`); libdeflate cannot continue a stream, so larger members take the
  chunked path below with zlib-ng/zlib. The choice depends only on the member's size.
- Files larger than `CHUNK_SIZE` are split into fixed chunks compressed independently
  (and in parallel), each primed with the 32 KiB before it as a preset dictionary and
  ended with a sync flush, as pigz does; the chunks concatenate into one valid deflate
  stream. Chunk boundaries depend only on the file size, never on the worker count.
  `CHUNK_SIZE` is therefore part of the output format: changing it changes the bytes.

Memory is bounded by the work in flight (workers x `_WINDOW_PER_WORKER` batches of
1-2 MiB each, and with libdeflate one member of up to `WHOLE_MAX` in and out per
worker), not by the layer's size or its largest file: a 200 MB member peaked at 26 MB
RSS.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import itertools
import os
import stat
import struct
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import TYPE_CHECKING, BinaryIO, NamedTuple

from layer_tasks.config.validate import whole_number
from layer_tasks.errors import LayerError
from layer_tasks.util.fsutil import atomic_path
from layer_tasks.util.terminal import ignore_interrupts, interrupts_blocked

# multiprocessing (and concurrent.futures.process) is imported where the pool is made:
# a no-change build reads the zip's hash from here and never zips (bench/startup_bench.py).
if TYPE_CHECKING:
    import multiprocessing.context

# Files above this size are compressed as chunks of this size (see the module docstring).
CHUNK_SIZE = 1 << 20
# With libdeflate, members up to this size are compressed whole (input and output of one
# member in a worker's memory at once); larger ones are streamed in chunks. 64 MiB takes
# in the large extensions real layers carry: numpy's 35 MB OpenBLAS and grpc's 17 MB
# cygrpc took 0.59 s + 0.38 s of one core whole with libdeflate 7, against 1.5 s + 0.96 s
# as zlib-ng level 9 chunks, and came out 0.3% smaller.
WHOLE_MAX = 64 << 20
# zlib-scale level -> libdeflate level. On the seed layer's tree (254 MB), libdeflate 7
# gave 0.5% smaller output than zlib-ng 9 in half the CPU time (4.7 s vs 9.4 s on one
# core); libdeflate 6 was 0.2% larger than zlib-ng 9 at a third of the CPU. On the
# layer with its bytecode (262 MB), 6 against 7: +0.67% bytes for 26% less CPU (2.10 s
# vs 2.83 s on one core), and the zip is most of a cold build's CPU after the install.
_LIBDEFLATE_LEVEL = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 6, 8: 6, 9: 6}
# Small files are sent to the workers in batches, to keep per-task overhead low.
_BATCH_BYTES = 1 << 20
_BATCH_FILES = 256
# Batches submitted ahead of the one being written, per worker: enough to keep the
# workers busy while the head of the queue finishes, small enough to bound memory.
_WINDOW_PER_WORKER = 4

_WBITS = -15  # raw deflate, 32 KiB window: what a zip member holds
_MEM_LEVEL = 8  # zlib's default; 9 measured slightly *larger* on real layers
_DICT_BYTES = 32 * 1024  # deflate's window: the useful part of a preset dictionary

STORED = 0
DEFLATED = 8

# A size, offset or count at or above these needs the ZIP64 form.
_ZIP64_LIMIT = 0xFFFFFFFF
_ZIP64_COUNT = 0xFFFF

_VERSION = 20  # "version needed to extract": deflate
_VERSION_ZIP64 = 45
_UNIX = 3  # create_system
_UTF8_FLAG = 0x800

_LOCAL = struct.Struct("<IHHHHHIIIHH")
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_EOCD = struct.Struct("<IHHHHIIH")
_EOCD64 = struct.Struct("<IQHHIIQQQQ")
_EOCD64_LOCATOR = struct.Struct("<IIQI")

_DOS_MIN_EPOCH = calendar.timegm((1980, 1, 1, 0, 0, 0))
_DOS_MAX_EPOCH = calendar.timegm((2107, 12, 31, 23, 59, 58))


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    zip_bytes: int
    code_sha256: str
    entries: int
    unzipped_bytes: int


def code_sha256(path: Path) -> str:
    """base64(sha256(file bytes)): the value Lambda reports as ``CodeSha256``."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


def _load_zlib_ng() -> ModuleType | None:
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return None
    return zlib_ng


def _load_libdeflate() -> ModuleType | None:
    try:
        import deflate
    except ImportError:
        return None
    return deflate


def _backend_key() -> str:
    """The streaming backend: what chunked members (and everything, without libdeflate) use."""
    return "zlib-ng" if _load_zlib_ng() is not None else "zlib"


def _deflate_module(key: str) -> ModuleType:
    if key == "zlib-ng":
        from zlib_ng import zlib_ng

        return zlib_ng
    import zlib

    return zlib


def deflate_backend() -> str:
    """The deflate libraries this machine would use, with versions (for cache keys)."""
    module = _load_zlib_ng()
    if module is not None:
        stream = f"zlib-ng {module.ZLIBNG_VERSION}"
    else:
        import zlib

        stream = f"zlib {zlib.ZLIB_RUNTIME_VERSION}"
    whole = _load_libdeflate()
    if whole is not None:
        from importlib.metadata import version

        return f"libdeflate (deflate {version('deflate')}) + {stream}"
    return stream


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class _Member:
    arcname: str
    name: bytes  # arcname as stored: ASCII, or UTF-8 with the UTF-8 flag
    flags: int
    source: str  # the file whose bytes are stored (a symlink's resolved target)
    size: int
    mode: int  # full st_mode as stored in external_attr


def _spans(size: int, chunk: int) -> list[tuple[int, int]]:
    """(offset, length) pieces a file of ``size`` bytes is compressed in."""
    if size <= chunk:
        return [(0, size)]
    return [(offset, min(chunk, size - offset)) for offset in range(0, size, chunk)]


def _root_parts(root: str) -> tuple[str, ...]:
    path = PurePosixPath(root)
    parts = tuple(p for p in path.parts if p != ".")
    if path.is_absolute() or ".." in parts or "\\" in root:
        raise LayerError(f"archive root must be a relative folder name, got {root!r}")
    return parts


def _inside(path: str, tree_real: str) -> bool:
    return path == tree_real or path.startswith(tree_real.rstrip(os.sep) + os.sep)


def _scan(tree: Path, root: tuple[str, ...]) -> list[_Member]:
    """Every regular file under ``tree`` as a member, sorted by arcname.

    Symlinks are resolved and their target's content stored, but only when the target
    is inside the tree: a link out of the tree, a dangling link or a loop is an error,
    never something to follow.
    """
    tree_real = os.path.realpath(tree)
    if not os.path.isdir(tree_real):
        raise LayerError(f"cannot zip {tree}: it is not a directory")
    members: list[_Member] = []

    def add(rel: tuple[str, ...], source: str, st: os.stat_result) -> None:
        arcname = "/".join((*root, *rel))
        try:
            name, flags = arcname.encode("ascii"), 0
        except UnicodeEncodeError:
            try:
                name, flags = arcname.encode("utf-8"), _UTF8_FLAG
            except UnicodeEncodeError:
                shown = os.path.join(tree, *rel)
                raise LayerError(f"{shown}: file name is not valid UTF-8; rename it") from None
        mode = stat.S_IFREG | (0o755 if st.st_mode & 0o111 else 0o644)
        members.append(_Member(arcname, name, flags, source, st.st_size, mode))

    def walk(folder: str, rel: tuple[str, ...], active: frozenset[str]) -> None:
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            raise LayerError(f"cannot read {os.path.join(tree, *rel)}: {exc.strerror}") from exc
        for entry in entries:
            sub = (*rel, entry.name)
            try:
                if entry.is_symlink():
                    shown = os.path.join(tree, *sub)
                    target = os.path.realpath(entry.path)
                    if not os.path.exists(target):
                        raise LayerError(
                            f"{shown} is a dangling symlink (or a symlink loop) to "
                            f"{os.readlink(entry.path)}; remove it or fix its target"
                        )
                    if not _inside(target, tree_real):
                        raise LayerError(
                            f"{shown} is a symlink to {target}, outside the layer tree {tree}; "
                            "replace it with a copy or remove it"
                        )
                    if os.path.isdir(target):
                        if target in active:
                            raise LayerError(
                                f"{shown} is a symlink to its own parent folder {target} "
                                "(a loop); remove it"
                            )
                        walk(target, sub, active | {target})
                        continue
                    st = os.stat(target)
                    if not stat.S_ISREG(st.st_mode):
                        raise LayerError(f"{shown} links to {target}, which is not a regular file")
                    add(sub, target, st)
                elif entry.is_dir(follow_symlinks=False):
                    walk(entry.path, sub, active | {os.path.realpath(entry.path)})
                elif entry.is_file(follow_symlinks=False):
                    add(sub, entry.path, entry.stat(follow_symlinks=False))
                else:
                    shown = os.path.join(tree, *sub)
                    raise LayerError(
                        f"{shown} is not a regular file, folder or symlink "
                        "(a socket, FIFO or device); remove it from the layer tree"
                    )
            except OSError as exc:
                shown = os.path.join(tree, *sub)
                raise LayerError(f"cannot read {shown}: {exc.strerror}") from exc

    walk(tree_real, (), frozenset({tree_real}))
    members.sort(key=lambda m: m.arcname)
    return members


# ----------------------------------------------------------------------- compression


class _Job(NamedTuple):
    backend: str
    level: int
    source: str
    offset: int
    length: int
    whole: bool  # the whole file in one piece (may come back stored)
    final: bool  # the file's last piece


class _Piece(NamedTuple):
    crc: int
    method: int
    data: bytes


def _read_piece(job: _Job, prefix: int) -> bytes:
    want = prefix + job.length
    try:
        with open(job.source, "rb") as fh:
            fh.seek(job.offset - prefix)
            # Ask for one byte more on the last piece: getting it means the file grew.
            data = fh.read(want + 1 if job.final else want)
    except OSError as exc:
        raise LayerError(f"cannot read {job.source}: {exc.strerror}") from exc
    if len(data) != want:
        raise LayerError(f"{job.source} changed while it was being zipped; build again")
    return data


def _compress(job: _Job) -> _Piece:
    if job.length == 0:
        # Empty files (there are many: __init__.py, py.typed) need no read at all.
        return _Piece(0, STORED, b"")
    if job.backend == "libdeflate":
        return _compress_whole_libdeflate(job)
    mod = _deflate_module(job.backend)
    prefix = min(_DICT_BYTES, job.offset)
    data = _read_piece(job, prefix)
    piece = memoryview(data)[prefix:]
    crc = mod.crc32(piece)
    if job.level == 0:
        return _Piece(crc, STORED, piece.tobytes() if prefix else data)
    if prefix:
        comp = mod.compressobj(
            job.level, mod.DEFLATED, _WBITS, _MEM_LEVEL, mod.Z_DEFAULT_STRATEGY, data[:prefix]
        )
    else:
        comp = mod.compressobj(job.level, mod.DEFLATED, _WBITS, _MEM_LEVEL, mod.Z_DEFAULT_STRATEGY)
    # A sync flush ends a non-final chunk on a byte boundary without ending the stream,
    # so the next chunk's deflate blocks can follow it directly.
    out = comp.compress(piece) + comp.flush(mod.Z_FINISH if job.final else mod.Z_SYNC_FLUSH)
    if job.whole and len(out) >= job.length:
        return _Piece(crc, STORED, data)
    return _Piece(crc, DEFLATED, out)


def _compress_whole_libdeflate(job: _Job) -> _Piece:
    import deflate

    data = _read_piece(job, 0)
    crc = deflate.crc32(data)  # the same CRC-32 as zlib's, ~5x faster
    if job.level == 0:
        return _Piece(crc, STORED, data)
    out = bytes(deflate.deflate_compress(data, _LIBDEFLATE_LEVEL[job.level]))
    if len(out) >= job.length:
        return _Piece(crc, STORED, data)
    return _Piece(crc, DEFLATED, out)


def _compress_batch(batch: list[_Job]) -> list[_Piece]:
    return [_compress(job) for job in batch]


def _batches(jobs: Iterator[_Job]) -> Iterator[list[_Job]]:
    batch: list[_Job] = []
    size = 0
    for job in jobs:
        batch.append(job)
        size += job.length
        if size >= _BATCH_BYTES or len(batch) >= _BATCH_FILES:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def _pool_context() -> multiprocessing.context.BaseContext:
    import multiprocessing

    # Not "fork": forking a process that has threads (a test server, a progress bar)
    # can deadlock and warns on Python 3.12+. Not "forkserver" either: its workers are
    # not our children, so `/usr/bin/time -v` and getrusage(RUSAGE_CHILDREN) would not
    # see their CPU time and memory. "spawn" costs ~0.1 s per pool, once per zip.
    return multiprocessing.get_context("spawn")


def _worker_start(nice: int) -> None:
    """A zip worker: lower priority, and Ctrl-C left to the parent (which stops the
    workers and reports it in one line; a worker would print a traceback)."""
    ignore_interrupts()
    os.nice(nice)


def _pieces(
    batches: list[list[_Job]] | Iterator[list[_Job]], workers: int, nice: int = 0
) -> Generator[_Piece, None, None]:
    """Compressed pieces in job order; at most workers x window batches in flight."""
    if workers <= 1 or (isinstance(batches, list) and len(batches) <= 1):
        for batch in batches:
            yield from _compress_batch(batch)
        return
    if isinstance(batches, list):
        workers = min(workers, len(batches))
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_worker_start, initargs=(nice,)
    )
    try:
        pending: deque[Future[list[_Piece]]] = deque()
        window = workers * _WINDOW_PER_WORKER
        for batch in batches:
            # A submit may start a worker: it inherits SIGINT blocked, then ignores it.
            with interrupts_blocked():
                pending.append(pool.submit(_compress_batch, batch))
            if len(pending) >= window:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _crc32_combine(crc32: Callable[..., int], crc1: int, crc2: int, len2: int) -> int:
    """CRC of A+B from crc(A), crc(B) and len(B).

    crc32(B, c) is affine in c with a linear part that depends only on len(B), so
    crc(A+B) = crc32(zeros, crc(A)) ^ crc32(zeros, 0) ^ crc(B). Works with any crc32,
    including the standard library's, which has no crc32_combine.
    """
    zeros = bytes(len2)
    return crc32(zeros, crc1) ^ crc32(zeros, 0) ^ crc2


# --------------------------------------------------------------------------- writing


def _dos_stamp(epoch: int) -> tuple[int, int]:
    t = time.gmtime(min(max(epoch, _DOS_MIN_EPOCH), _DOS_MAX_EPOCH))
    dos_date = (t.tm_year - 1980) << 9 | t.tm_mon << 5 | t.tm_mday
    dos_time = t.tm_hour << 11 | t.tm_min << 5 | t.tm_sec // 2
    return dos_time, dos_date


def _epoch(source_date_epoch: int | None) -> int:
    if source_date_epoch is not None:
        return int(source_date_epoch)
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw:
        return _DOS_MIN_EPOCH
    number = whole_number(raw)  # ASCII digits, as for every number (int() takes '1_0')
    if number is None:
        raise LayerError(
            f"SOURCE_DATE_EPOCH must be a whole number of seconds since 1970, got {raw!r}"
        )
    return number  # any size: the zip's dates are clamped to what DOS time can hold


def build_epoch(source_date_epoch: int | None = None) -> int:
    """The build's time (``SOURCE_DATE_EPOCH``, else 1980-01-01) as the zip records it:
    within what DOS time holds (1980 to 2107). The SBOM takes the same, so the two never
    disagree, and a year past 9999 never reaches a datetime."""
    return min(max(_epoch(source_date_epoch), _DOS_MIN_EPOCH), _DOS_MAX_EPOCH)


class _Entry(NamedTuple):
    member: _Member
    method: int
    crc: int
    csize: int
    offset: int


class _Writer:
    def __init__(self, fh: BinaryIO, stamp: tuple[int, int], crc32: Callable[..., int]) -> None:
        self.fh = fh
        self.crc32 = crc32
        self.dos_time, self.dos_date = stamp
        self.offset = 0
        self.entries: list[_Entry] = []

    def _write(self, data: bytes) -> None:
        self.fh.write(data)
        self.offset += len(data)

    def _local_header(self, m: _Member, method: int, crc: int, csize: int) -> bytes:
        # The ZIP64 decision rests on the uncompressed size alone, known before any
        # data is written: a stored fallback means csize <= size, so it can never
        # need ZIP64 when size does not, and the header keeps its length when patched.
        zip64 = m.size >= _ZIP64_LIMIT
        extra = struct.pack("<HHQQ", 1, 16, m.size, csize) if zip64 else b""
        return (
            _LOCAL.pack(
                0x04034B50,
                _VERSION_ZIP64 if zip64 else _VERSION,
                m.flags,
                method,
                self.dos_time,
                self.dos_date,
                crc,
                0xFFFFFFFF if zip64 else csize,
                0xFFFFFFFF if zip64 else m.size,
                len(m.name),
                len(extra),
            )
            + m.name
            + extra
        )

    def add_whole(self, m: _Member, piece: _Piece) -> None:
        self.entries.append(_Entry(m, piece.method, piece.crc, len(piece.data), self.offset))
        self._write(self._local_header(m, piece.method, piece.crc, len(piece.data)))
        self._write(piece.data)

    def add_chunked(self, m: _Member, pieces: Iterator[tuple[int, _Piece]], level: int) -> None:
        start = self.offset
        method = DEFLATED if level else STORED
        header = self._local_header(m, method, 0, 0)  # patched below, same length
        self._write(header)
        crc32 = self.crc32
        crc = csize = 0
        for length, piece in pieces:
            self._write(piece.data)
            csize += len(piece.data)
            crc = _crc32_combine(crc32, crc, piece.crc, length)
        if method == DEFLATED and csize >= m.size:
            # Deflate did not help (already-compressed data): store it instead.
            self.fh.seek(start + len(header))
            self.fh.truncate()
            self.offset = start + len(header)
            self._copy_raw(m, crc, crc32)
            method, csize = STORED, m.size
        self.fh.seek(start)
        self.fh.write(self._local_header(m, method, crc, csize))
        self.fh.seek(self.offset)
        self.entries.append(_Entry(m, method, crc, csize, start))

    def _copy_raw(self, m: _Member, crc: int, crc32: Callable[..., int]) -> None:
        data_start = self.offset
        check = 0
        try:
            with open(m.source, "rb") as src:
                for block in iter(lambda: src.read(CHUNK_SIZE), b""):
                    self._write(block)
                    check = crc32(block, check)
        except OSError as exc:
            if exc.filename == m.source:
                raise LayerError(f"cannot read {m.source}: {exc.strerror}") from exc
            raise
        if check != crc or self.offset - data_start != m.size:
            raise LayerError(f"{m.source} changed while it was being zipped; build again")

    def finish(self) -> None:
        cd_start = self.offset
        for e in self.entries:
            self._write(self._central(e))
        cd_size = self.offset - cd_start
        count = len(self.entries)
        if count >= _ZIP64_COUNT or cd_size >= _ZIP64_LIMIT or cd_start >= _ZIP64_LIMIT:
            eocd64 = self.offset
            self._write(
                _EOCD64.pack(
                    0x06064B50,
                    _EOCD64.size - 12,
                    _UNIX << 8 | _VERSION_ZIP64,
                    _VERSION_ZIP64,
                    0,
                    0,
                    count,
                    count,
                    cd_size,
                    cd_start,
                )
            )
            self._write(_EOCD64_LOCATOR.pack(0x07064B50, 0, eocd64, 1))
        self._write(
            _EOCD.pack(
                0x06054B50,
                0,
                0,
                0xFFFF if count >= _ZIP64_COUNT else count,
                0xFFFF if count >= _ZIP64_COUNT else count,
                0xFFFFFFFF if cd_size >= _ZIP64_LIMIT else cd_size,
                0xFFFFFFFF if cd_start >= _ZIP64_LIMIT else cd_start,
                0,
            )
        )

    def _central(self, e: _Entry) -> bytes:
        m = e.member
        # Only the fields that overflow go into the ZIP64 extra, in the spec's order.
        big = [v for v in (m.size, e.csize, e.offset) if v >= _ZIP64_LIMIT]
        extra = struct.pack(f"<HH{len(big)}Q", 1, 8 * len(big), *big) if big else b""
        version = _VERSION_ZIP64 if big or m.size >= _ZIP64_LIMIT else _VERSION
        return (
            _CENTRAL.pack(
                0x02014B50,
                _UNIX << 8 | version,
                version,
                m.flags,
                e.method,
                self.dos_time,
                self.dos_date,
                e.crc,
                0xFFFFFFFF if e.csize >= _ZIP64_LIMIT else e.csize,
                0xFFFFFFFF if m.size >= _ZIP64_LIMIT else m.size,
                len(m.name),
                len(extra),
                0,
                0,
                0,
                m.mode << 16,
                0xFFFFFFFF if e.offset >= _ZIP64_LIMIT else e.offset,
            )
            + m.name
            + extra
        )


# ------------------------------------------------------------------------------ API


def write_layer_zip(
    tree: Path,
    dest: Path,
    *,
    root: str = "python",
    level: int = 9,
    workers: int = 1,
    source_date_epoch: int | None = None,
    progress: Callable[[int], None] | None = None,
    nice: int = 0,
    then: Callable[[], list[str]] | None = None,
    listed: Callable[[], None] | None = None,
) -> ArchiveResult:
    """Zip every file under ``tree`` into ``dest`` as ``<root>/...``, deterministically.

    Members are compressed in ``workers`` processes and written in arcname order as
    they arrive. ``progress`` is called with the uncompressed bytes of each piece
    written. ``nice`` lowers the workers' priority (see `os.nice`): a build gives the
    import check, which runs beside the zip, first claim on the CPU. The zip is written
    beside ``dest`` and renamed over it at the end, so a failure leaves ``dest`` as it
    was; a failure to write it raises `LayerError`.

    ``then``, when given, is called once the scanned members are all queued (it may
    block: the zip keeps compressing meanwhile) and returns tree-relative paths of files
    added to the tree since the scan (the build's bytecode); they are written after the
    scanned members, in the order given, so the entry order never depends on when they
    were made. ``listed`` is called once the tree has been listed (before anything is
    compressed): from then on, files added to the tree change only what ``then`` adds.
    """
    tree, dest = Path(tree), Path(dest)
    if not 0 <= level <= 9:
        raise LayerError(f"compression level must be 0-9, got {level}")
    stamp = _dos_stamp(_epoch(source_date_epoch))
    root_parts = _root_parts(root)
    members = _scan(tree, root_parts)
    if listed is not None:
        listed()
    if not members:
        raise LayerError(f"nothing to zip: {tree} holds no files")
    scanned = len(members)
    asked: list[bool] = []

    def later() -> Iterator[_Member]:
        # Appended to `members` once, by whichever of the job feed and the writer loop
        # gets here first (the job feed: it runs ahead).
        if then is not None and not asked:
            asked.append(True)
            members.extend(_added_members(tree, root_parts, then()))
        yield from members[scanned:]

    backend = _backend_key()
    whole_backend = "libdeflate" if _load_libdeflate() is not None else None

    def spans_of(m: _Member) -> list[tuple[int, int]]:
        if whole_backend and m.size <= WHOLE_MAX:
            return [(0, m.size)]
        return _spans(m.size, CHUNK_SIZE)

    def backend_of(spans: list[tuple[int, int]]) -> str:
        return whole_backend if whole_backend and len(spans) == 1 else backend

    jobs = (
        _Job(
            backend_of(spans), level, m.source, offset, length, len(spans) == 1,
            offset + length == m.size,
        )
        for m in itertools.chain(members[:scanned], later())
        for spans in (spans_of(m),)
        for offset, length in spans
    )  # fmt: skip
    batches: list[list[_Job]] | Iterator[list[_Job]] = (
        list(_batches(jobs)) if then is None else _batches(jobs)
    )
    report = progress or (lambda n: None)

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dest) as tmp:
            with open(tmp, "wb", buffering=1 << 20) as fh:
                writer = _Writer(fh, stamp, _deflate_module(backend).crc32)
                pieces = _pieces(batches, workers, nice)
                try:
                    for m in itertools.chain(members[:scanned], later()):
                        spans = spans_of(m)
                        if len(spans) == 1:
                            writer.add_whole(m, next(pieces))
                            report(m.size)
                        else:
                            writer.add_chunked(m, _tracked(spans, pieces, report), level)
                    writer.finish()
                finally:
                    # Stops the pool (and any work still queued) when writing fails.
                    pieces.close()
            zip_bytes = writer.offset
            sha = code_sha256(tmp)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise LayerError(
            f"cannot write the layer zip {dest}: {reason}; check the folder's permissions "
            "and free space"
        ) from exc
    return ArchiveResult(
        path=dest,
        zip_bytes=zip_bytes,
        code_sha256=sha,
        entries=len(members),
        unzipped_bytes=sum(m.size for m in members),
    )


def _added_members(tree: Path, root: tuple[str, ...], rels: list[str]) -> list[_Member]:
    members = []
    for rel in rels:
        parts = PurePosixPath(rel).parts
        if not parts or ".." in parts or PurePosixPath(rel).is_absolute():
            raise LayerError(f"cannot add {rel!r} to the zip: not a path inside {tree}")
        path = tree.joinpath(*parts)
        try:
            st = os.stat(path, follow_symlinks=False)
        except OSError as exc:
            raise LayerError(f"cannot read {path}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise LayerError(f"{path} is not a regular file")
        arcname = "/".join((*root, *parts))
        mode = stat.S_IFREG | (0o755 if st.st_mode & 0o111 else 0o644)
        # Build output: ASCII unless a source's name is not.
        try:
            name, flags = arcname.encode("ascii"), 0
        except UnicodeEncodeError:
            name, flags = arcname.encode("utf-8"), _UTF8_FLAG
        members.append(_Member(arcname, name, flags, str(path), st.st_size, mode))
    return members


def _tracked(
    spans: list[tuple[int, int]], pieces: Iterator[_Piece], report: Callable[[int], None]
) -> Iterator[tuple[int, _Piece]]:
    for _offset, length in spans:
        yield length, next(pieces)
        report(length)
