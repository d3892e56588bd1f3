"""The events Handoff puts on the wire: small tagged msgspec Structs, JSON-encoded.

Rules of evolution: a new field always gets a default, so a consumer built against an older version keeps
decoding; an incompatible change bumps ``SCHEMA_VERSION`` and decoders refuse versions they do not know.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

SCHEMA_VERSION = 1

# Identifiers end up as subject tokens and KV keys: letters, digits, '-' and '_' only.
Ident = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        description="1-64 characters: letters, digits, '-', '_'; starts with a letter or digit",
    ),
]
# Paths inside a submitted source tree: relative, no '..' segment, no backslash or NUL.
RelPath = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[^\x00\\]{1,512}$",
        description="relative POSIX path inside the source tree, without '..' segments",
    ),
]
UtcTime = Annotated[datetime, msgspec.Meta(tz=True)]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
LongText = Annotated[str, msgspec.Meta(max_length=65_536)]
Seconds = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]


class Priority(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class TaskStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    DEAD_LETTERED = "dead_lettered"


class ErrorCode(StrEnum):
    """Why a task did not succeed. The generator maps each onto retry-or-fail at its boundary."""

    INVALID_TASK = "invalid_task"
    SNAPSHOT_MISSING = "snapshot_missing"
    WORKSPACE_ERROR = "workspace_error"
    AGENT_STUCK = "agent_stuck"
    MAX_ITERATIONS = "max_iterations"
    BUDGET_EXCEEDED = "budget_exceeded"
    VALIDATION_FAILED = "validation_failed"
    NO_FILES_PRODUCED = "no_files_produced"
    LLM_UNAVAILABLE = "llm_unavailable"
    LLM_RATE_LIMITED = "llm_rate_limited"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    DEAD_LETTERED = "dead_lettered"
    INTERNAL = "internal"


class DeadLetterReason(StrEnum):
    UNDECODABLE = "undecodable"
    SCHEMA_INVALID = "schema_invalid"
    UNSUPPORTED_VERSION = "unsupported_version"
    OVERSIZE = "oversize"
    SUBJECT_MISMATCH = "subject_mismatch"
    MAX_DELIVERIES = "max_deliveries"


# ---- building blocks -----------------------------------------------------------------------------
class Part(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of nested, untagged parts."""


class SourceSnapshot(Part):
    """A content-addressed source tree in the snapshots object store (object name == digest)."""

    digest: Sha256
    size_bytes: Count
    files: Count


class ArtifactRef(Part):
    """An object in the artifacts object store."""

    bucket: ShortText
    name: Annotated[str, msgspec.Meta(max_length=512)]
    size_bytes: Count
    sha256: Sha256
    content_type: ShortText = "application/octet-stream"


class TargetCoverage(Part):
    target: RelPath
    percent: Annotated[float, msgspec.Meta(ge=0, le=100)]
    covered_lines: Count = 0
    total_lines: Count = 0


Pct = Annotated[float, msgspec.Meta(ge=0, le=100)]
TestId = Annotated[str, msgspec.Meta(max_length=1000, description="pytest node id without parameters")]


class Verdict(StrEnum):
    """What the per-test filters decided about one generated test function."""

    KEPT = "kept"
    FAILED = "failed"  # does not compile, does not collect, or fails its first run
    FLAKY = "flaky"  # passed once, failed in a re-run in random order
    USELESS = "useless"  # checks nothing, or adds no line or branch coverage


class DroppedTest(Part):
    test: TestId
    verdict: Verdict
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class TargetQuality(Part):
    """One target's coverage before (the project's existing tests) and after (plus the kept tests), and how many
    mutants of it the kept tests killed."""

    target: RelPath
    baseline_line_pct: Pct = 0.0
    baseline_branch_pct: Pct = 0.0
    final_line_pct: Pct = 0.0
    final_branch_pct: Pct = 0.0
    mutants_killed: Count = 0
    mutants_total: Count = 0
    mutation_score_pct: Pct | None = None  # None: not measured
    mutants_sampled: bool = False  # fewer mutants ran than were generated, to fit the time budget


class RoundCounts(Part):
    round: Annotated[int, msgspec.Meta(ge=1)]
    kept: Count = 0
    failed: Count = 0
    flaky: Count = 0
    useless: Count = 0


class LlmUsage(Part):
    model: ShortText = ""
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    cost_usd: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class Timings(Part):
    submitted_at: UtcTime | None = None
    started_at: UtcTime | None = None
    finished_at: UtcTime | None = None
    queue_wait_s: Seconds | None = None
    run_s: Seconds | None = None
    total_s: Seconds | None = None


class TaskError(Part):
    code: ErrorCode
    message: LongText
    retryable: bool = False
    detail: LongText = ""


