"""The plain inventory document for runtimes other than Kubernetes.

`{"deployments": [{"deployment_name", "kind", "digest", "artifact_name"?,
"artifact_version"?}]}`. Someone wrote it by hand or with a script, so every
entry is checked and the first fault refuses the whole document, naming the
entry: a snapshot lists the complete set, and a partial one would end records
of workloads that still run.
"""

from __future__ import annotations

from typing import Any

from deploytrace.errors import InvalidInput
from deploytrace.inventory import model
from deploytrace.inventory.rules import (
    MAX_ARTIFACT_NAME,
    MAX_ARTIFACT_VERSION,
    normal_digest,
    subdomain_problem,
    text_problem,
)
from deploytrace.vocabulary import Kind

_FIELDS = frozenset({"deployment_name", "kind", "digest", "artifact_name", "artifact_version"})
_KINDS = {kind.value for kind in Kind}


class PlainBuilder:
    """Checks entries one at a time and keeps the valid ones."""

    def __init__(self) -> None:
        self.workloads: list[model.Workload] = []
        self._seen: dict[tuple[str, str], int] = {}

    def add_entry(self, entry: Any, index: int) -> None:
        where = f"deployments[{index}]"
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where} must be a JSON object")
        unknown = sorted(set(entry) - _FIELDS)
        if unknown:
            raise InvalidInput(
                f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(_FIELDS))}"
            )
        name = _required(entry, "deployment_name", where)
        problem = subdomain_problem(name)
        if problem is not None:
            raise InvalidInput(
                f"{where}: deployment_name {name[:80]!r} is not a DNS-1123 subdomain: {problem}"
            )
        kind = _required(entry, "kind", where).upper()
        if kind not in _KINDS:
            raise InvalidInput(f"{where}: kind {entry['kind']!r} is not one of {sorted(_KINDS)}")
        raw_digest = _required(entry, "digest", where)
        digest = normal_digest(raw_digest)
        if digest is None:
            raise InvalidInput(
                f"{where}: digest {raw_digest[:80]!r} is not sha256:<64 hex> or sha512:<128 hex>"
            )
        artifact_name = _text(entry, "artifact_name", MAX_ARTIFACT_NAME, where)
        artifact_version = _text(entry, "artifact_version", MAX_ARTIFACT_VERSION, where)
        first = self._seen.setdefault((name, kind), index)
        if first != index:
            raise InvalidInput(
                f"{where}: deployment_name {name!r} (kind {kind}) is listed twice, "
                f"first at deployments[{first}]; a snapshot lists each workload once"
            )
        self.workloads.append(
            model.Workload(name, kind, digest, artifact_name or None, artifact_version or None)
        )

    def result(self) -> model.Inventory:
        return model.Inventory(
            workloads=sorted(self.workloads, key=lambda w: (w.deployment_name, w.kind))
        )


def _required(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{where}: {key} is required and must be a non-empty string")
    return value


def _text(entry: dict[str, Any], key: str, max_len: int, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{where}: {key} must be a string")
    problem = text_problem(value, max_len)
    if problem is not None:
        raise InvalidInput(f"{where}: {key}: {problem}")
    return value
