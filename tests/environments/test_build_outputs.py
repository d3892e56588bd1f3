"""Version modules the build writes and git ignores are read from pyproject.toml and written into a snapshot that
lacks them, with an honest version; what cannot be written so is named with the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.version import Version

from handoff.environments.build_outputs import UNKNOWN_VERSION, read_version_files, render, restore_build_outputs


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def import_version(root: Path, module: str) -> dict[str, object]:
    """The generated module's variables, imported by a fresh interpreter with ``root/src`` on its path."""
    code = (
        f"import importlib, json; m = importlib.import_module({module!r}); "
        "print(json.dumps({k: getattr(m, k) for k in m.__all__}))"
    )
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_setuptools_scm_write_to_and_version_file_are_both_read_with_their_templates() -> None:
    pyproject = tomllib.loads("""
[project]
dynamic = ["version"]
[tool.setuptools_scm]
write_to = "src/pkg/_version.py"
version_file = "src/pkg/VERSION.txt"
version_file_template = "{version}\\n"
""")
    files, problems = read_version_files(pyproject)
    assert problems == []
    assert [(f.path, f.setting, f.template) for f in files] == [
        ("src/pkg/VERSION.txt", "setuptools_scm version_file", "{version}\n"),
        ("src/pkg/_version.py", "setuptools_scm write_to", None),
    ]
    assert {f.version for f in files} == {"0.0.0+unknown"}


def test_hatch_vcs_build_hook_and_raw_options_are_read_with_the_projects_fallback_version() -> None:
    pyproject = tomllib.loads("""
[project]
dynamic = ["version"]
[tool.hatch.version]
source = "vcs"
fallback-version = "2.1.0.dev3"
raw-options = { write_to = "pkg/_raw.py" }
[tool.hatch.build.hooks.vcs]
version-file = "pkg/_version.py"
template = "v = {version!r}"
""")
    files, _ = read_version_files(pyproject)
    assert [(f.path, f.setting, f.template, f.version) for f in files] == [
        ("pkg/_raw.py", "hatch-vcs raw-options write_to", None, "2.1.0.dev3"),
        ("pkg/_version.py", "hatch-vcs version-file", "v = {version!r}", "2.1.0.dev3"),
    ]
    assert files[0].version_from == "hatch-vcs fallback-version"


def test_a_hatch_version_source_other_than_vcs_names_no_file() -> None:
    pyproject = tomllib.loads('[tool.hatch.version]\npath = "pkg/__about__.py"\n')
    assert read_version_files(pyproject) == ([], [])


def test_the_fallback_version_comes_first_then_a_static_project_version_then_0_unknown() -> None:
    with_fallback = read_version_files(tomllib.loads(
        '[project]\nversion = "1.0"\n[tool.setuptools_scm]\nwrite_to = "a.py"\nfallback_version = "0.9"\n'
    ))[0][0]  # fmt: skip
    static = read_version_files(tomllib.loads('[project]\nversion = "1.0"\n[tool.setuptools_scm]\nwrite_to = "a.py"\n'))
    unknown = read_version_files(tomllib.loads('[tool.setuptools_scm]\nwrite_to = "a.py"\n'))
    assert (with_fallback.version, with_fallback.version_from) == ("0.9", "setuptools_scm fallback_version")
    assert (static[0][0].version, static[0][0].version_from) == ("1.0", "[project] version")
    assert unknown[0][0].version == "0.0.0+unknown"


def test_a_setting_that_is_not_a_file_name_is_reported_not_guessed() -> None:
    files, problems = read_version_files(tomllib.loads("[tool.setuptools_scm]\nwrite_to = 3\n"))
    assert files == []
    assert problems == ["setuptools_scm write_to is not a file name (3): not written"]


def test_a_template_naming_what_only_git_tells_cannot_be_rendered_but_version_and_tuple_can() -> None:
    pyproject = tomllib.loads("""
[tool.setuptools_scm]
fallback_version = "1.2.3rc1"
write_to = "a.py"
write_to_template = "V = {version!r}; T = {version_tuple!r}"
version_file = "b.py"
version_file_template = "NODE = {scm_version.node!r}"
""")
    by_path = {f.path: f for f in read_version_files(pyproject)[0]}
    assert render(by_path["a.py"]) == "V = '1.2.3rc1'; T = (1, 2, 3, 'rc1')"
    assert render(by_path["b.py"]) is None


