"""/v1/deployments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentActor
from deploytrace.api.errors import responses
from deploytrace.services import deployments
from deploytrace.storage.deployments import RecordRow

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


class RecordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    environment: str = Field(max_length=253)
    logical_environment: str = Field(max_length=253)
    deployment_name: str = Field(max_length=1024)
    kind: str = Field(max_length=64)
    digest: str = Field(max_length=256)
    artifact_name: str | None = Field(default=None, max_length=4096)
    artifact_version: str | None = Field(default=None, max_length=4096)
    status: str = Field(default="deployed", max_length=64)


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


class RecordOut(DeploymentRecord):
    action: Literal["created", "superseded_previous", "heartbeat", "decommissioned", "unchanged"]


class RecordList(BaseModel):
    items: list[DeploymentRecord]
    next_cursor: str | None


@router.post(
    "",
    responses={**_errors, 201: {"model": RecordOut, "description": "A new record was created"}},
)
def record(body: RecordIn, response: Response, db: DB, actor: CurrentActor) -> RecordOut:
    """Record that an artifact is running in a slot (or was decommissioned from it)."""
    result = deployments.record(db, actor, deployments.RecordRequest(**body.model_dump()))
    response.status_code = 201 if result.created else 200
    return RecordOut.model_validate(
        {**DeploymentRecord.fields_of(result.record), "action": result.action}
    )


Short = Annotated[str | None, Query(max_length=253)]


@router.get("", responses=_errors)
def list_records(
    db: DB,
    actor: CurrentActor,
    environment: Short = None,
    logical_environment: Short = None,
    deployment_name: Short = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    digest: Annotated[str | None, Query(max_length=256)] = None,
    history: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RecordList:
    """Active records by default; `history` adds superseded and decommissioned. Newest first."""
    page = deployments.list_records(
        db,
        actor,
        deployments.ListQuery(
            environment=environment,
            logical_environment=logical_environment,
            deployment_name=deployment_name,
            kind=kind,
            digest=digest,
            history=history,
            limit=limit,
            cursor=cursor,
        ),
    )
    return RecordList(
        items=[DeploymentRecord.of(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/{record_id}", responses=_errors)
def describe(record_id: str, db: DB, actor: CurrentActor) -> DeploymentRecord:
    return DeploymentRecord.of(deployments.describe(db, actor, record_id))
