"""The one mapping from outcomes to ack decisions, and the generator's settings from the environment."""

from __future__ import annotations

import os

import pytest

from handoff.common.env import SettingsError
from handoff.generator.errors import (
    Failed,
    Finish,
    Interrupted,
    Interruption,
    Release,
    Retry,
    Succeeded,
    as_failure,
    attempts_allowed,
    decide,
)
from handoff.generator.settings import GeneratorSettings
from handoff.runners.base import PermanentFailure, TransientFailure
from handoff.schemas.events import ErrorCode, SleepResult, TaskStatus

BACKOFF = (1.0, 5.0, 30.0)


def test_a_transient_failure_with_attempts_left_is_retried_with_the_backoff_for_its_attempt() -> None:
    """Attempt 2 of 3 failing transiently is naked with the second delay and keeps its error for the progress."""
    failure = TransientFailure(ErrorCode.LLM_RATE_LIMITED, "429")
    decision = decide(Failed(failure), attempt=2, allowed=3, backoff_s=BACKOFF)
    assert isinstance(decision, Retry) and decision.delay_s == 5.0
    assert decision.error.code is ErrorCode.LLM_RATE_LIMITED and decision.error.retryable


def test_retry_delays_beyond_the_list_reuse_its_last_entry() -> None:
    """Attempt 7 of 10 uses the last delay in the list."""
    decision = decide(Failed(TransientFailure(ErrorCode.INTERNAL, "x")), attempt=7, allowed=10, backoff_s=BACKOFF)
    assert isinstance(decision, Retry) and decision.delay_s == 30.0


def test_the_last_allowed_attempt_fails_for_good_and_says_it_was_retryable() -> None:
    """A transient failure on attempt 3 of 3 finishes the task as failed with retryable=True."""
    decision = decide(Failed(TransientFailure(ErrorCode.LLM_UNAVAILABLE, "down")), attempt=3, allowed=3, backoff_s=())
    assert isinstance(decision, Finish) and decision.status is TaskStatus.FAILED
    assert decision.error is not None and decision.error.retryable


def test_a_permanent_failure_is_never_retried() -> None:
    """A permanent failure on attempt 1 of 3 finishes the task as failed."""
    decision = decide(Failed(PermanentFailure(ErrorCode.BUDGET_EXCEEDED, "spent")), attempt=1, allowed=3, backoff_s=())
    assert isinstance(decision, Finish) and decision.status is TaskStatus.FAILED
    assert decision.error is not None and decision.error.code is ErrorCode.BUDGET_EXCEEDED


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (Succeeded(SleepResult(slept_s=1.0)), TaskStatus.SUCCEEDED),
        (Interrupted(Interruption.CANCELLED, "by user"), TaskStatus.CANCELLED),
        (Interrupted(Interruption.TIMED_OUT, "late"), TaskStatus.TIMED_OUT),
    ],
)
def test_results_cancels_and_timeouts_finish_the_task(outcome: Succeeded | Interrupted, expected: TaskStatus) -> None:
    """Success, a cancel and a deadline each finish the task with their own status."""
    decision = decide(outcome, attempt=1, allowed=3, backoff_s=BACKOFF)
    assert isinstance(decision, Finish) and decision.status is expected


def test_a_shutdown_interruption_hands_the_task_back_without_finishing_it() -> None:
    """An interruption by shutdown becomes a Release (nak without delay), never a TaskFinished."""
    assert isinstance(decide(Interrupted(Interruption.SHUTDOWN), attempt=1, allowed=3, backoff_s=()), Release)


def test_foreign_errors_are_mapped_once_timeouts_and_network_transient_the_rest_permanent() -> None:
    """TimeoutError and ConnectionError from a runner are retryable; a bug (KeyError) is a permanent failure."""
    assert as_failure(TimeoutError("slow")).retryable
    assert as_failure(ConnectionResetError("reset")).retryable
    crash = as_failure(KeyError("missing"))
    assert not crash.retryable and crash.code is ErrorCode.INTERNAL and "KeyError" in crash.message
    assert "Traceback" in crash.detail or "KeyError" in crash.detail


def test_attempts_are_bounded_by_the_consumers_max_deliver() -> None:
    """A task asking for 20 attempts gets at most max_deliver; -1 (unlimited) leaves its own number."""
    assert attempts_allowed(20, 5) == 5
    assert attempts_allowed(3, 5) == 3
    assert attempts_allowed(7, -1) == 7


def test_generator_settings_read_slots_replica_and_limits_from_the_environment() -> None:
    """HANDOFF_GENERATOR_SLOTS, HANDOFF_REPLICA_ID, HANDOFF_MAX_SUBMIT_BYTES and the grace are read with units."""
    settings = GeneratorSettings.from_env(
        {
            "HANDOFF_GENERATOR_SLOTS": "4",
            "HANDOFF_REPLICA_ID": "gen-7",
            "HANDOFF_MAX_SUBMIT_BYTES": "1000",
            "HANDOFF_SHUTDOWN_GRACE_S": "2.5",
        }
    )
    assert (settings.slots, settings.replica_id, settings.max_submit_bytes) == (4, "gen-7", 1000)
    assert settings.shutdown_grace_s == 2.5
    defaults = GeneratorSettings.from_env({})
    assert defaults.slots == 2 and defaults.max_submit_bytes == 256 * 1024 and defaults.shutdown_grace_s == 30.0
    assert defaults.replica_id.endswith(f"-{os.getpid()}")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HANDOFF_GENERATOR_SLOTS": "0"}, "HANDOFF_GENERATOR_SLOTS must be >= 1"),
        ({"HANDOFF_MAX_SUBMIT_BYTES": "5000000"}, "must not exceed HANDOFF_MAX_MSG_BYTES"),
        ({"HANDOFF_FETCH_TIMEOUT_S": "soon"}, "HANDOFF_FETCH_TIMEOUT_S must be a number"),
    ],
)
def test_bad_generator_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    """Each malformed generator variable is reported by name."""
    with pytest.raises(SettingsError) as info:
        GeneratorSettings.from_env(env)
    assert message in str(info.value)
