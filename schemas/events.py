"""The events Handoff puts on the wire: small tagged msgspec Structs, JSON-encoded.

Rules of evolution: a new field always gets a default, so a consumer built against an older version keeps
decoding; an incompatible change bumps ``SCHEMA_VERSION`` and decoders refuse versions they do not know.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from handoff.schemas import names

SCHEMA_VERSION = 1
MAX_RUN_SIZE = 100_000  # the most tasks one run may declare (run_size, RunSealed.size)
RUN_FINISHED_MAX_TASKS = 1_000  # a RunFinished lists its tasks up to this many, else only counts

# Identifiers end up as subject tokens and KV keys: letters, digits, '-' and '_' only.
Ident = Annotated[str, msgspec.Meta(pattern=names.IDENT_PATTERN, description=names.IDENT_RULE)]
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
PythonVersion = Annotated[
    str, msgspec.Meta(pattern=r"^3\.[0-9]{1,2}$", description="a Python minor version such as 3.12")
]
# A package to install into the project's environment: a name, optional extras and version specifiers; no URLs,
# paths, markers or options (it is passed to the installer as one argument).
PackageRequirement = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,99})(\[[A-Za-z0-9._-]+(,[A-Za-z0-9._-]+)*\])?"
        r"( ?(==|!=|>=|<=|~=|>|<) ?[A-Za-z0-9.*+!_-]{1,40}(, ?(==|!=|>=|<=|~=|>|<) ?[A-Za-z0-9.*+!_-]{1,40}){0,4})?$",
        max_length=300,
        description="a requirement such as 'toolz', 'attrs>=23' or 'requests[socks]==2.32.3'",
    ),
]

# Environment variables a task's tests need (``GenerateTests.test_env``). Names the sandbox or Handoff sets for its
# own runs cannot be given: they would change where Python, pytest and coverage come from or where they write.
EnvVarName = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="an environment variable name: letters, digits and '_', not starting with a digit",
    ),
]
MAX_ENV_VALUE = 4096
EnvVarValue = Annotated[
    str, msgspec.Meta(pattern=r"^[^\x00]*$", max_length=MAX_ENV_VALUE, description="no NUL character")
]
TEST_ENV_RESERVED = frozenset({
    "PATH", "HOME", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE", "PYTHONSTARTUP",
    "VIRTUAL_ENV", "TMPDIR", "TMP", "TEMP", "PIP_NO_INPUT", "GIT_CONFIG_NOSYSTEM", "GIT_PAGER", "PAGER", "TERM",
    "PS1", "PS2", "SHELL", "PWD",
})  # fmt: skip
TEST_ENV_RESERVED_PREFIXES = ("HANDOFF_", "PYTEST_", "COVERAGE_", "COV_CORE_", "LD_")
MAX_TEST_ENV = 32


def reserved_env_var(name: str) -> str:
    """Why ``name`` cannot be one of a task's test environment variables ("" when it can)."""
    if name.upper() in TEST_ENV_RESERVED:
        return f"{name} is set by the sandbox for every run and cannot be given"
    prefix = next((p for p in TEST_ENV_RESERVED_PREFIXES if name.upper().startswith(p)), None)
    if prefix is not None:
        return f"{name}: names starting with {prefix} are reserved (they steer Handoff's own runs)"
    return ""


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
    ENVIRONMENT_FAILED = "environment_failed"
    SECRET_IN_OUTPUT = "secret_in_output"


class RefusalReason(StrEnum):
    """Why a change the agent made is not in the task's patch (see docs/runner.md, "What leaves a task")."""

    SOURCE_CHANGE = "source_change"  # not a test file, and source changes are not allowed
    SYMLINK = "symlink"
    SPECIAL_FILE = "special_file"  # a device, fifo or socket
    UNSAFE_PATH = "unsafe_path"  # leaves the repo, or is not a plain UTF-8 path
    MODE_CHANGE = "mode_change"  # only the executable bit changed
    TOO_LARGE = "too_large"  # over the artifact limit
    SECRET = "secret"  # holds a configured secret or a credential pattern


