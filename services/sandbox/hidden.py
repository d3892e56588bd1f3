"""Files the worker was told hold secrets (``*_FILE``, creds and key paths in its settings): hidden in sandboxes."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SECRET_WORDS = ("KEY", "CREDS", "CRED", "TOKEN", "SECRET", "PASSWORD", "CERT", "FILE")


def secret_files(environ: Mapping[str, str]) -> list[Path]:
    """Absolute paths named by variables whose names speak of secrets, that exist (files or directories)."""
    found = []
    for name, value in environ.items():
        if not any(word in name.upper() for word in SECRET_WORDS) or not value.startswith("/"):
            continue
        path = Path(value)
        if path.exists():
            found.append(path)
    return found
