"""Index entries from in-toto ResourceDescriptors (digests spelled by `deploytrace.digests`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from deploytrace.digests import normalize as normalize_digest

from .model import ArtifactRef, Role


def descriptor_refs(
    descriptor: dict[str, Any], role: Role, name: str | None, material_type: str | None
) -> Iterator[ArtifactRef]:
    """One ref per valid digest entry of an in-toto ResourceDescriptor."""
    digests = descriptor.get("digest")
    if not isinstance(digests, dict):
        return
    for alg, value in digests.items():
        if not isinstance(value, str):
            continue
        digest = normalize_digest(alg, value)
        if digest is not None:
            yield ArtifactRef(digest=digest, role=role, name=name, material_type=material_type)


def dedupe(refs: Iterable[ArtifactRef]) -> tuple[ArtifactRef, ...]:
    seen: set[tuple[str, str, str | None]] = set()
    out: list[ArtifactRef] = []
    for ref in refs:
        key = (ref.digest, ref.role, ref.material_type)
        if key not in seen:
            seen.add(key)
            out.append(ref)
    return tuple(out)


def annotation(descriptor: dict[str, Any], key: str) -> str | None:
    annotations = descriptor.get("annotations")
    if not isinstance(annotations, dict):
        return None
    value = annotations.get(key)
    return value if isinstance(value, str) and value else None
