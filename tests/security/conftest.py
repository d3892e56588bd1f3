"""Security fixtures: the collector fixtures (real replicas against the real server) and a scripted model server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.scripted_model import ScriptedModelServer
from handoff.scripted_model.replies import Say
from tests.collector.conftest import collector_settings, running_collector, topology_params
from tests.runners.conftest import API_KEY

__all__ = ["collector_settings", "running_collector", "topology_params"]


@pytest.fixture(scope="module")
def model_server() -> Iterator[ScriptedModelServer]:
    """One scripted model server per module; each test sets ``model_server.policy``."""
    server = ScriptedModelServer(policy=lambda request: Say("no policy set"), api_key=API_KEY)
    server.start()
    yield server
    server.stop()
