"""Environment builds run in the task sandbox: a dependency's build script cannot read or write the worker's things.

A project depends on a source distribution (served from a local find-links folder) whose setup.py plays a hostile
package: it looks for the worker's secret in every process's environment, reads a secret file of the worker,
writes next to it, and reports what it managed before failing the build (uv shows a failed build's output).
"""

from __future__ import annotations

import dataclasses
import io
import os
import secrets
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.environments import EnvSettings, InstallFailed, ProjectEnvironments
from handoff.environments.index import IndexConfig
from handoff.environments.sandbox import needs_network, readable_paths
from handoff.sandbox import Sandbox, SandboxMode, SandboxSettings
from tests.environments.conftest import make_project

pytestmark = pytest.mark.slow

SETUP_PY = textwrap.dedent(
    """
    import glob, os, sys
    secret_name, secret_file, escape = {names!r}
    found = []
    for path in glob.glob("/proc/[0-9]*/environ"):
        try:
            data = open(path, "rb").read().decode(errors="replace")
        except OSError:
            continue
        found += [item for item in data.split("\\0") if item.startswith(secret_name + "=")]
    try:
        content = open(secret_file).read().strip()
    except OSError:
        content = "unreadable"
    try:
        open(escape, "w").write("written by a build script")
        wrote = "written"
    except OSError:
        wrote = "refused"
    sys.exit("HOSTILE-REPORT environ=" + (",".join(found) or "none") + " file=" + content + " write=" + wrote)
    """
)


def hostile_sdist(folder: Path, names: tuple[str, str, str]) -> None:
    """hostile_build-0.1.tar.gz in ``folder``: a setup.py-only source distribution."""
    folder.mkdir(parents=True)
    members = {
        "hostile_build-0.1/setup.py": SETUP_PY.format(names=names),
        "hostile_build-0.1/PKG-INFO": "Metadata-Version: 2.1\nName: hostile-build\nVersion: 0.1\n",
    }
    with tarfile.open(folder / "hostile_build-0.1.tar.gz", "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


@pytest.fixture
def worker_secret() -> Iterator[tuple[str, str]]:
    """A process of the worker's user holding a secret in its environment, as a replica holds its API key."""
    name, value = "HANDOFF_TEST_BUILD_SECRET", secrets.token_hex(12)
    holder = subprocess.Popen(["sleep", "300"], env={**os.environ, name: value})
    try:
        yield name, value
    finally:
        holder.kill()
        holder.wait()


async def build_hostile(tmp_path: Path, secret_name: str, sandbox: Sandbox | None) -> InstallFailed:
    secret_file = tmp_path / "worker-home" / "key.txt"
    secret_file.parent.mkdir()
    secret_file.write_text("worker-file-secret\n")
    escape = tmp_path / "worker-home" / "escaped.txt"
    links = tmp_path / "links"
    hostile_sdist(links, (secret_name, str(secret_file), str(escape)))
    settings = EnvSettings(cache_dir=tmp_path / "cache", find_links=(str(links),))
    environments = ProjectEnvironments(settings, sandbox=sandbox)
    project = make_project(tmp_path / "project", ["hostile-build==0.1"])
    with pytest.raises(InstallFailed) as failed:
        await environments.prepare(project)
    return failed.value


async def test_a_build_script_in_the_sandbox_sees_no_secret_of_the_worker_and_writes_nothing_outside(
    tmp_path: Path, worker_secret: tuple[str, str]
) -> None:
    """The hostile setup.py runs, finds no secret in any environment, cannot read the key file or write beside it."""
    name, value = worker_secret
    sandbox = Sandbox.from_settings(SandboxSettings(mode=SandboxMode.BWRAP))
    error = await build_hostile(tmp_path, name, sandbox)
    assert "HOSTILE-REPORT environ=none file=unreadable write=refused" in error.output, error.output
    assert value not in error.output
    assert not (tmp_path / "worker-home" / "escaped.txt").exists()


async def test_without_the_sandbox_the_same_build_script_reads_the_workers_secrets(
    tmp_path: Path, worker_secret: tuple[str, str]
) -> None:
    """The control: unsandboxed (HANDOFF_SANDBOX=none), the script reaches the worker's environment and files."""
    name, value = worker_secret
    error = await build_hostile(tmp_path, name, None)
    assert f"environ={name}={value}" in error.output, error.output
    assert "file=worker-file-secret write=written" in error.output
    assert (tmp_path / "worker-home" / "escaped.txt").exists()


def test_a_build_reaches_the_network_only_when_an_index_is_not_a_local_folder(tmp_path: Path) -> None:
    """All-local indexes and find-links: no network; PyPI (no index URL) or any remote URL: network."""
    local = IndexConfig(index_url=f"file://{tmp_path}/simple", find_links=(str(tmp_path / "wheels"),))
    assert not needs_network(local)
    assert needs_network(IndexConfig(find_links=(str(tmp_path),)))  # no index URL means PyPI
    assert needs_network(dataclasses.replace(local, extra_index_urls=("https://mirror.example/simple",)))


def test_a_local_index_is_readable_with_the_folder_its_pages_link_into(tmp_path: Path) -> None:
    """file://<root>/simple makes <root> readable (its files live beside simple/), find-links folders as they are."""
    (tmp_path / "pypi" / "simple").mkdir(parents=True)
    (tmp_path / "wheels").mkdir()
    config = IndexConfig(index_url=f"file://{tmp_path}/pypi/simple", find_links=(str(tmp_path / "wheels"),))
    paths = readable_paths(config, python=Path(sys.executable), uv=Path("/usr/bin/uv"))
    assert tmp_path / "pypi" in paths and tmp_path / "wheels" in paths
    assert Path(sys.executable).resolve().parent.parent in paths
