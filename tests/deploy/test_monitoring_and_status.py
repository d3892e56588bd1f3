"""The NATS monitoring port is not open to the network, and ``handoff status`` works with any role's credentials,
saying what the role may not read instead of crashing."""

from __future__ import annotations

import asyncio
import json
import re

import yaml

from tests.deploy import compose
from tests.deploy.cli import handoff_as
from tests.deploy.kustomize import render
from tests.deploy.servers import NATS_DIR, REPO, NatsProcess

FAST = {"HANDOFF_NATS_PUBLISH_TIMEOUT_S": "1"}


def test_the_nats_configs_serve_monitoring_on_loopback_only() -> None:
    """nats.conf and cluster.conf bind monitoring to 127.0.0.1 (it lists users and client names, unauthenticated)."""
    for name in ("nats.conf", "cluster.conf"):
        text = (NATS_DIR / name).read_text()
        listen = re.compile(r"\s*(https?(_port)?|monitor_port)\s*[:=]")
        settings = [line.strip() for line in text.splitlines() if listen.match(line)]
        assert settings == ["http: 127.0.0.1:8222"], (name, settings)


def test_compose_publishes_no_monitoring_port_and_checks_health_from_inside() -> None:
    """The nats service publishes the client port only; its healthcheck reaches monitoring on its own loopback."""
    nats = compose.load()["services"]["nats"]
    assert all("8222" not in str(port) for port in nats.get("ports", []))
    assert "http://127.0.0.1:8222/healthz" in " ".join(nats["healthcheck"]["test"])


def test_k8s_opens_monitoring_only_to_keda_and_prometheus() -> None:
    """In Kubernetes the chart serves monitoring to KEDA's scaler; the NetworkPolicy admits only keda and
    monitoring namespaces to 8222 (not Handoff's own pods, not the pipelines')."""
    access = next(o for o in render(REPO / "deploy" / "k8s" / "nats") if o["kind"] == "NetworkPolicy")
    monitoring_rules = [r for r in access["spec"]["ingress"] if {"protocol": "TCP", "port": 8222} in r["ports"]]
    [rule] = monitoring_rules
    assert rule["ports"] == [{"protocol": "TCP", "port": 8222}]
    allowed = sorted(f["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] for f in rule["from"])
    assert allowed == ["keda", "monitoring"]
    assert yaml.safe_load((REPO / "deploy" / "k8s" / "nats" / "values.yaml").read_text())["config"]["monitor"]


def test_the_running_server_reports_its_monitoring_on_loopback(secured_server: NatsProcess) -> None:
    """The server started from deploy/nats/nats.conf says its monitoring listener is 127.0.0.1."""
    varz = secured_server.monitor("varz")
    assert varz is not None and varz["http_host"] == "127.0.0.1"


async def test_status_as_the_pipeline_shows_what_it_may_read_and_names_the_rest(
    secured_server: NatsProcess, applied: object
) -> None:
    """Exit 0; queue figures shown; the dead-letter stream and replica bucket listed as not readable."""
    done = await asyncio.to_thread(handoff_as, "pipeline", secured_server, "status", "--json", env=FAST)
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["queued"] == 0 and view["collector_lag"] == 0
    assert view["dead_letters"] is None
    assert set(view["unreadable"]) == {"stream HANDOFF_DLQ", "bucket handoff_replicas"}
    human = await asyncio.to_thread(handoff_as, "pipeline", secured_server, "status", env=FAST)
    assert human.returncode == 0 and "Traceback" not in human.stderr
    assert "dead letters ?" in human.stdout and "not shown: stream HANDOFF_DLQ" in human.stdout


async def test_status_as_the_admin_reads_everything(secured_server: NatsProcess, applied: object) -> None:
    """The admin role sees every part: nothing is listed as unreadable."""
    done = await asyncio.to_thread(handoff_as, "admin", secured_server, "status", "--json", env=FAST)
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    assert view["unreadable"] == {} and view["dead_letters"] == 0
