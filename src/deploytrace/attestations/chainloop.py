"""Chainloop's predicate (`chainloop.dev/attestation/v0.2`): metadata and typed materials."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .digests import annotation, descriptor_refs
from .model import ArtifactRef

PREDICATE_PREFIX = "chainloop.dev/attestation/"
MATERIAL_TYPE_ANNOTATION = "chainloop.material.type"
MATERIAL_NAME_ANNOTATION = "chainloop.material.name"


def is_chainloop(predicate_type: str) -> bool:
    return predicate_type.startswith(PREDICATE_PREFIX)


def metadata(predicate: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(workflow, project, project version) from `predicate.metadata`."""
    meta = predicate.get("metadata")
    if not isinstance(meta, dict):
        return None, None, None
    workflow = _text(meta.get("workflowName")) or _text(meta.get("name"))
    return workflow, _text(meta.get("project")), _text(meta.get("projectVersion"))


def material_refs(predicate: dict[str, Any]) -> Iterator[ArtifactRef]:
    """Materials that have a digest (STRING materials, for one, have none)."""
    materials = predicate.get("materials")
    if not isinstance(materials, list):
        return
    for material in materials:
        if not isinstance(material, dict):
            continue
        # The descriptor name is the artifact (image repository, file name);
        # the annotation is only the contract's label for it.
        name = _text(material.get("name")) or annotation(material, MATERIAL_NAME_ANNOTATION)
        material_type = annotation(material, MATERIAL_TYPE_ANNOTATION)
        yield from descriptor_refs(material, "material", name, material_type)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
