"""The one redactor: every secret configured on this process, replaced by ``***`` wherever text leaves it.

Known secrets are the values of ``HANDOFF_*`` settings whose names say they are secret (``…PASSWORD``,
``…TOKEN``, ``…API_KEY``, ``…SECRET``, ``…NKEY_SEED``), the contents of the files ``HANDOFF_*_FILE`` and
``HANDOFF_NATS_CREDS`` name (a creds file also line by line: its JWT and its nkey seed), and whatever a
service adds from the settings it was given in code (``process_redactor().add(...)``). The process-wide
instance is built from the environment once, on first use; services add their settings' secrets when they
start. It is applied to progress, events (at the generator's publisher), failures, summaries and logs.
"""

from __future__ import annotations

import builtins
import os
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from handoff.common.settings import NatsSettings

MASK = "***"
MIN_SECRET_CHARS = 4
"""Shorter values are not secrets worth the name, and masking them would mangle ordinary text."""
MAX_SECRET_FILE_BYTES = 64 * 1024
MIN_TOKEN_LINE_CHARS = 16
"""A line of a creds file is a secret of its own when it is one token this long (a JWT, a seed), not prose."""
_SECRET_NAME = re.compile(r"(PASSWORD|(?<!PER_)TOKEN|API_KEY|SECRET|NKEY_SEED|NKEY)$")
_FILE_NAMES = ("HANDOFF_NATS_CREDS",)
_CREDS_MARKER = re.compile(r"^-+\s*(BEGIN|END) ")
_json = msgspec.json.Encoder()


class Redactor:
    """Replaces every occurrence of the known secret values (and nothing else) with ``***``. Thread-safe."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self._in_json: tuple[builtins.bytes, ...] | None = ()
        self.add(*secrets)

    def add(self, *values: str | None) -> None:
        with self._lock:
            known = set(self._secrets)
            for value in values:
                if not value:
                    continue
                known |= {v for v in _variants(value) if len(v) >= MIN_SECRET_CHARS}
            self._secrets = tuple(sorted(known, key=len, reverse=True))  # longest first: no partial leftovers
            self._in_json = _json_forms(self._secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def bytes(self, data: bytes) -> bytes:
        for secret in self._secrets:
            raw = secret.encode("utf-8", errors="surrogateescape")
            if raw in data:
                data = data.replace(raw, MASK.encode())
        return data

    def found_in(self, data: builtins.bytes | str) -> bool:
        """Whether ``data`` holds any known secret."""
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
        return any(s.encode("utf-8", errors="surrogateescape") in raw for s in self._secrets)

    def encode(self, value: Any) -> builtins.bytes:
        """``value`` as JSON (msgspec) with every string inside it redacted, as ``struct`` does.

        Encoded first: JSON escapes a string character by character, so a secret inside a string shows in the
        encoding as the secret's own escaped form. Only an encoding that holds one is walked and encoded again.
        """
        forms = self._in_json
        if forms is None:  # a secret JSON cannot hold (a lone surrogate): only the walk finds it
            return _json.encode(self.struct(value))
        data = _json.encode(value)
        if any(form in data for form in forms):
            return _json.encode(self.struct(value))
        return data

    def struct[T](self, value: T) -> T:
        """``value`` (a msgspec Struct, list, dict or str) with every string inside it redacted; bytes stay as
        they are (they are payloads the sender chose, such as a dead letter's original message)."""
        return _walk(value, self)


def _variants(value: str) -> list[str]:
    """A secret and the forms it takes inside text: stripped, and JSON/repr-escaped."""
    value = value.strip()
    escaped = value.encode("unicode_escape").decode("ascii")
    try:
        in_json = msgspec.json.encode(value).decode()[1:-1]
    except UnicodeEncodeError:  # a lone surrogate (an environment value that is not UTF-8): no JSON form
        return [value, escaped]
    return [value, escaped, in_json]


def _json_forms(secrets: Iterable[str]) -> tuple[bytes, ...] | None:
    """Each secret as it shows inside a JSON string; None if one cannot be encoded at all."""
    forms = set()
    for secret in secrets:
        try:
            forms.add(_json.encode(secret)[1:-1])
        except UnicodeEncodeError:
            return None
    return tuple(forms)


def _walk(value: Any, redact: Redactor) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, msgspec.Struct):
        changes = {}
        for name in value.__struct_fields__:
            old = getattr(value, name)
            new = _walk(old, redact)
            if new is not old:
                changes[name] = new
        return msgspec.structs.replace(value, **changes) if changes else value
    if isinstance(value, list):
        items = [_walk(item, redact) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        pairs = {redact(k) if isinstance(k, str) else k: _walk(v, redact) for k, v in value.items()}
        return pairs if pairs != value else value
    return value


# ---- what this process knows ---------------------------------------------------------------------------
def secrets_from_env(env: Mapping[str, str] | None = None) -> list[str]:
    """Every secret the ``HANDOFF_*`` environment configures: values and the contents of secret files."""
    env = os.environ if env is None else env
    found: list[str] = []
    for name, value in env.items():
        if not name.startswith("HANDOFF_") or not value:
            continue
        if name.endswith("_FILE") or name in _FILE_NAMES:
            found += secret_file_contents(Path(value))
        elif _SECRET_NAME.search(name):
            found.append(value)
    return found


def secret_file_contents(path: Path | None) -> list[str]:
    """The contents of a key, password or creds file, whole and line by line (a creds file holds a JWT and an
    nkey seed between marker lines); nothing when it cannot be read or is too large to be a secret."""
    if path is None:
        return []
    try:
        if path.stat().st_size > MAX_SECRET_FILE_BYTES:
            return []
        text = path.read_text(errors="replace")
    except OSError:
        return []
    lines = [line.strip() for line in text.splitlines()]
    tokens = [line for line in lines if len(line) >= MIN_TOKEN_LINE_CHARS and not _CREDS_MARKER.match(line)]
    return [text.strip(), *(line for line in tokens if not any(c.isspace() for c in line))]


def nats_secrets(settings: NatsSettings) -> list[str]:
    """The secrets of a NATS connection's settings: password, token, and the creds file's contents."""
    return [v for v in (settings.password, settings.token) if v] + secret_file_contents(settings.creds_file)


_process: Redactor | None = None
_process_lock = threading.Lock()


def process_redactor() -> Redactor:
    """This process's redactor, built from the environment on first use."""
    global _process
    with _process_lock:
        if _process is None:
            _process = Redactor(secrets_from_env())
        return _process
