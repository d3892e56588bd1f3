"""Where the client commands find Handoff: ``HANDOFF_NATS_URL``, else the ``handoff up`` recorded in the data dir,
else the embedded server's default address; and what to tell the user when that address does not answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from handoff.client.settings import ClientSettings
from handoff.stack.state import is_running, recorded_stack, state_path


@dataclass(frozen=True, slots=True)
class Located:
    url: str
    unreachable_hint: str  # added to "cannot reach NATS at URL: ..." ('' for a URL the user set)


def locate(settings: ClientSettings, data_dir: Path) -> Located:
    """The address to connect to, and why it was chosen in the words a failed connect needs."""
    if settings.nats.url:  # the user's choice: nothing to explain
        return Located(settings.nats.url, "")
    path = state_path(data_dir)
    recorded = recorded_stack(data_dir)
    if recorded is not None and is_running(recorded):
        return Located(
            recorded.url,
            f" (the 'handoff up' of pid {recorded.pid} recorded this address in {path} and still runs; "
            f"its server's log is {Path(data_dir) / 'nats-server.log'})",
        )
    if recorded is not None:
        return Located(
            settings.default_url,
            f"; the 'handoff up' recorded in {path} (pid {recorded.pid}, {recorded.url}, started "
            f"{recorded.started_at}) is no longer running: start it again with 'handoff up', or set HANDOFF_NATS_URL",
        )
    return Located(
        settings.default_url,
        f" (no 'handoff up' is recorded in {path}: start one with 'handoff up' and the same HANDOFF_DATA_DIR, "
        "or set HANDOFF_NATS_URL)",
    )
