"""Poetry's dependency tables as PEP 508 requirement strings.

A table maps a name to a constraint (``"^1.2"``), to a dict (``{version = "^1.2", extras = ["x"], python = "<3.9",
markers = "...", optional = true}``, or ``git`` / ``url`` / ``path`` instead of ``version``) or to a list of such
dicts (one per Python range). ``python`` itself is not a package. Constraints follow Poetry's grammar:

- ``*`` or empty: any version; ``1.2.3`` (bare): ``==1.2.3``; ``1.2.*``: ``==1.2.*``;
- ``^1.2.3``: ``>=1.2.3,<2.0.0``; the first non-zero component is the one bumped (``^0.2.3``: ``<0.3.0``,
  ``^0.0.3``: ``<0.0.4``, ``^0.0``: ``<0.1``, ``^0``: ``<1``);
- ``~1.2.3``: ``>=1.2.3,<1.3.0``; ``~1``: ``>=1,<2``; ``~=`` is PEP 440's;
- comparisons joined by ``,`` or spaces are all required (``>=1.2, <2`` and ``>=1.2 <2``).

What cannot be said in PEP 508 is recorded as a note rather than guessed: a constraint with ``||`` (either of
two ranges) is required without a version; a ``path`` dependency (local, not reproducible) and an entry that is
neither a constraint nor a known dict are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

_VERSION = r"\d+(?:\.\d+)*"
_COMPARISON = re.compile(r"^(===|==|!=|<=|>=|~=|<|>|=)?\s*(\S+)$")
_AND_SPLIT = re.compile(r"\s*,\s*|\s+(?=[<>=!~^])")


class Untranslatable(ValueError):
    """A Poetry constraint that has no PEP 440 equivalent."""


@dataclass(slots=True)
class Translation:
    requirements: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was left out or loosened, and why


def translate_table(table: object, *, where: str, optional_wanted: frozenset[str] = frozenset()) -> Translation:
    """The requirements of one Poetry dependency table (``[tool.poetry.dependencies]``, a group's ``dependencies``).

    ``optional = true`` entries are extras' dependencies: kept only when named in ``optional_wanted`` (the names
    listed under the test extras of ``[tool.poetry.extras]``).
    """
    result = Translation()
    if not isinstance(table, dict):
        result.notes.append(f"{where}: not a table of dependencies: {table!r}"[:200])
        return result
    for name, spec in table.items():
        if not isinstance(name, str) or name.lower() == "python":
            continue
        for entry in spec if isinstance(spec, list) else [spec]:
            if isinstance(entry, dict) and entry.get("optional") is True and name.lower() not in optional_wanted:
                continue
            try:
                requirement, note = translate_entry(name, entry)
            except Untranslatable as err:
                result.notes.append(f"{where}: {name}: {err} (left out)"[:200])
                continue
            if note:
                result.notes.append(f"{where}: {name}: {note}"[:200])
            result.requirements.append(requirement)
    return result


def translate_entry(name: str, entry: object) -> tuple[str, str]:
    """One dependency as a PEP 508 string, and a note when its version bound had to be dropped."""
    note = ""
    if isinstance(entry, str):
        entry = {"version": entry}
    if not isinstance(entry, dict):
        raise Untranslatable(f"not a version constraint or a table: {entry!r}")
    if "path" in entry:
        raise Untranslatable(f"a local path ({entry['path']}) is not reproducible")
    extras = entry.get("extras", [])
    if not (isinstance(extras, list) and all(isinstance(e, str) for e in extras)):
        raise Untranslatable(f"extras is not a list of names: {extras!r}")
    head = name + (f"[{','.join(extras)}]" if extras else "")
    if "git" in entry:
        ref = next((entry[k] for k in ("rev", "tag", "branch") if isinstance(entry.get(k), str)), None)
        url = f"git+{entry['git']}" + (f"@{ref}" if ref else "")
        if isinstance(entry.get("subdirectory"), str):
            url += f"#subdirectory={entry['subdirectory']}"
        head += f" @ {url}"
    elif "url" in entry:
        head += f" @ {entry['url']}"
    else:
        version = entry.get("version", "*")
        if not isinstance(version, str):
            raise Untranslatable(f"version is not a string: {version!r}")
        try:
            head += translate_constraint(version)
        except Untranslatable as err:
            if "||" not in version and "|" not in version:
                raise
            note = f"{err}: required without a version bound"
    markers = []
    if isinstance(entry.get("python"), str) and (python := python_marker(entry["python"])):
        markers.append(python)
    if isinstance(entry.get("markers"), str):
        markers.append(f"({entry['markers']})")
    text = head
    if markers:
        text += (" ; " if " @ " in head else "; ") + " and ".join(markers)
    try:
        return str(Requirement(text)), note
    except InvalidRequirement as err:
        raise Untranslatable(f"not a valid requirement once translated ({text}): {err}") from err


def translate_constraint(constraint: str) -> str:
    """A Poetry version constraint as a PEP 440 specifier set (``""`` for any version)."""
    text = constraint.strip()
    if "|" in text:
        raise Untranslatable(f"the constraint {constraint!r} allows either of several ranges (||), not in PEP 440")
    if text in ("", "*"):
        return ""
    parts = [part for part in _AND_SPLIT.split(text) if part]
    specifiers: list[str] = []
    for part in parts:
        specifiers += _one(part, constraint)
    joined = ",".join(specifiers)
    try:
        SpecifierSet(joined)
    except InvalidSpecifier as err:
        raise Untranslatable(f"the constraint {constraint!r} is not a version range: {err}") from err
    return joined


def python_marker(constraint: str) -> str:
    """Poetry's ``python = "..."`` as an environment marker (``python_version`` for ``X.Y`` bounds); ``""`` for
    any Python."""
    specifiers = translate_constraint(constraint)
    if not specifiers:
        return ""
    clauses = []
    for spec in specifiers.split(","):
        match = re.match(r"^(===|==|!=|<=|>=|~=|<|>)(.+)$", spec)
        if match is None:  # translate_constraint only returns operator-led specifiers
            raise Untranslatable(f"python {constraint!r}: {spec!r} is not a comparison")
        op, version = match.groups()
        variable = "python_full_version" if version.rstrip(".*").count(".") >= 2 else "python_version"
        clauses.append(f'{variable} {op} "{version}"')
    return "(" + " and ".join(clauses) + ")"


def _one(part: str, constraint: str) -> list[str]:
    if part.startswith("^"):
        return _caret(part[1:].strip(), constraint)
    if part.startswith("~") and not part.startswith("~="):
        return _tilde(part[1:].strip(), constraint)
    match = _COMPARISON.match(part)
    if match is None:
        raise Untranslatable(f"the constraint {constraint!r} has {part!r}, not a comparison")
    op, version = match.groups()
    op = "==" if op in (None, "=") else op
    return [f"{op}{version}"]


def _caret(version: str, constraint: str) -> list[str]:
    numbers = _numbers(version, constraint)
    bump = next((i for i, n in enumerate(numbers) if n != 0), len(numbers) - 1)
    upper = [*numbers[:bump], numbers[bump] + 1]
    upper += [0] * (len(numbers) - len(upper))
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _tilde(version: str, constraint: str) -> list[str]:
    numbers = _numbers(version, constraint)
    upper = [numbers[0] + 1] if len(numbers) == 1 else [numbers[0], numbers[1] + 1]
    return [f">={version}", f"<{'.'.join(map(str, upper))}"]


def _numbers(version: str, constraint: str) -> list[int]:
    release = re.match(rf"^({_VERSION})", version)
    if release is None:
        raise Untranslatable(f"the constraint {constraint!r} has no version after ^ or ~")
    return [int(n) for n in release.group(1).split(".")]