def test_a_missing_module_is_written_and_defines_what_the_build_generated_module_defines(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[project]\nname = "pkg"\ndynamic = ["version"]\n'
                                      '[tool.setuptools_scm]\nwrite_to = "src/pkg/version.py"\n')  # fmt: skip
    write(tmp_path, "src/pkg/__init__.py", "from pkg.version import version\n")

    outputs = restore_build_outputs(tmp_path)

    assert outputs.written == (
        "wrote src/pkg/version.py, which the build generates (setuptools_scm write_to), version 0.0.0+unknown "
        "(no git metadata in the snapshot and no fallback version declared)",
    )
    assert outputs.missing == ()
    assert import_version(tmp_path, "pkg.version") == {
        "__version__": "0.0.0+unknown", "version": "0.0.0+unknown", "__version_tuple__": [0, 0, 0, "unknown"],
        "version_tuple": [0, 0, 0, "unknown"], "__commit_id__": None, "commit_id": None,
    }  # fmt: skip


def test_a_module_the_snapshot_holds_is_left_as_it_is(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.setuptools_scm]\nwrite_to = "pkg/version.py"\n')
    write(tmp_path, "pkg/version.py", "version = '7.0'\n")
    assert restore_build_outputs(tmp_path).describe() == ""
    assert (tmp_path / "pkg" / "version.py").read_text() == "version = '7.0'\n"


def test_what_cannot_be_written_is_named_with_the_reason(tmp_path: Path) -> None:
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.setuptools_scm]
write_to = "pkg/version.py"
write_to_template = "NODE = {scm_version.node!r}"
version_file = "gone/_version.py"
[tool.hatch.version]
source = "vcs"
raw-options = { write_to = "../outside.py", version_file = "pkg/version.cfg" }
""",
    )
    (tmp_path / "pkg").mkdir()
    outputs = restore_build_outputs(tmp_path)
    assert outputs.written == ()
    assert outputs.missing == (
        "gone/_version.py, which the build generates (setuptools_scm version_file), is not in the snapshot and was "
        "not written: its folder gone/ is not in the snapshot either",
        "pkg/version.py, which the build generates (setuptools_scm write_to), is not in the snapshot and was not "
        "written: its template needs what only git can tell",
        "pkg/version.cfg, which the build generates (hatch-vcs raw-options version_file), is not in the snapshot and "
        "was not written: the build has no default template for .cfg",
        "../outside.py, which the build generates (hatch-vcs raw-options write_to), is not in the snapshot and was "
        "not written: the path leaves the project",
    )
    assert not (tmp_path.parent / "outside.py").exists()
    assert sorted(p.name for p in (tmp_path / "pkg").iterdir()) == []


def test_nothing_is_written_through_a_symbolic_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "project"
    write(root, "pyproject.toml", '[tool.setuptools_scm]\nwrite_to = "pkg/version.py"\n')
    (root / "pkg").symlink_to(elsewhere)
    outputs = restore_build_outputs(root)
    assert outputs.missing == ("pkg/version.py, which the build generates (setuptools_scm write_to), is not in the "
                               "snapshot and was not written: pkg is a symbolic link",)  # fmt: skip
    assert list(elsewhere.iterdir()) == []


def test_a_project_without_pyproject_or_with_an_unreadable_one_gets_nothing_written(tmp_path: Path) -> None:
    assert restore_build_outputs(tmp_path).describe() == ""
    write(tmp_path, "pyproject.toml", "[tool.setuptools_scm\nwrite_to = 'v.py'\n")
    assert restore_build_outputs(tmp_path).describe() == ""
    assert not (tmp_path / "v.py").exists()


def test_an_unknown_version_has_the_three_parts_a_projects_version_test_expects() -> None:
    """prettytable's own test_version counts two dots in ``__version__``: with "0+unknown" that test failed and the
    task with it; the placeholder keeps a release of three parts and says it is unknown in its local label."""
    version = Version(UNKNOWN_VERSION)
    assert version.release == (0, 0, 0) and version.local == "unknown"
    assert UNKNOWN_VERSION.count(".") >= 2
