"""The layer zip writer: deterministic bytes, a valid (ZIP64 when needed) archive, safe failures."""

from __future__ import annotations

import base64
import hashlib
import os
import random
import resource
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from layer_tasks.build import archive
from layer_tasks.build.archive import code_sha256, deflate_backend, write_layer_zip
from layer_tasks.errors import LayerError

UNZIP = shutil.which("unzip")
needs_unzip = pytest.mark.skipif(UNZIP is None, reason="unzip is not installed")


def _text(n: int, seed: int) -> bytes:
    """Compressible but not trivial bytes (Python-like source lines)."""
    rnd = random.Random(seed)
    words = ["def", "return", "self", "import", "value", "class", "None", "layer", "zip"]
    out = bytearray()
    while len(out) < n:
        out += (" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + "\n").encode()
    return bytes(out[:n])


def _make_tree(root: Path, many: int = 300) -> Path:
    """A small layer-like tree with every kind of member the writer handles."""
    rnd = random.Random(1)
    pkg = root / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_bytes(b"")
    (pkg / "mod.py").write_bytes(_text(20_000, 2))
    (pkg / "sub" / "data.json").write_bytes(b'{"k": [1, 2, 3]}\n' * 500)
    (pkg / "blob.bin").write_bytes(rnd.randbytes(5_000))  # incompressible: stored
    (pkg / "daten_\u00fc.txt").write_bytes("gr\u00fc\u00dfe\n".encode())
    (root / "pkg.libs").mkdir()  # empty folder: not an entry
    bin_dir = root / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "tool"
    tool.write_bytes(b"#!/bin/sh\necho hi\n")
    tool.chmod(0o750)
    # Larger than the (test-sized) chunk: compressed in primed chunks.
    (root / "big.txt").write_bytes(_text(300_000, 3))
    # Larger than a chunk and incompressible: chunks are rewritten as a stored member.
    (root / "big_random.so").write_bytes(rnd.randbytes(150_000))
    # Enough small files for more than one batch, so worker counts > 1 use the pool.
    (root / "many").mkdir()
    for i in range(many):
        (root / "many" / f"m{i:03d}.py").write_bytes(_text(100 + i, 100 + i))
    return root


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunk large members at 64 KiB so the chunked path runs on small files.

    libdeflate compresses members up to WHOLE_MAX whole; lowering it to the chunk size
    keeps the chunked (zlib-ng) path running for the larger files of the test tree.
    """
    monkeypatch.setattr(archive, "CHUNK_SIZE", 64 * 1024)
    monkeypatch.setattr(archive, "WHOLE_MAX", 64 * 1024)
    return 64 * 1024


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One shared tree for the tests that only read it (building it is the slow part)."""
    return _make_tree(tmp_path_factory.mktemp("shared") / "tree")


@pytest.fixture
def own_tree(tmp_path: Path) -> Path:
    """A tree of this test's own, for tests that add links or special files to it."""
    return _make_tree(tmp_path / "tree", many=0)


@pytest.fixture(autouse=True)
def _no_env_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


def _files(tree: Path) -> dict[str, Path]:
    return {p.relative_to(tree).as_posix(): p for p in sorted(tree.rglob("*")) if p.is_file()}


def _unzip_t(path: Path) -> subprocess.CompletedProcess[str]:
    assert UNZIP is not None
    return subprocess.run([UNZIP, "-t", str(path)], capture_output=True, text=True, check=False)


# ---------------------------------------------------------------- determinism


def test_identical_bytes_across_runs_and_worker_counts(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digests = set()
    for n, workers in enumerate([1, 1, 2, 4, 2]):
        if n == 2:
            # Many small batches and a short window: results arrive out of order across
            # all four workers, and batching itself must not change the bytes.
            monkeypatch.setattr(archive, "_BATCH_FILES", 8)
            monkeypatch.setattr(archive, "_WINDOW_PER_WORKER", 2)
        # The last run's workers yield the CPU (as beside a build's import check).
        nice = 5 if n == 4 else 0
        result = write_layer_zip(tree, tmp_path / f"out{n}.zip", workers=workers, nice=nice)
        digests.add(hashlib.sha256(result.path.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_identical_bytes_for_a_copy_with_other_mtimes_and_umask(tree: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy)  # new inodes, new ctimes; different mtimes below
    for p in copy.rglob("*"):
        os.utime(p, (1_000_000_000, 1_000_000_000))
        if p.is_file() and not p.stat().st_mode & 0o111:
            p.chmod(0o600)  # permissions other than 0644 still store as 0644
    a = write_layer_zip(tree, tmp_path / "a.zip")
    b = write_layer_zip(copy, tmp_path / "b.zip")
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.code_sha256 == b.code_sha256


# -------------------------------------------------------------------- layout


def test_entries_are_sorted_files_under_python(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
    assert names == sorted(names)
    assert all(n.startswith("python/") for n in names)
    assert not any(n.endswith("/") for n in names)  # no directory entries
    assert not any(n.startswith("/") or ".." in n.split("/") for n in names)
    assert names == ["python/" + rel for rel in sorted(_files(tree))]
    assert result.entries == len(names)
    assert result.unzipped_bytes == sum(p.stat().st_size for p in _files(tree).values())


def test_custom_root(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "l.zip", root="python/lib/python3.12/site-packages")
    with zipfile.ZipFile(result.path) as zf:
        assert all(n.startswith("python/lib/python3.12/site-packages/") for n in zf.namelist())


@pytest.mark.parametrize("root", ["/python", "../python", "python/../x"])
def test_bad_root_is_rejected(tree: Path, tmp_path: Path, root: str) -> None:
    with pytest.raises(LayerError, match="relative"):
        write_layer_zip(tree, tmp_path / "l.zip", root=root)


def test_extracted_tree_matches_source_content_and_exec_bit(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip", workers=2)
    out = tmp_path / "extracted"
    with zipfile.ZipFile(result.path) as zf:
        zf.extractall(out)
        infos = {i.filename: i for i in zf.infolist()}
    for rel, src in _files(tree).items():
        got = out / "python" / rel
        assert got.read_bytes() == src.read_bytes(), rel
        mode = infos["python/" + rel].external_attr >> 16
        assert bool(mode & 0o111) == bool(src.stat().st_mode & 0o111), rel


def test_testzip_and_crc_clean(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None


@needs_unzip
def test_unzip_t_clean(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip", workers=2)
    proc = _unzip_t(result.path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No errors detected" in proc.stdout


def test_modes_attributes_and_no_varying_extras(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        infos = {i.filename: i for i in zf.infolist()}
    for info in infos.values():
        mode = info.external_attr >> 16
        assert mode in (stat.S_IFREG | 0o644, stat.S_IFREG | 0o755), (info.filename, oct(mode))
        assert info.create_system == 3
        assert info.extra == b""
        assert info.comment == b""
    assert infos["python/bin/tool"].external_attr >> 16 == stat.S_IFREG | 0o755
    assert infos["python/pkg/mod.py"].external_attr >> 16 == stat.S_IFREG | 0o644
    # The local headers carry no extras either (zip -r would add timestamps and uid/gid).
    raw = result.path.read_bytes()
    for info in infos.values():
        extra_len = int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little")
        assert extra_len == 0


def test_store_when_deflate_does_not_help(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        method = {i.filename: i.compress_type for i in zf.infolist()}
    assert method["python/pkg/blob.bin"] == zipfile.ZIP_STORED
    assert method["python/big_random.so"] == zipfile.ZIP_STORED  # chunked, then stored
    assert method["python/pkg/__init__.py"] == zipfile.ZIP_STORED  # empty
    assert method["python/pkg/mod.py"] == zipfile.ZIP_DEFLATED
    assert method["python/big.txt"] == zipfile.ZIP_DEFLATED  # chunked


def test_level_zero_stores_everything(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip", level=0, workers=2)
    with zipfile.ZipFile(result.path) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        assert zf.testzip() is None
        assert zf.read("python/big.txt") == (tree / "big.txt").read_bytes()


def test_chunked_member_is_one_valid_deflate_stream(tmp_path: Path, small_chunks: int) -> None:
    tree = tmp_path / "t"
    tree.mkdir()
    data = _text(small_chunks * 5 + 123, 9)
    (tree / "f.txt").write_bytes(data)
    result = write_layer_zip(tree, tmp_path / "l.zip", workers=2)
    with zipfile.ZipFile(result.path) as zf:
        info = zf.getinfo("python/f.txt")
        assert zlib.crc32(data) == info.CRC
    raw = result.path.read_bytes()
    start = info.header_offset + 30 + len(info.filename)
    stream = raw[start : start + info.compress_size]
    assert zlib.decompress(stream, -15) == data  # one raw stream, no trailing bytes


def test_progress_reports_every_byte(tree: Path, tmp_path: Path) -> None:
    seen: list[int] = []
    result = write_layer_zip(tree, tmp_path / "layer.zip", progress=seen.append)
    assert sum(seen) == result.unzipped_bytes
    assert len(seen) > 1


def test_result_fields(tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "layer.zip"
    result = write_layer_zip(tree, dest)
    assert result.path == dest
    assert result.zip_bytes == dest.stat().st_size
    assert result.code_sha256 == code_sha256(dest)


def test_code_sha256_is_base64_of_sha256(tmp_path: Path) -> None:
    f = tmp_path / "x.bin"
    data = random.Random(5).randbytes(3 * 1024 * 1024 + 7)  # spans several read blocks
    f.write_bytes(data)
    assert code_sha256(f) == base64.b64encode(hashlib.sha256(data).digest()).decode()


# -------------------------------------------------------------------- timestamps


def test_default_timestamp_is_1980(tree: Path, tmp_path: Path) -> None:
    result = write_layer_zip(tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_source_date_epoch_argument_and_environment(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    epoch = 1_700_000_001  # 2023-11-14 22:13:21 UTC; DOS time keeps even seconds
    a = write_layer_zip(tree, tmp_path / "a.zip", source_date_epoch=epoch)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(epoch))
    b = write_layer_zip(tree, tmp_path / "b.zip")
    for result in (a, b):
        with zipfile.ZipFile(result.path) as zf:
            assert {i.date_time for i in zf.infolist()} == {(2023, 11, 14, 22, 13, 20)}
    assert a.path.read_bytes() == b.path.read_bytes()
    # The argument wins over the environment.
    c = write_layer_zip(tree, tmp_path / "c.zip", source_date_epoch=0)
    with zipfile.ZipFile(c.path) as zf:
        assert zf.infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)  # clamped to zip's minimum


def test_bad_source_date_epoch_is_a_layer_error(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(LayerError, match="SOURCE_DATE_EPOCH"):
        write_layer_zip(tree, tmp_path / "layer.zip")
    assert not (tmp_path / "layer.zip").exists()


# ---------------------------------------------------------------------- symlinks


def test_symlink_inside_tree_is_stored_as_content(own_tree: Path, tmp_path: Path) -> None:
    (own_tree / "pkg" / "alias.py").symlink_to("mod.py")
    (own_tree / "linked_sub").symlink_to(own_tree / "pkg" / "sub", target_is_directory=True)
    result = write_layer_zip(own_tree, tmp_path / "layer.zip")
    with zipfile.ZipFile(result.path) as zf:
        assert zf.read("python/pkg/alias.py") == (own_tree / "pkg" / "mod.py").read_bytes()
        assert (
            zf.read("python/linked_sub/data.json") == (own_tree / "pkg/sub/data.json").read_bytes()
        )
        mode = zf.getinfo("python/pkg/alias.py").external_attr >> 16
    assert stat.S_ISREG(mode)  # a file, not a symlink entry


def test_symlink_out_of_tree_is_an_error(own_tree: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the layer")
    (own_tree / "pkg" / "leak.txt").symlink_to(secret)
    dest = tmp_path / "layer.zip"
    with pytest.raises(LayerError, match=r"leak\.txt.*outside"):
        write_layer_zip(own_tree, dest)
    assert not dest.exists()


def test_directory_symlink_out_of_tree_is_an_error(own_tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text("x = 1\n")
    (own_tree / "ext").symlink_to(outside, target_is_directory=True)
    with pytest.raises(LayerError, match="outside"):
        write_layer_zip(own_tree, tmp_path / "layer.zip")


def test_dangling_symlink_is_an_error(own_tree: Path, tmp_path: Path) -> None:
    (own_tree / "pkg" / "gone.py").symlink_to("does-not-exist.py")
    with pytest.raises(LayerError, match=r"gone\.py.*dangling"):
        write_layer_zip(own_tree, tmp_path / "layer.zip")


def test_symlink_loop_is_an_error(own_tree: Path, tmp_path: Path) -> None:
    (own_tree / "pkg" / "sub" / "up").symlink_to(own_tree / "pkg", target_is_directory=True)
    with pytest.raises(LayerError, match="loop"):
        write_layer_zip(own_tree, tmp_path / "layer.zip")


def test_fifo_is_an_error(own_tree: Path, tmp_path: Path) -> None:
    os.mkfifo(own_tree / "pipe")
    with pytest.raises(LayerError, match="not a regular file"):
        write_layer_zip(own_tree, tmp_path / "layer.zip")


def test_empty_tree_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty" / "only-folders").mkdir(parents=True)
    with pytest.raises(LayerError, match="no files"):
        write_layer_zip(tmp_path / "empty", tmp_path / "layer.zip")


# ------------------------------------------------------------------------ ZIP64


@pytest.fixture
def fast_tmp(tmp_path: Path) -> Iterator[Path]:
    """A scratch folder in memory (tmpfs) when there is one, else ``tmp_path``.

    Creating 70,000 files is a metadata storm: about a second on tmpfs, but it was
    measured at over a minute on this VM's ext4 disk while other jobs ran.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="test-archive-") as folder:
        yield Path(folder)


def test_zip64_for_more_than_65535_entries(fast_tmp: Path) -> None:
    tmp_path = fast_tmp
    tree = tmp_path / "many"
    count = 70_000
    for d in range(70):
        sub = tree / f"d{d:02d}"
        sub.mkdir(parents=True)
        for i in range(count // 70):
            os.close(os.open(sub / f"f{i:04d}", os.O_CREAT | os.O_WRONLY, 0o644))
    result = write_layer_zip(tree, tmp_path / "many.zip")
    assert result.entries == count
    raw = result.path.read_bytes()
    assert raw[-22:-20] == b"PK" and int.from_bytes(raw[-12:-10], "little") == 0xFFFF
    assert b"PK\x06\x06" in raw[-200:] and b"PK\x06\x07" in raw[-200:]  # ZIP64 end records
    with zipfile.ZipFile(result.path) as zf:
        names = zf.namelist()
        assert len(names) == count
        assert names[0] == "python/d00/f0000" and names[-1] == "python/d69/f0999"
        assert zf.read(names[-1]) == b""  # the last local header is found via ZIP64 offsets
    if UNZIP is not None:
        proc = _unzip_t(result.path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


def test_zip64_fields_for_large_sizes_and_offsets(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every size and offset takes the ZIP64 form, as it would above 4 GiB.

    Writing 4 GiB in a unit test is too slow, so the threshold is lowered: the same
    code writes the ZIP64 extras, and both zipfile and unzip must read them back.
    """
    monkeypatch.setattr(archive, "_ZIP64_LIMIT", 0)
    monkeypatch.setattr(archive, "_ZIP64_COUNT", 0)
    result = write_layer_zip(tree, tmp_path / "layer.zip", workers=2)
    out = tmp_path / "extracted"
    with zipfile.ZipFile(result.path) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            assert info.extract_version == 45
        zf.extractall(out)
    for rel, src in _files(tree).items():
        assert (out / "python" / rel).read_bytes() == src.read_bytes(), rel
    raw = result.path.read_bytes()
    first = zipfile.ZipFile(result.path).infolist()[0]
    local_sizes = raw[first.header_offset + 18 : first.header_offset + 26]
    assert local_sizes == b"\xff" * 8  # sizes live in the local ZIP64 extra
    if UNZIP is not None:
        proc = _unzip_t(result.path)
        assert proc.returncode == 0, proc.stdout + proc.stderr


# `once`: 4 GiB streamed through the writer; the ZIP64 fields are also checked on every
# Python by test_zip64_for_more_than_65535_entries.
@pytest.mark.once
@pytest.mark.slow
def test_zip64_member_over_4_gib(fast_tmp: Path) -> None:
    """A real member over 4 GiB (sparse zeros: no disk space, but ~15 s to deflate)."""
    tree = fast_tmp / "big"
    tree.mkdir()
    size = 4 * 1024**3 + 12_345
    with open(tree / "zeros.bin", "wb") as fh:
        fh.truncate(size)
    (tree / "z_after.txt").write_text("after the big one\n")
    result = write_layer_zip(tree, fast_tmp / "big.zip", workers=2)
    with zipfile.ZipFile(result.path) as zf:
        info = zf.getinfo("python/zeros.bin")
        assert info.file_size == size
        assert info.extract_version == 45
        assert zf.read("python/z_after.txt") == b"after the big one\n"
        with zf.open(info) as member:  # parses the big member's local header
            assert member.read(1 << 16) == bytes(1 << 16)
    if UNZIP is not None:
        # Testing the whole 4 GiB would take another 20 s; the central directory
        # (with the ZIP64 entry) is still read in full.
        proc = subprocess.run(
            [UNZIP, "-t", str(result.path), "python/z_after.txt"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------- failure safety


def test_unwritable_destination_is_a_layer_error(tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the dist folder should be")
    with pytest.raises(LayerError, match=r"cannot write the layer zip .*not-a-folder"):
        write_layer_zip(tree, blocker / "layer.zip")
    assert blocker.read_text() == "a file where the dist folder should be"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_permission_denied_is_a_layer_error(tree: Path, tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    dist.mkdir()
    dist.chmod(0o500)
    try:
        with pytest.raises(LayerError, match="cannot write the layer zip"):
            write_layer_zip(tree, dist / "layer.zip")
        assert list(dist.iterdir()) == []
    finally:
        dist.chmod(0o700)


def test_write_failure_midway_leaves_dest_untouched(tree: Path, tmp_path: Path) -> None:
    """A disk that fills up mid-write (here: the file-size limit) keeps the old zip."""
    dist = tmp_path / "dist"
    dist.mkdir()
    dest = dist / "layer.zip"
    dest.write_bytes(b"previous build")
    old_limit = resource.getrlimit(resource.RLIMIT_FSIZE)
    old_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG, not a kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, old_limit[1]))
    try:
        with pytest.raises(LayerError, match=r"cannot write the layer zip .*layer\.zip"):
            write_layer_zip(tree, dest)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, old_limit)
        signal.signal(signal.SIGXFSZ, old_handler)
    assert dest.read_bytes() == b"previous build"
    assert [p.name for p in dist.iterdir()] == ["layer.zip"]  # no temporary file left


def test_replaces_existing_dest(tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "layer.zip"
    dest.write_bytes(b"old")
    result = write_layer_zip(tree, dest)
    assert zipfile.is_zipfile(dest)
    assert result.zip_bytes == dest.stat().st_size


# ----------------------------------------------------------- stdlib fallback


def test_stdlib_zlib_fallback_is_valid_and_deterministic(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "zlib_ng", None)  # `import zlib_ng` now fails
    monkeypatch.setitem(sys.modules, "deflate", None)  # and so does libdeflate's
    assert deflate_backend().startswith("zlib ")
    a = write_layer_zip(tree, tmp_path / "a.zip", workers=1)
    b = write_layer_zip(tree, tmp_path / "b.zip", workers=2)
    c = write_layer_zip(tree, tmp_path / "c.zip", workers=1)
    assert a.path.read_bytes() == b.path.read_bytes() == c.path.read_bytes()
    with zipfile.ZipFile(a.path) as zf:
        assert zf.testzip() is None
        assert zf.read("python/big.txt") == (tree / "big.txt").read_bytes()


@pytest.mark.parametrize("backend", ["zlib", "zlib-ng"])
def test_crc32_combine(backend: str) -> None:
    crc32 = archive._deflate_module(backend).crc32
    rnd = random.Random(7)
    for a_len, b_len in [(0, 0), (0, 5), (5, 0), (1000, 70_000), (65_536, 65_536)]:
        a, b = rnd.randbytes(a_len), rnd.randbytes(b_len)
        combined = archive._crc32_combine(crc32, zlib.crc32(a), zlib.crc32(b), b_len)
        assert combined == zlib.crc32(a + b)


# ------------------------------------------------------------ libdeflate path


def test_libdeflate_and_streamed_members_mix_deterministically(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("deflate")
    # Members up to 100 KB whole through libdeflate, the 150 KB one streamed in chunks.
    monkeypatch.setattr(archive, "WHOLE_MAX", 100_000)
    assert deflate_backend().startswith("libdeflate")
    a = write_layer_zip(tree, tmp_path / "a.zip", workers=1)
    b = write_layer_zip(tree, tmp_path / "b.zip", workers=2)
    assert a.path.read_bytes() == b.path.read_bytes()
    with zipfile.ZipFile(a.path) as zf:
        assert zf.testzip() is None
        for info in zf.infolist():
            source = tree / info.filename.removeprefix("python/")
            assert zf.read(info) == source.read_bytes()
    if shutil.which("unzip"):
        subprocess.run(["unzip", "-tq", str(a.path)], check=True)
    # Without libdeflate the same tree gives other (equally valid) bytes: the backend
    # is part of what a build's cache key must name.
    monkeypatch.setitem(sys.modules, "deflate", None)
    c = write_layer_zip(tree, tmp_path / "c.zip", workers=1)
    assert c.path.read_bytes() != a.path.read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_files_added_after_the_listing_come_only_through_then(
    own_tree: Path, tmp_path: Path, workers: int
) -> None:
    """The build's import check writes pycs into the tree while the zip runs: it starts
    when ``listed`` is called, and only what ``then`` returns is added, after the rest."""
    added = own_tree / "pkg" / "__pycache__" / "mod.cpython-312.pyc"
    stray = own_tree / "pkg" / "__pycache__" / "other.cpython-312.pyc"
    calls: list[str] = []

    def listed() -> None:
        calls.append("listed")
        added.parent.mkdir()
        added.write_bytes(b"pyc" * 100)
        stray.write_bytes(b"not listed")

    def then() -> list[str]:
        calls.append("then")
        return ["pkg/__pycache__/mod.cpython-312.pyc"]

    dest = tmp_path / "out.zip"
    write_layer_zip(own_tree, dest, workers=workers, listed=listed, then=then)
    assert calls == ["listed", "then"]
    with zipfile.ZipFile(dest) as zf:
        names = zf.namelist()
        assert zf.read("python/pkg/__pycache__/mod.cpython-312.pyc") == b"pyc" * 100
    assert names[-1] == "python/pkg/__pycache__/mod.cpython-312.pyc"
    assert names[:-1] == sorted(names[:-1])
    assert "python/pkg/__pycache__/other.cpython-312.pyc" not in names
