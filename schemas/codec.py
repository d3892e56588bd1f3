"""Encoding and decoding of wire events. A decoder raises exactly one error type: ``DecodeError``."""

from __future__ import annotations

from typing import Any

import msgspec

from handoff.schemas.events import SCHEMA_VERSION, DeadLetterReason, Event

_encoder = msgspec.json.Encoder()


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


class DecodeError(ValueError):
    """Bytes that are not a valid event of the expected types. ``reason`` says which way they failed."""

    def __init__(self, reason: DeadLetterReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class _VersionProbe(msgspec.Struct, forbid_unknown_fields=False):
    schema_version: int = SCHEMA_VERSION


_probe = msgspec.json.Decoder(_VersionProbe)


class Decoder[T]:
    """Decodes bytes into one of the event types a service accepts. Build one per service, reuse it."""

    def __init__(self, accepts: Any, *, max_bytes: int | None = None) -> None:
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(accepts)
        self._max_bytes = max_bytes

    def decode(self, data: bytes) -> T:
        if self._max_bytes is not None and len(data) > self._max_bytes:
            raise DecodeError(
                DeadLetterReason.OVERSIZE,
                f"message of {len(data)} bytes exceeds the limit of {self._max_bytes}",
            )
        try:
            event = self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            version = self._version_of(data)
            if version is not None and version > SCHEMA_VERSION:
                raise DecodeError(
                    DeadLetterReason.UNSUPPORTED_VERSION,
                    f"schema_version {version} is newer than the supported {SCHEMA_VERSION}: {exc}",
                ) from exc
            raise DecodeError(DeadLetterReason.SCHEMA_INVALID, f"schema violation: {exc}") from exc
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise DecodeError(DeadLetterReason.UNDECODABLE, f"not valid JSON: {exc}") from exc
        except RecursionError as exc:  # msgspec recurses per nesting level, also into unknown fields it skips
            raise DecodeError(DeadLetterReason.UNDECODABLE, f"JSON nested too deeply: {exc}") from exc
        version = getattr(event, "schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise DecodeError(
                DeadLetterReason.UNSUPPORTED_VERSION,
                f"schema_version {version} is newer than the supported {SCHEMA_VERSION}",
            )
        return event

    @staticmethod
    def _version_of(data: bytes) -> int | None:
        try:
            return _probe.decode(data).schema_version
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
            return None
