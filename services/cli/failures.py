"""The broker failures every service command can meet, mapped once onto a message and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nats.errors import NoServersError
from nats.js.errors import APIError, NotFoundError

from handoff.broker.embedded import EmbeddedNatsError
from handoff.broker.provision import TopologyConflict
from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit


@contextmanager
def broker_failures(doing: str) -> Iterator[None]:
    """``with broker_failures("cannot apply topology"): ...`` turns NATS trouble into a CliError (exit 4)."""
    try:
        yield
    except TopologyConflict as exc:
        raise CliError(Exit.UNAVAILABLE, f"topology conflict: {exc}") from exc
    except NotFoundError as exc:
        raise CliError(
            Exit.UNAVAILABLE, f"{doing}: a stream, consumer or bucket is missing (run 'handoff topology apply'): {exc}"
        ) from exc
    except (EmbeddedNatsError, NoServersError, OSError, APIError) as exc:
        raise CliError(Exit.UNAVAILABLE, f"{doing}: {exc}") from exc
