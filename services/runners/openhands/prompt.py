"""What the agent is asked: the task prompt, the project's test conventions, and feedback after validation.

The prompt carries a small machine-readable block (``TARGETS_HEADER`` then ``- <module> -> <test file>``
lines) so that a scripted stand-in model can find the targets; real models simply read it as a list.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from handoff.runners.openhands.import_style import folder_note
from handoff.runners.openhands.layout import Assignment, folders_of, is_test_name
from handoff.schemas.events import GenerateTests

TARGETS_HEADER = "Targets (module -> test file to write):"
WORKSPACE_LABEL = "Workspace:"
_TARGET_LINE = re.compile(r"^- (?P<target>\S.*?) -> (?P<test>\S.*)$")
MAX_EXAMPLE_LINES = 40
MAX_LISTED_TESTS = 15


def conventions(workspace: Path, test_dir: str, folders: Sequence[str] = ()) -> str:
    """A short description of the tests the project already has, with an excerpt of one of them; ``folders``
    (the test folders the targets' files are in, else ``test_dir``) are said to be packages or not."""
    folders = list(folders) or [test_dir]
    existing = sorted(
        p for p in workspace.rglob("*.py") if is_test_name(p.name) and ".venv" not in p.parts and p.is_file()
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
    for folder in folders:
        if (workspace / folder / "conftest.py").is_file():
            lines.append(f"{folder}/conftest.py defines shared fixtures; read it and reuse them.")
        if note := folder_note(workspace, folder):
            lines.append(note)
    sample = existing[0]
    excerpt = "\n".join(_read(sample).splitlines()[:MAX_EXAMPLE_LINES])
    lines += [f"Excerpt of {sample.relative_to(workspace)}:", "```python", excerpt, "```"]
    return "\n".join(lines)


def task_prompt(payload: GenerateTests, workspace: Path, assignments: Sequence[Assignment], *, tools: str = "") -> str:
    """The first message of a task; ``tools`` names test generators the agent may run in its terminal."""
    targets = "\n".join(f"- {a.target} -> {a.test_file}" for a in assignments)
    instructions = f"\nAdditional instructions:\n{payload.instructions}\n" if payload.instructions.strip() else ""
    instructions = (f"\nTools:\n{tools}\n" if tools else "") + instructions
    folders = folders_of(assignments)
    if folders in ([], [payload.test_dir]):
        where = f"files under {payload.test_dir}/ (test files and, if needed, a conftest.py)"
    else:  # the project's own test folders: its other modules there are not the task's to change
        where = f"test modules (test_*.py) and, if needed, a conftest.py in {', '.join(f + '/' for f in folders)},"
    return f"""Write {payload.framework} unit tests for the modules below.

{WORKSPACE_LABEL} {workspace}
{TARGETS_HEADER}
{targets}

Goal: the tests must pass, and together reach at least {payload.coverage_goal_pct:g} % line coverage of each
target module. Cover normal behaviour, edge cases and error paths.

Rules:
- Only create or change {where} and the
  test files named above (a project's test file named above is extended: keep its tests). Do not
  change the modules under test: if one has a bug, write the test for its current behaviour and say so.
- The file editor needs absolute paths inside the workspace, e.g. {workspace}/{assignments[0].test_file}.
- Run your tests with `python -m pytest -q <test file>` from the workspace before you finish.
- Finish (the finish tool) only when the tests pass. They will then be run again, with coverage, by the
  system that gave you this task; if they fail there you will get the output and another chance.

Project conventions:
{conventions(workspace, payload.test_dir, folders)}
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


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""
