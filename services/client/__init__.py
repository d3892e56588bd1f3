"""The Python client of Handoff: submit work, await results, follow runs; plus the legacy facade."""

from handoff.client.client import HandoffClient, new_task_id
from handoff.client.errors import (
    ArtifactUnavailableError,
    HandoffClientError,
    HandoffUnavailableError,
    ResultTimeoutError,
    SubmitError,
    TaskIdTaken,
    UnknownRunError,
    UnknownTaskError,
)
from handoff.client.settings import ClientSettings

__all__ = [
    "ArtifactUnavailableError",
    "ClientSettings",
    "HandoffClient",
    "HandoffClientError",
    "HandoffUnavailableError",
    "ResultTimeoutError",
    "SubmitError",
    "TaskIdTaken",
    "UnknownRunError",
    "UnknownTaskError",
    "new_task_id",
]
