"""Packages a task can do without (the offline engines): installed with the project's requirements when they
resolve together, else fitted in or left out.

The first resolution asks for everything, so a project that does not conflict with them is resolved once, as
before. When uv refuses and its message names an optional package:

1. if that package lets the project's own requirement on the package it conflicts over replace its pin (Pynguin's
   ``pytest<9``: see ``offline_engine/settings.py``) and the project requires that package itself, the resolution
   is repeated with the project's requirement lines as uv overrides (``--override``), which replace the pin;
2. else, or when that does not resolve either, the package is left out, with uv's reason.

Each retry either adds the overrides of a package that had none or leaves a package out, so a build resolves at
most ``1 + 2 * len(optional)`` times. A refusal that names no optional package is the project's own failure and is
raised unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from handoff.environments.errors import IndexUnreachable, InstallFailed

# uv's explanation of a conflict, without its conclusion: "pynguin>=0.48.0 depends on pytest>=8.3.5,<9.0.0 and you
# require pytest>=9"
_BECAUSE = re.compile(r"Because (?P<why>.+?), we can conclude", re.DOTALL)


@dataclass(frozen=True, slots=True)
class OptionalPackage:
    """``name`` is what messages call it; ``requirement`` what is installed; ``overridable`` the packages whose pin
    in it the project's own requirement may replace (it is known to work with their newer versions)."""

    name: str
    requirement: str
    overridable: tuple[str, ...] = ()

    @property
    def project(self) -> str:
        """The distribution name, normalised (``crosshair-tool``)."""
        return canonicalize_name(Requirement(self.requirement).name)


@dataclass(frozen=True, slots=True)
class Fitted:
    """What became of the optional packages: installed (some with overrides) or left out, and for each package not
    installed as asked uv's reason (its conflict with the project's requirements)."""

    installed: tuple[str, ...] = ()
    overridden: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> the override lines
    left_out: tuple[str, ...] = ()
    conflicts: dict[str, str] = field(default_factory=dict)  # name -> uv's reason

    def to_json(self) -> dict[str, object]:
        return {"installed": list(self.installed), "overridden": {k: list(v) for k, v in self.overridden.items()},
                "left_out": list(self.left_out), "conflicts": dict(self.conflicts)}  # fmt: skip

    @classmethod
    def from_json(cls, meta: dict[str, object], optional: Sequence[OptionalPackage]) -> Fitted:
        """From an environment's recorded metadata; one recorded before optional packages existed installed all."""
        recorded = meta.get("optional")
        if not isinstance(recorded, dict):
            return cls(installed=tuple(p.name for p in optional))
        return cls(
            installed=tuple(str(n) for n in recorded.get("installed", [])),
            overridden={str(k): tuple(str(x) for x in v) for k, v in dict(recorded.get("overridden", {})).items()},
            left_out=tuple(str(n) for n in recorded.get("left_out", [])),
            conflicts={str(k): str(v) for k, v in dict(recorded.get("conflicts", {})).items()},
        )


# install(requirements, overrides) -> uv's output; raises InstallFailed when uv refuses
Install = Callable[[list[str], list[str]], Awaitable[str]]


async def install_fitting(install: Install, requirements: Sequence[str], optional: Sequence[OptionalPackage]) -> Fitted:
    """Install ``requirements`` and as many of ``optional`` as resolve with them (see the module docstring)."""
    remaining = list(optional)
    overrides: dict[str, tuple[str, ...]] = {}
    conflicts: dict[str, str] = {}
    while True:
        active = list(dict.fromkeys(line for lines in overrides.values() for line in lines))
        try:
            await install([*requirements, *(p.requirement for p in remaining)], active)
        except IndexUnreachable:
            raise
        except InstallFailed as err:
            named = [p for p in remaining if _names(err.message, p.project)]
            if not named:
                raise
            fits = _overrides(err.message, named, requirements, tried=overrides)
            for name in fits:
                conflicts[name] = conflict(err.message)
            overrides |= fits
            if fits:
                continue
            for package in named:  # fitted in by overrides or not: still in conflict
                conflicts[package.name] = conflict(err.message)
                overrides.pop(package.name, None)
                remaining.remove(package)
        else:
            installed = tuple(p.name for p in remaining)
            return Fitted(installed=installed, overridden={n: overrides[n] for n in installed if n in overrides},
                          left_out=tuple(p.name for p in optional if p.name not in installed),
                          conflicts=conflicts)  # fmt: skip


def _overrides(
    message: str, named: Sequence[OptionalPackage], requirements: Sequence[str], *, tried: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]]:
    """For each package ``message`` names that has no overrides yet: the project's lines on the packages it conflicts
    over whose pin in it may be replaced (none: it cannot be fitted in that way)."""
    fits = {}
    for package in named:
        conflicting = [other for other in package.overridable if _names(message, other)]
        if package.name not in tried and (lines := project_lines(requirements, conflicting)):
            fits[package.name] = lines
    return fits


def project_lines(requirements: Sequence[str], packages: Sequence[str]) -> tuple[str, ...]:
    """The requirement lines of ``requirements`` on ``packages`` that constrain a version (``pytest>=9``)."""
    wanted = {canonicalize_name(p) for p in packages}
    found = []
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) in wanted and requirement.specifier:
            found.append(line)
    return tuple(dict.fromkeys(found))


def conflict(message: str) -> str:
    """uv's reason in one line: the ``Because …`` clause of a resolution failure, else the message."""
    match = _BECAUSE.search(message)
    return " ".join((match["why"] if match else message).split())


def _names(message: str, package: str) -> bool:
    """Whether uv's message names ``package`` itself (``pytest``, not ``pytest-cov``)."""
    pattern = re.escape(package).replace(r"\-", "[-_.]")
    return re.search(rf"(?<![\w.-]){pattern}(?![\w-])", message, re.IGNORECASE) is not None
