"""deploy/k8s rendered offline, validated against Kubernetes' schemas, and checked against the code it runs."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from handoff.generator.settings import GeneratorSettings
from handoff.schemas import names
from tests.deploy import kustomize
from tests.deploy.codebase import REPO, command_error, env_names_in_code
from tests.deploy.dockerfile import parse as parse_dockerfile
from tests.deploy.servers import NATS_DIR, env_references

K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.29.0"  # the oldest minor the manifests promise to work with
KUSTOMIZATIONS = [K8S / "base", K8S / "overlays" / "production", K8S / "nats"]
OVERLAYS = [K8S / "base", K8S / "overlays" / "production"]
KEDA_SCHEMA = Path(__file__).parent / "schemas" / "keda-scaledobject.schema.json"
ROLE_OF_COMMAND = {"generator": "generator", "collector": "collector", "topology": "admin"}

Obj = dict[str, Any]


def rendered(directory: Path) -> list[Obj]:
    return kustomize.render(directory)


def one(objects: list[Obj], kind: str, name: str) -> Obj:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container_env(objects: list[Obj], container: Obj) -> dict[str, str]:
    """The container's environment as the kubelet builds it; secret and field references become placeholders."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(one(objects, "ConfigMap", source["configMapRef"]["name"])["data"])
    for var in container.get("env", []):
        env[var["name"]] = var.get("value", "<from " + next(iter(var.get("valueFrom", {"unset": 0}))) + ">")
    return env


def workloads(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    """``(workload, container)`` for every container of every pod template."""
    found = []
    for obj in objects:
        spec = kustomize.pod_spec(obj)
        if spec is not None:
            found += [(obj, c) for c in spec.get("initContainers", []) + spec["containers"]]
    return found


def test_the_overlays_render_exactly_as_kubectl_kustomize_does() -> None:
    """The test renderer agrees with the real kustomize, so every other check here sees what a cluster gets."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the renderer is checked against real kustomize where it is")
    for directory in KUSTOMIZATIONS:
        done = subprocess.run(
            [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60, check=True
        )
        theirs = [doc for doc in yaml.safe_load_all(done.stdout) if doc]

        def key(obj: Obj) -> tuple[str, str, str]:
            return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]

        assert {key(o): o for o in rendered(directory)} == {key(o): o for o in theirs}, directory


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_every_rendered_object_is_valid_for_kubernetes(directory: Path) -> None:
    """Strict schemas (unknown fields fail) of the chosen Kubernetes version; KEDA's ScaledObject against its own."""
    objects = rendered(directory)
    assert objects
    keda = json.loads(KEDA_SCHEMA.read_text())
    for obj in objects:
        if obj["apiVersion"] == "keda.sh/v1alpha1":
            jsonschema.Draft202012Validator(keda).validate(obj)
            behavior = obj["spec"].get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior")
            if behavior:  # KEDA hands this to the HPA it creates: validate it as one
                hpa = {
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": {"name": "probe"},
                    "spec": {
                        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "probe"},
                        "maxReplicas": 1,
                        "behavior": behavior,
                    },
                }
                kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
            continue
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_every_container_runs_a_real_command_with_settings_the_code_reads(directory: Path) -> None:
    """Arguments parse with `handoff`'s parser; every HANDOFF_* variable (ConfigMaps included) is read by code."""
    objects = rendered(directory)
    known = env_names_in_code()
    unknown: dict[str, set[str]] = {}
    for workload, container in workloads(objects):
        assert command_error(container["args"]) is None, (workload["metadata"]["name"], container["args"])
        env = set(container_env(objects, container))
        assert all(name.startswith("HANDOFF_") for name in env), env
        if env - known:
            unknown[workload["metadata"]["name"]] = env - known
    assert not unknown, f"variables no code reads: {unknown}"


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_each_workload_connects_as_its_role_with_a_password_from_its_own_secret(directory: Path) -> None:
    """No credential is written into a manifest; only the topology job has admin rights."""
    objects = rendered(directory)
    users = dict(re.findall(r"\{user: (\w+), password: \$(\w+)", (NATS_DIR / "accounts.conf").read_text()))
    for workload, container in workloads(objects):
        role = ROLE_OF_COMMAND[container["args"][0]]
        assert role in users
        env = {var["name"]: var for var in container["env"]}
        for variable, key in (("HANDOFF_NATS_USER", "user"), ("HANDOFF_NATS_PASSWORD", "password")):
            assert env[variable]["valueFrom"]["secretKeyRef"] == {"name": f"handoff-nats-{role}", "key": key}
        settings = container_env(objects, container)
        if role != "admin":
            assert settings["HANDOFF_APPLY_TOPOLOGY"] == "false", workload["metadata"]["name"]
        assert "HANDOFF_LLM_API_KEY" not in settings
    for obj in objects:
        assert obj["kind"] != "Secret", "secrets are created by the operator, not shipped"


