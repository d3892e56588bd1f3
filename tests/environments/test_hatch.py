"""Hatch's default and test environments are read from pyproject.toml or hatch.toml, with Hatch's inheritance."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.environments import DependencyFileError
from handoff.environments.metadata import read_dependencies


def write(root: Path, name: str, text: str) -> None:
    (root / name).write_text(text)


def test_a_test_environment_adds_its_dependencies_to_what_it_inherits_from_default(tmp_path: Path) -> None:
    """soupsieve 4.1.3 declares beautifulsoup4, lxml and html5lib only in [tool.hatch.envs.dev]. An environment
    takes the options it does not set from its template (default): its own dependencies replace default's, default's
    extra-dependencies come along; environments for other purposes (lint) are not read."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[project]
name = "proj"
dependencies = ["attrs"]
[tool.hatch.envs.default]
dependencies = ["replaced-by-test"]
extra-dependencies = ["freezegun>=1"]
[tool.hatch.envs.test]
dependencies = ["beautifulsoup4", "html5lib"]
[tool.hatch.envs.lint]
dependencies = ["ruff"]
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("attrs", "beautifulsoup4", "freezegun>=1", "html5lib", "replaced-by-test")
    assert deps.sources == ("pyproject.toml",)


def test_a_test_environment_with_its_own_template_or_detached_inherits_nothing(tmp_path: Path) -> None:
    """``template`` naming the environment itself, or ``detached = true``, stops the inheritance from default."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.hatch.envs.default]
extra-dependencies = ["from-default"]
[tool.hatch.envs.test]
template = "test"
dependencies = ["hypothesis"]
[tool.hatch.envs.dev]
detached = true
dependencies = ["pytest-mock"]
[tool.hatch.envs.tests]
template = "lint"
[tool.hatch.envs.lint]
dependencies = ["via-lint"]
""",
    )
    assert read_dependencies(tmp_path).requirements == ("from-default", "hypothesis", "pytest-mock", "via-lint")


def test_features_add_the_projects_own_extras_unless_the_project_is_not_installed(tmp_path: Path) -> None:
    """``features = ["all"]`` installs the project with its extra ``all``, which names two others through the
    project itself; a detached environment's features are not installed (Hatch skips the project there)."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[project]
name = "My_Proj"
[project.optional-dependencies]
xml = ["lxml"]
yaml = ["pyyaml"]
all = ["my-proj[xml,yaml]"]
docs = ["sphinx"]
[tool.hatch.envs.test]
features = ["all", "nope"]
[tool.hatch.envs.dev]
detached = true
features = ["docs"]
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("lxml", "pyyaml")
    assert any("'nope' is not an extra" in line for line in deps.skipped)


def test_hatch_toml_environments_replace_those_of_pyproject(tmp_path: Path) -> None:
    """Hatch reads hatch.toml's ``[envs]`` instead of ``[tool.hatch.envs]``; the project's extras stay in
    pyproject.toml. hatch.toml alone (a setup.py project) is read too."""
    write(tmp_path, "pyproject.toml", '[project]\nname = "p"\n[project.optional-dependencies]\ncli = ["click"]\n'
          '[tool.hatch.envs.test]\ndependencies = ["hidden"]\n')  # fmt: skip
    write(tmp_path, "hatch.toml", '[envs.test]\ndependencies = ["freezegun"]\nfeatures = ["cli"]\n')
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("click", "freezegun")
    assert deps.sources == ("hatch.toml",)
    (tmp_path / "pyproject.toml").unlink()
    assert read_dependencies(tmp_path).requirements == ("freezegun",)


def test_hatch_test_has_hatchs_mocker_unless_it_names_its_dependencies_and_never_inherits_default(
    tmp_path: Path,
) -> None:
    """``hatch test`` runs in the internal environment hatch-test: Hatch's own dependencies bring pytest-mock
    (the ``mocker`` fixture), ``extra-dependencies`` add to them, and default's options do not apply there."""
    head = """
[project.optional-dependencies]
cli = ["click"]
[tool.hatch.envs.default]
skip-install = true
[tool.hatch.envs.hatch-test]
extra-dependencies = ["freezegun"]
features = ["cli"]
"""
    write(tmp_path, "pyproject.toml", head)
    assert read_dependencies(tmp_path).requirements == ("click", "freezegun", "pytest-mock")
    write(tmp_path, "pyproject.toml", head + 'dependencies = ["pytest"]\n')
    assert read_dependencies(tmp_path).requirements == ("click", "freezegun", "pytest")


def test_context_fields_matrices_and_bad_templates_are_left_out_and_said_so(tmp_path: Path) -> None:
    """What Hatch fills in or varies per run is not guessed: each is named in the skipped lines."""
    write(
        tmp_path,
        "pyproject.toml",
        """
[tool.hatch.envs.test]
dependencies = ["lib @ {root:uri}/libs/lib", "pytest{env:PYTEST_SPEC:}", "toolz"]
[[tool.hatch.envs.test.matrix]]
python = ["3.11", "3.12"]
[tool.hatch.envs.dev]
template = "missing"
dependencies = ["attrs"]
[tool.hatch.envs.testing]
template = "tests"
[tool.hatch.envs.tests]
template = "testing"
""",
    )
    deps = read_dependencies(tmp_path)
    assert deps.requirements == ("attrs", "toolz")
    skipped = "\n".join(deps.skipped)
    assert "{root:uri}" in skipped and "{env:PYTEST_SPEC:}" in skipped
    assert "envs.test.matrix: not read" in skipped
    assert "envs.dev.template names no environment: 'missing'" in skipped
    assert "inherit in a circle" in skipped


def test_an_unreadable_hatch_toml_is_a_dependency_file_error(tmp_path: Path) -> None:
    write(tmp_path, "hatch.toml", "[envs.test\n")
    with pytest.raises(DependencyFileError, match=r"hatch\.toml"):
        read_dependencies(tmp_path)
