"""Chainloop attestations: SBOM, SARIF and OpenVEX materials whose content is inline.

A material uploaded to Chainloop's CAS carries only its digest; one small
enough to be inlined carries its bytes in `content` (base64, as in-toto
ResourceDescriptors do). What an inline SBOM describes is the container image
or Helm chart material it names as its main component
(`chainloop.material.sbom.main_component.name`/`.version` = the image's name
and tag), else the attestation's only such material; an SBOM that cannot be
tied to one artifact is skipped (and counted).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from typing import Any

from . import common
from .model import Contents

PREFIX = "chainloop.dev/attestation/"
_TYPE = "chainloop.material.type"
_ARTIFACT_TYPES = ("CONTAINER_IMAGE", "HELM_CHART")
_CONTENT_TYPES = ("SBOM_CYCLONEDX_JSON", "SBOM_SPDX_JSON", "SARIF", "OPENVEX")


def is_chainloop(predicate_type: str) -> bool:
    return predicate_type.startswith(PREFIX)


def _annotations(material: dict[str, Any]) -> dict[str, Any]:
    found = material.get("annotations")
    return found if isinstance(found, dict) else {}


def _digest(material: dict[str, Any]) -> str | None:
    digests = material.get("digest")
    if not isinstance(digests, dict):
        return None
    for algorithm in ("sha256", "sha512"):
        found = common.hash_digest(algorithm, digests.get(algorithm))
        if found:
            return found
    return None


def extract(predicate: dict[str, Any], read: Any) -> Contents:
    """`read(document)` extracts one decoded document (the dispatcher's own function)."""
    found = Contents()
    materials = [m for m in predicate.get("materials") or () if isinstance(m, dict)]
    artifacts = [
        m for m in materials if _annotations(m).get(_TYPE) in _ARTIFACT_TYPES and _digest(m)
    ]
    for material in materials:
        notes = _annotations(material)
        if notes.get(_TYPE) not in _CONTENT_TYPES or "content" not in material:
            continue
        document = _decode(material.get("content"))
        if document is None:
            found.skipped += 1
            continue
        inner: Contents = read(document)
        target = _target(notes, artifacts)
        if target is None and (inner.components or inner.findings):
            found.skipped += 1
            continue
        inner.components = [replace(c, artifact=target) for c in inner.components]
        inner.findings = [replace(f, artifact=target) for f in inner.findings]
        if target is not None:
            inner.statements = [
                s if s.products else replace(s, products=(target,)) for s in inner.statements
            ]
        found.merge(inner)
    if found or found.skipped:
        found.formats.insert(0, "chainloop")
    return found


def _decode(content: Any) -> dict[str, Any] | None:
    if not isinstance(content, str):
        return None
    try:
        document = json.loads(base64.b64decode(content, validate=True))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _target(notes: dict[str, Any], artifacts: list[dict[str, Any]]) -> str | None:
    name = notes.get("chainloop.material.sbom.main_component.name")
    version = notes.get("chainloop.material.sbom.main_component.version")
    if isinstance(name, str):
        for material in artifacts:
            tag = _annotations(material).get("chainloop.material.image.tag")
            if material.get("name") == name and (version is None or tag == version):
                return _digest(material)
    if len(artifacts) == 1:
        return _digest(artifacts[0])
    return None
