"""The JSON shape of the evidence behind an artifact, shared by every route that returns it
(a deployment record's `evidence`, an artifact's trace)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

from deploytrace.services import artifacts
from deploytrace.services.verdicts import Verdict
from deploytrace.vocabulary import ArtifactRole, VerificationStatus


class Verification(BaseModel):
    """The verdict on an attestation's signatures, given when it was pushed."""

    status: VerificationStatus
    method: str | None
    identity: str | None
    key_fingerprint: str | None
    reason: str | None

    @classmethod
    def of(cls, verdict: Verdict) -> Verification:
        return cls(
            status=verdict.status,
            method=verdict.method,
            identity=verdict.identity,
            key_fingerprint=verdict.key_fingerprint,
            reason=verdict.reason,
        )


class EvidenceEntry(BaseModel):
    """One attestation naming an artifact, and the role the artifact plays in it."""

    digest: str
    predicate_type: str
    role: ArtifactRole
    material_type: str | None
    name: str | None
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verification
    created_at: dt.datetime

    @classmethod
    def of(cls, entry: artifacts.EvidenceEntry) -> EvidenceEntry:
        return cls(
            digest=entry.digest,
            predicate_type=entry.predicate_type,
            role=entry.role,
            material_type=entry.material_type,
            name=entry.name,
            workflow=entry.workflow,
            project=entry.project,
            project_version=entry.project_version,
            verification=Verification.of(entry.verification),
            created_at=entry.created_at,
        )


class ProjectVersion(BaseModel):
    project: str
    version: str


class Evidence(BaseModel):
    attestations: list[EvidenceEntry]
    workflows: list[str]
    projects: list[str]
    project_versions: list[ProjectVersion]
    attestations_next_cursor: str | None

    @classmethod
    def of(
        cls,
        entries: list[artifacts.EvidenceEntry],
        summary: artifacts.Summary,
        cursor: str | None,
    ) -> Evidence:
        return cls(
            attestations=[EvidenceEntry.of(e) for e in entries],
            workflows=summary.workflows,
            projects=summary.projects,
            project_versions=[
                ProjectVersion(project=p, version=v) for p, v in summary.project_versions
            ],
            attestations_next_cursor=cursor,
        )
