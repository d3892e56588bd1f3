"""What the agent is asked: the task prompt, the project's test conventions, and feedback after validation.

The prompt carries a small machine-readable block (``TARGETS_HEADER`` then ``- <module> -> <test file>``
lines) so that a scripted stand-in model can find the targets; real models simply read it as a list.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from handoff.schemas.events import GenerateTests

TARGETS_HEADER = "Targets (module -> test file to write):"
WORKSPACE_LABEL = "Workspace:"
_TARGET_LINE = re.compile(r"^- (?P<target>\S.*?) -> (?P<test>\S.*)$")
MAX_EXAMPLE_LINES = 40
MAX_LISTED_TESTS = 15
# folders a project's test modules are not looked for in (environments, build output, caches)
NOT_SEARCHED = frozenset({"node_modules", "site-packages", "build", "dist", "venv", "env", "__pycache__"})


@dataclass(frozen=True, slots=True)
class Assignment:
    target: str
    test_file: str


def assign_test_files(targets: Sequence[str], test_dir: str, workspace: Path | None = None) -> list[Assignment]:
    """``pkg/calc.py`` -> ``<test_dir>/test_calc.py``; stems that collide get their package in the name.

    With ``workspace``, a name the project already uses for a test module elsewhere (``test/test_calc.py``) is
    not given again: pytest's default import mode imports both as ``test_calc`` and stops collecting ("import file
    mismatch"). The target's tests then extend the project's file instead."""
    stems: dict[str, int] = {}
    for target in targets:
        stems[PurePosixPath(target).stem] = stems.get(PurePosixPath(target).stem, 0) + 1
    taken = project_test_modules(workspace) if workspace is not None else {}
    assignments = []
    for target in targets:
        path = PurePosixPath(target)
        stem = path.stem if path.stem != "__init__" else (path.parent.name or "package")
        if stems.get(path.stem, 0) > 1 or path.stem == "__init__":
            parent = path.parent.name
            stem = f"{parent}_{stem}" if parent and parent != stem else stem
        name = f"test_{stem}.py"
        test_file = taken.get(name) or str(PurePosixPath(test_dir) / name)
        assignments.append(Assignment(target=target, test_file=test_file))
    return assignments


def project_test_modules(workspace: Path) -> dict[str, str]:
    """The project's test modules by file name (``test_calc.py`` -> ``test/test_calc.py``, the first in path
    order), hidden folders and environments not searched."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(workspace):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in NOT_SEARCHED)
        for name in sorted(files):
            if _is_test_name(name) and name not in found:
                found[name] = (Path(folder) / name).relative_to(workspace).as_posix()
    return found


def conventions(workspace: Path, test_dir: str) -> str:
    """A short description of the tests the project already has, with an excerpt of one of them."""
    tests_root = workspace / test_dir
    existing = sorted(
        p for p in workspace.rglob("*.py") if _is_test_name(p.name) and ".venv" not in p.parts and p.is_file()
    )
    if not existing:
        return f"The project has no tests yet; create {test_dir}/ and use plain pytest functions."
    lines = [f"The project already has {len(existing)} test file(s), for example:"]
    lines += [f"  {p.relative_to(workspace)}" for p in existing[:MAX_LISTED_TESTS]]
    unittest_style = sum("unittest.TestCase" in _read(p) for p in existing)
    if unittest_style > len(existing) / 2:
        lines.append("Most use unittest.TestCase classes; pytest runs them. Follow their style.")
    else:
        lines.append("They are pytest-style tests; follow their style (plain functions, fixtures, assert).")
    if (tests_root / "conftest.py").is_file():
        lines.append(f"{test_dir}/conftest.py defines shared fixtures; read it and reuse them.")
    sample = existing[0]
    excerpt = "\n".join(_read(sample).splitlines()[:MAX_EXAMPLE_LINES])
    lines += [f"Excerpt of {sample.relative_to(workspace)}:", "```python", excerpt, "```"]
    return "\n".join(lines)


def task_prompt(payload: GenerateTests, workspace: Path, assignments: Sequence[Assignment], *, tools: str = "") -> str:
    """The first message of a task; ``tools`` names test generators the agent may run in its terminal."""
    targets = "\n".join(f"- {a.target} -> {a.test_file}" for a in assignments)
    instructions = f"\nAdditional instructions:\n{payload.instructions}\n" if payload.instructions.strip() else ""
    instructions = (f"\nTools:\n{tools}\n" if tools else "") + instructions
    return f"""Write {payload.framework} unit tests for the modules below.

{WORKSPACE_LABEL} {workspace}
{TARGETS_HEADER}
{targets}

Goal: the tests must pass, and together reach at least {payload.coverage_goal_pct:g} % line coverage of each
target module. Cover normal behaviour, edge cases and error paths.

Rules:
- Only create or change files under {payload.test_dir}/ (test files and, if needed, a conftest.py) and the
  test files named above (a project's test file named above is extended: keep its tests). Do not
  change the modules under test: if one has a bug, write the test for its current behaviour and say so.
- The file editor needs absolute paths inside the workspace, e.g. {workspace}/{assignments[0].test_file}.
- Run your tests with `python -m pytest -q <test file>` from the workspace before you finish.
- Finish (the finish tool) only when the tests pass. They will then be run again, with coverage, by the
  system that gave you this task; if they fail there you will get the output and another chance.

Project conventions:
{conventions(workspace, payload.test_dir)}
{instructions}"""


def feedback_prompt(*, round_no: int, rounds_total: int, problem: str, output: str) -> str:
    shown = f"\n```\n{output}\n```\n" if output.strip() else "\n"
    return (
        f"Validation of your tests failed (round {round_no} of {rounds_total}): {problem}{shown}"
        "Fix the tests (not the modules under test), run them again, and finish when they pass."
    )


def coverage_prompt(*, round_no: int, rounds_total: int, gaps: Sequence[str], goal_pct: float) -> str:
    listed = "\n".join(f"- {gap}" for gap in gaps)
    return (
        f"Your tests pass, but coverage is below the goal of {goal_pct:g} % (round {round_no} of {rounds_total}):\n"
        f"{listed}\nAdd tests for the lines not covered, run them, and finish when they pass."
    )


def mutation_prompt(survivors: str, *, goal_pct: float) -> str:
    """One more round on the changes to the code that every kept test let pass (mutants that survived)."""
    return (
        f"Your tests pass, but their mutation score is under the goal of {goal_pct:g} %. These are changes your "
        f"tests did not notice:\n{survivors}\nAdd tests that fail on each of these changes and pass on the code "
        "as it is, run them, and finish when they pass."
    )


def parse_targets(prompt: str) -> tuple[Path | None, list[Assignment]]:
    """The workspace and target lines of a prompt built by ``task_prompt`` (used by the scripted model)."""
    workspace = None
    assignments = []
    in_block = False
    for line in prompt.splitlines():
        if line.startswith(WORKSPACE_LABEL):
            workspace = Path(line.removeprefix(WORKSPACE_LABEL).strip())
        elif line.strip() == TARGETS_HEADER:
            in_block = True
        elif in_block:
            match = _TARGET_LINE.match(line.strip())
            if match is None:
                in_block = False
            else:
                assignments.append(Assignment(target=match["target"], test_file=match["test"]))
    return workspace, assignments


def _is_test_name(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
