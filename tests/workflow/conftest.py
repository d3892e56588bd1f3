"""Workflow tests use the client and collector fixtures of the client tests (real replicas, real server)."""

from tests.client.conftest import client, client_settings, collector_settings, running_collector, topology_params

__all__ = ["client", "client_settings", "collector_settings", "running_collector", "topology_params"]
