"""Prometheus metrics of every Handoff service, declared once. Services update them; ``/metrics`` serves them."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1200, 3600)

# ---- generator ------------------------------------------------------------------------------------
TASKS_STARTED = Counter("handoff_tasks_started_total", "Task executions started", ["kind"])
TASKS_FINISHED = Counter("handoff_tasks_finished_total", "Tasks finished, by final status", ["kind", "status"])
TASK_RETRIES = Counter("handoff_task_retries_total", "Transient failures scheduled for a retry", ["kind", "code"])
REDELIVERIES = Counter("handoff_redeliveries_total", "Submits received more than once (delivery count > 1)")
DEAD_LETTERS = Counter("handoff_dead_letters_total", "Messages moved to the dead-letter stream", ["origin", "reason"])
RUN_SECONDS = Histogram(
    "handoff_task_run_seconds", "Time from start to finish of an execution", ["kind"], buckets=_DURATION_BUCKETS_S
)
QUEUE_WAIT_SECONDS = Histogram(
    "handoff_task_queue_wait_seconds", "Time from submit to start", ["kind"], buckets=_DURATION_BUCKETS_S
)
TASKS_FAILED = Counter(
    "handoff_tasks_failed_total", "Tasks that finished without success, by error code", ["kind", "code"]
)
QUEUE_DEPTH = Gauge("handoff_queue_depth", "Submits waiting for a generator slot (the durable's pending count)")
SLOTS_IN_USE = Gauge("handoff_generator_slots_in_use", "Tasks running on this replica")
SLOTS_TOTAL = Gauge("handoff_generator_slots", "Concurrent task slots of this replica")
LLM_TOKENS = Counter("handoff_llm_tokens_total", "LLM tokens used by finished tasks", ["direction"])
LLM_COST_USD = Counter("handoff_llm_cost_usd_total", "LLM cost of finished tasks, in US dollars")

# ---- collector ------------------------------------------------------------------------------------
EVENTS_FOLDED = Counter("handoff_collector_events_total", "Lifecycle events folded into task records", ["type"])
RECORD_CONFLICTS = Counter("handoff_collector_cas_conflicts_total", "Concurrent record updates that were retried")
RUNS_FINISHED = Counter("handoff_runs_finished_total", "Runs whose last task finished")
