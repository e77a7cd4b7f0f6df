"""What a manifest is (image, index, Helm chart) and whether its bytes match a digest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from deploytrace.errors import DeploytraceError, InvalidInput

Kind = Literal["CONTAINER_IMAGE", "HELM_CHART"]
KINDS: tuple[Kind, ...] = ("CONTAINER_IMAGE", "HELM_CHART")
KIND_NAMES: dict[Kind, str] = {"CONTAINER_IMAGE": "a container image", "HELM_CHART": "a Helm chart"}

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
# distribution 2.8 answers 404 (OCI) or 400 (Docker v2) for a manifest whose
# media type is not accepted, even when fetched by digest: always send all four.
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST])

_ALGORITHMS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}


@dataclass(frozen=True)
class Classified:
    media_type: str
    kind: Kind


def parse_kind(kind: str) -> Kind:
    """`helm_chart` -> `HELM_CHART`; anything else than the two kinds is invalid input."""
    upper = kind.strip().upper() if isinstance(kind, str) else ""
    for known in KINDS:
        if upper == known:
            return known
    raise InvalidInput(f"kind must be CONTAINER_IMAGE or HELM_CHART, got {kind!r}")


def classify(body: bytes, content_type: str | None, what: str) -> Classified:
    """Decide image vs Helm chart from the manifest itself, not from the user's claim."""
    document = _json_object(body, what)
    media_type = _media_type(document, content_type)
    if media_type in INDEX_TYPES:
        return Classified(media_type, "CONTAINER_IMAGE")
    if media_type not in MANIFEST_TYPES:
        raise InvalidInput(
            f"{what} is neither a container image nor a Helm chart "
            f"(manifest media type {media_type or 'missing'!s})"
        )
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    is_helm = HELM_CONFIG in (config_type, document.get("artifactType"))
    return Classified(media_type, "HELM_CHART" if is_helm else "CONTAINER_IMAGE")


def digest_of(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{_ALGORITHMS[algorithm](body).hexdigest()}"


def check_digest(body: bytes, expected: str, claimed_by: str, what: str) -> None:
    """Raise unless `body` hashes to `expected` (`algorithm:hex`)."""
    algorithm, _, _ = expected.partition(":")
    if algorithm not in _ALGORITHMS:
        raise DeploytraceError(
            f"{claimed_by} for {what} uses the unsupported digest algorithm {algorithm!r}"
        )
    actual = digest_of(body, algorithm)
    if actual != expected.lower():
        raise DeploytraceError(
            f"the manifest served for {what} hashes to {actual}, not to {expected} "
            f"({claimed_by}); refusing it"
        )


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise InvalidInput(f"the manifest served for {what} is not a JSON object")
    return document


def _media_type(document: dict[str, Any], content_type: str | None) -> str:
    # OCI makes the `mediaType` field optional; the Content-Type header then tells.
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    return (content_type or "").split(";", 1)[0].strip().lower()
