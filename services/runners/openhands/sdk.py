"""The agent SDK, imported once per process and only when a task first needs it (the import takes ~6 s).

Its environment switches are set before the import: no root-logger takeover, no banner, and litellm's local
cost map instead of a network fetch at import time.
"""

from __future__ import annotations

import os
import threading

SDK_ENV = {
    "LOG_AUTO_CONFIG": "false",
    "OPENHANDS_SUPPRESS_BANNER": "1",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}

_lock = threading.Lock()


def load_sdk() -> None:
    """Import the SDK and register the runner's tools. Idempotent and thread-safe; call it off the event loop."""
    with _lock:
        for key, value in SDK_ENV.items():
            os.environ.setdefault(key, value)
        import handoff.runners.openhands.conversation  # noqa: F401  (imports the SDK and the tools)
