"""Where a client finds Handoff (the API's ``HandoffClient.connect()`` and the ``handoff`` commands alike): the URL
it was given (``url=``, else ``HANDOFF_NATS_URL``), else the address a running ``handoff up`` recorded in the data
dir, else the embedded server's default address; and what to tell the user when that address does not answer."""

from __future__ import annotations

from pathlib import Path

import msgspec

from handoff.client.settings import ClientSettings
from handoff.stack.state import is_running, recorded_stack, state_path


class Located(msgspec.Struct, frozen=True):  # a Struct, cheaper to define than a dataclass: the light client imports it
    url: str
    unreachable_hint: str  # added to "cannot reach NATS at URL: ..." ('' for a URL the user set)

    def unreachable(self, exc: BaseException) -> str:
        """The message of a connect to ``url`` that failed with ``exc``: the address, the error, why this address."""
        return f"cannot reach NATS at {self.url}: {exc or type(exc).__name__}{self.unreachable_hint}"


def locate(settings: ClientSettings, url: str | None = None) -> Located:
    """The address to connect to, and why it was chosen in the words a failed connect needs."""
    chosen = url or settings.nats.url
    if chosen:  # the user's choice: nothing to explain
        return Located(chosen, "")
    if settings.embedded_data_dir is None:  # settings built by hand, without the data dir: nowhere to look
        return Located(settings.default_url, "")
    data_dir = Path(settings.embedded_data_dir)
    path = state_path(data_dir)
    recorded = recorded_stack(data_dir)
    if recorded is not None and is_running(recorded):
        return Located(
            recorded.url,
            f" (the 'handoff up' of pid {recorded.pid} recorded this address in {path} and still runs; "
            f"its server's log is {data_dir / 'nats-server.log'})",
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
