"""Export the JSON Schema of every event into ``schemas/json/``. Run: ``handoff schemas export``."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec

from schemas.events import ALL_EVENT_TYPES, Event

JSON_DIR = Path(__file__).parent / "json"


def _file_name(event_type: type[Event]) -> str:
    return f"{event_type.__struct_config__.tag}.schema.json"


def render() -> dict[str, bytes]:
    """File name -> exact bytes that should be committed for each event type."""
    out: dict[str, bytes] = {}
    for event_type in ALL_EVENT_TYPES:
        schema = msgspec.json.schema(event_type)
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = event_type.__name__
        body = msgspec.json.format(msgspec.json.encode(schema), indent=2) + b"\n"
        out[_file_name(event_type)] = body
    return out


def stale_files(directory: Path = JSON_DIR) -> list[str]:
    """Names of schema files that are missing, different from the code, or no longer produced."""
    wanted = render()
    stale = [name for name, body in wanted.items() if _read(directory / name) != body]
    extra = [p.name for p in directory.glob("*.schema.json") if p.name not in wanted]
    return sorted(stale + extra)


def write(directory: Path = JSON_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    wanted = render()
    for path in directory.glob("*.schema.json"):
        if path.name not in wanted:
            path.unlink()
    for name, body in wanted.items():
        (directory / name).write_bytes(body)
    return sorted(wanted)


def _read(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


if __name__ == "__main__":
    for name in write():
        print(f"wrote {JSON_DIR / name}")
    sys.exit(0)
