"""What an inventory is: the workloads a snapshot lists, those it cannot, and what was skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from deploytrace.vocabulary import Kind

# Why a running workload cannot become a `deployments` entry of a snapshot.
NO_REPOSITORY_DIGEST = "no_repository_digest"  # only a local image id: nothing to trace
INVALID_NAME = "invalid_name"  # the mapped deployment name is not a DNS-1123 subdomain

# Why a pod or container counts for nothing (SPEC §7). Counted, not listed: a
# 100k-pod cluster must not grow a 100k-line skip list.
POD_NOT_RUNNING = "pod_not_running"  # phase Pending, Succeeded, Failed, Unknown
CONTAINER_NOT_RUNNING = "container_not_running"  # waiting (CrashLoopBackOff...) or terminated
CONTAINER_WITHOUT_STATUS = "container_without_status"  # in the spec, no status reported yet


@dataclass(frozen=True)
class Workload:
    """One `deployments` entry of a snapshot (SPEC §7)."""

    deployment_name: str
    kind: str
    digest: str
    artifact_name: str | None = None
    artifact_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "deployment_name": self.deployment_name,
            "kind": self.kind,
            "digest": self.digest,
        }
        if self.artifact_name is not None:
            body["artifact_name"] = self.artifact_name
        if self.artifact_version is not None:
            body["artifact_version"] = self.artifact_version
        return body


@dataclass(frozen=True)
class Unreported:
    """A workload that runs but cannot be listed as a deployment, and why.

    `where` names the pod and container it was seen in, for the user to fix.
    """

    deployment_name: str
    reason: str
    where: str
    detail: str = ""
    kind: str = Kind.CONTAINER_IMAGE.value
    artifact_name: str | None = None
    artifact_version: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The shape of an `unattested` entry of SPEC §7, plus where it was seen."""
        body: dict[str, Any] = {
            "deployment_name": self.deployment_name,
            "kind": self.kind,
            "digest": None,
            "artifact_name": self.artifact_name,
            "artifact_version": self.artifact_version,
            "reason": self.reason,
            "where": self.where,
        }
        if self.detail:
            body["detail"] = self.detail
        return body


@dataclass
class Inventory:
    """The complete set one scope reports, ready to become a snapshot body."""

    workloads: list[Workload] = field(default_factory=list)
    unreported: list[Unreported] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    pods: int = 0  # pods read (0 for a plain document)

    def reportable_unattested(self) -> list[Unreported]:
        """The unreported workloads whose name the server can keep (SPEC §2 holds)."""
        return [u for u in self.unreported if u.reason != INVALID_NAME]
