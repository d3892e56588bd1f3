"""One redactor of every configured secret: from settings, key and creds files; applied to events and log lines."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import structlog
from nats.js import JetStreamContext

from handoff.common.clock import utcnow
from handoff.common.logging import configure_logging
from handoff.common.secrets import Redactor, nats_secrets, process_redactor, secrets_from_env
from handoff.common.settings import LogSettings, NatsSettings
from handoff.generator.publisher import Publisher
from handoff.schemas import names
from handoff.schemas.codec import Decoder, encode
from handoff.schemas.events import (
    DeadLettered,
    DeadLetterReason,
    ErrorCode,
    TaskError,
    TaskFinished,
    TaskStatus,
    TestGenerationResult,
)
from handoff.schemas.topology import Topology

CREDS = """-----BEGIN NATS USER JWT-----
eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkMifQ.c2lnbmF0dXJl
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.

-----BEGIN USER NKEY SEED-----
SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU
------END USER NKEY SEED------
"""
SEED = "SUAMLK2ZNL35WSMW37E7UD4VZ7ELPKW7DHC3BWBSD2GCZ7IUQQXZIORRBU"
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJBQkMifQ.c2lnbmF0dXJl"


def test_every_secret_the_environment_configures_is_known(tmp_path: Path) -> None:
    """Passwords, tokens, API keys, the key file's and the creds file's contents; not cost settings or seeds."""
    key_file, creds = tmp_path / "key", tmp_path / "user.creds"
    key_file.write_text("sk-from-a-file-9f8e7d\n")
    creds.write_text(CREDS)
    found = secrets_from_env(
        {
            "HANDOFF_NATS_PASSWORD": "pw-1a2b3c4d",
            "HANDOFF_NATS_TOKEN": "tok-5e6f7a8b",
            "HANDOFF_LLM_API_KEY_FILE": str(key_file),
            "HANDOFF_NATS_CREDS": str(creds),
            "HANDOFF_LLM_INPUT_COST_PER_TOKEN": "0.000003",
            "HANDOFF_CHAOS_SEED": "12345678",
            "OTHER_PASSWORD": "not-handoffs",
        }
    )
    redact = Redactor(found)
    text = f"pw-1a2b3c4d tok-5e6f7a8b sk-from-a-file-9f8e7d {SEED} {JWT} 0.000003 12345678 not-handoffs"
    assert redact(text) == "*** *** *** *** *** 0.000003 12345678 not-handoffs"
    assert redact("NKEY Seed printed below can be used to sign and prove identity.").startswith("NKEY Seed")


def test_nats_settings_given_in_code_yield_their_secrets(tmp_path: Path) -> None:
    """nats_secrets reads password, token and the creds file of a NatsSettings."""
    creds = tmp_path / "user.creds"
    creds.write_text(CREDS)
    found = nats_secrets(NatsSettings(password="pw-in-code", token="tok-in-code", creds_file=creds))
    assert {"pw-in-code", "tok-in-code", SEED, JWT} <= set(found)


def test_escaped_forms_and_nested_structs_are_redacted() -> None:
    """A secret inside a TaskFinished's detail, summary and message, raw or JSON-escaped, becomes ***."""
    redact = Redactor(['pa"ss\\word-77'])
    finished = TaskFinished(
        task_id="t-1",
        status=TaskStatus.FAILED,
        finished_at=utcnow(),
        error=TaskError(code=ErrorCode.INTERNAL, message='x pa"ss\\word-77', detail='{"p": "pa\\"ss\\\\word-77"}'),
        result=TestGenerationResult(summary='pa"ss\\word-77 leaked'),
    )
    clean = redact.struct(finished)
    assert clean.error is not None and clean.error.message == "x ***" and clean.error.detail == '{"p": "***"}'
    assert isinstance(clean.result, TestGenerationResult) and clean.result.summary == "*** leaked"
    assert clean.task_id == "t-1" and redact.struct(clean) is clean


