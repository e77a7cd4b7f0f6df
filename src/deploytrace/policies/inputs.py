"""What a policy sees: deploytrace's input document, or content of a Chainloop kind.

An entry without `kind` gets the document of SPEC §9 for the deployment being
gated. An entry with a Chainloop `kind` runs as Chainloop runs it: once per
piece of content of that kind, with that content as `input`. deploytrace holds
attestations, not Chainloop's material files, so a kind maps to what the
evidence store has of it:

| kind | content (one run each) |
|---|---|
| ATTESTATION | the in-toto statement of each attestation naming the artifact |
| SBOM_CYCLONEDX_JSON | the predicate of each CycloneDX attestation (`https://cyclonedx.org/bom…`) |
| SBOM_SPDX_JSON | the predicate of each SPDX attestation (`https://spdx.dev/Document…`) |
| OPENVEX | the predicate of each OpenVEX attestation (`https://openvex.dev/ns…`) |
| SLSA_PROVENANCE | each SLSA provenance stored as a Sigstore bundle: that bundle |
| CONTAINER_IMAGE, HELM_CHART | the artifact when it is of that kind: `{chainloop_metadata}` |
| anything else | nothing: the entry is skipped |

As in Chainloop, material content also carries `chainloop_metadata` (name and
`annotations["chainloop.material.type"]`), and `args` holds the defaults of
the policy's `spec.inputs`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

CYCLONEDX = "https://cyclonedx.org/bom"
SPDX = "https://spdx.dev/Document"
OPENVEX = "https://openvex.dev/ns"
SLSA_PROVENANCE = "https://slsa.dev/provenance/"
PREDICATE_KINDS = {"SBOM_CYCLONEDX_JSON": CYCLONEDX, "SBOM_SPDX_JSON": SPDX, "OPENVEX": OPENVEX}


@dataclass(frozen=True)
class Target:
    """The deployment a policy gates: which artifact, where."""

    digest: str
    kind: str
    environment: str
    logical_environment: str
    deployment_name: str
    artifact_name: str | None = None
    artifact_version: str | None = None


@dataclass(frozen=True)
class AttestationFacts:
    digest: str
    predicate_type: str
    statement: dict[str, Any]
    format: str  # statement | dsse | sigstore-bundle | gcloud-provenance
    document: Any  # the stored JSON document (the bundle, the envelope, ...)
    verification_status: str
    verification_method: str | None
    verification_identity: str | None
    workflow: str | None
    project: str | None
    project_version: str | None
    created_at: dt.datetime


@dataclass(frozen=True)
class DeployedIn:
    environment: str
    logical_environment: str
    first_deployed_at: dt.datetime


@dataclass(frozen=True)
class Facts:
    """Everything known about one target, read in one transaction."""

    target: Target
    attestations: tuple[AttestationFacts, ...]
    deployed_in: tuple[DeployedIn, ...]


def rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def document(facts: Facts, args: dict[str, str] | None = None) -> dict[str, Any]:
    """The input of an entry without `kind` (SPEC §9), plus `args` when the policy
    declares `spec.inputs` (as Chainloop passes them)."""
    t = facts.target
    doc = {
        "artifact": {
            "digest": t.digest,
            "kind": t.kind,
            "name": t.artifact_name,
            "version": t.artifact_version,
        },
        "deployment": {
            "environment": t.environment,
            "logical_environment": t.logical_environment,
            "deployment_name": t.deployment_name,
        },
        "attestations": [
            {
                "digest": a.digest,
                "predicate_type": a.predicate_type,
                "statement": a.statement,
                "verification": {
                    "status": a.verification_status,
                    "method": a.verification_method,
                    "identity": a.verification_identity,
                },
                "workflow": a.workflow,
                "project": a.project,
                "project_version": a.project_version,
                "created_at": rfc3339(a.created_at),
            }
            for a in facts.attestations
        ],
        "deployed_in": [
            {
                "environment": d.environment,
                "logical_environment": d.logical_environment,
                "first_deployed_at": rfc3339(d.first_deployed_at),
            }
            for d in facts.deployed_in
        ],
    }
    if args:
        doc["args"] = dict(args)
    return doc


@dataclass(frozen=True)
class Content:
    """One piece of content of a Chainloop kind, and where it came from."""

    source: str  # "attestation sha256:…" or "artifact sha256:…", for messages
    value: dict[str, Any]


def _is(predicate_type: str, prefix: str) -> bool:
    return predicate_type == prefix or predicate_type.startswith(prefix.rstrip("/") + "/")


def contents(kind: str, facts: Facts, args: dict[str, str]) -> list[Content]:
    """The inputs of an entry of Chainloop `kind`, one per matching piece of content."""
    found: list[Content] = []
    t = facts.target
    if kind in ("CONTAINER_IMAGE", "HELM_CHART"):
        if t.kind == kind:
            found.append(Content(f"artifact {t.digest}", {"chainloop_metadata": _artifact(t)}))
        return [_with_args(c, args) for c in found]
    for a in facts.attestations:
        value: Any = None
        if kind == "ATTESTATION":
            value = a.statement
        elif kind in PREDICATE_KINDS and _is(a.predicate_type, PREDICATE_KINDS[kind]):
            value = a.statement.get("predicate")
        elif (
            kind == "SLSA_PROVENANCE"
            and a.predicate_type.startswith(SLSA_PROVENANCE)
            and a.format == "sigstore-bundle"
        ):
            value = a.document
        if value is None:
            continue
        if isinstance(value, list):
            value = {"elements": value}  # Chainloop's rule for array content
        if not isinstance(value, dict):
            continue
        if kind != "ATTESTATION":
            value = {**value, "chainloop_metadata": _material(kind, a)}
        found.append(Content(f"attestation {a.digest}", value))
    return [_with_args(c, args) for c in found]


def _with_args(content: Content, args: dict[str, str]) -> Content:
    if not args:
        return content
    return Content(content.source, {**content.value, "args": dict(args)})


def _material(kind: str, a: AttestationFacts) -> dict[str, Any]:
    return {
        "name": a.digest,
        "annotations": {
            "chainloop.material.type": kind,
            "chainloop.material.name": a.digest,
        },
    }


def _artifact(t: Target) -> dict[str, Any]:
    algorithm, _, value = t.digest.partition(":")
    annotations: dict[str, Any] = {
        "chainloop.material.type": t.kind,
        "chainloop.material.name": t.deployment_name,
    }
    if t.artifact_version:
        annotations["chainloop.material.image.tag"] = t.artifact_version
    return {
        "name": t.artifact_name or t.digest,
        "digest": {algorithm: value},
        "annotations": annotations,
    }
