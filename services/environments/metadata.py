"""What a project needs installed to run its tests, read from its own metadata without executing anything.

Sources, all optional, all at the project root: ``pyproject.toml`` (``[project].dependencies``, the test extras of
``[project.optional-dependencies]`` and ``[dependency-groups]`` (PEP 735); Poetry's ``[tool.poetry.dependencies]``,
its test groups ``[tool.poetry.group.<name>.dependencies]``, the legacy ``[tool.poetry.dev-dependencies]`` and the
optional dependencies its test extras name, translated to PEP 508 by ``poetry.py``; PDM's test groups of
``[tool.pdm.dev-dependencies]``; Hatch's default and test environments, ``[tool.hatch.envs.<name>]`` or
``hatch.toml``'s ``[envs.<name>]``, read by ``hatch.py``), ``setup.cfg`` (``[options] install_requires`` and
``[options.extras_require]``), ``setup.py`` (literal ``install_requires`` / ``extras_require`` arguments of the
``setup()`` call, read with ``ast``) and the requirements files for running and testing (following ``-r``
includes): ``requirements.txt`` and ``requirements[-_.]<purpose>*.txt`` whose purpose names tests or development
(``requirements-test.txt``, ``requirements_dev.txt``, ``requirements-tests39.txt``), and in a ``requirements/``
folder the ``test*.txt`` files (else ``dev*.txt``: itsdangerous' ``requirements/tests.txt``). Files for other purposes
(docs, wheels, release, lint, update ...) are left out and listed as skipped: a project often pins them for other
tools, against each other (wcwidth 0.9.4's tests and wheels files pin two versions of packaging). The project
itself is never installed (it goes on PYTHONPATH), so references to it, editable and local-path lines are left out.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from handoff.environments.errors import DependencyFileError
from handoff.environments.hatch import hatch_environments, read_environments
from handoff.environments.poetry import translate_table

TEST_EXTRAS = ("test", "tests", "testing", "dev")  # also the names of the dependency groups read
# requirements-<purpose>.txt read besides requirements.txt: the purpose starts with one of these
TEST_REQUIREMENTS = re.compile(r"^requirements(?:[-_.](?:test|dev)[^/]*)?\.txt$", re.IGNORECASE)
MAX_INCLUDE_DEPTH = 5


@dataclass(frozen=True, slots=True)
class Dependencies:
    requirements: tuple[str, ...]  # sorted, de-duplicated requirement strings
    sources: tuple[str, ...]  # files they came from, relative to the project root
    skipped: tuple[str, ...] = ()  # lines left out (local paths, options, invalid), for the log


def read_dependencies(root: Path) -> Dependencies:
    reader = _Reader(root)
    pyproject = reader.pyproject()
    reader.hatch(pyproject)
    reader.setup_cfg()
    reader.setup_py()
    for path in sorted(root.glob("requirements*.txt")):
        if TEST_REQUIREMENTS.match(path.name):
            reader.requirements_file(path, depth=0)
        else:
            reader.skipped.append(f"{path.name}: not a requirements file for running or testing (left out)")
    for path in folder_requirements(root):
        reader.requirements_file(path, depth=0)
    keep = [r for r in reader.found if _name(r) not in reader.own_names]
    return Dependencies(
        requirements=tuple(sorted(set(keep))),
        sources=tuple(dict.fromkeys(reader.sources)),
        skipped=tuple(reader.skipped),
    )


def folder_requirements(root: Path) -> list[Path]:
    """The test requirements of a ``requirements/`` folder (the Pallets projects' layout): ``test*.txt``
    (``tests.txt``, ``tests-min.txt``), or where there is none, ``dev*.txt``; not docs, typing, build ..."""
    folder = root / "requirements"
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.glob("*.txt") if p.is_file())
    tests = [p for p in files if p.stem.lower().startswith("test")]
    return tests or [p for p in files if p.stem.lower().startswith("dev")]


class _Reader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.found: list[str] = []
        self.sources: list[str] = []
        self.skipped: list[str] = []
        self.own_names: set[str] = set()

    def add(self, source: Path, items: object) -> None:
        if not isinstance(items, list | tuple):
            self.skipped.append(f"{self._rel(source)}: not a list of requirements: {items!r}"[:200])
            return
        self.sources.append(self._rel(source))
        for item in items:
            if isinstance(item, str):
                self.requirement(source, item)

    def requirement(self, source: Path, text: str) -> None:
        text = text.strip()
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            self.skipped.append(f"{self._rel(source)}: {text}"[:200])
            return
        if requirement.url and requirement.url.startswith("file:"):
            self.skipped.append(f"{self._rel(source)}: {text}"[:200])  # a local path: not reproducible elsewhere
            return
        self.found.append(str(requirement))

    # ---- pyproject.toml ------------------------------------------------------------------------
    def pyproject(self) -> dict:
        """Reads pyproject.toml's tables other than Hatch's; returns its contents ({} when there is none)."""
        path = self.root / "pyproject.toml"
        if not path.is_file():
            return {}
        data = _toml(path)
        project = data.get("project", {})
        if isinstance(project.get("name"), str):
            self.own_names.add(canonicalize_name(project["name"]))
        if "dependencies" in project:
            self.add(path, project["dependencies"])
        extras = project.get("optional-dependencies", {})
        groups = data.get("dependency-groups", {})
        for name in TEST_EXTRAS:
            if name in extras:
                self.add(path, extras[name])
            if name in groups:
                self.add(path, _flatten_group(groups, name, depth=0))
        tool = data.get("tool", {})
        self.poetry(path, tool.get("poetry", {}))
        pdm_groups = tool.get("pdm", {}).get("dev-dependencies", {})
        for name in TEST_EXTRAS:
            if isinstance(pdm_groups, dict) and name in pdm_groups:
                self.add(path, [item for item in pdm_groups[name] if not _pdm_local(item)])
        return data

    def hatch(self, pyproject: dict) -> None:
        """Hatch's default and test environments, from hatch.toml when it defines them, else pyproject.toml."""
        hatch_toml = self.root / "hatch.toml"
        hatch_data = _toml(hatch_toml) if hatch_toml.is_file() else None
        path = hatch_toml if hatch_data is not None and "envs" in hatch_data else self.root / "pyproject.toml"
        project = pyproject.get("project", {})
        extras = project.get("optional-dependencies", {}) if isinstance(project, dict) else {}
        own = project.get("name") if isinstance(project, dict) else None
        found = read_environments(
            hatch_environments(pyproject, hatch_data),
            extras=extras if isinstance(extras, dict) else {},
            own_name=canonicalize_name(own) if isinstance(own, str) else None,
            where=self._rel(path),
        )
        self.skipped += found.notes
        if found.environments:
            self.add(path, found.requirements)

    def poetry(self, path: Path, poetry: dict) -> None:
        """``[tool.poetry]``: the main dependencies, the test groups and the legacy dev-dependencies."""
        if not poetry:
            return
        if isinstance(poetry.get("name"), str):
            self.own_names.add(canonicalize_name(poetry["name"]))
        extras = poetry.get("extras", {})
        wanted = frozenset(
            str(dep).lower() for name in TEST_EXTRAS if isinstance(extras, dict) for dep in extras.get(name, [])
        )
        tables = [("tool.poetry.dependencies", poetry.get("dependencies"))]
        tables.append(("tool.poetry.dev-dependencies", poetry.get("dev-dependencies")))
        groups = poetry.get("group", {})
        for name in TEST_EXTRAS:
            if isinstance(groups, dict) and isinstance(groups.get(name), dict):
                tables.append((f"tool.poetry.group.{name}.dependencies", groups[name].get("dependencies")))
        for where, table in tables:
            if table is None:
                continue
            translated = translate_table(table, where=f"{self._rel(path)}: {where}", optional_wanted=wanted)
            self.skipped += translated.notes
            self.add(path, translated.requirements)

    # ---- setup.cfg -----------------------------------------------------------------------------
    def setup_cfg(self) -> None:
        path = self.root / "setup.cfg"
        if not path.is_file():
            return
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(path.read_text(encoding="utf-8"))
        except (configparser.Error, UnicodeDecodeError) as err:
            raise DependencyFileError(f"setup.cfg cannot be read: {err}") from err
        if parser.has_option("metadata", "name"):
            self.own_names.add(canonicalize_name(parser.get("metadata", "name")))
        if parser.has_option("options", "install_requires"):
            self.add(path, _lines(parser.get("options", "install_requires")))
        for name in TEST_EXTRAS:
            if parser.has_option("options.extras_require", name):
                self.add(path, _lines(parser.get("options.extras_require", name)))

    # ---- setup.py (never executed: literal arguments of the setup() call only) ------------------
    def setup_py(self) -> None:
        path = self.root / "setup.py"
        if not path.is_file():
            return
        try:
            tree = ast.parse(path.read_bytes(), filename="setup.py")
        except (SyntaxError, ValueError) as err:
            raise DependencyFileError(f"setup.py cannot be parsed: {err}") from err
        assigned = {
            target.id: node.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for call in ast.walk(tree):
            if not (isinstance(call, ast.Call) and _callee(call) == "setup"):
                continue
            for keyword in call.keywords:
                value = (
                    assigned.get(keyword.value.id, keyword.value)
                    if isinstance(keyword.value, ast.Name)
                    else keyword.value
                )
                literal = _literal(value)
                if keyword.arg == "name" and isinstance(literal, str):
                    self.own_names.add(canonicalize_name(literal))
                elif keyword.arg in ("install_requires", "tests_require"):
                    self.add(path, _lines(literal) if isinstance(literal, str) else literal)
                elif keyword.arg == "extras_require" and isinstance(literal, dict):
                    for name in TEST_EXTRAS:
                        if name in literal:
                            self.add(path, _lines(literal[name]) if isinstance(literal[name], str) else literal[name])

    # ---- requirements*.txt ---------------------------------------------------------------------
    def requirements_file(self, path: Path, *, depth: int) -> None:
        if depth > MAX_INCLUDE_DEPTH or not path.is_file() or not path.resolve().is_relative_to(self.root.resolve()):
            return
        rel = self._rel(path)
        if rel in self.sources:
            return
        self.sources.append(rel)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise DependencyFileError(f"{rel} cannot be read: {err}") from err
        for raw in _logical_lines(text):
            line = re.sub(r"(^|\s)#.*$", "", raw).strip()
            if not line:
                continue
            include = re.match(r"^(-r|--requirement)[\s=]+(\S+)$", line)
            if include:
                self.requirements_file(path.parent / include.group(2), depth=depth + 1)
            elif line.startswith(("-", ".", "/")) or line.startswith("file:"):
                self.skipped.append(f"{rel}: {line}"[:200])  # options, editable and local installs
            else:
                self.requirement(path, line)

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def _toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise DependencyFileError(f"{path.name} cannot be read: {err}") from err


def _name(requirement: str) -> str:
    return canonicalize_name(Requirement(requirement).name)


def _lines(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _logical_lines(text: str) -> list[str]:
    return text.replace("\\\n", " ").splitlines()


def _flatten_group(groups: dict, name: str, *, depth: int) -> list[str]:
    items: list[str] = []
    for item in groups.get(name, []) if depth <= MAX_INCLUDE_DEPTH else []:
        if isinstance(item, str):
            items.append(item)
        elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
            items += _flatten_group(groups, item["include-group"], depth=depth + 1)
    return items


def _pdm_local(item: object) -> bool:
    """PDM lists editable and local installs (``-e file:///${PROJECT_ROOT}/..``) among a group's requirements."""
    return isinstance(item, str) and item.strip().startswith(("-e", "file:", "."))


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
