"""Dependencies are read from pyproject.toml, setup.cfg, setup.py and requirements files, never by running them."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.environments import DependencyFileError
from handoff.environments.metadata import read_dependencies


def write(root: Path, name: str, text: str) -> None:
    (root / name).parent.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)


def test_pyproject_gives_dependencies_test_extras_and_groups_but_not_the_project_itself(tmp_path: Path) -> None:
    """[project].dependencies, the test/dev extras, included dependency groups; self-references are dropped."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[project]
name = "My_Project"
dependencies = ["toolz>=0.12", "attrs"]
[project.optional-dependencies]
test = ["my-project[cli]", "hypothesis"]
docs = ["sphinx"]
[dependency-groups]
lint = ["ruff"]
dev = ["freezegun", {include-group = "lint"}]
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("attrs", "freezegun", "hypothesis", "ruff", "toolz>=0.12")
    assert deps.sources == ("pyproject.toml",)


def test_setup_cfg_gives_install_requires_and_test_extras(tmp_path: Path) -> None:
    """[options] install_requires and [options.extras_require] testing are read; other extras are not."""
    write(
        tmp_path,
        "setup.cfg",
        """
[metadata]
name = cfgproj
[options]
install_requires =
    inflection>=0.5  # comment
    text-unidecode
[options.extras_require]
testing = pytest-mock
docs = sphinx
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("inflection>=0.5", "pytest-mock", "text-unidecode")
    assert deps.sources == ("setup.cfg",)


def test_setup_py_is_parsed_not_executed(tmp_path: Path) -> None:
    """Literal arguments and module-level names of setup() are read; the file's side effects never happen."""
    marker = tmp_path / "executed"
    write(
        tmp_path,
        "setup.py",
        f"""
from setuptools import setup
open({str(marker)!r}, "w").write("ran")
REQUIRES = ["python-slugify>=8"]
setup(name="pyproj", install_requires=REQUIRES, extras_require={{"tests": ["pyproj[x]", "toolz"], "docs": ["mkdocs"]}})
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("python-slugify>=8", "toolz")
    assert deps.sources == ("setup.py",)
    assert not marker.exists()


def test_requirements_files_follow_includes_and_leave_out_local_and_option_lines(tmp_path: Path) -> None:
    """requirements*.txt with -r includes; editable, local-path and option lines are skipped and reported."""
    write(tmp_path, "requirements.txt", "toolz==1.0.0  # pinned\n\n--index-url https://example.invalid/simple\n")
    write(tmp_path, "requirements-dev.txt", "-r requirements.txt\n-r ci/extra.txt\n-e .\n./vendor/lib\nattrs\n")
    write(tmp_path, "ci/extra.txt", "inflection \\\n  >=0.5\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("attrs", "inflection>=0.5", "toolz==1.0.0")
    assert deps.sources == ("requirements-dev.txt", "requirements.txt", "ci/extra.txt")
    assert any("-e ." in line for line in deps.skipped) and any("--index-url" in line for line in deps.skipped)


def test_a_project_without_dependency_files_needs_nothing(tmp_path: Path) -> None:
    """No metadata at all: no requirements and no sources (the environment holds only pytest and coverage)."""
    write(tmp_path, "mod.py", "x = 1\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == () and deps.sources == ()


def test_an_unreadable_pyproject_is_a_dependency_file_error(tmp_path: Path) -> None:
    """Invalid TOML is reported with the file's name rather than guessed around."""
    write(tmp_path, "pyproject.toml", "[project\nname = 1\n")
    with pytest.raises(DependencyFileError, match=r"pyproject\.toml"):
        read_dependencies(tmp_path)


def test_requirements_files_for_other_purposes_are_left_out_and_said_so(tmp_path: Path) -> None:
    """wcwidth 0.9.4 pins packaging==25.0 in requirements-tests39.txt and packaging==26.3 in
    requirements-wheels.txt: only the runtime, test and development files are read; the others are named as
    skipped (the environment failed to resolve with every file merged)."""
    write(tmp_path, "requirements-tests39.txt", "pytest>=7.4.2\npackaging==25.0\n")
    write(tmp_path, "requirements-develop.txt", "blessed>=1.14.1,<2\n")
    write(tmp_path, "requirements-wheels.txt", "cibuildwheel==3.1\npackaging==26.3\n")
    write(tmp_path, "requirements-update.txt", "packaging==26.3\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("blessed<2,>=1.14.1", "packaging==25.0", "pytest>=7.4.2")
    assert deps.sources == ("requirements-develop.txt", "requirements-tests39.txt")
    assert [line.split(":")[0] for line in deps.skipped] == ["requirements-update.txt", "requirements-wheels.txt"]


def test_the_test_files_of_a_requirements_folder_are_read_and_the_others_are_not(tmp_path: Path) -> None:
    """itsdangerous 2.2.0 keeps freezegun in requirements/tests.txt (pip-compile output, beside docs.txt,
    typing.txt and a dev.txt including them all): its baseline missed two test modules."""
    write(tmp_path, "requirements/tests.txt", "freezegun==1.5.1\n    # via -r tests.in\npytest==8.3.3\n")
    write(tmp_path, "requirements/docs.txt", "sphinx==8.1.3\n")
    write(tmp_path, "requirements/dev.txt", "-r docs.txt\n-r tests.txt\ntox==4.0\n")
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("freezegun==1.5.1", "pytest==8.3.3")
    assert deps.sources == ("requirements/tests.txt",)
    (tmp_path / "requirements" / "tests.txt").unlink()  # no test file: the development one, with its includes
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("sphinx==8.1.3", "tox==4.0")
    assert deps.sources == ("requirements/dev.txt", "requirements/docs.txt")


def test_poetry_dev_group_and_main_dependencies_are_read_as_pep_508(tmp_path: Path) -> None:
    """iso8601 2.1.0 declares hypothesis and pytz only under [tool.poetry.group.dev.dependencies]: its test module
    did not collect (No module named 'hypothesis'). Poetry's tables are read and their constraints translated."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.poetry]
name = "iso8601"
[tool.poetry.dependencies]
python = ">=3.7,<4.0"
toolz = "^0.12.1"
attrs = {version = "~23.1", extras = ["tests"], python = "^3.8", markers = "sys_platform != 'win32'"}
lxml = {version = "*", optional = true}
[tool.poetry.group.dev.dependencies]
hypothesis = "*"
pytz = ">=2020.1 <2030"
iso8601 = {path = ".", develop = true}
[tool.poetry.group.docs.dependencies]
Sphinx = "*"
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == (
        'attrs[tests]<23.2,>=23.1; (python_version >= "3.8" and python_version < "4.0") and sys_platform != "win32"',
        "hypothesis",
        "pytz<2030,>=2020.1",
        "toolz<0.13.0,>=0.12.1",
    )
    assert any("iso8601" in line and "local path" in line for line in deps.skipped)


def test_poetry_legacy_dev_dependencies_and_the_optional_dependencies_of_a_test_extra_are_read(
    tmp_path: Path,
) -> None:
    """[tool.poetry.dev-dependencies] (before groups) and an optional dependency a test extra names are needed by
    the tests; an optional dependency of another extra is not."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.poetry.dependencies]
python = "^3.8"
freezegun = {version = "^1.2", optional = true}
lxml = {version = "^5", optional = true}
[tool.poetry.extras]
test = ["freezegun"]
xml = ["lxml"]
[tool.poetry.dev-dependencies]
pytest-mock = "3.14.0"
""",
    )
    assert read_dependencies(tmp_path).requirements == ("freezegun<2.0,>=1.2", "pytest-mock==3.14.0")


def test_a_poetry_constraint_with_alternatives_is_required_without_a_bound_and_said_so(tmp_path: Path) -> None:
    """``^1 || ^2`` has no PEP 440 form: the package is still installed (the tests need it), with a note."""
    write(tmp_path, "pyproject.toml", '[tool.poetry.group.test.dependencies]\nattrs = "^21 || ^23"\n')
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("attrs",)
    assert any("attrs" in line and "||" in line for line in deps.skipped)


def test_pdm_test_groups_are_read_without_their_local_installs(tmp_path: Path) -> None:
    """[tool.pdm.dev-dependencies] test/dev groups hold PEP 508 strings and PDM's editable self-install."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.pdm.dev-dependencies]
test = ["pytest-cov>=4", "-e file:///${PROJECT_ROOT}/#egg=proj"]
lint = ["ruff"]
""",
    )
    assert read_dependencies(tmp_path).requirements == ("pytest-cov>=4",)