def test_the_llm_key_reaches_only_the_generator_and_only_as_a_file() -> None:
    """The key is a Secret volume (the agent's tools can read environment variables), readable by the pod's group."""
    objects = rendered(K8S / "overlays" / "production")
    generator = one(objects, "Deployment", "handoff-generator")
    spec = generator["spec"]["template"]["spec"]
    [container] = spec["containers"]
    key_file = container_env(objects, container)["HANDOFF_LLM_API_KEY_FILE"]
    mount = next(m for m in container["volumeMounts"] if key_file.startswith(m["mountPath"] + "/"))
    volume = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["secret"]["secretName"] == "handoff-llm"
    assert [item["path"] for item in volume["secret"]["items"]] == [key_file.rsplit("/", 1)[1]]
    assert mount["readOnly"] is True
    for obj, _ in workloads(objects):
        volumes = kustomize.pod_spec(obj).get("volumes", [])  # type: ignore[union-attr]
        if obj is not generator:
            assert not any(v.get("secret", {}).get("secretName") == "handoff-llm" for v in volumes)


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_generators_get_longer_to_terminate_than_their_shutdown_takes(directory: Path) -> None:
    """terminationGracePeriodSeconds > shutdown grace + interrupt grace + a publish timeout, from their settings."""
    objects = rendered(directory)
    generator = one(objects, "Deployment", "handoff-generator")
    [container] = generator["spec"]["template"]["spec"]["containers"]
    settings = GeneratorSettings.from_env(container_env(objects, container))
    needed = settings.shutdown_grace_s + settings.interrupt_grace_s + settings.publish_timeout_s
    assert generator["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > needed


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_long_running_services_are_probed_on_healthz_and_readyz(directory: Path) -> None:
    """Startup and liveness ask /healthz, readiness /readyz, on the port the process serves them on."""
    objects = rendered(directory)
    for name in ("handoff-generator", "handoff-collector"):
        [container] = one(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        port = int(container_env(objects, container)["HANDOFF_HEALTH_PORT"])
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path, (name, probe)
            assert named.get(get["port"], get["port"]) == port, (name, probe)
        service = one(objects, "Service", f"{name}-metrics")
        selector = service["spec"]["selector"]
        labels = one(objects, "Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert named[service["spec"]["ports"][0]["targetPort"]] == port


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_keda_scales_generators_on_their_consumer_within_the_global_in_flight_cap(directory: Path) -> None:
    """The trigger names Handoff's account, stream and consumer; one replica per slots of lag; no idle replicas."""
    objects = rendered(directory)
    scaled = one(objects, "ScaledObject", "handoff-generator")
    generator = one(objects, "Deployment", "handoff-generator")
    assert scaled["spec"]["scaleTargetRef"]["name"] == generator["metadata"]["name"]
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "nats-jetstream"
    meta = trigger["metadata"]
    accounts = re.findall(r"^  (\w+) \{\n    jetstream: enabled", (NATS_DIR / "accounts.conf").read_text(), re.M)
    assert meta["account"] in accounts
    assert (meta["stream"], meta["consumer"]) == (names.EVENTS_STREAM, names.GENERATOR_CONSUMER)
    [container] = generator["spec"]["template"]["spec"]["containers"]
    env = container_env(objects, container)
    slots, in_flight = int(env["HANDOFF_GENERATOR_SLOTS"]), int(env["HANDOFF_MAX_IN_FLIGHT"])
    assert int(meta["lagThreshold"]) == slots
    assert scaled["spec"]["maxReplicaCount"] * slots <= in_flight
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    helm = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert helm["config"]["monitor"]["enabled"] is True
    assert meta["natsServerMonitoringEndpoint"].startswith("nats-headless.nats.")  # per-server names for KEDA
    topology = one(objects, "Job", "handoff-topology")
    [job_container] = topology["spec"]["template"]["spec"]["containers"]
    assert container_env(objects, job_container)["HANDOFF_MAX_IN_FLIGHT"] == str(in_flight)


def test_pods_run_as_the_image_user_with_a_read_only_root_and_writable_scratch() -> None:
    """Non-root with the Dockerfile's uid, no privilege escalation, and volumes where the processes write."""
    objects = rendered(K8S / "overlays" / "production")
    image = parse_dockerfile(REPO / "Dockerfile").final
    uid = int(image.last("USER").args.split(":")[0])  # type: ignore[union-attr]
    image_env = image.env()
    for workload, container in workloads(objects):
        pod = kustomize.pod_spec(workload)
        assert pod is not None
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        assert pod["automountServiceAccountToken"] is False
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"]["drop"] == ["ALL"]
        assert container["image"] == "registry.example.com/handoff:0.1.0"
    generator = one(objects, "Deployment", "handoff-generator")["spec"]["template"]["spec"]
    mounted = {m["mountPath"] for m in generator["containers"][0]["volumeMounts"]}
    for needed in ("/tmp", image_env["HOME"], image_env["HANDOFF_WORK_DIR"]):
        assert any(needed == m or needed.startswith(m + "/") for m in mounted), needed


def _mib(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    number, unit = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return float(number) * units[unit]


@pytest.mark.parametrize("directory", OVERLAYS, ids=lambda d: d.relative_to(K8S).as_posix())
def test_generator_memory_is_sized_for_the_sdk_and_its_slots(directory: Path) -> None:
    """Requests cover ~250 MB for the process with the agent SDK plus ~50 MB per slot; limits exceed requests."""
    objects = rendered(directory)
    [container] = one(objects, "Deployment", "handoff-generator")["spec"]["template"]["spec"]["containers"]
    slots = int(container_env(objects, container)["HANDOFF_GENERATOR_SLOTS"])
    resources = container["resources"]
    assert _mib(resources["requests"]["memory"]) >= 250 + 50 * slots
    assert _mib(resources["limits"]["memory"]) > _mib(resources["requests"]["memory"])
    for _, other in workloads(objects):
        assert {"cpu", "memory"} <= set(other["resources"]["requests"]) and "memory" in other["resources"]["limits"]


def test_network_policies_deny_by_default_and_open_only_what_handoff_needs() -> None:
    """Ingress only for metrics from monitoring; egress to NATS, DNS, and (generators) HTTPS outside the cluster."""
    objects = rendered(K8S / "overlays" / "production")
    policies = {p["metadata"]["name"]: p["spec"] for p in objects if p["kind"] == "NetworkPolicy"}
    deny = policies["handoff-default-deny"]
    assert set(deny["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in deny and "egress" not in deny
    egress_ports = {
        (name, port["port"])
        for name, spec in policies.items()
        for rule in spec.get("egress", [])
        for port in rule.get("ports", [])
    }
    assert egress_ports == {
        ("handoff-to-nats-and-dns", 4222),
        ("handoff-to-nats-and-dns", 53),
        ("handoff-generator-to-llm", 443),
    }
    [llm] = policies["handoff-generator-to-llm"]["egress"]
    assert "169.254.0.0/16" in llm["to"][0]["ipBlock"]["except"]  # cloud metadata stays closed to agents
    ingress_ports = {port["port"] for spec in policies.values() for r in spec.get("ingress", []) for port in r["ports"]}
    assert ingress_ports == {8080}

    access = one(rendered(K8S / "nats"), "NetworkPolicy", "nats-access")
    namespace = one(objects, "Namespace", "handoff")
    [clients] = [r for r in access["spec"]["ingress"] if r["ports"] == [{"protocol": "TCP", "port": 4222}]]
    assert clients["from"][0]["namespaceSelector"]["matchLabels"].items() <= namespace["metadata"]["labels"].items()


def test_the_helm_values_run_the_same_accounts_with_passwords_from_a_secret() -> None:
    """The chart gets accounts.conf verbatim and every password variable it reads from the Secret."""
    helm = yaml.safe_load((K8S / "nats" / "values.yaml").read_text())
    assert helm["configMap"]["merge"]["data"]["accounts.conf"] == (NATS_DIR / "accounts.conf").read_text()
    assert helm["config"]["merge"]["$include"] == "accounts.conf"
    env = helm["container"]["env"]
    assert set(env) == env_references("accounts.conf")
    for value in env.values():
        assert value["valueFrom"]["secretKeyRef"]["name"] == "handoff-nats-accounts"
    assert helm["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert helm["config"]["jetstream"]["enabled"] and helm["config"]["jetstream"]["fileStore"]["enabled"]
    settings = one(rendered(K8S / "base"), "ConfigMap", "handoff-settings")["data"]
    assert settings["HANDOFF_REPLICAS"] == str(helm["config"]["cluster"]["replicas"])
    assert settings["HANDOFF_NATS_URL"] == "nats://nats.nats.svc.cluster.local:4222"
    image_tag = helm["container"]["image"]["tag"]
    compose_image = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["nats"]["image"]
    assert compose_image == f"nats:{image_tag}"
