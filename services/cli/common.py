"""What the client-facing commands share: opening a client (found as the API finds it), output, error -> exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec

from handoff.cli.errors import CliError
from handoff.cli.exit_codes import Exit
from handoff.client.client import HandoffClient
from handoff.client.errors import (
    ArtifactUnavailableError,
    HandoffUnavailableError,
    ResultTimeoutError,
    SubmitError,
    UnknownRunError,
    UnknownTaskError,
)
from handoff.client.settings import ClientSettings
from handoff.common.broker_retry import TRANSIENT_BROKER_ERRORS
from handoff.common.logging import configure_logging
from handoff.common.settings import LogSettings
from handoff.schemas import names


@asynccontextmanager
async def open_client() -> AsyncIterator[HandoffClient]:
    log_settings = LogSettings.from_env()
    if not os.environ.get("HANDOFF_LOG_LEVEL"):  # a user's command speaks in sentences; service logs only on request
        log_settings = msgspec.structs.replace(log_settings, level="warning")
    configure_logging(log_settings)
    connecting = HandoffClient.connect(ClientSettings.from_env())  # where: handoff.client.locate, as for the API
    url = connecting.located.url
    try:
        client = await connecting
    except HandoffUnavailableError as exc:  # names the address and why that one
        raise CliError(Exit.UNAVAILABLE, str(exc)) from exc
    try:
        yield client
    except UnknownTaskError as exc:
        raise CliError(Exit.NOT_FOUND, str(exc)) from exc
    except UnknownRunError as exc:
        raise CliError(Exit.NOT_FOUND, str(exc)) from exc
    except ResultTimeoutError as exc:
        raise CliError(Exit.TIMEOUT, str(exc)) from exc
    except names.InvalidIdentifier as exc:
        raise CliError(Exit.USAGE, str(exc)) from exc
    except SubmitError as exc:
        raise CliError(Exit.UNAVAILABLE if exc.retryable else Exit.USAGE, str(exc)) from exc
    except ArtifactUnavailableError as exc:
        raise CliError(Exit.NOT_FOUND, str(exc)) from exc
    except HandoffUnavailableError as exc:
        raise CliError(Exit.UNAVAILABLE, f"{exc} (is JetStream enabled and does it have quorum?)") from exc
    except TRANSIENT_BROKER_ERRORS as exc:  # a direct JetStream call that met the outage without a retry of its own
        raise CliError(Exit.UNAVAILABLE, f"JetStream did not answer at {url}: {type(exc).__name__}") from exc
    finally:
        await client.close()


def to_json(value: Any) -> str:
    return json.dumps(msgspec.to_builtins(value), default=str)


def task_id_arg(value: str) -> str:
    """argparse ``type`` of a task id argument: an invalid one is a usage error (exit 2) before anything runs."""
    return _id_arg(value, "task id")


def run_id_arg(value: str) -> str:
    """argparse ``type`` of a run id argument."""
    return _id_arg(value, "run id")


def _id_arg(value: str, what: str) -> str:
    try:
        return names.checked_id(value, what)
    except names.InvalidIdentifier as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def print_json(value: Any) -> None:
    print(to_json(value), flush=True)


def err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
