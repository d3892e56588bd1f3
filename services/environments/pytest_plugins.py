"""The pytest plugins a project's pytest configuration asks for, added to its environment when it does not declare
them.

A project whose ``addopts`` use a plugin's options but which declares the plugin only where Handoff does not read
(semver 3.0.2: ``--cov=semver`` in ``setup.cfg``, pytest-cov in ``tox.ini``) gets a pytest that refuses to start
(``error: unrecognized arguments: --cov=semver``), and every test of the task with it. The configuration read is the
one pytest itself uses: at the project root, the first of ``pytest.toml``, ``.pytest.toml``, ``pytest.ini``,
``.pytest.ini`` (pytest's own files, used even without a pytest table), ``pyproject.toml`` with ``[tool.pytest]`` or
``[tool.pytest.ini_options]``, ``tox.ini`` with ``[pytest]`` and ``setup.cfg`` with ``[tool:pytest]``. Of it:

- ``addopts``: an option is known by its name (``OPTIONS``: ``--cov-report=term`` is pytest-cov's, ``-n auto``
  pytest-xdist's); ``-p NAME`` by the plugin's name (``PLUGIN_NAMES``; ``-p no:NAME`` asks for nothing). Options
  that are pytest's own (``--doctest-modules``) or of plugins not listed are left to pytest;
- ``required_plugins``: the requirements as written (``pytest-cov>=4``).

Nothing is executed and nothing is fetched here: the packages found go into the environment with the rest.
"""

from __future__ import annotations

import configparser
import re
import shlex
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

# an option's name, or the start of a family of options (``--cov`` also names ``--cov-report``, ``--cov_fail_under``
# is not one of pytest-cov's but would be read so) -> the package on PyPI that provides it
OPTIONS: dict[str, str] = {
    "--cov": "pytest-cov",
    "--no-cov": "pytest-cov",
    "-n": "pytest-xdist",
    "--numprocesses": "pytest-xdist",
    "--maxprocesses": "pytest-xdist",
    "--max-worker-restart": "pytest-xdist",
    "--dist": "pytest-xdist",
    "--tx": "pytest-xdist",
    "--timeout": "pytest-timeout",
    "--session-timeout": "pytest-timeout",
    "--benchmark": "pytest-benchmark",
    "--reruns": "pytest-rerunfailures",
    "--only-rerun": "pytest-rerunfailures",
    "--hypothesis": "hypothesis",
    "--asyncio-mode": "pytest-asyncio",
}
# what ``-p NAME`` loads: a plugin's entry-point or module name -> its package
PLUGIN_NAMES: dict[str, str] = {
    "pytest_cov": "pytest-cov",
    "xdist": "pytest-xdist",
    "timeout": "pytest-timeout",
    "pytest_timeout": "pytest-timeout",
    "benchmark": "pytest-benchmark",
    "pytest_benchmark.plugin": "pytest-benchmark",
    "rerunfailures": "pytest-rerunfailures",
    "pytest_rerunfailures": "pytest-rerunfailures",
    "hypothesispytest": "hypothesis",
    "asyncio": "pytest-asyncio",
    "pytest_asyncio": "pytest-asyncio",
    "pytest_mock": "pytest-mock",
}
_LONG = re.compile(r"^--[\w-]+")


@dataclass(frozen=True, slots=True)
class PytestConfig:
    """The pytest configuration of a project: where it is (``setup.cfg [tool:pytest]``) and what it sets."""

    where: str
    addopts: tuple[str, ...]
    required_plugins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PluginPackage:
    """A package added for the project's pytest configuration: ``requirement`` (``pytest-cov``), asked for by
    ``options`` (``--cov=semver``, ``--cov-report=term-missing``) in ``where`` (``setup.cfg [tool:pytest] addopts``).
    """

    requirement: str
    options: tuple[str, ...]
    where: str

    @property
    def note(self) -> str:
        return (f"added {self.requirement}: {self.where} uses {' '.join(self.options)} and the project does not "
                "declare it")  # fmt: skip


