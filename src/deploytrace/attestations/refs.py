"""The artifact-digest index of a statement: subjects, materials and build inputs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from . import chainloop
from .digests import annotation, dedupe, descriptor_refs
from .model import ArtifactRef
from .statement import StatementInfo


def build_refs(info: StatementInfo) -> tuple[ArtifactRef, ...]:
    refs: list[ArtifactRef] = []
    refs.extend(_subject_refs(info.raw_subjects))
    if chainloop.is_chainloop(info.predicate_type):
        refs.extend(chainloop.material_refs(info.predicate))
    else:
        refs.extend(_input_refs(info.predicate_type, info.predicate))
    return dedupe(refs)


def _subject_refs(raw_subjects: tuple[dict[str, Any], ...]) -> Iterator[ArtifactRef]:
    for subject in raw_subjects:
        name = subject.get("name")
        yield from descriptor_refs(
            subject,
            "subject",
            name if isinstance(name, str) else None,
            annotation(subject, chainloop.MATERIAL_TYPE_ANNOTATION),
        )


def _input_refs(predicate_type: str, predicate: dict[str, Any]) -> Iterator[ArtifactRef]:
    if predicate_type.startswith("https://slsa.dev/provenance/v0."):
        entries = predicate.get("materials")
    elif predicate_type.startswith("https://slsa.dev/provenance/v1"):
        definition = predicate.get("buildDefinition")
        entries = definition.get("resolvedDependencies") if isinstance(definition, dict) else None
    else:
        return
    if not isinstance(entries, list):
        return
    for entry in entries:
        if isinstance(entry, dict):
            yield from descriptor_refs(entry, "input", _descriptor_name(entry), None)


def _descriptor_name(entry: dict[str, Any]) -> str | None:
    for key in ("uri", "name"):
        value = entry.get(key)
        if isinstance(value, str) and value:
            return value
    return None
