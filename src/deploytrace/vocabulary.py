"""The words every layer shares: kinds, statuses, why a record ended, what a report did.

`StrEnum`s, so they compare equal to, serialize as and are stored as their
plain string values: the API, the CLI, the services and the tables all speak
the same spelling, the one SPEC.md uses.
"""

from __future__ import annotations

import enum


class Kind(enum.StrEnum):
    """What a deployment record's artifact is."""

    CONTAINER_IMAGE = "CONTAINER_IMAGE"
    HELM_CHART = "HELM_CHART"


class Status(enum.StrEnum):
    """A deployment record's status (SPEC §3)."""

    DEPLOYED = "deployed"
    SUPERSEDED = "superseded"
    DECOMMISSIONED = "decommissioned"


class EndedReason(enum.StrEnum):
    """Why a record stopped being `deployed` (SPEC §7)."""

    SUPERSEDED = "superseded"  # another attested digest took the slot
    DECOMMISSIONED = "decommissioned"  # explicitly removed
    ABSENT = "absent"  # a snapshot of its scope no longer listed it
    REPLACED = "replaced"  # a snapshot listed a digest that could not be recorded


class RecordAction(enum.StrEnum):
    """What one report did to its slot (the `action` of POST /v1/deployments)."""

    CREATED = "created"
    SUPERSEDED_PREVIOUS = "superseded_previous"
    HEARTBEAT = "heartbeat"
    DECOMMISSIONED = "decommissioned"
    UNCHANGED = "unchanged"


class VerificationStatus(enum.StrEnum):
    """The verdict on an attestation's signatures, stored when it is pushed."""

    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    INVALID = "invalid"


class ArtifactRole(enum.StrEnum):
    """How an attestation names an artifact (only subjects and typed materials attest it)."""

    SUBJECT = "subject"
    MATERIAL = "material"  # a Chainloop material, typed or not
    INPUT = "input"  # a build input (SLSA materials / resolvedDependencies)


class TrustKind(enum.StrEnum):
    """What an organization trusts for signatures."""

    KEY = "key"  # a public key, for DSSE signatures
    ROOT = "root"  # a Sigstore trusted root, for certificate-signed bundles