@pytest.mark.parametrize(
    "secret",
    ['pa"ss\\word-77', "new\nline-secret", "tab\tand-é-ünïcode", "plain-secret-42", "</script>-ish/slash"],
)
def test_encoding_an_event_redacts_exactly_what_walking_it_does(secret: str) -> None:
    """``encode`` (the encoding checked for each secret's JSON form) gives the bytes of encoding the walked event,
    for a secret in a text, a dict key and a list, and for an event that holds none."""
    redact = Redactor([secret])
    leaky = TaskFinished(
        task_id="t-enc",
        status=TaskStatus.FAILED,
        finished_at=utcnow(),
        error=TaskError(code=ErrorCode.INTERNAL, message=f"x {secret} y", detail="nothing here"),
        result=TestGenerationResult(summary="ok", test_files=[f"tests/{secret}.py"]),
    )
    letter = DeadLettered(
        original=b"",
        original_subject="s",
        reason=DeadLetterReason.UNDECODABLE,
        detail="d",
        origin="o",
        dead_lettered_at=utcnow(),
        headers={secret: "in a key", "k": f"in a value {secret}"},
    )
    clean = TaskFinished(task_id="t-enc", status=TaskStatus.SUCCEEDED, finished_at=utcnow())
    for event in (leaky, letter, clean):
        assert redact.encode(event) == encode(redact.struct(event))
    for event in (leaky, letter):
        assert secret.encode() not in redact.encode(event) and b"***" in redact.encode(event)


def test_a_secret_json_cannot_hold_is_still_redacted_by_the_walk() -> None:
    """A secret with a lone surrogate (an undecodable environment value) has no JSON form: the walk masks it, so
    the event encodes."""
    redact = Redactor(["bad-\udcff-secret"])
    event = TaskError(code=ErrorCode.INTERNAL, message="leak: bad-\udcff-secret")
    assert Decoder(TaskError).decode(redact.encode(event)).message == "leak: ***"


async def test_the_generator_publisher_redacts_every_event_it_publishes(
    js: JetStreamContext, topology: Topology
) -> None:
    """A TaskFinished whose detail quotes a configured secret is stored with *** instead."""
    secret = "HANDOFF_NATS_PASSWORD=publisher-secret-31"
    publisher = Publisher(js, timeout_s=2.0, abort=asyncio.Event(), redact=Redactor(["publisher-secret-31"]))
    event = TaskFinished(
        task_id="redacted-task",
        status=TaskStatus.FAILED,
        finished_at=utcnow(),
        error=TaskError(code=ErrorCode.VALIDATION_FAILED, message="failed", detail=f"RuntimeError: {secret}"),
    )
    subject = names.task_subject(None, "redacted-task", names.EventType.FINISHED)
    await publisher.publish(subject, event, msg_id="redacted-task-finished")
    raw = await js.get_last_msg(names.EVENTS_STREAM, subject)
    assert b"publisher-secret-31" not in raw.data
    stored = Decoder(TaskFinished).decode(raw.data)
    assert stored.error is not None and stored.error.detail == "RuntimeError: HANDOFF_NATS_PASSWORD=***"


def test_every_log_line_passes_the_process_redactor(capsys: pytest.CaptureFixture[str]) -> None:
    """A configured secret inside a message, a field and a traceback is masked in the rendered line."""
    process_redactor().add("log-secret-5d4c3b")
    configure_logging(LogSettings(level="info", json=True))
    log = structlog.get_logger("t")
    log.info("connecting with log-secret-5d4c3b", url="nats://u:log-secret-5d4c3b@host")
    try:
        raise RuntimeError("boom log-secret-5d4c3b")
    except RuntimeError:
        log.exception("failed")
    err = capsys.readouterr().err
    assert "log-secret-5d4c3b" not in err and err.count("***") >= 3


def test_a_secret_at_the_cut_of_a_long_failure_text_is_masked_before_the_cut() -> None:
    """task_error cuts texts to 64 KiB: a secret straddling the cut leaves no half behind."""
    from handoff.generator.errors import MAX_TEXT, task_error

    secret = "straddling-secret-0a1b2c3d4e"
    process_redactor().add(secret)
    error = task_error(ErrorCode.INTERNAL, "x" * (MAX_TEXT - 12) + secret, detail="y" * (MAX_TEXT - 12) + secret)
    assert "straddl" not in error.message and "straddl" not in error.detail
    assert error.message.endswith("***") and len(error.detail) <= MAX_TEXT
