"""A user-given output path (issue 20, section 2): an earlier page of the same kind is
replaced, another file only with --force, a file the tool manages or reads never."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path

import pytest

from layer_tasks.build.install import installer_inputs
from layer_tasks.config.settings import LayerSettings
from layer_tasks.errors import LayerError
from layer_tasks.report.html import GENERATOR, is_size_page, render
from layer_tasks.report.managed import managed_files
from layer_tasks.report.output_path import check_file_name, check_output, check_settings


def check(path: Path, settings: LayerSettings, force: bool = False) -> None:
    check_output(path, [settings], flag="--html", ours=is_size_page, force=force)


REPORT = {
    "name": "x",
    "runtime": "python3.12",
    "architecture": "x86_64",
    "distributions": [],
    "unzipped_bytes": 0,
    "zip_bytes": 0,
    "limits": {"unzipped_limit_bytes": 262_144_000, "direct_upload_limit_bytes": 52_428_800},
    "budget": {"budget_bytes": 262_144_000, "reserve_bytes": 0, "margin_bytes": 1, "over": False},
}


def test_an_earlier_page_is_replaced_without_force(settings: LayerSettings, tmp_path: Path) -> None:
    page = tmp_path / "size.html"
    page.write_text(render(REPORT), encoding="utf-8")
    check(page, settings)
    check(tmp_path / "new.html", settings)  # a new file: nothing to replace


@pytest.mark.parametrize(
    "text",
    [
        f"# Notes\n\nThe page says `{GENERATOR}`.\n",  # quotes the marker
        f"<!DOCTYPE html>\n<head>\n{GENERATOR}\n</head>\n",  # not the page's prologue
        "  " + render(REPORT),  # the page, after something else
    ],
)
def test_only_the_pages_own_prologue_makes_a_page(tmp_path: Path, text: str) -> None:
    (tmp_path / "doc").write_text(text, encoding="utf-8")
    assert not is_size_page(tmp_path / "doc")
    assert not is_size_page(tmp_path)  # a folder


def test_another_file_needs_force(settings: LayerSettings, tmp_path: Path) -> None:
    page = tmp_path / "notes.html"
    page.write_text("<p>mine</p>\n", encoding="utf-8")
    with pytest.raises(LayerError, match="exists and is not a page this command wrote"):
        check(page, settings)
    check(page, settings, force=True)


def test_a_hard_link_to_the_config_is_the_config(settings: LayerSettings, tmp_path: Path) -> None:
    link = tmp_path / "page.html"
    os.link(settings.chalice_config, link)
    with pytest.raises(LayerError, match="is the Chalice config"):
        check(link, settings, force=True)


def test_what_the_tool_manages(settings: LayerSettings) -> None:
    names = {entry.path.name for entry in managed_files([settings])}
    assert {
        "config.json",
        "config.json.bak",
        ".layer-arn.txt",
        "test-layer.zip",
        "test-layer.manifest.json",
        "test-layer.cdx.json",
        "test-layer.arns.json",
        "pylock.test-layer-x86_64.toml",
        "requirements-all.txt",
        "requirements-a.txt",  # a split file
        "invoke.yaml",
        "tasks.py",
        "app.py",  # the Chalice app's, and what init writes
        "chalicelib",
        "vendor",
        "requirements.txt",
        ".gitignore",
        "layer-tasks.yml",
        "pip.conf",  # what the installer and boto3 read
        "uv.toml",
        ".netrc",
    } <= names


def test_the_default_paths_clash_with_nothing(settings: LayerSettings) -> None:
    check_settings(settings)


@pytest.mark.parametrize(
    ("given", "start"),
    [
        ((), "layer.chalice_config (.chalice/config.json) is the ARN file (layer.arn_file)"),
        (
            ("arn_file",),
            "layer.arn_file (.chalice/config.json) is the Chalice config (layer.chalice_config)",
        ),
    ],
)
def test_a_clash_names_both_keys_the_changed_one_first(
    settings: LayerSettings, given: tuple[str, ...], start: str
) -> None:
    clash = replace(settings, arn_file=settings.chalice_config)
    with pytest.raises(LayerError) as raised:
        check_settings(clash, given=given)
    assert raised.value.message.startswith(start)


def test_only_local_paths_the_installer_is_told_to_read_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B2-B3: variables and pip.conf keys that name files or --find-links places; a URL
    is not a file here, uv's lists take commas, pip.conf's [install] counts too."""
    conf = tmp_path / "pip.conf"
    conf.write_text("[install]\nconstraint = c.txt https://h/c.txt\nfind_links = wh\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    monkeypatch.setenv("UV_OVERRIDE", "o.txt,https://h/o.txt")
    monkeypatch.setenv("PIP_FIND_LINKS", "file:///srv/wh https://h/simple")
    for name in ("PIP_CONSTRAINT", "PIP_REQUIREMENT", "UV_CONSTRAINT", "UV_BUILD_CONSTRAINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("UV_FIND_LINKS", raising=False)
    found = {(path, links) for path, _what, links in installer_inputs(tmp_path)}
    mine = {(p, links) for p, links in found if tmp_path in p.parents or "h" in p.parts}
    assert mine == {
        (tmp_path / "o.txt", False),
        (tmp_path / "c.txt", False),
        (tmp_path / "wh", True),
    }
    assert not any(
        p.is_relative_to("/srv") for p, _ in found
    )  # the host's own pip.conf may add more


def test_only_the_files_directly_in_a_find_links_folder_count(
    settings: LayerSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """B1: the installer lists a --find-links folder, not its subfolders."""
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(LayerError, match="is inside the --find-links place"):
        check(tmp_path / "x.whl", settings, force=True)
    (tmp_path / "sub").mkdir()
    check(tmp_path / "sub" / "x.html", settings, force=True)
    # Only what an installer takes from such a folder: with `--find-links .` the
    # project's own files there (the ARN file, notes) are not the installer's.
    check(tmp_path / "notes.txt", settings, force=True)


def test_find_links_dot_leaves_the_projects_own_files_alone(
    settings: LayerSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_FIND_LINKS", str(settings.base_dir))
    check_settings(settings)  # the ARN file, the state folder: beside the wheels, not them
    with pytest.raises(LayerError, match="is inside the --find-links place"):
        check(settings.base_dir / "alpha-1.0-py3-none-any.whl", settings, force=True)


@pytest.mark.parametrize("value", ["", "page.html/"])
def test_an_empty_value_or_a_folder_name_is_no_file(value: str) -> None:
    """J."""
    with pytest.raises(LayerError, match=r"^--html (is empty|page\.html/ ends in a separator)"):
        check_file_name("--html", value)


def test_a_lock_that_is_also_an_include_clashes(settings: LayerSettings) -> None:
    """C: the lock and the file it is included from come from one setting; an own
    lock read back (the SBOM's hashes) is no clash."""
    check_settings(settings)
    lock = settings.requirements.with_name(f"pylock.{settings.name}-x86_64.toml")
    lock.write_text("gamma==1.0\n", encoding="utf-8")
    check_settings(settings)  # beside the requirements: read back as a lock only
    text = settings.requirements.read_text(encoding="utf-8")
    settings.requirements.write_text(f"-r {lock.name}\n" + text, encoding="utf-8")
    with pytest.raises(LayerError, match=r"\(its lock, .*\) is also a requirements file"):
        check_settings(settings)


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("credential_process", "cred.sh"),
        ("ca_bundle", "ca.pem"),
        ("web_identity_token_file", "tok.jwt"),
    ],
)
def test_what_the_aws_config_names_is_never_replaced(
    key: str, name: str, settings: LayerSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """H2, H3: the program credential_process runs, the CA bundle and the token file that
    the AWS config file names are read (or run) by boto3's chain, like the file itself."""
    target = tmp_path / name
    target.write_text("#!/bin/sh\nexit 1\n")
    value = f"{target} --profile x" if key == "credential_process" else str(target)
    (tmp_path / "awsconfig").write_text(f"[profile x]\n{key} = {value}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "awsconfig"))
    with pytest.raises(LayerError, match=rf"^--html {re.escape(str(target))} is .*\[profile x\]"):
        check(target, settings, force=True)
    assert target.read_text() == "#!/bin/sh\nexit 1\n"


@pytest.mark.parametrize(
    "variable", ["PIP_CERT", "PIP_CLIENT_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"]
)
def test_the_certificates_the_installer_reads_are_never_replaced(
    variable: str, settings: LayerSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """H4."""
    cert = tmp_path / "ca.pem"
    cert.write_text("PEM\n")
    monkeypatch.setenv(variable, str(cert))
    with pytest.raises(LayerError, match=rf"\({variable}\), which the tool manages or reads"):
        check(cert, settings, force=True)
    assert cert.read_text() == "PEM\n"
