"""Security fixtures: the collector fixtures (real replicas against the real server)."""

from __future__ import annotations

from tests.collector.conftest import collector_settings, running_collector, topology_params

__all__ = ["collector_settings", "running_collector", "topology_params"]
