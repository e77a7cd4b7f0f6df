"""The values this package hands out: parsed attestations and verification results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["statement", "dsse", "sigstore-bundle", "gcloud-provenance"]
Role = Literal["subject", "material", "input"]
Status = Literal["verified", "unverified", "invalid"]


@dataclass(frozen=True)
class Subject:
    """One in-toto subject, kept as the statement has it."""

    name: str | None
    digest: dict[str, str]
    uri: str | None = None


@dataclass(frozen=True)
class ArtifactRef:
    """One entry of the artifact-digest index (`<alg>:<value>`, normalised)."""

    digest: str
    role: Role
    name: str | None
    material_type: str | None


@dataclass(frozen=True)
class Verification:
    status: Status
    method: str | None
    identity: str | None
    reason: str | None

    @classmethod
    def verified(cls, method: str, identity: str | None) -> Verification:
        return cls("verified", method, identity, None)

    @classmethod
    def unverified(cls, reason: str, method: str | None = None) -> Verification:
        return cls("unverified", method, None, reason)

    @classmethod
    def invalid(cls, reason: str, method: str | None = None) -> Verification:
        return cls("invalid", method, None, reason)


@dataclass(frozen=True)
class DsseSignature:
    """One DSSE signature as written: `sig` is still base64 text (maybe encoded twice)."""

    keyid: str
    sig: str
    cert: str | None = None  # non-standard PEM field (slsa-github-generator)


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[DsseSignature, ...]


@dataclass(frozen=True)
class BundleMaterial:
    """The verification material of a Sigstore bundle, still undecoded.

    Certificates stay base64 text so that a damaged certificate is reported by
    `verify` (as tampering) instead of making the whole file unparseable.
    """

    certificate: str | None  # leaf, base64 DER (v0.3 `certificate`, or chain[0])
    chain: tuple[str, ...]  # the rest of an `x509CertificateChain`
    public_key_hint: str | None
    tlog_entries: int
    rfc3161_timestamps: int


@dataclass(frozen=True)
class ParsedAttestation:
    raw: bytes = field(repr=False)
    digest: str
    format: Format
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects: tuple[Subject, ...]
    refs: tuple[ArtifactRef, ...]
    workflow: str | None
    project: str | None
    project_version: str | None
    statement: dict[str, Any] = field(repr=False)
    # What `verify` needs: the DSSE envelope(s) (several only for the gcloud
    # wrapper, all carrying the same payload) and the bundle's material.
    envelopes: tuple[Envelope, ...] = field(default=(), repr=False)
    bundle: BundleMaterial | None = field(default=None, repr=False)