class DeadLetterReason(StrEnum):
    UNDECODABLE = "undecodable"
    SCHEMA_INVALID = "schema_invalid"
    UNSUPPORTED_VERSION = "unsupported_version"
    OVERSIZE = "oversize"
    SUBJECT_MISMATCH = "subject_mismatch"
    MAX_DELIVERIES = "max_deliveries"
    TASK_ID_TAKEN = "task_id_taken"  # an earlier submit of another run owns the task id


# ---- building blocks -----------------------------------------------------------------------------
class Part(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of nested, untagged parts."""


class SourceSnapshot(Part, frozen=True):
    """A content-addressed source tree in the snapshots object store (object name == digest)."""

    digest: Sha256
    size_bytes: Count
    files: Count


class ArtifactRef(Part, frozen=True):
    """An object in the artifacts object store."""

    bucket: ShortText
    name: Annotated[str, msgspec.Meta(max_length=512)]
    size_bytes: Count
    sha256: Sha256
    content_type: ShortText = "application/octet-stream"


class TargetCoverage(Part, frozen=True):
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


class DroppedTest(Part, frozen=True):
    test: TestId
    verdict: Verdict
    reason: Annotated[str, msgspec.Meta(max_length=2000)] = ""


class TargetQuality(Part, frozen=True):
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
    statements: Count | None = None
    """The target's measurable statements (0: every line excluded or an empty module, no percentage applies;
    None from older generators)."""
    branches: Count | None = None
    """The target's branches (0: none, no branch percentage applies; None from older generators)."""


class RoundCounts(Part, frozen=True):
    round: Annotated[int, msgspec.Meta(ge=1)]
    kept: Count = 0
    failed: Count = 0
    flaky: Count = 0
    useless: Count = 0


class LlmUsage(Part, frozen=True):
    model: ShortText = ""
    prompt_tokens: Count = 0
    completion_tokens: Count = 0
    cost_usd: Annotated[float, msgspec.Meta(ge=0)] = 0.0


class ProjectEnvironment(Part, frozen=True):
    """The virtualenv a task's tests ran in: built from the project's dependency files, or reused from the cache."""

    python: ShortText = ""
    cache_hit: bool = False
    env_s: Seconds = 0.0
    sources: Annotated[list[RelPath], msgspec.Meta(max_length=64)] = []
    requirements: Count = 0  # the project's own, read from ``sources``
    added_packages: Annotated[list[ShortText], msgspec.Meta(max_length=64)] = []
    """What the environment has beyond the project's requirements: the task's extra packages, the pytest plugins its
    configuration asks for, the engines that were fitted in."""


class Timings(Part, frozen=True):
    submitted_at: UtcTime | None = None
    started_at: UtcTime | None = None
    finished_at: UtcTime | None = None
    queue_wait_s: Seconds | None = None
    run_s: Seconds | None = None
    total_s: Seconds | None = None


class RefusedChange(Part, frozen=True):
    """A file the agent changed that the task did not hand over, and why."""

    path: Annotated[str, msgspec.Meta(max_length=1024)]
    reason: RefusalReason


class TaskError(Part, frozen=True):
    code: ErrorCode
    message: LongText
    retryable: bool = False
    detail: LongText = ""


