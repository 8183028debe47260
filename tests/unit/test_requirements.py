from __future__ import annotations

from pathlib import Path

import pytest

from layer_tasks.build.requirements import compare_union, read_requirements, require_non_empty
from layer_tasks.errors import LayerError


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_includes_markers_hashes_and_options(tmp_path: Path) -> None:
    write(tmp_path / "base.txt", "requests==2.32.4 \\\n    --hash=sha256:abc\n")
    root = write(
        tmp_path / "all.txt",
        "# comment\n--index-url https://example.invalid/simple\n-r base.txt\n"
        "numpy==1.26.4 ; python_version >= '3.10'  # trailing comment\n-c cons.txt\n",
    )
    write(tmp_path / "cons.txt", "urllib3<3\n")
    reqs = read_requirements(root)
    assert [r.key for r in reqs.requirements] == ["requests", "numpy"]
    assert str(reqs.requirements[1].requirement.marker) == 'python_version >= "3.10"'
    assert reqs.options == ["--index-url https://example.invalid/simple"]
    # Constraints are read (they change the install) but are not requirements.
    assert len(reqs.sources) == 3


def test_sha_changes_when_an_included_file_changes(tmp_path: Path) -> None:
    inc = write(tmp_path / "inc.txt", "six==1.16.0\n")
    root = write(tmp_path / "all.txt", "-r inc.txt\n")
    first = read_requirements(root).sha256
    write(inc, "six==1.17.0\n")
    assert read_requirements(root).sha256 != first


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00bad", "not UTF-8"),
        ("numpy===\n", r"all.txt:1: invalid requirement"),
        ("-e ./local\n", "editable"),
        ("--frobnicate\n", "unknown option"),
        ("./some/path\n", "bare URL or path"),
        ("-r all.txt\n", "includes itself"),
    ],
)
def test_bad_files_fail_with_file_and_reason(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    root = write(tmp_path / "all.txt", content)
    with pytest.raises(LayerError, match=message):
        read_requirements(root)


def test_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match="not found"):
        read_requirements(tmp_path / "nope.txt")
    empty = read_requirements(write(tmp_path / "e.txt", "# nothing\n\n"))
    with pytest.raises(LayerError, match="lists no requirements"):
        require_non_empty(empty)


def test_union_equal_despite_spelling(tmp_path: Path) -> None:
    all_ = read_requirements(
        write(tmp_path / "all.txt", "SQLAlchemy==2.0.32\npython_dateutil==2.9.0.post0\n")
    )
    a = read_requirements(write(tmp_path / "a.txt", "sqlalchemy == 2.0.32\n"))
    b = read_requirements(write(tmp_path / "b.txt", "python-dateutil==2.9.0.post0\n"))
    assert compare_union(all_, [a, b]) == []


def test_union_reports_missing_extra_and_conflicts(tmp_path: Path) -> None:
    all_ = read_requirements(
        write(tmp_path / "all.txt", "numpy==1.26.4\nrequests==2.32.4\nextra==1\n")
    )
    a = read_requirements(write(tmp_path / "a.txt", "numpy==1.26.3\nboto3==1\n"))
    b = read_requirements(write(tmp_path / "b.txt", "requests==2.32.4\n"))
    c = read_requirements(write(tmp_path / "c.txt", "requests==2.31.0\n"))
    problems = {(p.kind, p.name) for p in compare_union(all_, [a, b, c])}
    assert problems == {
        ("conflict", "numpy"),
        ("missing", "boto3"),
        ("extra", "extra"),
        ("conflict", "requests"),
    }


def test_repository_sets_are_consistent() -> None:
    repo = Path(__file__).resolve().parents[2]
    unified = read_requirements(repo / "requirements-all.txt")
    parts = [
        read_requirements(repo / f"requirements-{n}.txt") for n in ("ai", "db", "utils", "numpy")
    ]
    assert compare_union(unified, parts) == []
    assert len(unified.requirements) == 9


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("-r https://u:IncPw1234@h.example/r.txt", "-r https://u:***@h.example/r.txt"),
        (
            "--constraint=http://TokIncl99@h.example/c.txt",
            "--constraint http://***@h.example/c.txt",
        ),
        ("-r file:///srv/shared/reqs.txt", "-r file:///srv/shared/reqs.txt"),
        ("-c https:/h.example/c.txt", "-c https:/h.example/c.txt"),  # pip's URL too
    ],
)
def test_a_url_include_is_refused_before_anything_reads_it(
    tmp_path: Path, line: str, shown: str
) -> None:
    root = write(tmp_path / "all.txt", f"six==1.17.0\n{line}\n")
    with pytest.raises(LayerError) as info:
        read_requirements(root)
    assert info.value.message == (
        f"{root}:2: {shown} is a URL, and -r/-c files are read from disk only: download it "
        "beside all.txt and give its path"
    )
    assert not (tmp_path / "https:").exists() and not (tmp_path / "http:").exists()


def test_a_file_name_with_a_colon_is_still_a_file(tmp_path: Path) -> None:
    write(tmp_path / "reqs:v2.txt", "six==1.17.0\n")
    root = write(tmp_path / "all.txt", "-r reqs:v2.txt\n")
    assert [r.key for r in read_requirements(root).requirements] == ["six"]


def test_every_url_a_requirements_file_holds_is_a_known_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A password in a wheel URL is masked in whatever form an installer prints it (uv
    percent-encodes a path, moves the userinfo after the project folder)."""
    from urllib.parse import quote

    from layer_tasks.util import redact

    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    root = write(
        tmp_path / "all.txt",
        "alpha @ file://user:WheelPw77@localhost/w/alpha-1.0-py3-none-any.whl\n"
        "beta @ https://BetaTok88@files.example/beta-2.0-py3-none-any.whl\n",
    )
    read_requirements(root)
    printed = f"at file:///p/{quote('user:WheelPw77@localhost')}/w and /p/BetaTok88@files/x"
    out = redact.redact(printed, {})
    assert "WheelPw77" not in out and "BetaTok88" not in out, out


@pytest.mark.parametrize(
    ("line", "password"),
    [
        ("--index-url http://user:Zq'x9w7K@127.0.0.1:5066/simple/", "Zq'x9w7K"),
        ('--extra-index-url http://user:Dq"7Kx2Lm@127.0.0.1:1/simple/', 'Dq"7Kx2Lm'),
        # A password shlex would unescape: the line's own spelling is the one printed.
        ("--index-url 'http://user:Ab\\'c\"d9@h/simple/", "Ab\\'c\"d9"),
    ],
)
def test_an_option_line_that_cannot_be_split_is_a_known_secret_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, password: str
) -> None:
    """A1/A2: the URLs were registered only after shlex split the line; a quote in the
    password stopped shlex, and the error quoted the line with the password in clear."""
    from layer_tasks.util import redact

    monkeypatch.setattr(redact, "_SECRETS", redact._Secrets())
    root = write(tmp_path / "all.txt", f"{line}\nalpha==1.0\n")
    with pytest.raises(LayerError, match="cannot parse option line") as caught:
        read_requirements(root)
    out = redact.redact(str(caught.value), {})
    assert password not in out and "No closing quotation" in out, out
    # The value itself, wherever it is printed, not only its URL shape.
    assert redact.redact(f"password {password} and {password!r}", {}).count("***") == 2
