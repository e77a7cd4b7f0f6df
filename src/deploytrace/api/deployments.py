"""/v1/deployments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api import threads
from deploytrace.api.deps import DB, Caller, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.evidence_schema import Evidence
from deploytrace.api.records import DeploymentRecord, Previous
from deploytrace.services import deployments
from deploytrace.services.records import CiRun
from deploytrace.storage.db import Database

router = APIRouter(prefix="/v1/deployments", tags=["deployments"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


_CI_FIELD = Field(default=None, max_length=4096)


class CiIn(BaseModel):
    """The CI run reporting (the CLI fills it from the CI system's environment variables)."""

    model_config = ConfigDict(extra="forbid")
    provider: str = Field(max_length=64)
    run_url: str | None = _CI_FIELD
    commit: str | None = _CI_FIELD
    ref: str | None = _CI_FIELD
    actor: str | None = _CI_FIELD
    workflow: str | None = _CI_FIELD


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
    observed_at: dt.datetime | None = Field(
        default=None, description="When the reporter saw it (RFC 3339); default: now"
    )
    ci: CiIn | None = None
    override_reason: str | None = Field(
        default=None, max_length=4096, description="Admins: record despite a policy"
    )


class RecordOut(DeploymentRecord):
    action: Literal["created", "superseded_previous", "heartbeat", "decommissioned", "unchanged"]
    previous: Previous | None


class RecordList(BaseModel):
    items: list[DeploymentRecord]
    next_cursor: str | None


@router.post(
    "",
    response_model=RecordOut,
    responses={**_errors, 201: {"model": RecordOut, "description": "A new record was created"}},
)
async def record(body: RecordIn, db: DB, caller: CurrentCaller) -> Response:
    """Record that an artifact is running in a slot (or was decommissioned from it)."""
    # One thread-pool trip per request: a plain `def` endpoint would take a second one,
    # FastAPI validating the returned model in the pool again. The answer is serialized
    # here, once, from the model built for it.
    return await threads.run(_record, body, db, caller)


def _record(body: RecordIn, db: Database, caller: Caller) -> Response:
    fields = body.model_dump(exclude={"ci"})
    ci = CiRun(**body.ci.model_dump()) if body.ci else None
    request = deployments.RecordRequest(**fields, ci=ci)
    result = deployments.record(db, caller.recent_actor(), request)
    out = RecordOut.model_validate(
        {
            **DeploymentRecord.fields_of(result.record),
            "action": result.action.value,
            "previous": Previous.of(result.previous),
        }
    )
    return Response(
        out.model_dump_json(),
        status_code=201 if result.created else 200,
        media_type="application/json",
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
    at: Annotated[
        dt.datetime | None, Query(description="Only what was deployed at this instant")
    ] = None,
    stale: Annotated[bool, Query(description="Only deployed records that are stale")] = False,
    skipped_promotion: Annotated[
        bool, Query(description="Only records created without passing the previous stage")
    ] = False,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> RecordList:
    """Active records by default; `history` adds superseded and decommissioned; `at` gives
    exactly those deployed at an instant. Newest first (by created_at); filters combine."""
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
            at=at,
            stale=stale,
            skipped_promotion=skipped_promotion,
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
