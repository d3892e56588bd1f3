"""Collector settings come from HANDOFF_* variables, with units in their names and clear errors."""

from __future__ import annotations

import pytest

from handoff.collector import CollectorSettings
from handoff.common.env import SettingsError


def test_collector_settings_are_read_from_the_environment() -> None:
    """Batch, grace period, replica id, health port and the retention TTL are taken from the variables."""
    settings = CollectorSettings.from_env(
        {
            "HANDOFF_COLLECTOR_BATCH": "64",
            "HANDOFF_SHUTDOWN_GRACE_S": "2.5",
            "HANDOFF_REPLICA_ID": "collector-7",
            "HANDOFF_HEALTH_PORT": "9100",
            "HANDOFF_RESULT_TTL_S": "3600",
        }
    )
    assert (settings.batch, settings.shutdown_grace_s, settings.replica_id) == (64, 2.5, "collector-7")
    assert settings.health_port == 9100 and settings.common.topology.result_ttl_s == 3600
    defaults = CollectorSettings.from_env({})
    assert defaults.batch == 256 and defaults.health_port is None and defaults.replica_id.startswith("collector-")


def test_a_bad_collector_setting_names_the_variable() -> None:
    """A non-number batch size is a SettingsError that names HANDOFF_COLLECTOR_BATCH."""
    with pytest.raises(SettingsError, match="HANDOFF_COLLECTOR_BATCH"):
        CollectorSettings.from_env({"HANDOFF_COLLECTOR_BATCH": "many"})
