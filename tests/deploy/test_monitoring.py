"""The Grafana dashboard and Prometheus config of the compose "monitoring" profile match the metrics Handoff serves."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import handoff.observability.metrics  # noqa: F401  (declares every metric in the default registry)
from tests.deploy import compose
from tests.deploy.codebase import REPO

MONITORING = REPO / "deploy" / "monitoring"
DASHBOARD = MONITORING / "grafana" / "dashboards" / "handoff.json"
PROMQL_FUNCTIONS = {"sum", "max", "min", "avg", "rate", "increase", "histogram_quantile", "by", "le", "count"}


def served_series() -> set[str]:
    """Every series name /metrics can expose: counters as *_total, histograms as *_bucket/_sum/_count."""
    names: set[str] = set()
    for family in REGISTRY.collect():
        if not family.name.startswith("handoff_"):
            continue
        names |= {sample.name for sample in family.samples}
        names |= {f"{family.name}{suffix}" for suffix in ("", "_total", "_bucket", "_sum", "_count")}
    return names


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}|\[[^\]]*\]|by \([^)]*\)", " ", expr)
    return {n for n in re.findall(r"[a-z_][a-z0-9_]*", without_labels) if n.startswith("handoff_")}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())  # type: ignore[no-any-return]


def test_every_dashboard_query_reads_a_metric_the_services_declare(dashboard: dict[str, Any]) -> None:
    """No panel queries a series that no Handoff service exposes (a renamed metric breaks this test)."""
    served = served_series()
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = metric_names(target["expr"])
            assert names, f"panel {panel['title']!r} queries no Handoff metric"
            queried |= names
    assert queried <= served, queried - served
    assert not metric_names("sum(rate(handoff_not_a_metric_total[5m]))") <= served  # the check can fail


def test_the_dashboard_shows_what_an_operator_asks_first(dashboard: dict[str, Any]) -> None:
    """Queue depth, in flight per replica, run time percentiles by kind, failures by code, tokens, cost, DLQ."""
    exprs = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for needle in ("handoff_queue_depth", "handoff_generator_slots_in_use", "handoff_task_run_seconds_bucket",
                   "by (code)", "handoff_llm_tokens_total", "handoff_llm_cost_usd_total",
                   "handoff_dead_letters_total"):  # fmt: skip
        assert needle in exprs, needle
    assert "histogram_quantile(0.95, sum by (le, kind)" in exprs
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] and dashboard["title"] == "Handoff"
    assert {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]} == {"handoff-prometheus"}


def test_prometheus_scrapes_the_health_port_of_every_generator_and_the_collector() -> None:
    """The scrape targets are the compose services on the port their HANDOFF_HEALTH_PORT says."""
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    services = compose.load()["services"]
    jobs = {job["job_name"]: job["dns_sd_configs"][0] for job in config["scrape_configs"]}
    for service in ("generator", "collector"):
        sd = jobs[f"handoff-{service}"]
        assert sd["names"] == [service] and sd["port"] == int(
            compose.environment(services[service])["HANDOFF_HEALTH_PORT"]
        )
    datasource = yaml.safe_load((MONITORING / "grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["uid"] == "handoff-prometheus"


def test_the_monitoring_profile_mounts_files_that_exist_and_stays_off_by_default() -> None:
    """Prometheus and Grafana start only with --profile monitoring, bound to loopback, with the files above."""
    services = compose.load()["services"]
    for name in ("prometheus", "grafana"):
        service = services[name]
        assert service["profiles"] == ["monitoring"]
        assert all(port.startswith("127.0.0.1:") for port in service["ports"])
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            assert (REPO / source).exists(), source
    provider = yaml.safe_load((MONITORING / "grafana/provisioning/dashboards/handoff.yml").read_text())
    dashboards_dir = Path(provider["providers"][0]["options"]["path"])
    grafana_mounts = {m.split(":")[1]: m.split(":")[0] for m in services["grafana"]["volumes"]}
    assert (REPO / grafana_mounts[str(dashboards_dir)] / DASHBOARD.name).is_file()
