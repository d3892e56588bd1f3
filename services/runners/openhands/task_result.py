"""The end of a task: its outputs stored (patch and files of the clean copy), then either the failure that says
why nothing usable was produced, or the ``TestGenerationResult`` with its summary and quality figures."""

from __future__ import annotations

from typing import NoReturn

import nats.errors
from nats.js import JetStreamContext

from handoff.artifacts.errors import ArtifactTooLarge, BucketMissing
from handoff.artifacts.store import put_artifact
from handoff.common.secrets import Redactor
from handoff.environments import ProjectEnv
from handoff.runners.base import PermanentFailure, TransientFailure
from handoff.runners.openhands.assure import Assurance
from handoff.runners.openhands.changes import ChangeSet
from handoff.runners.openhands.outputs import PATCH_TYPE, Outputs, store_outputs
from handoff.runners.openhands.round_check import HandOver
from handoff.runners.openhands.validation import ValidationReport
from handoff.schemas.events import (
    ArtifactRef,
    ErrorCode,
    GenerateTests,
    LlmUsage,
    ProjectEnvironment,
    RefusalReason,
    TestGenerationResult,
)


async def store(js: JetStreamContext, handed: HandOver, *, prefix: str, redact: Redactor) -> Outputs:
    """The handed-over patch and files in the artifacts store (never a patch that carries a secret)."""
    if redact.found_in(handed.patch):  # the screened files are clean: only the snapshot's context is left
        raise PermanentFailure(ErrorCode.SECRET_IN_OUTPUT, "the patch would carry a secret of this worker")
    try:
        return await store_outputs(js, handed.tree, prefix=prefix, patch=handed.patch,
                                   changes=handed.changes.accepted, refused=handed.changes.listed())  # fmt: skip
    except ArtifactTooLarge as err:
        raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, str(err)) from err
    except OSError as err:
        raise PermanentFailure(ErrorCode.WORKSPACE_ERROR, f"reading the results failed: {err}") from err
    except (BucketMissing, nats.errors.Error, TimeoutError) as err:
        raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"storing the results failed: {err!r}") from err


async def store_written(js: JetStreamContext, written: bytes, *, prefix: str, redact: Redactor) -> ArtifactRef | None:
    """The last round's patch as written, before judging, in the artifacts store; None when there is none, or when it
    cannot be kept (it would carry a secret, or exceeds the artifact limit): what is handed over does not depend on
    it, so neither fails the task. A broker error is transient, as when the hand-over is stored."""
    if not written or redact.found_in(written):
        return None
    try:
        return await put_artifact(js, f"{prefix}/written.diff", written, content_type=PATCH_TYPE)
    except ArtifactTooLarge:
        return None
    except (BucketMissing, nats.errors.Error, TimeoutError) as err:
        raise TransientFailure(ErrorCode.WORKSPACE_ERROR, f"storing the results failed: {err!r}") from err


LAST_ROUND_PATCH = "patch of the last round (not validated):"
"""How a validation failure's detail names the stored patch of its last round (``bucket/name`` follows)."""


def usable(report: ValidationReport, outputs: Outputs) -> bool:
    """A validated round with files to hand over, or one where the project's own tests already meet the goal."""
    return report.ok and (bool(outputs.changes) or report.existing_tests_suffice)


