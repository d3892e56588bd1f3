"""The wire contract: every event survives a round trip; garbage always yields the one typed decode error."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.schemas import events as ev
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder, encode
from tests.support.strategies import EVENT_STRATEGIES, any_event

ANY_DECODER: Decoder[ev.AnyEvent] = Decoder(ev.AnyEvent)
SUBMIT_DECODER: Decoder[ev.TaskSubmitted] = Decoder(ev.TaskSubmitted, max_bytes=4096)
DECODERS = {"any": ANY_DECODER, "submit": SUBMIT_DECODER, "task": Decoder(ev.TaskEvent)}


def test_every_event_type_has_a_round_trip_strategy() -> None:
    """The property tests below cover each event the contract declares, none forgotten."""
    assert set(EVENT_STRATEGIES) == set(ev.ALL_EVENT_TYPES)


@pytest.mark.parametrize("event_type", ev.ALL_EVENT_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_each_event_decodes_back_to_an_equal_value(event_type: type[ev.Event], data: st.DataObject) -> None:
    """encode then decode through the all-events decoder gives back the same event, of the same type."""
    event = data.draw(EVENT_STRATEGIES[event_type])
    back = ANY_DECODER.decode(encode(event))
    assert type(back) is event_type
    assert back == event


@settings(max_examples=1000)
@given(garbage=st.binary(max_size=512))
def test_random_bytes_raise_only_the_typed_decode_error(garbage: bytes) -> None:
    """Any bytes at all either decode or raise DecodeError; nothing else escapes a decoder."""
    for decoder in DECODERS.values():
        try:
            decoder.decode(garbage)
        except DecodeError as exc:
            assert exc.reason in ev.DeadLetterReason
            assert exc.message


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(event=any_event, cut=st.integers(min_value=0, max_value=10_000), flip=st.integers(0, 255))
def test_truncated_or_corrupted_events_raise_only_the_typed_decode_error(event: ev.Event, cut: int, flip: int) -> None:
    """Real events cut short or with one byte changed never raise anything but DecodeError."""
    raw = encode(event)
    mangled = [
        raw[: cut % max(len(raw), 1)],
        raw[: cut % len(raw)] + bytes([flip]) + raw[cut % len(raw) + 1 :],
    ]
    for data in mangled:
        for decoder in DECODERS.values():
            try:
                decoder.decode(data)
            except DecodeError:
                pass


@settings(max_examples=300)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=20,
    )
)
def test_valid_json_of_the_wrong_shape_is_a_schema_error(value: object) -> None:
    """Well-formed JSON that is not an event is reported as schema_invalid, not as undecodable."""
    with pytest.raises(DecodeError) as info:
        ANY_DECODER.decode(msgspec.json.encode(value))
    assert info.value.reason == ev.DeadLetterReason.SCHEMA_INVALID


def _submit(**changes: object) -> dict[str, object]:
    event = ev.TaskSubmitted(
        task_id="t-1", payload=ev.Sleep(duration_s=1), submitted_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    raw = msgspec.json.decode(encode(event))
    raw.update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "reason", "fragment"),
    [
        ({"schema_version": 2}, ev.DeadLetterReason.UNSUPPORTED_VERSION, "schema_version 2"),
        ({"task_id": "a.b"}, ev.DeadLetterReason.SCHEMA_INVALID, "$.task_id"),
        ({"task_id": "x" * 65}, ev.DeadLetterReason.SCHEMA_INVALID, "$.task_id"),
        ({"payload": {"kind": "mine_bitcoin"}}, ev.DeadLetterReason.SCHEMA_INVALID, "mine_bitcoin"),
        ({"submitted_at": "2026-01-01T00:00:00"}, ev.DeadLetterReason.SCHEMA_INVALID, "submitted_at"),
        ({"max_attempts": "3"}, ev.DeadLetterReason.SCHEMA_INVALID, "max_attempts"),
        ({"submitter": "x" * 5000}, ev.DeadLetterReason.OVERSIZE, "exceeds the limit"),
    ],
)
def test_invalid_submits_name_what_is_wrong(
    changes: dict[str, object], reason: ev.DeadLetterReason, fragment: str
) -> None:
    """Each way a submit can be wrong is reported with a reason and a message naming the problem."""
    with pytest.raises(DecodeError) as info:
        SUBMIT_DECODER.decode(msgspec.json.encode(_submit(**changes)))
    assert info.value.reason == reason
    assert fragment in info.value.message


@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "a/../../b", "a\\b", "a/..", ".."])
def test_target_paths_that_escape_the_source_tree_are_rejected(path: str) -> None:
    """A GenerateTests target may not be absolute or climb out of the tree with '..'."""
    payload = msgspec.json.decode(encode(_example_generate_tests()))["payload"]
    payload["targets"] = [path]
    with pytest.raises(DecodeError) as info:
        SUBMIT_DECODER.decode(msgspec.json.encode(_submit(payload=payload)))
    assert "targets" in info.value.message


@pytest.mark.parametrize(
    ("test_env", "fragment"),
    [
        ({"PYTHONPATH": "/evil"}, "test_env: PYTHONPATH is set by the sandbox for every run and cannot be given"),
        ({"HANDOFF_SANDBOX": "none"}, "test_env: HANDOFF_SANDBOX: names starting with HANDOFF_ are reserved"),
        ({"1BAD": "x"}, "test_env"),
        ({"OK": "a\x00b"}, "test_env"),
        ({f"V{i}": "1" for i in range(33)}, "test_env"),
    ],
    ids=["sandbox-name", "handoff-prefix", "bad-name", "nul-value", "too-many"],
)
def test_a_submit_whose_test_env_is_reserved_or_malformed_is_refused_naming_it(
    test_env: dict[str, str], fragment: str
) -> None:
    """A task cannot set PATH, HOME, PYTHONPATH or HANDOFF_* for its tests, nor give names a shell cannot hold."""
    payload = msgspec.json.decode(encode(_example_generate_tests()))["payload"]
    payload["test_env"] = test_env
    with pytest.raises(DecodeError) as info:
        Decoder(ev.TaskSubmitted).decode(msgspec.json.encode(_submit(payload=payload)))
    assert info.value.reason == ev.DeadLetterReason.SCHEMA_INVALID
    assert fragment in info.value.message


def _example_generate_tests() -> ev.TaskSubmitted:
    return ev.TaskSubmitted(
        task_id="gen-1",
        submitted_at=datetime(2026, 1, 1, tzinfo=UTC),
        payload=ev.GenerateTests(
            source=ev.SourceSnapshot(digest="a" * 64, size_bytes=10, files=1), targets=["pkg/mod.py"]
        ),
    )


def test_an_old_consumer_ignores_fields_added_later() -> None:
    """A newer producer's extra fields do not break this version's decoder (fields are added with defaults)."""
    raw = _submit(new_field_from_the_future={"x": 1})
    assert SUBMIT_DECODER.decode(msgspec.json.encode(raw)).task_id == "t-1"


def test_subjects_carry_run_and_task_ids_and_parse_back() -> None:
    """Task subjects are built in one place and can be parsed back into their parts."""
    subject = names.task_subject("run-7", "t-1", names.EventType.FINISHED)
    assert subject == "handoff.evt.run-7.t-1.finished"
    assert names.parse_task_subject(subject) == ("run-7", "t-1", "finished")
    assert names.parse_task_subject(names.task_subject(None, "t-2", names.EventType.STARTED)) == (
        None,
        "t-2",
        "started",
    )
    assert names.parse_task_subject("handoff.run.x.finished") is None
