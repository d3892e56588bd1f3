"""The collector actor: lifecycle events in, task and run records out (``handoff_tasks``, ``handoff_runs``)."""

from handoff.collector.collector import Collector, CollectorStats
from handoff.collector.settings import CollectorSettings

__all__ = ["Collector", "CollectorSettings", "CollectorStats"]
