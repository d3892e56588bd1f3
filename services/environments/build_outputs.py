"""Version modules a project's build writes and git ignores, written into a task's tree when it lacks them.

A project versioned from its git tags often has its build write a version module and lists that module in
``.gitignore``: setuptools_scm's ``[tool.setuptools_scm] version_file`` / ``write_to``, hatch-vcs' build hook
``[tool.hatch.build.hooks.vcs] version-file`` and the same setuptools_scm keys in ``[tool.hatch.version]
raw-options`` (with ``source = "vcs"``). A snapshot holds what git tracks and the project is never installed (it
goes on PYTHONPATH), so a package whose ``__init__`` imports that module could not be imported at all.

Each such file missing from the tree is written the way the build would write it: a ``.py`` module defining
``__version__``/``version``, ``__version_tuple__``/``version_tuple`` and ``__commit_id__``/``commit_id`` (None: the
snapshot has no commit), a ``.txt`` file holding the version alone, or the project's own template when it needs no
more than ``{version}`` and ``{version_tuple}``. The version is an sdist's own (its ``PKG-INFO``, as the build reads
it), else the project's fallback (setuptools_scm's ``fallback_version``, hatch-vcs' ``fallback-version``), else a
static ``[project] version``, else ``0.0.0+unknown``: without git metadata and without a fallback the build itself
stops ("unable to detect version") rather than guess.

A file that cannot be written so (a template naming ``{scm_version...}``, a suffix the build has no default for, a
folder the snapshot lacks) is named with the reason, so that a task failing on the import says what is missing.
Nothing is read or written outside the tree, and nothing is written through a symbolic link.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.version import InvalidVersion, Version

UNKNOWN_VERSION = "0.0.0+unknown"
"""No version known: three release parts, as a project's own test of its version's shape expects (prettytable's
``test_version`` counts two dots), and a local label that says what it is."""
# the setuptools_scm keys that name a version file, each with the key of its template
SETUPTOOLS_SCM_FILES = (("version_file", "version_file_template"), ("write_to", "write_to_template"))
PY_MODULE = '''"""The version module the build generates ({setting}), written by Handoff: git ignores it, so the
snapshot did not hold it. Version {version} ({why})."""

__all__ = ["__version__", "version", "__version_tuple__", "version_tuple", "__commit_id__", "commit_id"]

__version__ = version = {version!r}
__version_tuple__ = version_tuple = {version_tuple!r}
__commit_id__ = commit_id = None
'''


@dataclass(frozen=True, slots=True)
class VersionFile:
    path: str  # relative to the project root, as the setting gives it
    setting: str  # where it is declared, e.g. "setuptools_scm write_to"
    template: str | None  # the project's own template; None: the build's default for the file's suffix
    version: str
    version_from: str  # where the version came from, for the file's docstring and the task's progress


@dataclass(frozen=True, slots=True)
class BuildOutputs:
    written: tuple[str, ...] = ()  # one line per file written
    missing: tuple[str, ...] = ()  # one line per build output neither in the tree nor written, with the reason

    def describe(self) -> str:
        """One sentence for the task's progress, summary and failure; empty when nothing was written or missing."""
        return "; ".join((*self.written, *self.missing))


def read_version_files(
    pyproject: Mapping[str, object], sdist: str | None = None
) -> tuple[list[VersionFile], list[str]]:
    """The version files ``pyproject`` (a parsed pyproject.toml) has its build write, and the problems of settings
    that name one in a form that cannot be used (not a string); ``sdist``: the version an sdist's PKG-INFO gives
    (``sdist_version``), which the build takes when there is no git metadata."""
    tool = _table(pyproject, "tool")
    project = _table(pyproject, "project")
    scm = _table(tool, "setuptools_scm")
    hatch = _table(tool, "hatch")
    hatch_version = _table(hatch, "version")
    raw = _table(hatch_version, "raw-options")
    found: list[VersionFile] = []
    problems: list[str] = []

    def add(table: Mapping[str, object], keys: tuple[str, str], setting: str, version: tuple[str, str]) -> None:
        path, template = table.get(keys[0]), table.get(keys[1])
        if path is None:
            return
        if not isinstance(path, str) or not path.strip():
            problems.append(f"{setting} is not a file name ({path!r}): not written")
            return
        if template is not None and not isinstance(template, str):
            problems.append(f"{path}, which the build generates ({setting}): its template is not a string")
            return
        if any(f.path == path for f in found):
            return
        found.append(VersionFile(path, setting, template, *version))

    if "setuptools_scm" in tool:
        version = _scm_version(project, scm, sdist)
        for keys in SETUPTOOLS_SCM_FILES:
            add(scm, keys, f"setuptools_scm {keys[0]}", version)
    if hatch_version.get("source") == "vcs":
        version = _hatch_vcs_version(project, hatch_version, sdist)
        for keys in SETUPTOOLS_SCM_FILES:
            add(raw, keys, f"hatch-vcs raw-options {keys[0]}", version)
        hook = _table(_table(_table(hatch, "build"), "hooks"), "vcs")
        add(hook, ("version-file", "template"), "hatch-vcs version-file", version)
    return found, problems


def project_version(pyproject: Mapping[str, object], sdist: str | None = None) -> tuple[str, str]:
    """The version a build of the snapshot gives the project, chosen as for its version files, and where it came
    from: an sdist's PKG-INFO (``sdist``), else setuptools_scm's or hatch-vcs' fallback, else a static ``[project]
    version``, else ``0.0.0+unknown``."""
    tool = _table(pyproject, "tool")
    project = _table(pyproject, "project")
    hatch_version = _table(_table(tool, "hatch"), "version")
    if "setuptools_scm" in tool:
        return _scm_version(project, _table(tool, "setuptools_scm"), sdist)
    if hatch_version.get("source") == "vcs":
        return _hatch_vcs_version(project, hatch_version, sdist)
    version, version_from = _version(project, None, "", sdist)
    if version == UNKNOWN_VERSION:
        version_from = "no static version declared; a dynamic one is not read without a build"
    return version, version_from


