"""What a task leaves behind: its patch and the files it wrote, in the artifacts store; a one-paragraph summary.

Events carry references (bucket, name, size, sha256), never the bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nats.js import JetStreamContext

from handoff.artifacts.settings import artifact_max_bytes_from_env
from handoff.artifacts.store import put_artifact
from handoff.runners.openhands.validation import ValidationReport
from handoff.runners.openhands.workspace import Change
from handoff.schemas.events import ArtifactRef, RefusedChange

UNSANDBOXED_NOTE = "UNSANDBOXED: the agent and its tests ran without a sandbox (HANDOFF_SANDBOX=none)."

MAX_STORED_FILES = 100
PATCH_TYPE = "text/x-diff"


@dataclass(frozen=True, slots=True)
class Outputs:
    patch: ArtifactRef | None = None
    files: list[ArtifactRef] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    refused: list[RefusedChange] = field(default_factory=list)


async def store_outputs(
    js: JetStreamContext,
    tree: Path,
    *,
    prefix: str,
    patch: bytes,
    changes: Sequence[Change],
    refused: Sequence[RefusedChange] = (),
) -> Outputs:
    """Store the patch and each added or modified file (up to ``MAX_STORED_FILES``) under ``prefix/``.

    ``tree`` is the clean copy the accepted changes were applied to (see changes.py): what is stored is what
    was screened and validated, never the agent's workspace.
    """
    if not changes:
        return Outputs(refused=list(refused))
    limit = artifact_max_bytes_from_env()
    patch_ref = await put_artifact(js, f"{prefix}/patch.diff", patch, content_type=PATCH_TYPE, max_bytes=limit)
    files: list[ArtifactRef] = []
    skipped: list[str] = []
    for change in changes:
        path = tree / change.path
        if change.status == "D" or path.is_symlink() or not path.is_file():
            continue
        if len(files) >= MAX_STORED_FILES or path.stat().st_size > limit:
            skipped.append(change.path)  # still in the patch
            continue
        content_type = "text/x-python" if change.path.endswith(".py") else "application/octet-stream"
        files.append(await put_artifact(js, f"{prefix}/files/{change.path}", path, content_type=content_type))
    return Outputs(patch=patch_ref, files=files, changes=list(changes), skipped_files=skipped, refused=list(refused))


def summarize(
    report: ValidationReport,
    outputs: Outputs,
    *,
    rounds_used: int,
    rounds_total: int,
    goal_pct: float,
    label: str = "",
    sandboxed: bool = True,
    baseline_note: str = "",
    rescued: int = 0,
) -> str:
    """``baseline_note`` (the project's own tests did not collect or run, or some failed) comes first: every figure
    after it that speaks of the existing tests is about what ran instead. ``rescued``: tests re-admitted for the
    mutants they kill after validation measured the kept tests' coverage (counted in the figures, not in it)."""
    first = [baseline_note] if baseline_note else []
    if report.existing_tests_suffice:
        coverage = "; ".join(f"{c.target} {c.percent:g} %" if c.total_lines else f"{c.target} nothing to measure"
                             for c in report.coverage)  # fmt: skip
        said = existing_tests_suffice(goal_pct, written=not report.no_test_written)
        parts = [*first, said, f"Line coverage by the existing tests: {coverage}.",
                 f"Validation rounds used: {rounds_used} of {rounds_total}."]  # fmt: skip
        return label + " ".join([*parts, *([] if sandboxed else [UNSANDBOXED_NOTE])])
    tests = ", ".join(report.test_files) or "none"
    others = [c.path for c in outputs.changes if c.path not in report.test_files]
    coverage = "; ".join(f"{c.target} {c.percent:g} %" for c in report.coverage) or "not measured"
    goal = "met" if report.goal_met else "not met"
    whose = "the kept tests alone"
    if report.run_whole:  # extended files whose kept tests could not be named: run whole, the project's tests too
        whose = f"the kept tests and the project's own tests of {', '.join(report.run_whole)}"
    parts = [
        *first,
        f"Wrote {len(report.test_files)} test file(s): {tests}.",
        f"{report.collected} test{'' if report.collected == 1 else 's'} collected, {report.passed} passed, "
        f"{report.failed} failed" + (f" ({whose})." if report.run_whole else "."),
        f"Line coverage by {whose}{rescued_words(rescued) if coverage != 'not measured' else ''}: {coverage}.",
        f"Coverage goal {goal_pct:g} % (line+branch, with the project's existing tests): {goal}.",
        f"Validation rounds used: {rounds_used} of {rounds_total}.",
    ]
    if others:
        parts.append(f"Other files changed: {', '.join(others[:20])}{' …' if len(others) > 20 else ''}.")
    if outputs.refused:
        shown = ", ".join(f"{r.path} ({r.reason.value})" for r in outputs.refused[:10])
        more = " …" if len(outputs.refused) > 10 else ""
        parts.append(f"{len(outputs.refused)} change(s) left out of the patch: {shown}{more}.")
    if outputs.skipped_files:
        parts.append(f"{len(outputs.skipped_files)} file(s) only in the patch (too many or too large).")
    if not sandboxed:
        parts.append(UNSANDBOXED_NOTE)
    text = " ".join(parts)
    return label + text


def rescued_words(rescued: int) -> str:
    """After a coverage figure measured before the mutation rescue: that it leaves the re-admitted tests out."""
    return f", before the {rescued} test(s) re-admitted for the mutants they kill" if rescued else ""


def existing_tests_suffice(goal_pct: float, *, written: bool = False) -> str:
    """What a task says when it adds no test and the project's own tests reach the goal; ``written``: tests were
    written and every one was dropped (the dropped tests say why), which the goal alone does not explain."""
    dropped = ", and none of the tests written was kept (see the dropped tests)" if written else ""
    return f"The project's existing tests already meet the coverage goal ({goal_pct:g} %){dropped}: no test was added."
