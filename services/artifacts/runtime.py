"""Whether this Python's ``tarfile`` has the June 2025 extraction-filter fixes (CVE-2025-4517 and relatives).

The fixes (python/cpython gh-135034) landed in 3.9.23, 3.10.18, 3.11.13, 3.12.11, 3.13.4 and 3.14.0; they added
``os.path.ALLOW_MISSING``, which is how this is detected. Handoff's snapshot extractor does not rely on tarfile's
filters (it writes regular files and directories itself and refuses every link), so an affected Python is not a
hole in Handoff; the generator still warns, because other code in the same interpreter may use the filters.
"""

from __future__ import annotations

import os
import sys

FIXED_IN = ("3.9.23", "3.10.18", "3.11.13", "3.12.11", "3.13.4", "3.14.0")


def tarfile_filter_fixes_missing() -> str | None:
    """A sentence naming the affected Python running this process, or None when it has the fixes."""
    if hasattr(os.path, "ALLOW_MISSING"):
        return None
    version = ".".join(str(part) for part in sys.version_info[:3])
    return (
        f"Python {version} lacks the 2025 tarfile filter fixes (CVE-2025-4517; fixed in {', '.join(FIXED_IN)}): "
        "Handoff's snapshot extraction does not depend on them, but upgrade the interpreter where one is offered"
    )
