"""/v1/deployments."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.evidence_schema import Evidence
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import deployments

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


class RecordOut(DeploymentRecord):
    action: Literal["created", "superseded_previous", "heartbeat", "decommissioned", "unchanged"]


class RecordList(BaseModel):
    items: list[DeploymentRecord]
    next_cursor: str | None


@router.post(
    "",
    responses={**_errors, 201: {"model": RecordOut, "description": "A new record was created"}},
)
def record(body: RecordIn, response: Response, db: DB, caller: CurrentCaller) -> RecordOut:
    """Record that an artifact is running in a slot (or was decommissioned from it)."""
    result = deployments.record(db, caller.actor(), deployments.RecordRequest(**body.model_dump()))
    response.status_code = 201 if result.created else 200
    return RecordOut.model_validate(
        {**DeploymentRecord.fields_of(result.record), "action": result.action}
    )


Short = Annotated[str | None, Query(max_length=253)]


@router.get("", responses=_errors)
def list_records(
    db: DB,
    caller: CurrentCaller,
    environment: Short = None,
    logical_environment: Short = None,
    deployment_name: Short = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    digest: Annotated[str | None, Query(max_length=256)] = None,
    history: bool = False,
    project: Short = None,
    project_version: Short = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RecordList:
    """Active records by default; `history` adds superseded and decommissioned. Newest first."""
    page = deployments.list_records(
        db,
        caller.actor(),
        deployments.ListQuery(
            environment=environment,
            logical_environment=logical_environment,
            deployment_name=deployment_name,
            kind=kind,
            digest=digest,
            history=history,
            project=project,
            project_version=project_version,
            limit=limit,
            cursor=cursor,
        ),
    )
    return RecordList(
        items=[DeploymentRecord.of(r) for r in page.items], next_cursor=page.next_cursor
    )


class DeploymentDetail(DeploymentRecord):
    evidence: Evidence


@router.get("/{record_id}", responses=_errors)
def describe(
    record_id: str,
    db: DB,
    caller: CurrentCaller,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    attestations_cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> DeploymentDetail:
    """The record, and the attestations, workflows and projects behind its artifact."""
    found = deployments.describe(
        db, caller.actor(), record_id, limit=limit, attestations_cursor=attestations_cursor
    )
    return DeploymentDetail.model_validate(
        {
            **DeploymentRecord.fields_of(found.record),
            "evidence": Evidence.of(
                found.attestations, found.summary, found.attestations_next_cursor
            ),
        }
    )
