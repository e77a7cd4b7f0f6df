"""/v1/environments/{env}/snapshots and /v1/unattested: runtime inventory (SPEC §7)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deployments import CiIn
from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import snapshots
from deploytrace.services.records import CiRun

router = APIRouter(tags=["runtime inventory"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


class WorkloadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deployment_name: str = Field(max_length=1024)
    kind: str = Field(default="CONTAINER_IMAGE", max_length=64)
    digest: str | None = Field(
        max_length=256, description="null: the runtime reported no repository digest"
    )
    artifact_name: str | None = Field(default=None, max_length=4096)
    artifact_version: str | None = Field(default=None, max_length=4096)
    reason: str | None = Field(
        default=None, max_length=64, description="Why `digest` is null (no_repository_digest)"
    )


class UnreportableIn(BaseModel):
    """A running workload the reporter could not name a digest for."""

    model_config = ConfigDict(extra="forbid")
    deployment_name: str = Field(max_length=1024)
    kind: str = Field(default="CONTAINER_IMAGE", max_length=64)
    artifact_name: str | None = Field(default=None, max_length=4096)
    artifact_version: str | None = Field(default=None, max_length=4096)
    reason: str = Field(default="no_repository_digest", max_length=64)


class SnapshotIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    logical_environment: str = Field(max_length=253)
    scope: str | None = Field(default=None, max_length=1024)
    observed_at: dt.datetime | None = None
    dry_run: bool = False
    ci: CiIn | None = None
    deployments: list[WorkloadIn] = Field(max_length=snapshots.MAX_WORKLOADS)
    unattested: list[UnreportableIn] = Field(
        default_factory=list,
        max_length=snapshots.MAX_WORKLOADS,
        description="Running workloads without a repository digest: kept as unattested",
    )


class SnapshotOut(BaseModel):
    id: str
    environment: str
    logical_environment: str
    scope: str
    observed_at: dt.datetime
    applied_at: dt.datetime
    dry_run: bool
    workloads: int


class UnattestedOut(BaseModel):
    deployment_name: str
    kind: str
    digest: str | None
    artifact_name: str | None
    artifact_version: str | None
    reason: str


class RefusedOut(BaseModel):
    deployment_name: str
    kind: str
    digest: str
    violations: list[dict[str, Any]]


class StaleOut(BaseModel):
    deployment_name: str
    kind: str
    digest: str | None
    latest_observation: dt.datetime


class SyncOut(BaseModel):
    snapshot: SnapshotOut
    created: list[DeploymentRecord]
    superseded: list[DeploymentRecord]
    heartbeats: int
    decommissioned: list[DeploymentRecord]
    unattested: list[UnattestedOut]
    refused: list[RefusedOut]
    stale: list[StaleOut]


@router.post("/v1/environments/{environment}/snapshots", responses=_errors)
async def sync(environment: str, body: SnapshotIn, db: DB, caller: CurrentCaller) -> SyncOut:
    """Report the complete set of what runs in one scope; the records are made to match it.

    Listed attested digests are recorded (created, superseded, heartbeat); the scope's
    active records not listed are decommissioned (`ended_reason: absent`); digests without
    evidence are returned and kept as unattested workloads, not recorded.
    """
    request = snapshots.SnapshotRequest(
        environment=environment,
        logical_environment=body.logical_environment,
        deployments=[
            *(snapshots.Workload(**w.model_dump()) for w in body.deployments),
            *(snapshots.Workload(**u.model_dump(), digest=None) for u in body.unattested),
        ],
        scope=body.scope,
        observed_at=body.observed_at,
        dry_run=body.dry_run,
        ci=CiRun(**body.ci.model_dump()) if body.ci else None,
    )
    result = await run_in_threadpool(snapshots.sync, db, caller.actor(), request)
    s = result.snapshot
    return SyncOut.model_validate(
        {
            "snapshot": {**s.__dict__, "id": str(s.id)},
            "created": [DeploymentRecord.fields_of(r) for r in result.created],
            "superseded": [DeploymentRecord.fields_of(r) for r in result.superseded],
            "heartbeats": result.heartbeats,
            "decommissioned": [DeploymentRecord.fields_of(r) for r in result.decommissioned],
            "unattested": [u.__dict__ for u in result.unattested],
            "refused": [r.__dict__ for r in result.refused],
            "stale": [x.__dict__ for x in result.stale],
        }
    )


class UnattestedWorkloadOut(UnattestedOut):
    environment: str
    logical_environment: str
    scope: str
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


class UnattestedList(BaseModel):
    items: list[UnattestedWorkloadOut]
    next_cursor: str | None


Short = Annotated[str | None, Query(max_length=253)]


@router.get("/v1/unattested", responses=_errors)
def list_unattested(
    db: DB,
    caller: CurrentCaller,
    environment: Short = None,
    logical_environment: Short = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> UnattestedList:
    """Workloads reporters saw running without evidence (not recorded), newest first."""
    page = snapshots.list_unattested(
        db,
        caller.actor(),
        environment=environment,
        logical_environment=logical_environment,
        limit=limit,
        cursor=cursor,
    )
    return UnattestedList.model_validate(
        {"items": [w.__dict__ for w in page.items], "next_cursor": page.next_cursor}
    )


class ScopeOut(BaseModel):
    logical_environment: str
    scope: str
    snapshot_id: str
    observed_at: dt.datetime
    applied_at: dt.datetime
    reported_by: str | None
    summary: dict[str, int]
