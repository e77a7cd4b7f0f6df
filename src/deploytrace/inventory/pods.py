"""Kubernetes pods → the workloads of a snapshot, by the mapping rules of SPEC §7.

Pods are fed one at a time (`InventoryBuilder.add_pod`), so a pod list of any
size is read in constant memory: what is kept is one small tally per workload
and digest, never the pods.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deploytrace.errors import InvalidInput
from deploytrace.inventory import model
from deploytrace.inventory.images import artifact, pinned_digest, repository_digest
from deploytrace.inventory.rules import subdomain_problem
from deploytrace.vocabulary import Kind

ANNOTATION = "deploytrace.dev/deployment-name"
# The CronJob controller names its Jobs `<cronjob>-<scheduled time in minutes>`.
_CRONJOB_JOB = re.compile(r"(?P<cronjob>.+)-[0-9]{8,}", re.ASCII)
_OLDEST = dt.datetime.min.replace(tzinfo=dt.UTC)
_KIND = Kind.CONTAINER_IMAGE.value


@dataclass
class Owners:
    """Controllers read from a live cluster: `(namespace, name)` → the workload above it.

    A ReplicaSet maps to its Deployment (or itself), a Job to its CronJob (or
    itself). A pod whose owner is missing here (created after the lists were
    read) falls back to the naming rules a pod list file gets.
    """

    replicasets: dict[tuple[str, str], str] = field(default_factory=dict)
    jobs: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class _Tally:
    """Running pods of one workload that run one digest (None: no repository digest)."""

    pods: int
    newest: dt.datetime
    artifact_name: str | None
    artifact_version: str | None
    where: str
    detail: str


@dataclass
class _Pod:
    """What the containers of one running pod share."""

    meta: dict[str, Any]
    namespace: str
    name: str
    where: str
    containers: int
    annotation: str | None
    created: dt.datetime
    workload: str | None = None  # resolved on first need: annotated pods never need it


class InventoryBuilder:
    """Collects pods, then answers the inventory (`result()`)."""

    def __init__(self, owners: Owners | None = None) -> None:
        self.owners = owners
        self.pods = 0
        self.skipped: Counter[str] = Counter()
        self._tallies: dict[str, dict[str | None, _Tally]] = {}
        self._invalid: dict[str, model.Unreported] = {}

    def add_pod(self, pod: Any, where: str) -> None:
        """Count one pod; `where` names its position for error messages (`items[3]`)."""
        if not isinstance(pod, dict):
            raise InvalidInput(f"{where}: a pod must be a JSON object")
        kind = pod.get("kind")
        if kind not in (None, "Pod"):
            raise InvalidInput(
                f"{where} is a {str(kind)[:60]!r}, not a Pod: give a pod list "
                "(kubectl get pods -o json)"
            )
        meta = _object(pod.get("metadata"), "metadata", where)
        name = _string(meta.get("name"), "metadata.name", where)
        namespace = _string(meta.get("namespace"), "metadata.namespace", where)
        self.pods += 1
        where = f"pod {namespace}/{name}"
        status = _object(pod.get("status"), "status", where)
        if status.get("phase") != "Running":
            self.skipped[model.POD_NOT_RUNNING] += 1
            return
        images = _spec_images(_object(pod.get("spec"), "spec", where), where)
        statuses = _array(status.get("containerStatuses"), "status.containerStatuses", where)
        annotations = _object(meta.get("annotations"), "metadata.annotations", where)
        pod_facts = _Pod(
            meta=meta,
            namespace=namespace,
            name=name,
            where=where,
            # The name's shape must not flip when a sidecar crashes: count the pod's
            # regular containers, not the ones running right now.
            containers=len(images) or len(statuses),
            annotation=_optional(annotations.get(ANNOTATION), f"annotation {ANNOTATION}", where),
            created=_timestamp(meta.get("creationTimestamp")),
        )
        reported: set[str] = set()
        for i, entry in enumerate(statuses):
            at = f"status.containerStatuses[{i}]"
            cs = _object(entry, at, where)
            container = _string(cs.get("name"), f"{at}.name", where)
            reported.add(container)
            state = _object(cs.get("state"), f"{at}.state", where)
            if state.get("running") is None:
                self.skipped[model.CONTAINER_NOT_RUNNING] += 1
                continue
            image = images.get(container) or _optional(cs.get("image"), f"{at}.image", where)
            image_id = _optional(cs.get("imageID"), f"{at}.imageID", where)
            self._container(pod_facts, container, image, image_id)
        missing = len(set(images) - reported)
        if missing:
            self.skipped[model.CONTAINER_WITHOUT_STATUS] += missing

    def _container(
        self, pod: _Pod, container: str, image: str | None, image_id: str | None
    ) -> None:
        at = f"{pod.where} container {container}"
        if pod.annotation is not None:
            base = pod.annotation.strip()
            deployment_name = f"{base}.{container}" if pod.containers > 1 else base
            origin = f"annotation {ANNOTATION}={pod.annotation!r}"
        else:
            if pod.workload is None:
                pod.workload = self._workload(pod.meta, pod.namespace, pod.name, pod.where)
            deployment_name = f"{pod.namespace}.{pod.workload}.{container}"
            origin = (
                f"namespace {pod.namespace!r}, workload {pod.workload!r}, container {container!r}"
            )
        # DNS names are case-insensitive: lower case is their one spelling, not a guess.
        deployment_name = deployment_name.lower()
        problem = subdomain_problem(deployment_name)
        if problem is not None:
            self._invalid.setdefault(
                deployment_name,
                model.Unreported(
                    deployment_name=deployment_name,
                    reason=model.INVALID_NAME,
                    where=at,
                    detail=f"the name from {origin} is not a DNS-1123 subdomain: {problem}",
                ),
            )
            return
        digest = repository_digest(image_id or "") or pinned_digest(image)
        artifact_name, artifact_version = artifact(image)
        detail = ""
        if digest is None:
            detail = (
                f"imageID {image_id or ''!r} names no repository digest and "
                f"image {image or ''!r} pins none"
            )
        self._count(
            deployment_name, digest, pod.created, artifact_name, artifact_version, at, detail
        )

    def _workload(self, meta: dict[str, Any], namespace: str, pod: str, where: str) -> str:
        owner = _controller(meta, where)
        if owner is None:
            return pod
        kind, name = owner
        if kind == "ReplicaSet":
            if self.owners and (namespace, name) in self.owners.replicasets:
                return self.owners.replicasets[namespace, name]
            labels = _object(meta.get("labels"), "metadata.labels", where)
            template_hash = labels.get("pod-template-hash")
            # Only a Deployment's ReplicaSets carry the label; a bare ReplicaSet is the workload.
            if isinstance(template_hash, str) and name.endswith(f"-{template_hash}"):
                return name[: -len(template_hash) - 1]
            return name
        if kind == "Job":
            if self.owners and (namespace, name) in self.owners.jobs:
                return self.owners.jobs[namespace, name]
            match = _CRONJOB_JOB.fullmatch(name)
            return match["cronjob"] if match else name
        if kind == "Node":
            return pod  # a static (mirror) pod: one per node, named after it
        return name  # StatefulSet, DaemonSet, ReplicationController, other controllers

    def _count(
        self,
        deployment_name: str,
        digest: str | None,
        created: dt.datetime,
        artifact_name: str | None,
        artifact_version: str | None,
        where: str,
        detail: str,
    ) -> None:
        tallies = self._tallies.setdefault(deployment_name, {})
        tally = tallies.get(digest)
        if tally is None:
            tallies[digest] = _Tally(1, created, artifact_name, artifact_version, where, detail)
            return
        tally.pods += 1
        if created > tally.newest:
            tally.newest = created
            tally.artifact_name, tally.artifact_version = artifact_name, artifact_version
            tally.where, tally.detail = where, detail

    def result(self) -> model.Inventory:
        """One entry per workload: the digest of the most running pods, ties to the newest."""
        inventory = model.Inventory(pods=self.pods, skipped=Counter(self.skipped))
        for deployment_name in sorted(self._tallies):
            digest, tally = max(
                self._tallies[deployment_name].items(),
                key=lambda item: (item[1].pods, item[1].newest, item[0] is not None, item[0] or ""),
            )
            if digest is None:
                inventory.unreported.append(
                    model.Unreported(
                        deployment_name=deployment_name,
                        reason=model.NO_REPOSITORY_DIGEST,
                        where=tally.where,
                        detail=tally.detail,
                        artifact_name=tally.artifact_name,
                        artifact_version=tally.artifact_version,
                    )
                )
                continue
            inventory.workloads.append(
                model.Workload(
                    deployment_name=deployment_name,
                    kind=_KIND,
                    digest=digest,
                    artifact_name=tally.artifact_name,
                    artifact_version=tally.artifact_version,
                )
            )
        inventory.unreported.extend(self._invalid[name] for name in sorted(self._invalid))
        return inventory


def _spec_images(spec: dict[str, Any], where: str) -> dict[str, str | None]:
    """Regular containers of the spec: name → image (init and ephemeral ones never count)."""
    images: dict[str, str | None] = {}
    for i, container in enumerate(_array(spec.get("containers"), "spec.containers", where)):
        c = _object(container, f"spec.containers[{i}]", where)
        name = _string(c.get("name"), f"spec.containers[{i}].name", where)
        images[name] = _optional(c.get("image"), f"spec.containers[{i}].image", where)
    return images


def _controller(meta: dict[str, Any], where: str) -> tuple[str, str] | None:
    refs = _array(meta.get("ownerReferences"), "metadata.ownerReferences", where)
    chosen: dict[str, Any] | None = None
    for i, ref in enumerate(refs):
        r = _object(ref, f"metadata.ownerReferences[{i}]", where)
        if r.get("controller") is True:
            chosen = r
            break
        if chosen is None:
            chosen = r
    if chosen is None:
        return None
    kind = _string(chosen.get("kind"), "ownerReferences kind", where)
    return kind, _string(chosen.get("name"), "ownerReferences name", where)


def _timestamp(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        return _OLDEST
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return _OLDEST
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _object(value: Any, what: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{where}: {what} must be a JSON object")
    return value


def _array(value: Any, what: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{where}: {what} must be a JSON array")
    return value


def _string(value: Any, what: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{where}: {what} is missing or not a string")
    return value


def _optional(value: Any, what: str, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: {what} must be a string")
    return value
