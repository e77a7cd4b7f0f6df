"""The JSON shape of a deployment record (SPEC §5, §7-§9), shared by every route giving one."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel

from deploytrace.services.records import Record


class Artifact(BaseModel):
    digest: str
    name: str | None
    version: str | None


class CiRun(BaseModel):
    provider: str
    run_url: str | None
    commit: str | None
    ref: str | None
    actor: str | None
    workflow: str | None


class ReportedBy(BaseModel):
    token: str | None  # the name of the token that reported the record's creation
    ci: CiRun | None


class Promotion(BaseModel):
    skipped: str  # the logical environment the digest never ran in before this one


class DeploymentRecord(BaseModel):
    id: str
    environment: str
    logical_environment: str
    deployment_name: str
    kind: Literal["CONTAINER_IMAGE", "HELM_CHART"]
    artifact: Artifact
    status: Literal["deployed", "superseded", "decommissioned"]
    created_at: dt.datetime
    updated_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    superseded_by: str | None
    ended_reason: Literal["superseded", "decommissioned", "absent", "replaced"] | None
    stale: bool
    heartbeats: int
    scope: str | None
    reported_by: ReportedBy
    promotion: Promotion | None
    policy: dict[str, Any]

    @classmethod
    def fields_of(cls, row: Record) -> dict[str, object]:
        return {
            "id": str(row.id),
            "environment": row.environment,
            "logical_environment": row.logical_environment,
            "deployment_name": row.deployment_name,
            "kind": row.kind.value,
            "artifact": {
                "digest": row.digest,
                "name": row.artifact_name,
                "version": row.artifact_version,
            },
            "status": row.status.value,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "last_seen_at": row.last_seen_at,
            "ended_at": row.ended_at,
            "superseded_by": str(row.superseded_by) if row.superseded_by else None,
            "ended_reason": row.ended_reason.value if row.ended_reason else None,
            "stale": row.stale,
            "heartbeats": row.heartbeats,
            "scope": row.scope,
            "reported_by": {
                "token": row.reported_by.token,
                "ci": row.reported_by.ci.as_dict() if row.reported_by.ci else None,
            },
            "promotion": (
                {"skipped": row.promotion_skipped} if row.promotion_skipped is not None else None
            ),
            "policy": row.policy,
        }

    @classmethod
    def of(cls, row: Record) -> DeploymentRecord:
        return cls.model_validate(cls.fields_of(row))


class Previous(BaseModel):
    """The record a new one replaced in its slot."""

    id: str
    digest: str
    version: str | None

    @classmethod
    def of(cls, row: Record | None) -> Previous | None:
        if row is None:
            return None
        return cls(id=str(row.id), digest=row.digest, version=row.artifact_version)
