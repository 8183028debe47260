"""No URL credentials in any file the tool writes (issue 20, section 1).

A build and a deploy run as a user types them (``inv`` in a subprocess) with a
password in every URL that can reach a file: a wheel URL in the requirements file and
in another tool's ``pylock.toml`` beside it (the SBOM reads every lock there), pip's
index URL, ``AWS_ENDPOINT_URL``. Then every file under the project (the dist folder and
the state folder included), the step summary, every member of the zip and every S3
object is searched for the password's core: a run of letters and digits that every
printed form keeps (raw, url-quoted, JSON- or ``repr``-escaped), so its absence means no
form of the password is there. The same after a build that fails, and for a lock that
holds credentials, which is refused (docs/lock.md).
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import inv, make_project
from support.faults import MotoServer, client

CORE = "PwCoreK7j6h5"
# '@' and '/' in a password are percent-encoded in a URL; the decoded form counts too.
PASSWORD = f"p%40ss%2F{CORE}"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def files_server(wheelhouse: Path) -> Iterator[str]:
    """The wheelhouse over plain http (credentials in the URL are sent, and ignored)."""
    handler = functools.partial(_Quiet, directory=str(wheelhouse))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def leaks(root: Path, *extra: Path) -> list[str]:
    """Every file (and zip member) under ``root`` and in ``extra`` holding the core."""
    found = []
    for path in [*root.rglob("*"), *extra]:
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if CORE.encode() in data:
            found.append(str(path))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as zf:
                found += [f"{path}!{n}" for n in zf.namelist() if CORE.encode() in zf.read(n)]
    return found


def s3_leaks(endpoint: str) -> list[str]:
    s3 = client(endpoint, "s3")
    found = []
    for bucket in s3.list_buckets().get("Buckets", []):
        for item in s3.list_objects_v2(Bucket=bucket["Name"]).get("Contents", []):
            body = s3.get_object(Bucket=bucket["Name"], Key=item["Key"])["Body"].read()
            if CORE.encode() in body:
                found.append(f"s3://{bucket['Name']}/{item['Key']}")
    return found


def other_tools_lock(project: Path, wheelhouse: Path, host: str) -> None:
    """A pylock.toml made by another tool, whose wheel URL carries the password."""
    wheel = wheelhouse / "alpha-1.0-py3-none-any.whl"
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    (project / "pylock.toml").write_text(
        'lock-version = "1.0"\ncreated-by = "another-tool"\n\n[[packages]]\n'
        'name = "alpha"\nversion = "1.0"\n'
        f'wheels = [{{ url = "http://user:{PASSWORD}@{host}/{wheel.name}", '
        f'hashes = {{ sha256 = "{digest}" }} }}]\n',
        encoding="utf-8",
    )


def wheel_url_project(tmp_path: Path, wheelhouse: Path, host: str, wheel: str) -> Path:
    """A project whose requirement is a wheel URL with the password in it, beside another
    tool's lock that names alpha's wheel by a URL with the password too."""
    project = make_project(tmp_path / "p", wheelhouse)
    (project / "requirements-all.txt").write_text(
        f"--no-index\n--find-links {wheelhouse}\nalpha @ http://user:{PASSWORD}@{host}/{wheel}\n",
        encoding="utf-8",
    )
    other_tools_lock(project, wheelhouse, host)
    return project


def the_users_inputs(project: Path) -> set[Path]:
    # What the user wrote is theirs: their requirements file and their other tool's lock.
    return {project / "requirements-all.txt", project / "pylock.toml"}


def test_no_url_credentials_in_any_file_a_build_and_a_deploy_write(
    tmp_path: Path, wheelhouse: Path, files_server: str, server: MotoServer
) -> None:
    server.reset()
    project = wheel_url_project(tmp_path, wheelhouse, files_server, "alpha-1.0-py3-none-any.whl")
    summary = tmp_path / "summary.md"
    port = server.url.rsplit(":", 1)[1]
    env = {
        "AWS_ENDPOINT_URL": f"http://user:{PASSWORD}@127.0.0.1:{port}",
        "PIP_INDEX_URL": f"http://user:{PASSWORD}@127.0.0.1:9/simple",
        "GITHUB_STEP_SUMMARY": str(summary),
        "INVOKE_LAYER_PRUNE_DIST_INFO": "false",  # direct_url.json stays in the layer
    }
    build = inv(project, "layer.build", env=env)
    assert build.returncode == 0, build.stderr
    sbom = (project / "dist" / "test-layer.cdx.json").read_text()
    assert f"http://{files_server}/alpha-1.0-py3-none-any.whl" in sbom  # the URL, clean
    deploy = inv(project, "layer.deploy", env=env)
    assert deploy.returncode == 0, deploy.stderr
    size = inv(project, "layer.size-report", "--html", "size.html", env=env)
    assert size.returncode == 0, size.stderr

    assert CORE not in build.stdout + build.stderr + deploy.stdout + deploy.stderr
    found = [
        p for p in leaks(project, summary) if Path(p.split("!")[0]) not in the_users_inputs(project)
    ]
    assert found == []
    assert s3_leaks(server.url) == []


def test_no_url_credentials_after_a_failed_build(
    tmp_path: Path, wheelhouse: Path, files_server: str
) -> None:
    project = wheel_url_project(tmp_path, wheelhouse, files_server, "no-such-1.0-py3-none-any.whl")
    build = inv(project, "layer.build", env={"INVOKE_LAYER_INDEX_RETRIES": "0"})
    assert build.returncode == 1
    assert CORE not in build.stdout + build.stderr
    found = [p for p in leaks(project) if Path(p.split("!")[0]) not in the_users_inputs(project)]
    assert found == []


def test_a_lock_with_credentials_in_a_url_is_refused_and_nothing_keeps_them(
    tmp_path: Path, wheelhouse: Path, files_server: str
) -> None:
    project = make_project(tmp_path / "p", wheelhouse, "alpha==1.0")
    assert inv(project, "layer.lock").returncode == 0
    lock = project / "pylock.test-layer-x86_64.toml"
    text = lock.read_text()
    lock.write_text(
        text.replace(f"file://{wheelhouse}", f"http://user:{PASSWORD}@{files_server}"),
        encoding="utf-8",
    )
    build = inv(project, "layer.build")
    errors = [line for line in build.stderr.splitlines() if line.startswith("error:")]
    assert build.returncode == 1 and len(errors) == 1, build.stderr
    assert "pylock.test-layer-x86_64.toml holds credentials in a URL" in errors[0]
    assert "http://user:***@127.0.0.1" in errors[0]
    assert CORE not in build.stdout + build.stderr
    assert [p for p in leaks(project) if Path(p) != lock] == []


def test_locking_a_wheel_url_with_credentials_leaves_them_nowhere(
    tmp_path: Path, wheelhouse: Path, files_server: str
) -> None:
    """uv copies a requirement's wheel URL into its lock password and all; `inv layer.lock`
    cleans what it keeps (and its own record of the requirement lines). Such a URL is
    locked as an archive, which a layer cannot take, so the lock is refused; nothing,
    its scratch copy in the state folder included, keeps the password."""
    project = wheel_url_project(tmp_path, wheelhouse, files_server, "alpha-1.0-py3-none-any.whl")
    lock = inv(project, "layer.lock")
    assert lock.returncode == 1
    assert "locks alpha as a source, not a wheel" in lock.stderr
    assert CORE not in lock.stdout + lock.stderr
    found = [p for p in leaks(project) if Path(p.split("!")[0]) not in the_users_inputs(project)]
    assert found == []