# ---- task payloads (tagged by "kind") ------------------------------------------------------------
class Payload(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of the kind-specific part of a submit."""


class GenerateTests(Payload, tag="generate_tests", frozen=True):
    """Write unit tests for target modules of a source snapshot, validated by running them."""

    source: SourceSnapshot
    targets: Annotated[list[RelPath], msgspec.Meta(min_length=1, max_length=500)]
    framework: Literal["pytest"] = "pytest"
    coverage_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 80.0
    test_dir: RelPath = "tests"
    instructions: LongText = ""
    feedback_rounds: Annotated[int, msgspec.Meta(ge=0, le=10)] | None = None
    python: PythonVersion | None = None  # None: the generator's own Python version
    extra_packages: Annotated[list[PackageRequirement], msgspec.Meta(max_length=32)] = []
    test_env: Annotated[dict[EnvVarName, EnvVarValue], msgspec.Meta(max_length=MAX_TEST_ENV)] = {}
    """Environment variables every test run of the task gets (the baseline, validation, coverage, mutation) and the
    agent's commands: what the project's tests need, such as ``{"WCWIDTH_PYTHON": "1"}``. Not secret: stored and
    shown like the rest of the submit. Reserved names (PATH, HOME, PYTHONPATH, ... and the prefixes HANDOFF_,
    PYTEST_, COVERAGE_, COV_CORE_, LD_) are refused."""
    # mutation score the kept tests should reach per target; None: not a goal (the score is still measured)
    mutation_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None

    def __post_init__(self) -> None:
        for name in self.test_env:
            problem = reserved_env_var(name)
            if problem:
                raise ValueError(f"test_env: {problem}")


class Sleep(Payload, tag="sleep", frozen=True):
    """Diagnostic and benchmark kind: the worker sleeps, then succeeds or fails as told. No agent runs."""

    duration_s: Annotated[float, msgspec.Meta(ge=0, le=86_400)]
    fail_with: ErrorCode | None = None
    fail_retryable: bool = False


TaskPayload = GenerateTests | Sleep


# ---- results (tagged by "kind") ------------------------------------------------------------------
class Result(msgspec.Struct, tag_field="kind", kw_only=True, frozen=True, forbid_unknown_fields=False):
    """Base of kind-specific results."""


class TestGenerationResult(Result, tag="generate_tests", frozen=True):
    __test__ = False  # not a pytest class

    summary: LongText = ""
    files_produced: bool = False
    files: list[ArtifactRef] = []
    patch: ArtifactRef | None = None
    written_patch: ArtifactRef | None = None
    """The last round's tests as the generator wrote them, before they were judged (the dropped ones in it; not
    validated): ``handoff result ID --written``. None from older generators, or when the round wrote nothing."""
    test_files: list[RelPath] = []
    tests_collected: Count = 0
    tests_passed: Count = 0
    tests_failed: Count = 0
    coverage: list[TargetCoverage] = []
    coverage_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] = 0.0
    goal_met: bool = False
    """Every goal the task set was measured and met: the coverage goal and, when the task set one, the mutation goal
    (a mutation goal not measured on every target is not met: ``mutation_not_measured`` says why)."""
    coverage_goal_met: bool | None = None
    """The coverage goal alone (None from older generators, whose ``goal_met`` is the coverage goal alone)."""
    mutation_goal_pct: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    """The task's mutation goal, met when every target has a score and each reaches it (None: the task set none)."""
    mutation_goal_met: bool | None = None
    """The mutation goal alone: false as soon as a target's score is under it; None when the task set none, or when
    no target's score is under it but some target has none (not measured: see ``mutation_not_measured``)."""
    mutation_not_measured: LongText = ""
    """Why the task's mutation goal was not measured on every target: nothing was added (no kept test to score),
    mutation testing is off, the mutation tool failed, a target's mutants did not fit the budget ...; "" when every
    target has a score or the task set no mutation goal."""
    rounds_used: Count = 0
    usage: LlmUsage = LlmUsage()
    quality: list[TargetQuality] = []
    tests_kept: list[TestId] = []
    tests_dropped: list[DroppedTest] = []
    round_counts: list[RoundCounts] = []
    # set when a later round ended by this code and the result is the best validated earlier round
    stopped_by: ErrorCode | None = None
    sandbox: ShortText = ""
    """How the agent's commands and validation ran: "bwrap" (sandboxed) or "none" (unsandboxed); "" from old
    generators."""
    environment: ProjectEnvironment | None = None
    refused: Annotated[list[RefusedChange], msgspec.Meta(max_length=200)] = []
    """Changes left out of the patch (at most 200 listed; the summary gives the total)."""
    baseline_problem: LongText = ""
    """Why the ``quality`` baselines are not the project's own test suite: its tests could not be collected or
    run (pytest's reason, and what the baseline counts instead); "" when they ran or the project has none."""
    tests_rescued: list[TestId] = []
    """Tests dropped for adding no coverage and re-admitted because they kill mutants the other kept tests miss (also
    in ``tests_kept``); their kills are counted in ``quality``'s ``mutants_killed``."""