def render(file: VersionFile) -> str | None:
    """The file's text as the build would write it, or None when that cannot be done without git."""
    version_tuple = _version_tuple(file.version)
    if file.template is not None:
        try:
            return file.template.format(version=file.version, version_tuple=version_tuple)
        except (KeyError, IndexError, AttributeError, ValueError):
            return None  # it names what only git can tell ({scm_version.node}, ...) or is no format string
    suffix = PurePosixPath(file.path).suffix
    if suffix == ".py":
        return PY_MODULE.format(setting=file.setting, why=file.version_from, version=file.version,
                                version_tuple=version_tuple)  # fmt: skip
    if suffix == ".txt":
        return file.version
    return None


def read_pyproject(root: Path) -> dict[str, object] | None:
    """``root``'s pyproject.toml parsed; None when there is none or it cannot be read (``DependencyFileError``
    names that when the environment is prepared)."""
    try:
        return tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def restore_build_outputs(root: Path) -> BuildOutputs:
    """Write into ``root`` (a materialised snapshot) each version file its pyproject.toml has the build write and
    the tree lacks. A pyproject.toml that cannot be read writes nothing (the environment step reports it)."""
    pyproject = read_pyproject(root)
    if pyproject is None:
        return BuildOutputs()
    files, problems = read_version_files(pyproject, sdist_version(root))
    written: list[str] = []
    missing = list(problems)
    for file in files:
        what = f"{file.path}, which the build generates ({file.setting})"
        target, why = _target(root, file.path)
        if target is None:
            missing.append(f"{what}, is not in the snapshot and was not written: {why}")
            continue
        if target.exists() or target.is_symlink():
            continue  # the snapshot holds it (committed, or the tree is no git checkout)
        text = render(file)
        if text is None:
            suffix = PurePosixPath(file.path).suffix or "a file without suffix"
            reason = ("its template needs what only git can tell" if file.template is not None
                      else f"the build has no default template for {suffix}")  # fmt: skip
            missing.append(f"{what}, is not in the snapshot and was not written: {reason}")
            continue
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
        written.append(f"wrote {what}, version {file.version} ({file.version_from})")
    return BuildOutputs(written=tuple(written), missing=tuple(missing))


def _target(root: Path, path: str) -> tuple[Path | None, str]:
    """Where ``path`` is in ``root``, or None and why it cannot be written there."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path or "\0" in path:
        return None, "the path leaves the project"
    folder = root
    for part in pure.parts[:-1]:
        folder = folder / part
        if folder.is_symlink():
            return None, f"{folder.relative_to(root).as_posix()} is a symbolic link"
        if not folder.is_dir():
            return None, f"its folder {folder.relative_to(root).as_posix()}/ is not in the snapshot either"
    return folder / pure.name, ""


def sdist_version(root: Path) -> str | None:
    """The ``Version`` an sdist's ``PKG-INFO`` at ``root`` declares (setuptools_scm and hatch-vcs read it when there
    is no git metadata: an sdist has none), or None: no such file, or no valid version in its header."""
    try:
        header = (root / "PKG-INFO").read_text(encoding="utf-8", errors="replace").split("\n\n", 1)[0]
    except OSError:
        return None
    for line in header.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "version":
            try:
                return str(Version(value.strip()))
            except InvalidVersion:
                return None
    return None


def _scm_version(project: Mapping[str, object], scm: Mapping[str, object], sdist: str | None) -> tuple[str, str]:
    return _version(project, scm.get("fallback_version"), "setuptools_scm fallback_version", sdist)


def _hatch_vcs_version(
    project: Mapping[str, object], hatch_version: Mapping[str, object], sdist: str | None
) -> tuple[str, str]:
    fallback = hatch_version.get("fallback-version", _table(hatch_version, "raw-options").get("fallback_version"))
    return _version(project, fallback, "hatch-vcs fallback-version", sdist)


def _version(
    project: Mapping[str, object], fallback: object, fallback_setting: str, sdist: str | None
) -> tuple[str, str]:
    """The version to write and where it came from."""
    if sdist is not None:
        return sdist, "the sdist's PKG-INFO"
    if isinstance(fallback, str) and fallback.strip():
        return fallback.strip(), fallback_setting
    declared = project.get("version")
    dynamic = project.get("dynamic")
    if isinstance(declared, str) and declared.strip() and not (isinstance(dynamic, list) and "version" in dynamic):
        return declared.strip(), "[project] version"
    return UNKNOWN_VERSION, "no git metadata in the snapshot and no fallback version declared"


def _version_tuple(version: str) -> tuple[int | str, ...]:
    """The release numbers, then the pre-, post- and dev-release parts and the local part: ``(0, 'unknown')``."""
    try:
        parsed = Version(version)
    except InvalidVersion:
        return (version,)
    parts: list[int | str] = list(parsed.release)
    if parsed.pre is not None:
        parts.append(f"{parsed.pre[0]}{parsed.pre[1]}")
    if parsed.post is not None:
        parts.append(f"post{parsed.post}")
    if parsed.dev is not None:
        parts.append(f"dev{parsed.dev}")
    if parsed.local is not None:
        parts.append(parsed.local)
    return tuple(parts)


def _table(parent: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}