def fail(
    report: ValidationReport,
    outputs: Outputs,
    found: ChangeSet,
    *,
    rounds: int,
    task_id: str,
    tool_error: str,
    said: str,
    redact: Redactor,
    baseline_note: str = "",
    build_note: str = "",
    metadata_note: str = "",
    engines_note: str = "",
) -> NoReturn:
    """Raise the failure of a task that produced nothing usable: no files, only secrets, or no validated round.

    ``baseline_note`` (the project's own tests did not collect or run, or some failed) is the detail's last line;
    ``build_note`` (version modules the build writes, written into the snapshot or missing from it) and
    ``metadata_note`` (the project's distribution metadata, made visible or not) the lines before; ``engines_note``
    (offline engines fitted in or left out of the project's environment) before those. A validation failure's
    detail also says how the filters judged the round's tests (``report.judgement``) and names the round's patch
    and the command that prints it."""
    notes = [f"the agent's last message: {said}"] if said else []
    if found.refused:
        notes.append(f"left out of the patch: {found.describe(limit=50)}")
    if tool_error:
        notes.append(f"last tool error of the agent: {tool_error}")
    if engines_note:
        notes.append(f"engines: {engines_note}")
    if build_note:
        notes.append(f"build output not in the snapshot: {build_note}")
    if metadata_note:
        notes.append(metadata_note)
    if baseline_note and baseline_note not in report.output:
        notes.append(baseline_note)
    if not outputs.changes:
        if found.refused_for(RefusalReason.SECRET):
            raise PermanentFailure(
                ErrorCode.SECRET_IN_OUTPUT,
                f"every file the agent wrote held a secret or credential and was dropped "
                f"({len(found.refused_for(RefusalReason.SECRET))} file(s))",
                detail=redact("\n".join(notes)),
            )
        what = "wrote no files" if not found.refused else "wrote no file that may be handed over"
        raise PermanentFailure(
            ErrorCode.NO_FILES_PRODUCED,
            f"the agent {what} in {rounds} round(s)",
            detail=redact("\n".join([report.output, *notes] if report.output else notes)),
        )
    where = ""
    if outputs.patch:  # the CLI finds the artifact by this line (cli/result_cmd.py)
        where = (f"{LAST_ROUND_PATCH} {outputs.patch.bucket}/{outputs.patch.name}\n"
                 f"print it: handoff result {task_id} --patch")  # fmt: skip
    parts = (report.output, report.judgement, where, *notes)
    raise PermanentFailure(
        ErrorCode.VALIDATION_FAILED,
        redact(f"validation failed after {rounds} round(s): {report.problem}"),
        detail=redact("\n\n".join(part for part in parts if part)),
    )


def assemble(
    payload: GenerateTests,
    *,
    summary: str,
    report: ValidationReport,
    outputs: Outputs,
    handed: HandOver,
    assurance: Assurance,
    rounds_used: int,
    usage: LlmUsage,
    stopped: PermanentFailure | None,
    sandbox_mode: str,
    project_env: ProjectEnv,
    written: ArtifactRef | None = None,
) -> TestGenerationResult:
    """The wire result of a task that handed something over (or found nothing to add). A mutation goal is met only
    when every target was scored and reached it: one not measured is never reported as met."""
    mutation_met = mutation_goal_met(assurance, payload.mutation_goal_pct)
    return TestGenerationResult(
        summary=summary,
        files_produced=bool(outputs.changes),
        files=outputs.files,
        patch=outputs.patch,
        written_patch=written,
        test_files=report.test_files,
        tests_collected=report.collected,
        tests_passed=report.passed,
        tests_failed=report.failed,
        coverage=report.coverage,
        coverage_goal_pct=payload.coverage_goal_pct,
        goal_met=report.goal_met and (payload.mutation_goal_pct is None or mutation_met is True),
        coverage_goal_met=report.goal_met,
        mutation_goal_pct=payload.mutation_goal_pct,
        mutation_goal_met=mutation_met,
        mutation_not_measured=assurance.mutation_unmeasured(payload.mutation_goal_pct),
        rounds_used=rounds_used,
        usage=usage,
        refused=handed.changes.listed(),
        quality=assurance.quality(),
        baseline_problem=assurance.baseline_problem,
        tests_kept=list(assurance.kept),
        tests_dropped=assurance.tests_dropped(),
        tests_rescued=[r.test for r in assurance.rescued],
        round_counts=list(assurance.round_counts),
        stopped_by=stopped.code if stopped else None,
        sandbox=sandbox_mode,
        environment=ProjectEnvironment(
            python=project_env.interpreter.version,
            cache_hit=project_env.cache_hit,
            env_s=project_env.env_s,
            sources=list(project_env.dependencies.sources)[:64],
            requirements=len(project_env.dependencies.requirements),
            added_packages=list(project_env.extra_packages)[:64],
        ),
    )


def mutation_goal_met(assurance: Assurance, goal_pct: float | None) -> bool | None:
    """False when a target's score is under the goal; True when every target has a score reaching it; None when
    there is no goal, or when it was not measured on some target and none is under it."""
    if goal_pct is None:
        return None
    if assurance.mutation_short(goal_pct):
        return False
    return None if assurance.mutation_unmeasured(goal_pct) else True
