"""Where and how the checks run: the tree (a clean copy), the project's interpreter, an ``Exec`` and a scratch
directory outside the tree for reports, coverage data and Handoff's small helper files."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from handoff.assurance.errors import CommandTimedOut
from handoff.assurance.execute import Exec, subprocess_exec
from handoff.assurance.settings import PYTEST_TIMEOUT_S

OUTCOMES_PLUGIN = "handoff_outcomes"  # module name of the pytest plugin that writes one outcome per node id
IGNORE_PLUGIN = "handoff_ignore"  # ... and of the one that makes --ignore hold against a project's conftest
MUTANTS_PLUGIN = "handoff_mutants"  # ... and of the one runs against mutants load (``-p``): cosmic-ray's names
_PLUGINS = {OUTCOMES_PLUGIN: "pytest_outcomes.py", IGNORE_PLUGIN: "pytest_ignore.py",
            MUTANTS_PLUGIN: "pytest_mutants.py"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PytestRun:
    exit_code: int
    output: str
    outcomes: dict[str, str]  # node id -> 'passed', 'failed' (in the test) or 'error' (setup/teardown); no skips
    messages: dict[str, str]  # node id -> the failure's one-line message
    collection_errors: dict[str, str] = field(default_factory=dict)  # module node id -> why it did not collect
    internal_error: str = ""  # pytest's INTERNALERROR: the exception and where in the tree it was raised


@dataclass(frozen=True, slots=True, kw_only=True)
class TestBed:
    __test__ = False  # not a pytest class

    root: Path  # the tree the commands run in
    python: Path  # the project's interpreter, with pytest, coverage and cosmic-ray installed
    scratch: Path  # private, writable, outside root
    env: Mapping[str, str] = field(default_factory=dict)
    exec: Exec = subprocess_exec
    timeout_s: float = PYTEST_TIMEOUT_S

    def __post_init__(self) -> None:
        self.scratch.mkdir(parents=True, exist_ok=True)
        helpers = self.scratch / "helpers"
        helpers.mkdir(exist_ok=True)
        for plugin, source in _PLUGINS.items():
            (helpers / f"{plugin}.py").write_text(resources.files("handoff.assurance").joinpath(source).read_text())

    def run_env(self, root: Path | None = None) -> dict[str, str]:
        """The caller's environment with the tree (and its src/) and the helper directory on PYTHONPATH."""
        base = root or self.root
        paths = [str(base)] + ([str(base / "src")] if (base / "src").is_dir() else [])
        paths.append(str(self.scratch / "helpers"))
        return {**self.env, "PYTHONPATH": os.pathsep.join(paths), "PYTHONDONTWRITEBYTECODE": "1"}

    async def run(
        self, argv: Sequence[str], *, root: Path | None = None, extra_env: Mapping[str, str] | None = None
    ) -> tuple[int, str]:
        """Run in the tree; a timeout raises ``CommandTimedOut``."""
        env = {**self.run_env(root), **(extra_env or {})}
        code, output = await self.exec(list(argv), root or self.root, env, self.timeout_s)
        if code is None:
            raise CommandTimedOut(f"{' '.join(argv[:6])} … did not finish within {self.timeout_s:g} s", output)
        return code, output

    async def pytest(
        self, args: Sequence[str], *, name: str, prefix: Sequence[str] = (), root: Path | None = None
    ) -> PytestRun:
        """``python [prefix] -m pytest args`` with the outcomes plugin; ``name`` names its report in scratch."""
        report = self.scratch / f"{name}.outcomes.json"
        report.unlink(missing_ok=True)
        argv = [str(self.python), *prefix, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", OUTCOMES_PLUGIN,
                "-p", IGNORE_PLUGIN, f"--rootdir={root or self.root}", *args]  # fmt: skip
        code, output = await self.run(argv, root=root, extra_env={"HANDOFF_OUTCOMES_FILE": str(report)})
        found = json.loads(report.read_text()) if report.exists() else {}
        return PytestRun(code, output, found.get("outcomes", {}), found.get("messages", {}),
                         collection_errors=found.get("collection_errors", {}),
                         internal_error=found.get("internal_error", ""))  # fmt: skip

    def copy_tree(self, name: str) -> Path:
        """A private copy of the tree under scratch (for commands that change files in place)."""
        target = self.scratch / name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.root, target, symlinks=True)
        return target