def pytest_config(root: Path) -> PytestConfig | None:
    """The configuration pytest would use for a run at ``root`` (see the module docstring); None without one.

    A file pytest could not read either is passed over here: pytest's own error names it when it runs."""
    for name in ("pytest.toml", ".pytest.toml"):
        if (root / name).is_file():
            table = _toml(root / name).get("pytest")
            return _from_table(f"{name} [pytest]", table if isinstance(table, dict) else {})
    for name in ("pytest.ini", ".pytest.ini"):
        if (root / name).is_file():
            return _from_ini(root / name, "pytest", always=True)
    if (root / "pyproject.toml").is_file():
        tool = _toml(root / "pyproject.toml").get("tool", {})
        table = tool.get("pytest") if isinstance(tool, dict) else None
        if isinstance(table, dict) and table:
            ini = table.get("ini_options")
            if isinstance(ini, dict):
                return _from_table("pyproject.toml [tool.pytest.ini_options]", ini)
            return _from_table("pyproject.toml [tool.pytest]", table)
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (root / name).is_file() and (found := _from_ini(root / name, section, always=False)) is not None:
            return found
    return None


def plugin_packages(config: PytestConfig | None, declared: Sequence[str]) -> tuple[PluginPackage, ...]:
    """The packages ``config`` asks for that none of the requirements ``declared`` names, one per package, each with
    the options that asked for it, in the order found."""
    if config is None:
        return ()
    have = {_name(line) for line in declared} - {None}
    asked = [(option, package, "addopts") for option, package in _asked_by_addopts(config.addopts)]
    asked += [(line, line, "required_plugins") for line in config.required_plugins]
    found: dict[str, PluginPackage] = {}
    for option, requirement, key in asked:
        name = _name(requirement)
        if name is None or name in have:
            continue
        if name in found:
            known = found[name]
            found[name] = PluginPackage(known.requirement, (*known.options, option), known.where)
        else:
            found[name] = PluginPackage(requirement=requirement, options=(option,), where=f"{config.where} {key}")
    return tuple(found.values())


def _asked_by_addopts(args: Sequence[str]) -> list[tuple[str, str]]:
    """(option, package) for each option of ``args`` a known plugin provides, ``-p NAME`` as one option."""
    asked = []
    for index, arg in enumerate(args):
        if arg == "-p" and index + 1 < len(args):
            plugin = args[index + 1]
        elif arg.startswith("-p") and not arg.startswith("--"):
            plugin = arg[2:].lstrip("=")
        else:
            if (package := _option_package(arg)) is not None:
                asked.append((arg, package))
            continue
        if plugin in PLUGIN_NAMES:
            asked.append((f"-p {plugin}", PLUGIN_NAMES[plugin]))
    return asked


def _option_package(arg: str) -> str | None:
    if arg.startswith("-n") and not arg.startswith("--"):  # -n 4, -n4, -nauto: pytest has no other -n
        return OPTIONS["-n"]
    if (match := _LONG.match(arg)) is None:
        return None
    name = match.group()
    for option, package in OPTIONS.items():
        if option.startswith("--") and (name == option or name.startswith((f"{option}-", f"{option}_"))):
            return package
    return None


def _from_ini(path: Path, section: str, *, always: bool) -> PytestConfig | None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8"))
    except (configparser.Error, UnicodeDecodeError, OSError):
        return None
    if not parser.has_section(section):
        return PytestConfig(where=f"{path.name} [{section}]", addopts=()) if always else None
    values = parser[section]
    return PytestConfig(where=f"{path.name} [{section}]", addopts=tuple(_split(values.get("addopts", ""))),
                        required_plugins=tuple(values.get("required_plugins", "").split()))  # fmt: skip


def _from_table(where: str, table: dict) -> PytestConfig:
    """A TOML table: ``addopts`` and ``required_plugins`` as a string (split as pytest splits it) or a list."""
    return PytestConfig(where=where, addopts=tuple(_args(table.get("addopts"), _split)),
                        required_plugins=tuple(_args(table.get("required_plugins"), str.split)))  # fmt: skip


def _args(value: object, split: Callable[[str], list[str]]) -> list[str]:
    if isinstance(value, str):
        return split(value)
    return [str(item) for item in value] if isinstance(value, list) else []


def _split(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:  # an unclosed quote: pytest stops on it with its own error
        return []


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
        return {}


def _name(requirement: str) -> str | None:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return None
