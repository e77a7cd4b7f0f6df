"""Pods as the API and kubectl write them, built small for one rule at a time."""

from __future__ import annotations

from typing import Any

REPO = "ghcr.io/acme/"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def running(name: str, image: str, image_id: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imageID": image_id,
        "ready": True,
        "restartCount": 0,
        "state": {"running": {"startedAt": "2026-11-20T10:00:05Z"}},
    }


def waiting(name: str, image: str, image_id: str = "", reason: str = "CrashLoopBackOff") -> dict:
    return {
        "name": name,
        "image": image,
        "imageID": image_id,
        "ready": False,
        "restartCount": 5,
        "state": {"waiting": {"reason": reason}},
    }


def pod(
    name: str,
    containers: list[tuple[str, str]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    *,
    namespace: str = "shop",
    phase: str = "Running",
    owner: tuple[str, str] | None = None,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    created: str = "2026-11-20T10:00:00Z",
    kind: str | None = "Pod",
) -> dict[str, Any]:
    """A pod; by default one running container `app` of image web:1.0 with digest a…a."""
    if containers is None:
        containers = [("app", REPO + "web:1.0")]
    if statuses is None:
        statuses = [running(n, i, f"{REPO}web@{digest('a')}") for n, i in containers]
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "creationTimestamp": created,
        "labels": labels or {},
    }
    if annotations:
        meta["annotations"] = annotations
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner[0], "name": owner[1], "controller": True}
        ]
    document: dict[str, Any] = {
        "metadata": meta,
        "spec": {"containers": [{"name": n, "image": i} for n, i in containers]},
        "status": {"phase": phase, "containerStatuses": statuses},
    }
    if kind is not None:
        document = {"apiVersion": "v1", "kind": kind, **document}
    return document


def pod_list(*pods: dict[str, Any], kind: str = "List") -> dict[str, Any]:
    """kubectl's shape: keys in alphabetical order, so `kind` comes after `items`."""
    return {"apiVersion": "v1", "items": list(pods), "kind": kind, "metadata": {}}
