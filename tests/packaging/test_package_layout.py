"""pyproject lists every package of the tree under its installed name, so nothing is left out of the wheel."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def installed_names() -> set[str]:
    """The import name of every package folder, through pyproject's package-dir (services -> handoff, ...)."""
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    names = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            if "__pycache__" in rel.parts:
                continue
            names.add(".".join((name, *rel.parts)))
    return names


def test_every_package_folder_is_listed_in_pyproject_under_its_installed_name() -> None:
    """A new folder with an __init__.py must be added to [tool.setuptools] packages, or the wheel would lack it."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    assert installed_names() - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for name in listed - installed_names():  # data folders without an __init__.py (schemas/json) are listed too
        top = max((n for n in package_dir if name == n or name.startswith(n + ".")), key=len)
        folder = ROOT / package_dir[top] / Path(*name[len(top) + 1 :].split(".")) if name != top else None
        assert folder is not None and folder.is_dir(), f"{name} is listed in pyproject.toml but has no folder"


def test_no_module_imports_the_old_top_level_names() -> None:
    """Installed there is no `services` or `schemas` package: every import goes through `handoff`."""
    offenders = []
    for folder in ("services", "schemas", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if "sample_project" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules = [node.module or ""]
                else:
                    continue
                if any(module.split(".")[0] in ("services", "schemas") for module in modules):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {', '.join(modules)}")
    assert offenders == []
