"""Client settings come from HANDOFF_* variables; without a URL the client targets the local server."""

from __future__ import annotations

import pytest

from handoff.client import ClientSettings
from handoff.common.env import SettingsError


def test_client_settings_are_read_from_the_environment() -> None:
    """Timeouts, the submitter name and the URL come from the variables."""
    settings = ClientSettings.from_env(
        {
            "HANDOFF_NATS_URL": "nats://broker:4222",
            "HANDOFF_CLIENT_NAME": "pipeline-12",
            "HANDOFF_SUBMIT_TIMEOUT_S": "7",
            "HANDOFF_RESULT_TIMEOUT_S": "120",
        }
    )
    assert settings.url == "nats://broker:4222" and settings.submitter == "pipeline-12"
    assert (settings.submit_timeout_s, settings.result_timeout_s) == (7.0, 120.0)


def test_without_a_url_the_client_targets_the_local_embedded_server_port() -> None:
    """HANDOFF_EMBEDDED_PORT decides the default address, as 'handoff server' and 'handoff up' listen there."""
    assert ClientSettings.from_env({"HANDOFF_EMBEDDED_PORT": "4333"}).url == "nats://127.0.0.1:4333"
    with pytest.raises(SettingsError, match="HANDOFF_SUBMIT_TIMEOUT_S"):
        ClientSettings.from_env({"HANDOFF_SUBMIT_TIMEOUT_S": "0"})
