"""Runtime inventory: what runs, turned into the snapshot body of SPEC §7.

A pure library (no FastAPI, SQLAlchemy or click): it reads a Kubernetes pod list,
a live cluster or a plain `{"deployments": [...]}` document and answers an
`Inventory` — the workloads to list, the ones that run but cannot be listed
(and why), and counts of what was skipped.

    inventory = read_path("pods.json")          # or "-" for stdin
    inventory = read_cluster(ClusterSource(namespaces=("shop",)))
"""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

from deploytrace.errors import InvalidInput
from deploytrace.inventory.model import (
    CONTAINER_NOT_RUNNING,
    CONTAINER_WITHOUT_STATUS,
    INVALID_NAME,
    NO_REPOSITORY_DIGEST,
    POD_NOT_RUNNING,
    Inventory,
    Unreported,
    Workload,
)
from deploytrace.inventory.pods import ANNOTATION, InventoryBuilder, Owners
from deploytrace.inventory.reader import read_document

if TYPE_CHECKING:
    from deploytrace.inventory.cluster import ClusterSource

__all__ = [
    "ANNOTATION",
    "CONTAINER_NOT_RUNNING",
    "CONTAINER_WITHOUT_STATUS",
    "INVALID_NAME",
    "NO_REPOSITORY_DIGEST",
    "POD_NOT_RUNNING",
    "Inventory",
    "InventoryBuilder",
    "Owners",
    "Unreported",
    "Workload",
    "read_cluster",
    "read_document",
    "read_path",
]


def read_path(path: str) -> Inventory:
    """Read a pod list or plain document from a file, or from stdin when `path` is `-`."""
    if path == "-":
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:  # a text-only stand-in (an embedding program, a test harness)
            stdin = io.BytesIO(sys.stdin.read().encode())
        return read_document(stdin)
    try:
        with open(path, "rb") as stream:
            return read_document(stream)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def read_cluster(source: ClusterSource) -> Inventory:
    """Read the pods of a live cluster (imports the Kubernetes client only now)."""
    from deploytrace.inventory.cluster import read_cluster as read

    return read(source)
