"""A small kustomize: enough of it to render ``deploy/k8s`` without a kustomize binary.

Supported, and nothing else (an unknown field in a kustomization fails the render instead of being ignored):
``resources`` (files and directories), ``namespace``, ``images`` (newName/newTag/digest) and ``patches`` with a
``path`` to strategic-merge patches that name their target by kind and metadata.name. Strategic merge follows the
Kubernetes merge keys of the fields used here (containers, volumes, env, volumeMounts by name; ports by
containerPort); other lists are replaced, as JSON merge patch does for custom resources.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "name",
    "ports": "containerPort",
}

Obj = dict[str, Any]


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not implement, or a patch has no target."""


def _documents(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[Obj]:
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise KustomizeError(f"{directory}: unsupported kustomization fields {sorted(unsupported)}")
    objects: list[Obj] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects += render(path) if path.is_dir() else _documents(path)
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise KustomizeError(f"{directory}: only patches with a path are supported, got {sorted(patch)}")
        for doc in _documents(directory / patch["path"]):
            target = _target(objects, doc)
            merged = merge(target, doc)
            target.clear()
            target.update(merged)
    if "namespace" in kustomization:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
    for image in kustomization.get("images", []):
        for container in containers(objects):
            container["image"] = _retag(container["image"], image)
    return objects


def _target(objects: list[Obj], patch: Obj) -> Obj:
    found = [o for o in objects if o["kind"] == patch["kind"] and o["metadata"]["name"] == patch["metadata"]["name"]]
    if len(found) != 1:
        raise KustomizeError(f"patch {patch['kind']}/{patch['metadata']['name']} matches {len(found)} objects")
    return found[0]


def merge(base: Any, patch: Any, field: str | None = None) -> Any:
    """Strategic merge of ``patch`` into a copy of ``base``."""
    if isinstance(base, dict) and isinstance(patch, dict):
        if "$patch" in patch:
            raise KustomizeError("$patch directives are not supported")
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = merge(base[key], value, key) if key in base else copy.deepcopy(value)
        return merged
    key = MERGE_KEYS.get(field or "")
    if isinstance(base, list) and isinstance(patch, list) and key is not None:
        merged_list = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, b in enumerate(merged_list) if b.get(key) == item.get(key)), None)
            if index is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[index] = merge(merged_list[index], item)
        return merged_list
    return copy.deepcopy(patch)


def pod_spec(obj: Obj) -> Obj | None:
    kind = obj["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}:
        return obj["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    if kind == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    if kind == "Pod":
        return obj["spec"]  # type: ignore[no-any-return]
    return None


def containers(objects: list[Obj]) -> list[Obj]:
    found = []
    for obj in objects:
        spec = pod_spec(obj)
        if spec is not None:
            found += spec.get("initContainers", []) + spec.get("containers", [])
    return found


def _split(image: str) -> tuple[str, str]:
    """``(name, suffix)`` where suffix is ``:tag``, ``@digest`` or empty (a registry port is part of the name)."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, f"@{digest}"
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def _retag(current: str, rule: Obj) -> str:
    name, suffix = _split(current)
    if name != rule["name"]:
        return current
    name = rule.get("newName", name)
    if "digest" in rule:
        return f"{name}@{rule['digest']}"
    if "newTag" in rule:
        return f"{name}:{rule['newTag']}"
    return f"{name}{suffix}"
