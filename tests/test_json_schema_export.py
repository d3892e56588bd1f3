"""The committed JSON Schema files match the code."""

from __future__ import annotations

from pathlib import Path

import msgspec

from handoff.schemas import export
from handoff.schemas.events import ALL_EVENT_TYPES
from handoff.schemas.records import RECORD_TYPES, ReplicaPresence, RunRecord, RunShard, TaskRecord


def test_committed_json_schemas_are_up_to_date() -> None:
    """schemas/json/ holds exactly what 'handoff schemas export' writes today."""
    assert export.stale_files() == [], "run 'handoff schemas export' and commit schemas/json/"


def test_the_staleness_check_notices_an_edited_and_a_missing_file(tmp_path: Path) -> None:
    """The check above can fail: an edited file and a deleted file are both reported."""
    document = tmp_path / "asyncapi.json"
    export.write(tmp_path, document)
    assert export.stale_files(tmp_path, document) == []
    edited, missing = sorted(tmp_path.glob("*.schema.json"))[:2]
    edited.write_text(edited.read_text().replace('"type"', '"typo"', 1))
    missing.unlink()
    document.write_text(document.read_text().replace('"taskSubmitted"', '"taskSent"', 1))
    assert export.stale_files(tmp_path, document) == sorted([edited.name, missing.name, document.name])


def test_every_event_has_a_schema_with_its_tag() -> None:
    """Each event type has one schema file whose type tag is the event's tag."""
    rendered = export.render()
    assert len(rendered) == len(ALL_EVENT_TYPES) + len(RECORD_TYPES)
    for event_type in ALL_EVENT_TYPES:
        tag = event_type.__struct_config__.tag
        schema = msgspec.json.decode(rendered[f"{tag}.schema.json"])
        definition = schema["$defs"][event_type.__name__]
        assert definition["properties"]["type"] == {"enum": [tag]}


def test_every_record_clients_read_has_a_committed_schema_naming_its_fields() -> None:
    """Task, run, run-shard and presence records each have a committed schema file listing every field."""
    assert set(RECORD_TYPES) == {TaskRecord, RunRecord, RunShard, ReplicaPresence}
    for record_type in RECORD_TYPES:
        path = export.JSON_DIR / export.record_file_name(record_type)
        schema = msgspec.json.decode(path.read_bytes())
        assert schema["title"] == record_type.__name__
        definition = schema["$defs"][record_type.__name__]
        assert set(definition["properties"]) == set(record_type.__struct_fields__)


def test_the_staleness_check_notices_a_changed_record_schema(tmp_path: Path) -> None:
    """A record schema edited by hand (or a record type changed without exporting) is reported stale."""
    document = tmp_path / "asyncapi.json"
    export.write(tmp_path, document)
    task_record = tmp_path / export.record_file_name(TaskRecord)
    task_record.write_text(task_record.read_text().replace('"state"', '"phase"', 1))
    assert export.stale_files(tmp_path, document) == [task_record.name]
