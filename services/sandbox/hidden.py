"""Files Handoff's settings name as secrets (``HANDOFF_*_FILE``, creds and key paths): hidden in every sandbox."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

SECRET_WORDS = ("KEY", "CREDS", "TOKEN", "SECRET", "PASSWORD", "_FILE")


def secret_files(environ: Mapping[str, str]) -> list[Path]:
    """Existing absolute paths named by ``HANDOFF_*`` variables whose names speak of secrets."""
    found = []
    for name, value in environ.items():
        upper = name.upper()
        if not upper.startswith("HANDOFF_") or not any(w in upper for w in SECRET_WORDS) or not value.startswith("/"):
            continue
        path = Path(value)
        if path.exists():
            found.append(path)
    return found
