"""Export the JSON Schema of every event and record (schemas/json/) and the AsyncAPI document: ``handoff schemas
export``."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from handoff.schemas import asyncapi
from handoff.schemas.events import ALL_EVENT_TYPES, Event
from handoff.schemas.records import RECORD_TYPES, ReplicaPresence, RunRecord, RunShard, TaskRecord

JSON_DIR = Path(__file__).parent / "json"
ASYNCAPI_FILE = Path(__file__).parent / "asyncapi.json"


# record type -> the name its schema file gets (records are untagged: named after what they record)
RECORD_FILE_STEMS: dict[type[msgspec.Struct], str] = {
    TaskRecord: "record.task",
    RunRecord: "record.run",
    RunShard: "record.run_shard",
    ReplicaPresence: "record.replica_presence",
}


def _file_name(event_type: type[Event]) -> str:
    return f"{event_type.__struct_config__.tag}.schema.json"


def record_file_name(record_type: type[msgspec.Struct]) -> str:
    return f"{RECORD_FILE_STEMS[record_type]}.schema.json"


def _schema_file(struct_type: type[msgspec.Struct]) -> bytes:
    schema = msgspec.json.schema(struct_type)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = struct_type.__name__
    return msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"


def render() -> dict[str, bytes]:
    """File name -> exact bytes that should be committed for each event type and each record type."""
    out = {_file_name(event_type): _schema_file(event_type) for event_type in ALL_EVENT_TYPES}
    out.update({record_file_name(record_type): _schema_file(record_type) for record_type in RECORD_TYPES})
    return out


def stale_files(directory: Path = JSON_DIR, asyncapi_file: Path = ASYNCAPI_FILE) -> list[str]:
    """Names of schema files that are missing, different from the code, or no longer produced."""
    wanted = render()
    stale = [name for name, body in wanted.items() if _read(directory / name) != body]
    extra = [p.name for p in directory.glob("*.schema.json") if p.name not in wanted]
    if _read(asyncapi_file) != asyncapi.render():
        stale.append(asyncapi_file.name)
    return sorted(stale + extra)


def write(directory: Path = JSON_DIR, asyncapi_file: Path = ASYNCAPI_FILE) -> list[Path]:
    """Write every file; returns their paths."""
    asyncapi_file.write_bytes(asyncapi.render())
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for path in directory.glob("*.schema.json"):
        if path.name not in wanted:
            path.unlink()
    for name, body in wanted.items():
        (directory / name).write_bytes(body)
    return [*(directory / name for name in sorted(wanted)), asyncapi_file]


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path}")
    sys.exit(0)