class SleepResult(Result, tag="sleep", frozen=True):
    slept_s: Seconds


TaskResult = TestGenerationResult | SleepResult


# ---- events (tagged by "type") -------------------------------------------------------------------
class Event(msgspec.Struct, tag_field="type", kw_only=True, frozen=True, forbid_unknown_fields=False):
    schema_version: Annotated[int, msgspec.Meta(ge=1)] = SCHEMA_VERSION


class TaskSubmitted(Event, tag="task.submitted", frozen=True):
    task_id: Ident
    payload: TaskPayload
    submitted_at: UtcTime
    run_id: Ident | None = None
    run_size: Annotated[int, msgspec.Meta(ge=1, le=MAX_RUN_SIZE)] | None = None
    priority: Priority = Priority.NORMAL
    deadline: UtcTime | None = None
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3
    submitter: ShortText = ""
    labels: Annotated[dict[ShortText, ShortText], msgspec.Meta(max_length=32)] = {}

    @property
    def kind(self) -> str:
        return type(self.payload).__struct_config__.tag  # type: ignore[return-value]


class TaskStarted(Event, tag="task.started", frozen=True):
    task_id: Ident
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    replica_id: ShortText
    started_at: UtcTime
    run_id: Ident | None = None


class TaskProgress(Event, tag="task.progress", frozen=True):
    task_id: Ident
    attempt: Annotated[int, msgspec.Meta(ge=1)]
    seq: Count
    stage: ShortText
    at: UtcTime
    message: LongText = ""
    run_id: Ident | None = None


class TaskFinished(Event, tag="task.finished", frozen=True):
    task_id: Ident
    status: TaskStatus
    finished_at: UtcTime
    attempt: Count = 0
    replica_id: ShortText = ""
    run_id: Ident | None = None
    result: TaskResult | None = None
    error: TaskError | None = None
    timings: Timings = Timings()


class CancelRequested(Event, tag="task.cancel_requested", frozen=True):
    task_id: Ident
    requested_at: UtcTime
    reason: LongText = ""
    requested_by: ShortText = ""


class DeadLettered(Event, tag="dead_lettered", frozen=True):
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


class RunSealed(Event, tag="run.sealed", frozen=True):
    run_id: Ident
    size: Annotated[int, msgspec.Meta(ge=1, le=MAX_RUN_SIZE)]
    sealed_at: UtcTime


class RunTask(Part, frozen=True):
    task_id: Ident
    status: TaskStatus
    error_code: ErrorCode | None = None


class RunFinished(Event, tag="run.finished", frozen=True):
    """A run's last task finished. ``tasks`` lists them (sorted by id) only while ``tasks_listed``: for runs of
    more than 1,000 tasks it is empty and the tasks are read from the run's records (``HandoffClient.run_tasks``),
    so the event stays far below the message limit whatever the run's size."""

    run_id: Ident
    finished_at: UtcTime
    tasks: Annotated[list[RunTask], msgspec.Meta(max_length=RUN_FINISHED_MAX_TASKS)] = []
    counts: dict[TaskStatus, Count] = {}
    size: Count = 0  # how many tasks finished (0 from versions before it was sent)
    tasks_listed: bool = True


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