# ---- task payloads (tagged by "kind") ------------------------------------------------------------
class Payload(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of the kind-specific part of a submit."""


class GenerateTests(Payload, tag="generate_tests"):
    """Write unit tests for target modules of a source snapshot, validated by running them."""

    source: SourceSnapshot
    targets: Annotated[list[RelPath], msgspec.Meta(min_length=1, max_length=500)]
    framework: Literal["pytest"] = "pytest"
    coverage_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 80.0
    test_dir: RelPath = "tests"
    instructions: LongText = ""
    feedback_rounds: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None


class Sleep(Payload, tag="sleep"):
    """Diagnostic and benchmark kind: the worker sleeps, then succeeds or fails as told. No agent runs."""

    duration_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)]
    fail_with: ErrorCode | None = None
    fail_retryable: bool = False


TaskPayload = GenerateTests | Sleep


# ---- results (tagged by "kind") ------------------------------------------------------------------
class Result(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of kind-specific results."""


class TestGenerationResult(Result, tag="generate_tests"):
    __test__ = False  # not a pytest class

    summary: LongText = ""
    files_produced: bool = False
    files: list[ArtifactRef] = []
    patch: ArtifactRef | None = None
    test_files: list[RelPath] = []
    tests_collected: Count = 0
    tests_passed: Count = 0
    tests_failed: Count = 0
    coverage: list[TargetCoverage] = []
    coverage_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0.0
    goal_met: bool = False
    rounds_used: Count = 0
    usage: LlmUsage = LlmUsage()
    quality: list[TargetQuality] = []
    tests_kept: list[TestId] = []
    tests_dropped: list[DroppedTest] = []
    round_counts: list[RoundCounts] = []
    # set when a later round ended by this code and the result is the best validated earlier round
    stopped_by: ErrorCode | None = None


class SleepResult(Result, tag="sleep"):
    slept_s: Seconds


TaskResult = TestGenerationResult | SleepResult


# ---- events (tagged by "type") -------------------------------------------------------------------
class Event(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, forbid_unknown_fields=False):
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = SCHEMA_VERSION


class TaskSubmitted(Event, tag="task.submitted"):
    task_id: Ident
    payload: TaskPayload
    submitted_at: UtcTime
    run_id: Ident | None = None
    run_size: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    priority: Priority = Priority.NORMAL
    deadline: UtcTime | None = None
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    submitter: ShortText = ""
    labels: Annotated[dict[ShortText, ShortText], msgspec.Meta(max_length=32)] = {}

    @property
    def kind(self) -> str:
        return type(self.payload).__struct_config__.tag  # type: ignore[return-value]


class TaskStarted(Event, tag="task.started"):
    task_id: Ident
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    replica_id: ShortText
    started_at: UtcTime
    run_id: Ident | None = None


class TaskProgress(Event, tag="task.progress"):
    task_id: Ident
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    seq: Count
    stage: ShortText
    at: UtcTime
    message: LongText = ""
    run_id: Ident | None = None


class TaskFinished(Event, tag="task.finished"):
    task_id: Ident
    status: TaskStatus
    finished_at: UtcTime
    attempt: Count = 0
    replica_id: ShortText = ""
    run_id: Ident | None = None
    result: TaskResult | None = None
    error: TaskError | None = None
    timings: Timings = Timings()


class CancelRequested(Event, tag="task.cancel_requested"):
    task_id: Ident
    requested_at: UtcTime
    reason: LongText = ""
    requested_by: ShortText = ""


class DeadLettered(Event, tag="dead_lettered"):
    original: bytes
    original_subject: Annotated[str, msgspec.Meta(max_length=1024)]
    reason: DeadLetterReason
    detail: LongText
    origin: ShortText
    dead_lettered_at: UtcTime
    task_id: Ident | None = None
    run_id: Ident | None = None
    stream_seq: Count | None = None
    deliveries: Count | None = None
    headers: dict[str, str] = {}


class RunSealed(Event, tag="run.sealed"):
    run_id: Ident
    size: Annotated[int, msgspec.Meta(ge=1, le=100_000)]
    sealed_at: UtcTime


class RunTask(Part):
    task_id: Ident
    status: TaskStatus
    error_code: ErrorCode | None = None


class RunFinished(Event, tag="run.finished"):
    run_id: Ident
    tasks: list[RunTask]
    finished_at: UtcTime
    counts: dict[TaskStatus, Count] = {}


TaskEvent = TaskSubmitted | TaskStarted | TaskProgress | TaskFinished
RunEvent = RunSealed | RunFinished
AnyEvent = TaskEvent | RunEvent | CancelRequested | DeadLettered

ALL_EVENT_TYPES: tuple[type[Event], ...] = (
    TaskSubmitted,
    TaskStarted,
    TaskProgress,
    TaskFinished,
    CancelRequested,
    DeadLettered,
    RunSealed,
    RunFinished,
)
