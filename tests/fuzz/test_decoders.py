"""Every malformed submit is refused by the decoders with the reason it deserves, and nothing else escapes them."""

from __future__ import annotations

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.generator.execution import check_subject
from handoff.schemas import names
from handoff.schemas.codec import DecodeError, Decoder
from handoff.schemas.events import AnyEvent, CancelRequested, DeadLetterReason, RunSealed, TaskEvent, TaskSubmitted
from tests.fuzz.malformed import MAX_SUBMIT_BYTES, Defect, defects, expected_reasons

SUBMITS: Decoder[TaskSubmitted] = Decoder(TaskSubmitted, max_bytes=MAX_SUBMIT_BYTES)
EVERY_DECODER: list[Decoder[object]] = [
    SUBMITS,
    Decoder(AnyEvent),
    Decoder(TaskEvent),
    Decoder(CancelRequested, max_bytes=64 * 1024),
    Decoder(RunSealed),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)
documents = st.dictionaries(st.text(max_size=12), json_values, max_size=6)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(defect=defects)
def test_each_malformed_submit_is_refused_with_its_reason(defect: Defect) -> None:
    """Decoding plus the subject check (the generator's intake) refuses every defect, for the expected reason."""
    task = "fz-task"
    data = defect.build(task)
    subject = names.task_subject_of_tokens(names.NO_RUN, defect.bad_token or task, names.EventType.SUBMITTED)
    try:
        check_subject(SUBMITS.decode(data), subject)
    except DecodeError as exc:
        assert exc.reason in expected_reasons(defect, data), (defect.family, exc.reason, exc.message)
        assert exc.message
    else:
        raise AssertionError(f"{defect.family}: accepted {data[:200]!r}")


@settings(max_examples=300, deadline=None)
@given(document=documents, depth=st.integers(0, 20_000))
def test_json_of_any_shape_and_depth_raises_only_the_typed_decode_error(
    document: dict[str, object], depth: int
) -> None:
    """Objects with any members, and values nested deeper than a decoder recurses, give DecodeError or decode."""
    nested = b'{"type":"task.submitted","deep":' + b"[" * depth + b"]" * depth + b"}"
    for data in (msgspec.json.encode(document), nested):
        for decoder in EVERY_DECODER:
            try:
                decoder.decode(data)
            except DecodeError as exc:
                assert exc.reason in DeadLetterReason and exc.message
