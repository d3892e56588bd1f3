"""The collector actor: lifecycle events in, task and run records out (``handoff_tasks``, ``handoff_runs``)."""

from services.collector.collector import Collector, CollectorStats
from services.collector.settings import CollectorSettings

__all__ = ["Collector", "CollectorSettings", "CollectorStats"]
