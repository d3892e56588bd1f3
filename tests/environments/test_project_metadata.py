"""The project's distribution metadata is written into a tree that lacks it, so that a package asking for its own
installed metadata (``importlib.metadata.version``) imports without the project being installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from handoff.environments.build_outputs import restore_build_outputs
from handoff.environments.project_metadata import write_project_metadata

PYPROJECT = """[project]
name = "My.Pkg"
dynamic = ["version"]

[project.scripts]
mypkg = "mypkg.cli:main"

[project.entry-points."pytest11"]
mypkg = "mypkg.plugin"
"""
INIT = 'from importlib.metadata import version\n\n__version__ = version("my.pkg")\n'


def project(root: Path, pyproject: str) -> Path:
    for path, text in {"pyproject.toml": pyproject, "src/mypkg/__init__.py": INIT}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def ask(root: Path, code: str) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter with the tree's root and src/ on its path, as the task's commands have them."""
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'src'}", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=root)


def test_a_package_reading_its_own_version_from_metadata_imports_once_the_metadata_is_written(tmp_path: Path) -> None:
    root = project(tmp_path / "p", PYPROJECT)
    before = ask(root, "import mypkg")
    assert "PackageNotFoundError" in before.stderr

    written = write_project_metadata(root)

    assert written.describe() == (
        "made the project's metadata visible: My.Pkg 0.0.0+unknown "
        "(no static version declared; a dynamic one is not read without a build)"
    )
    code = (
        "import json, importlib.metadata as md, mypkg; d = md.distribution('my-pkg'); "
        "print(json.dumps([mypkg.__version__, d.metadata['Name'], "
        "sorted((e.group, e.name, e.value) for e in d.entry_points)]))"
    )
    after = ask(root, code)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == [
        "0.0.0+unknown",
        "My.Pkg",
        [["console_scripts", "mypkg", "mypkg.cli:main"], ["pytest11", "mypkg", "mypkg.plugin"]],
    ]
    written = sorted(p.name for p in (root / "my_pkg-0.0.0+unknown.dist-info").iterdir())
    assert written == ["METADATA", "entry_points.txt"]


def test_the_version_is_the_static_one_else_the_scm_fallback(tmp_path: Path) -> None:
    static = project(tmp_path / "static", '[project]\nname = "mypkg"\nversion = "1.2.3"\n')
    scm = project(
        tmp_path / "scm",
        '[project]\nname = "mypkg"\ndynamic = ["version"]\n[tool.setuptools_scm]\nfallback_version = "0.0.0.dev0"\n',
    )

    assert write_project_metadata(static).written == "mypkg 1.2.3 ([project] version)"
    assert write_project_metadata(scm).written == "mypkg 0.0.0.dev0 (setuptools_scm fallback_version)"
    assert ask(scm, "import importlib.metadata as md; print(md.version('mypkg'))").stdout.strip() == "0.0.0.dev0"


def test_an_sdist_gets_the_version_its_pkg_info_declares_as_the_build_reads_it(tmp_path: Path) -> None:
    """humanize 4.9.0 (hatch-vcs, no fallback): from its sdist the metadata said ``0.0.0+unknown (no git metadata in
    the snapshot and no fallback version declared)`` though PKG-INFO says 4.9.0, which the build itself reads."""
    pyproject = (
        '[project]\nname = "humanize"\ndynamic = ["version"]\n[tool.hatch.version]\nsource = "vcs"\n'
        '[tool.hatch.build.hooks.vcs]\nversion-file = "_version.py"\n'
    )
    root = project(tmp_path / "sdist", pyproject)
    (root / "PKG-INFO").write_text(
        "Metadata-Version: 2.1\nName: humanize\nVersion: 4.9.0\n\nVersion: 9.9.9 in the text\n"
    )
    assert write_project_metadata(root).written == "humanize 4.9.0 (the sdist's PKG-INFO)"
    assert ask(root, "import importlib.metadata as md; print(md.version('humanize'))").stdout.strip() == "4.9.0"
    restore_build_outputs(root)
    assert "__version__ = version = '4.9.0'" in (root / "_version.py").read_text()


def test_a_poetry_project_gets_its_name_and_version_from_tool_poetry(tmp_path: Path) -> None:
    root = project(tmp_path / "p", '[tool.poetry]\nname = "mypkg"\nversion = "2.0.0"\n')

    assert write_project_metadata(root).written == "mypkg 2.0.0 ([tool.poetry] version)"
    assert (root / "mypkg-2.0.0.dist-info" / "METADATA").read_text() == (
        "Metadata-Version: 2.1\nName: mypkg\nVersion: 2.0.0\n"
    )


def test_nothing_is_written_when_the_environment_or_the_tree_holds_the_distribution(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "lib" / "python3.12" / "site-packages"
    (site / "My_Pkg-3.0.dist-info").mkdir(parents=True)
    installed = project(tmp_path / "installed", PYPROJECT)
    tracked = project(tmp_path / "tracked", PYPROJECT)
    (tracked / "src" / "my.pkg.egg-info").mkdir()

    assert write_project_metadata(installed, installed_in=[site]).describe() == ""
    assert write_project_metadata(tracked).describe() == ""
    assert not list(installed.glob("*.dist-info"))
    assert not list(tracked.glob("*.dist-info"))


def test_a_project_without_a_name_gets_nothing_and_a_bad_name_or_version_is_named(tmp_path: Path) -> None:
    nameless = project(tmp_path / "nameless", '[project]\nversion = "1.0"\n')
    bad_name = project(tmp_path / "bad_name", '[project]\nname = "../evil"\nversion = "1.0"\n')
    bad_version = project(tmp_path / "bad_version", '[project]\nname = "mypkg"\nversion = "one/two"\n')

    assert write_project_metadata(nameless).describe() == ""
    assert write_project_metadata(bad_name).describe() == (
        "the project's metadata was not made visible: the project's name '../evil' is not a distribution name"
    )
    assert write_project_metadata(bad_version).describe() == (
        "the project's metadata was not made visible: mypkg's version 'one/two' ([project] version) is not a version"
    )
    for root in (nameless, bad_name, bad_version, tmp_path):
        assert not list(root.glob("*.dist-info"))


def test_every_extraction_gets_the_same_files(tmp_path: Path) -> None:
    """The workspace and each clean copy are compared file by file: the metadata must never be a change."""
    one, two = project(tmp_path / "one", PYPROJECT), project(tmp_path / "two", PYPROJECT)
    write_project_metadata(one)
    write_project_metadata(two)

    def files(root: Path) -> dict[str, tuple[bytes, int]]:
        return {
            p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode) for p in root.rglob("*") if p.is_file()
        }

    assert files(one) == files(two)
