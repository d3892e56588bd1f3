"""Settings read from the environment with clear errors; one logging setup with task_id from contextvars."""

from __future__ import annotations

import json

import pytest
import structlog

from handoff.common.env import SettingsError
from handoff.common.logging import configure_logging
from handoff.common.settings import CommonSettings, LogSettings, NatsSettings


def test_settings_default_to_the_embedded_server_and_documented_numbers() -> None:
    """An empty environment means: no URL (embedded server), 30 s ack wait, 16 tasks in flight."""
    settings = CommonSettings.from_env({})
    assert settings.nats.url is None
    assert settings.topology.ack_wait_s == 30.0
    assert settings.topology.max_ack_pending == 16


def test_settings_read_units_from_variable_names() -> None:
    """HANDOFF_ACK_WAIT_S and HANDOFF_RETRY_BACKOFF_S are seconds, lists are comma-separated."""
    settings = CommonSettings.from_env({"HANDOFF_ACK_WAIT_S": "12.5", "HANDOFF_RETRY_BACKOFF_S": "1, 2,3"})
    assert settings.topology.ack_wait_s == 12.5
    assert settings.topology.retry_backoff_s == (1.0, 2.0, 3.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HANDOFF_ACK_WAIT_S": "soon"}, "HANDOFF_ACK_WAIT_S must be a number"),
        ({"HANDOFF_ACK_WAIT_S": "0"}, "HANDOFF_ACK_WAIT_S must be >= 1.0"),
        (
            {"HANDOFF_MAX_DELIVER": "2", "HANDOFF_RETRY_BACKOFF_S": "1,2"},
            "HANDOFF_MAX_DELIVER (2) must exceed",
        ),
        ({"HANDOFF_LOG_FORMAT": "xml"}, "HANDOFF_LOG_FORMAT must be"),
        ({"HANDOFF_APPLY_TOPOLOGY": "perhaps"}, "HANDOFF_APPLY_TOPOLOGY must be a boolean"),
    ],
)
def test_bad_settings_raise_an_error_naming_the_variable(env: dict[str, str], message: str) -> None:
    """Each malformed variable is reported by name with what was wrong."""
    with pytest.raises(SettingsError) as info:
        CommonSettings.from_env(env)
    assert message in str(info.value)


def test_nats_settings_never_print_the_password() -> None:
    """repr() of the NATS settings leaves the password and token out."""
    text = repr(NatsSettings.from_env({"HANDOFF_NATS_PASSWORD": "hunter2", "HANDOFF_NATS_TOKEN": "tok-123"}))
    assert "hunter2" not in text and "tok-123" not in text


def test_json_logs_carry_the_bound_task_id_and_redact_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    """Inside bound_contextvars(task_id=...), every JSON log line has the task_id; api_key values are masked."""
    configure_logging(LogSettings(level="info", json=True))
    log = structlog.get_logger("t")
    with structlog.contextvars.bound_contextvars(task_id="task-42"):
        log.info("working", api_key="sk-secret")
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["task_id"] == "task-42" and lines[0]["api_key"] == "***"
    assert "task_id" not in lines[1]
