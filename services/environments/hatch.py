"""Hatch's environments as PEP 508 requirement strings.

Hatch keeps an environment's packages in ``[tool.hatch.envs.<name>]`` of pyproject.toml or in ``[envs.<name>]`` of
``hatch.toml``; the tables of ``hatch.toml`` replace pyproject's ``tool.hatch`` tables of the same name, so a
``hatch.toml`` with ``envs`` hides pyproject's environments. Read for ``default`` and the test environments
(``test``, ``tests``, ``testing``, ``dev``, ``hatch-test``):

- ``dependencies`` and ``extra-dependencies``;
- ``features``: extras of the project itself, whose ``[project.optional-dependencies]`` lists are added (following
  the project's references to its own extras), unless the environment does not install the project
  (``skip-install`` or ``detached``);
- inheritance: an environment takes every option it does not set itself from its ``template`` (``default`` unless
  named; ``detached = true`` or a template naming the environment itself inherits nothing). ``hatch-test`` inherits
  nothing; without ``dependencies`` of its own it has Hatch's, of which pytest-mock is added (a test uses its
  ``mocker`` fixture by name; pytest and coverage are in every environment anyway, and the other plugins are
  runner options, pytest-randomly's reordering included).

Not read, and said so where met: matrices and ``overrides`` (options per Python version, platform or variable),
environment collectors of plugins, and context fields (``{root:uri}``, ``{env:NAME}``): a requirement holding one
is left out with a note.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

TEST_ENVIRONMENTS = ("default", "test", "tests", "testing", "dev", "hatch-test")
HATCH_TEST_DEFAULTS = ("pytest-mock",)  # what Hatch's own hatch-test dependencies add for the tests themselves
MAX_TEMPLATE_DEPTH = 10
MAX_FEATURE_DEPTH = 5


@dataclass(slots=True)
class HatchRequirements:
    requirements: list[str] = field(default_factory=list)
    environments: list[str] = field(default_factory=list)  # the environments read (those the project defines)
    notes: list[str] = field(default_factory=list)  # what was left out, and why


def hatch_environments(pyproject: Mapping[str, object], hatch_toml: Mapping[str, object] | None) -> object:
    """The ``envs`` table Hatch uses: ``hatch.toml``'s when it has one, else ``[tool.hatch.envs]``."""
    if hatch_toml is not None and "envs" in hatch_toml:
        return hatch_toml["envs"]
    tool = pyproject.get("tool", {})
    hatch = tool.get("hatch", {}) if isinstance(tool, dict) else {}
    return hatch.get("envs", {}) if isinstance(hatch, dict) else {}


def read_environments(
    envs: object, *, extras: Mapping[str, object], own_name: str | None, where: str
) -> HatchRequirements:
    """The requirements of the test environments in ``envs`` (a Hatch ``envs`` table).

    ``extras`` is the project's ``[project.optional-dependencies]``, which ``features`` name; ``own_name`` the
    project's name (its references to its own extras are followed); ``where`` names the file in notes.
    """
    result = HatchRequirements()
    if not isinstance(envs, dict):
        result.notes.append(f"{where}: envs is not a table: {envs!r}"[:200])
        return result
    for name in TEST_ENVIRONMENTS:
        if name not in envs:
            continue
        options = _resolve(envs, name, where=where, notes=result.notes)
        result.environments.append(name)
        for key in ("matrix", "overrides"):
            if key in envs[name]:
                result.notes.append(f"{where}: envs.{name}.{key}: not read (only the environment's own options)")
        for key in ("dependencies", "extra-dependencies"):
            for text in _strings(options.get(key, []), where=f"{where}: envs.{name}.{key}", notes=result.notes):
                _add(result, text, where=f"{where}: envs.{name}.{key}")
        if options.get("skip-install") is True:
            continue
        features = _strings(options.get("features", []), where=f"{where}: envs.{name}.features", notes=result.notes)
        for text in _feature_requirements(
            features, extras, own_name, where=f"{where}: envs.{name}", notes=result.notes
        ):
            _add(result, text, where=f"{where}: envs.{name}.features")
    return result


def _resolve(envs: dict, name: str, *, where: str, notes: list[str]) -> dict[str, object]:
    """The options of environment ``name`` after inheritance: its own, then its templates' for the keys it lacks."""
    options: dict[str, object] = {}
    current, seen = name, [name]
    while True:
        own = envs.get(current, {})
        if not isinstance(own, dict):
            notes.append(f"{where}: envs.{current} is not a table (left out)")
            own = {}
        for key, value in own.items():
            options.setdefault(key, value)
        if current == "hatch-test":
            options.setdefault("dependencies", list(HATCH_TEST_DEFAULTS))
            break
        if own.get("detached") is True:
            options.setdefault("skip-install", True)
            break
        template = own.get("template", "default")
        if template == current:
            break
        if not isinstance(template, str) or template not in (*envs, "default", "hatch-test"):
            notes.append(f"{where}: envs.{current}.template names no environment: {template!r} (nothing inherited)")
            break
        if template in seen or len(seen) > MAX_TEMPLATE_DEPTH:
            notes.append(f"{where}: envs.{name}: templates inherit in a circle ({' -> '.join([*seen, template])})")
            break
        seen.append(template)
        current = template
    return options


def _feature_requirements(
    features: list[str], extras: Mapping[str, object], own_name: str | None, *, where: str, notes: list[str]
) -> list[str]:
    by_name = {canonicalize_name(key): value for key, value in extras.items()}
    found: list[str] = []
    pending = [(canonicalize_name(feature), 0) for feature in features]
    done: set[str] = set()
    while pending:
        feature, depth = pending.pop(0)
        if feature in done or depth > MAX_FEATURE_DEPTH:
            continue
        done.add(feature)
        if feature not in by_name:
            notes.append(f"{where}.features: {feature!r} is not an extra of the project (left out)"[:200])
            continue
        for text in _strings(by_name[feature], where=f"{where}.features: {feature}", notes=notes):
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                found.append(text)  # reported where it is added
                continue
            if own_name is not None and canonicalize_name(requirement.name) == own_name:
                pending += [(canonicalize_name(extra), depth + 1) for extra in sorted(requirement.extras)]
            else:
                found.append(text)
    return found


def _strings(items: object, *, where: str, notes: list[str]) -> list[str]:
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        notes.append(f"{where}: not a list of strings: {items!r}"[:200])
        return []
    return items


def _add(result: HatchRequirements, text: str, *, where: str) -> None:
    if "{" in text:
        result.notes.append(f"{where}: {text}: a context field Hatch fills in (left out)"[:200])
        return
    try:
        requirement = Requirement(text)
    except InvalidRequirement as err:
        result.notes.append(f"{where}: {text}: {err} (left out)"[:200])
        return
    result.requirements.append(str(requirement))
