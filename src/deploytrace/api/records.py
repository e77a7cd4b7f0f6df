"""The JSON shape of a deployment record (SPEC §5), shared by every route that returns one."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from deploytrace.storage.deployments import RecordRow


class Artifact(BaseModel):
    digest: str
    name: str | None
    version: str | None


class DeploymentRecord(BaseModel):
    id: str
    environment: str
    logical_environment: str
    deployment_name: str
    kind: str
    artifact: Artifact
    status: Literal["deployed", "superseded", "decommissioned"]
    created_at: dt.datetime
    updated_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    superseded_by: str | None

    @classmethod
    def fields_of(cls, row: RecordRow) -> dict[str, object]:
        return {
            "id": str(row.id),
            "environment": row.environment,
            "logical_environment": row.logical_environment,
            "deployment_name": row.deployment_name,
            "kind": row.kind,
            "artifact": Artifact(
                digest=row.artifact_digest, name=row.artifact_name, version=row.artifact_version
            ),
            "status": row.status,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
            "last_seen_at": row.last_seen_at,
            "ended_at": row.ended_at,
            "superseded_by": str(row.superseded_by) if row.superseded_by else None,
        }

    @classmethod
    def of(cls, row: RecordRow) -> DeploymentRecord:
        return cls.model_validate(cls.fields_of(row))
