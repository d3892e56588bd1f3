"""Hypothesis strategies for malformed submits: what a broken or hostile pipeline could publish.

A ``Defect`` says what is wrong with a message and builds its bytes for a task id the test chooses, so the test
controls ids and subjects while hypothesis decides the damage. ``reasons`` are the dead-letter reasons it may
earn (a message over the size limit is ``oversize`` whatever else is wrong with it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
from hypothesis import strategies as st

from handoff.common.clock import utcnow
from handoff.schemas.events import SCHEMA_VERSION, DeadLetterReason, GenerateTests, Sleep, SourceSnapshot, TaskSubmitted

MAX_SUBMIT_BYTES = 32 * 1024
"""The replica under test refuses submits larger than this (HANDOFF_MAX_SUBMIT_BYTES) as oversize."""

UNDECODABLE = frozenset({DeadLetterReason.UNDECODABLE})
SCHEMA_INVALID = frozenset({DeadLetterReason.SCHEMA_INVALID})
MISMATCH = frozenset({DeadLetterReason.SUBJECT_MISMATCH})
NOT_A_SUBMIT = UNDECODABLE | SCHEMA_INVALID

Path = tuple[str, ...]


@dataclass(frozen=True)
class Defect:
    family: str
    reasons: frozenset[DeadLetterReason]
    build: Callable[[str], bytes]  # task id -> the bytes to publish on that task's submit subject
    bad_token: str | None = None  # publish on a subject with this task token (not a valid id) instead


def expected_reasons(defect: Defect, data: bytes) -> frozenset[DeadLetterReason]:
    """The size limit is checked before anything else."""
    return frozenset({DeadLetterReason.OVERSIZE}) if len(data) > MAX_SUBMIT_BYTES else defect.reasons


# ---- documents to tamper with ------------------------------------------------------------------------
def sleep_submit(task_id: str) -> dict[str, Any]:
    task = TaskSubmitted(task_id=task_id, payload=Sleep(duration_s=0.0), submitted_at=utcnow())
    document: dict[str, Any] = msgspec.to_builtins(task)
    return document


def generate_tests_submit(task_id: str, *, targets: list[str], test_dir: str = "tests") -> dict[str, Any]:
    snapshot = SourceSnapshot(digest="0" * 64, size_bytes=10, files=1)
    payload = GenerateTests(source=snapshot, targets=["pkg/mod.py"])
    document: dict[str, Any] = msgspec.to_builtins(
        TaskSubmitted(task_id=task_id, payload=payload, submitted_at=utcnow())
    )
    document["payload"].update(targets=targets, test_dir=test_dir)
    return document


def dumps(document: Any) -> bytes:
    return msgspec.json.encode(document)


def with_value(document: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for key in parents:
        target = target[key]
    target[last] = value
    return changed


def without(document: dict[str, Any], path: Path) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    *parents, last = path
    target = changed
    for key in parents:
        target = target[key]
    del target[last]
    return changed


# ---- builders (task id last, for partial) -------------------------------------------------------------
def _constant(data: bytes, task: str) -> bytes:
    return data


def _truncated_json(fraction: float, task: str) -> bytes:
    raw = dumps(sleep_submit(task))
    return raw[: int(len(raw) * fraction)]


def _msgpack(fraction: float, task: str) -> bytes:
    raw = msgspec.msgpack.encode(sleep_submit(task))
    return raw[: max(1, int(len(raw) * fraction))]


def _changed(path: Path, value: Any, task: str) -> bytes:
    return dumps(with_value(sleep_submit(task), path, value))


def _dropped(path: Path, task: str) -> bytes:
    return dumps(without(sleep_submit(task), path))


def _huge(path: Path, size: int, task: str) -> bytes:
    value: Any = {"k": "x" * size} if path == ("labels",) else "x" * size
    return dumps(with_value(sleep_submit(task), path, value))


def _future(version: int, new_fields: bool, task: str) -> bytes:
    payload = {"kind": "sleep", "duration_s": 0.0, "nap_style": "deep"} if new_fields else {"kind": "sleep2"}
    return dumps(with_value(with_value(sleep_submit(task), ("schema_version",), version), ("payload",), payload))


def _escaping(path: str, in_test_dir: bool, task: str) -> bytes:
    if in_test_dir:
        return dumps(generate_tests_submit(task, targets=["pkg/mod.py"], test_dir=path))
    return dumps(generate_tests_submit(task, targets=["pkg/mod.py", path]))


def _nested(depth: int, bracket: str, task: str) -> bytes:
    deep = b"[" * depth + b"]" * depth if bracket == "[" else b'{"a":' * depth + b"1" + b"}" * depth
    return dumps(sleep_submit(task))[:-1] + b',"extra":' + deep + b"}"


def _bad_utf8(junk: bytes, task: str) -> bytes:
    return dumps(sleep_submit(task)).replace(b'"submitter":""', b'"submitter":"' + junk + b'"')


def _foreign(other_run: bool, task: str) -> bytes:
    return _changed(("run_id",), "run-elsewhere" if other_run else None, f"{task}-elsewhere")


def _valid(task: str) -> bytes:
    return dumps(sleep_submit(task))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


# ---- the families ------------------------------------------------------------------------------------
WRONG_VALUES: list[tuple[Path, Any]] = [
    (("task_id",), 12345),
    (("task_id",), ["a"]),
    (("task_id",), "has spaces and $ signs"),
    (("submitted_at",), 1_700_000_000),
    (("submitted_at",), "yesterday"),
    (("submitted_at",), "2024-01-01T00:00:00"),  # no time zone
    (("payload", "duration_s"), "1.5"),
    (("payload", "duration_s"), -1),
    (("payload", "duration_s"), 10**12),
    (("payload",), "sleep"),
    (("payload",), None),
    (("max_attempts",), 0),
    (("max_attempts",), "3"),
    (("run_size",), 0),
    (("priority",), "urgent"),
    (("labels",), ["a", "b"]),
    (("labels",), {"k": 1}),
    (("deadline",), "soon"),
    (("schema_version",), 0),
    (("schema_version",), "1"),
    (("type",), "task.exploded"),
    (("payload", "fail_with"), "meltdown"),
]
HUGE_FIELDS: list[Path] = [("submitter",), ("labels",), ("payload", "fail_with"), ("task_id",)]
REQUIRED: list[Path] = [("task_id",), ("payload",), ("submitted_at",), ("payload", "kind"), ("payload", "duration_s")]
ESCAPES = ["../outside.py", "/etc/passwd", "pkg/../../outside.py", "..", "pkg/..", "a\\..\\b.py", "nul\x00.py",
           "./../x.py", "//server/share.py", ""]  # fmt: skip
BAD_TASK_TOKENS = ["a" * 65, "t$id", "-leading-dash", "semi;colon", 'quote"d', "tilde~"]


def _path(path: Path) -> str:
    return ".".join(path)


random_bytes = st.binary(max_size=2048).map(lambda b: Defect("random bytes", NOT_A_SUBMIT, partial(_constant, b)))
truncated_json = st.floats(0.0, 0.999).map(lambda f: Defect("truncated JSON", UNDECODABLE, partial(_truncated_json, f)))
msgpack_encoded = st.floats(0.05, 1.0).map(
    lambda f: Defect(f"msgpack instead of JSON ({f:.0%})", UNDECODABLE, partial(_msgpack, f))
)
wrong_types = st.sampled_from(WRONG_VALUES).map(
    lambda c: Defect(f"wrong value at {_path(c[0])}: {c[1]!r}", SCHEMA_INVALID, partial(_changed, *c))
)
unknown_kinds = (
    st.text(max_size=40)
    .filter(lambda k: k not in {"sleep", "generate_tests"})
    .map(lambda k: Defect(f"unknown kind {k!r}", SCHEMA_INVALID, partial(_changed, ("payload", "kind"), k)))
)
huge_strings = st.tuples(st.sampled_from(HUGE_FIELDS), st.integers(201, 3 * MAX_SUBMIT_BYTES)).map(
    lambda c: Defect(f"{c[1]} characters in {_path(c[0])}", SCHEMA_INVALID, partial(_huge, *c))
)
missing_fields = st.sampled_from(REQUIRED).map(
    lambda p: Defect(f"missing {_path(p)}", SCHEMA_INVALID, partial(_dropped, p))
)
future_versions = st.tuples(st.integers(SCHEMA_VERSION + 1, 2**53), st.booleans()).map(
    lambda c: Defect(f"schema_version {c[0]}", frozenset({DeadLetterReason.UNSUPPORTED_VERSION}), partial(_future, *c))
)
path_traversal = st.tuples(st.sampled_from(ESCAPES), st.booleans()).map(
    lambda c: Defect(
        f"{'test_dir' if c[1] else 'target'} {c[0]!r} leaves the tree", SCHEMA_INVALID, partial(_escaping, *c)
    )
)
# deeper than msgspec's recursion limit (about 1,500 levels), still under MAX_SUBMIT_BYTES
deep_nesting = st.one_of(
    st.tuples(st.integers(3_000, 15_000), st.just("[")), st.tuples(st.integers(3_000, 5_000), st.just("{"))
).map(lambda c: Defect(f"an unknown field nested {c[0]} deep", UNDECODABLE, partial(_nested, *c)))
invalid_utf8 = (
    st.binary(min_size=1, max_size=8)
    .map(lambda b: b.replace(b'"', b"").replace(b"\\", b""))
    .filter(lambda b: not _is_utf8(b))
    .map(lambda b: Defect("invalid UTF-8 in a string", UNDECODABLE, partial(_bad_utf8, b)))
)
subject_mismatch = st.booleans().map(
    lambda other_run: Defect(f"another task's submit (other run: {other_run})", MISMATCH, partial(_foreign, other_run))
)
bad_subject_token = st.sampled_from(BAD_TASK_TOKENS).map(
    lambda token: Defect(f"task token {token[:10]!r} is not an id", MISMATCH, _valid, bad_token=token)
)

defects = st.one_of(
    random_bytes,
    truncated_json,
    msgpack_encoded,
    wrong_types,
    unknown_kinds,
    huge_strings,
    missing_fields,
    future_versions,
    path_traversal,
    deep_nesting,
    invalid_utf8,
    subject_mismatch,
    bad_subject_token,
)
"""Any one malformed submit."""
