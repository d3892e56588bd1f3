"""The workflow file (``handoff-workflow.toml`` in the user's repo), parsed into typed structs.

[workflow]
name = "spec-to-production"
component = "src/inventory"          # modules to test are discovered here (or list `targets`)
coverage_goal_pct = 80
join_timeout_s = 900                 # overall deadline for the generated tests
task_timeout_s = 600                 # per-task deadline

[[stages]]
name = "testing"
run = "python -m pytest -q"          # a shell command run in the repo ...

[[stages]]
name = "test-generation"
kind = "generate_tests"              # fans out one task per module and returns at once

[[stages]]
name = "refactoring"
call = "mypkg.pipeline:refactor"     # ... or an async callable, given a StageContext

[[stages]]
name = "deploy"
run = "./deploy.sh"
needs_generated_tests = true         # waits at the join for every generation task first
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import msgspec

WORKFLOW_FILE = "handoff-workflow.toml"


class StageKind(StrEnum):
    WORK = "work"  # a command or a callable
    GENERATE_TESTS = "generate_tests"  # publish one task per module, return at once
    JOIN = "join"  # wait for the generation tasks, apply patches, report


class Mode(StrEnum):
    BLOCKING = "blocking"  # each generation awaited in turn (how the old system behaved)
    NON_BLOCKING = "non-blocking"


class StageSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)]
    kind: StageKind = StageKind.WORK
    run: str | None = None
    call: str | None = None
    args: dict[str, str | int | float | bool] = {}
    needs_generated_tests: bool = False
    timeout_s: Annotated[float, msgspec.Meta(gt=0)] | None = None


class WorkflowSpec(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    name: str = "spec-to-production"
    component: str | None = None
    targets: list[str] = []
    coverage_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 80.0
    join_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    task_timeout_s: Annotated[float, msgspec.Meta(gt=0)] = 600.0
    apply_patches: bool = True
    instructions: str = ""


class WorkflowFile(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    workflow: WorkflowSpec = WorkflowSpec()
    stages: list[StageSpec]


class WorkflowConfigError(ValueError):
    """The workflow file is missing, not TOML, or does not describe a valid workflow."""


def parse_workflow(text: str, *, source: str = WORKFLOW_FILE) -> WorkflowFile:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise WorkflowConfigError(f"{source}: not valid TOML: {exc}") from exc
    try:
        spec = msgspec.convert(raw, WorkflowFile)
    except msgspec.ValidationError as exc:
        raise WorkflowConfigError(f"{source}: {exc}") from exc
    _check(spec, source)
    return spec


def load_workflow(repo: Path, path: Path | None = None) -> WorkflowFile:
    file = path or repo / WORKFLOW_FILE
    if not file.is_file():
        raise WorkflowConfigError(f"no workflow file at {file} (see docs/workflow.md for the format)")
    return parse_workflow(file.read_text(), source=str(file))


def _check(spec: WorkflowFile, source: str) -> None:
    names = [s.name for s in spec.stages]
    if len(set(names)) != len(names):
        raise WorkflowConfigError(f"{source}: stage names must be unique, got {names}")
    generation = [s for s in spec.stages if s.kind == StageKind.GENERATE_TESTS]
    if len(generation) > 1:
        raise WorkflowConfigError(f"{source}: at most one generate_tests stage, got {len(generation)}")
    for stage in spec.stages:
        if stage.kind == StageKind.WORK and (stage.run is None) == (stage.call is None):
            raise WorkflowConfigError(f"{source}: stage {stage.name!r} needs exactly one of 'run' or 'call'")
        if stage.kind != StageKind.WORK and (stage.run or stage.call):
            raise WorkflowConfigError(f"{source}: stage {stage.name!r} of kind {stage.kind} takes no run/call")
        if stage.call is not None and ":" not in stage.call:
            raise WorkflowConfigError(f"{source}: stage {stage.name!r}: call must look like 'module:function'")
    if generation:
        gen_index = spec.stages.index(generation[0])
        for i, stage in enumerate(spec.stages):
            waits = stage.kind == StageKind.JOIN or stage.needs_generated_tests
            if waits and i < gen_index:
                raise WorkflowConfigError(f"{source}: stage {stage.name!r} waits for tests generated after it")
