"""Hypothesis strategies that build valid instances of every wire event."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone

from hypothesis import strategies as st

from handoff.schemas import events as ev

idents = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
segments = st.from_regex(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}\Z").filter(lambda s: s not in {".", ".."})
rel_paths = st.lists(segments, min_size=1, max_size=4).map("/".join)
short = st.text(max_size=40)
long_text = st.text(max_size=300)
counts = st.integers(min_value=0, max_value=2**40)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)
percents = st.floats(min_value=0, max_value=100, allow_nan=False)
sha256 = st.from_regex(r"\A[0-9a-f]{64}\Z")
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))])
times = st.datetimes(timezones=zones)

env_names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,20}\Z").filter(lambda n: not ev.reserved_env_var(n))
test_envs = st.dictionaries(env_names, st.text(max_size=40).filter(lambda v: "\x00" not in v), max_size=4)
snapshots = st.builds(ev.SourceSnapshot, digest=sha256, size_bytes=counts, files=counts)
artifacts = st.builds(
    ev.ArtifactRef,
    bucket=short,
    name=st.text(max_size=80),
    size_bytes=counts,
    sha256=sha256,
    content_type=short,
)
payloads = st.one_of(
    st.builds(
        ev.GenerateTests,
        source=snapshots,
        targets=st.lists(rel_paths, min_size=1, max_size=5),
        coverage_goal_pct=percents,
        test_dir=rel_paths,
        instructions=long_text,
        feedback_rounds=st.none() | st.integers(0, 10),
        test_env=test_envs,
    ),
    st.builds(
        ev.Sleep,
        duration_s=st.floats(0, 86_400, allow_nan=False),
        fail_with=st.none() | st.sampled_from(ev.ErrorCode),
        fail_retryable=st.booleans(),
    ),
)
usages = st.builds(ev.LlmUsage, model=short, prompt_tokens=counts, completion_tokens=counts, cost_usd=seconds)
results = st.one_of(
    st.builds(
        ev.TestGenerationResult,
        summary=long_text,
        files_produced=st.booleans(),
        files=st.lists(artifacts, max_size=3),
        patch=st.none() | artifacts,
        test_files=st.lists(rel_paths, max_size=3),
        tests_collected=counts,
        tests_passed=counts,
        tests_failed=counts,
        coverage=st.lists(st.builds(ev.TargetCoverage, target=rel_paths, percent=percents), max_size=3),
        coverage_goal_pct=percents,
        goal_met=st.booleans(),
        rounds_used=counts,
        usage=usages,
    ),
    st.builds(ev.SleepResult, slept_s=seconds),
)
errors = st.builds(
    ev.TaskError,
    code=st.sampled_from(ev.ErrorCode),
    message=long_text,
    retryable=st.booleans(),
    detail=long_text,
)
timings = st.builds(
    ev.Timings,
    submitted_at=st.none() | times,
    started_at=st.none() | times,
    finished_at=st.none() | times,
    queue_wait_s=st.none() | seconds,
    run_s=st.none() | seconds,
    total_s=st.none() | seconds,
)
optional_run = st.none() | idents
attempts = st.integers(min_value=1, max_value=100)

EVENT_STRATEGIES: dict[type[ev.Event], st.SearchStrategy[ev.Event]] = {
    ev.TaskSubmitted: st.builds(
        ev.TaskSubmitted,
        task_id=idents,
        payload=payloads,
        submitted_at=times,
        run_id=optional_run,
        run_size=st.none() | st.integers(1, 100_000),
        priority=st.sampled_from(ev.Priority),
        deadline=st.none() | times,
        max_attempts=st.integers(1, 20),
        submitter=short,
        labels=st.dictionaries(short, short, max_size=4),
    ),
    ev.TaskStarted: st.builds(
        ev.TaskStarted,
        task_id=idents,
        attempt=attempts,
        replica_id=short,
        started_at=times,
        run_id=optional_run,
    ),
    ev.TaskProgress: st.builds(
        ev.TaskProgress,
        task_id=idents,
        attempt=attempts,
        seq=counts,
        stage=short,
        at=times,
        message=long_text,
        run_id=optional_run,
    ),
    ev.TaskFinished: st.builds(
        ev.TaskFinished,
        task_id=idents,
        status=st.sampled_from(ev.TaskStatus),
        finished_at=times,
        attempt=counts,
        replica_id=short,
        run_id=optional_run,
        result=st.none() | results,
        error=st.none() | errors,
        timings=timings,
    ),
    ev.CancelRequested: st.builds(
        ev.CancelRequested, task_id=idents, requested_at=times, reason=long_text, requested_by=short
    ),
    ev.DeadLettered: st.builds(
        ev.DeadLettered,
        original=st.binary(max_size=200),
        original_subject=st.text(max_size=60),
        reason=st.sampled_from(ev.DeadLetterReason),
        detail=long_text,
        origin=short,
        dead_lettered_at=times,
        task_id=st.none() | idents,
        run_id=optional_run,
        stream_seq=st.none() | counts,
        deliveries=st.none() | counts,
        headers=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
    ),
    ev.RunSealed: st.builds(ev.RunSealed, run_id=idents, size=st.integers(1, 100_000), sealed_at=times),
    ev.RunFinished: st.builds(
        ev.RunFinished,
        run_id=idents,
        tasks=st.lists(
            st.builds(
                ev.RunTask,
                task_id=idents,
                status=st.sampled_from(ev.TaskStatus),
                error_code=st.none() | st.sampled_from(ev.ErrorCode),
            ),
            max_size=5,
        ),
        finished_at=times,
        counts=st.dictionaries(st.sampled_from(ev.TaskStatus), counts, max_size=5),
    ),
}

any_event = st.one_of(*EVENT_STRATEGIES.values())
