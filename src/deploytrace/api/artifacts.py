"""/v1/artifacts: trace a digest to its evidence and every deployment of it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.evidence_schema import Evidence
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import artifacts

router = APIRouter(tags=["evidence"])
_errors = responses(401, 403, 404, 422, 503)

Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]


class ArtifactOut(Evidence):
    digest: str
    deployments: list[DeploymentRecord]
    deployments_next_cursor: str | None


# `{digest:path}`: a value with a slash gets the service's answer (not a digest),
# not a bare 404 from the router.
@router.get("/v1/artifacts/{digest:path}", responses=_errors)
def describe_artifact(
    digest: str,
    db: DB,
    caller: CurrentCaller,
    limit: Limit = None,
    attestations_cursor: Cursor = None,
    deployments_cursor: Cursor = None,
) -> ArtifactOut:
    """Where an artifact runs and ran, and the attestations, workflows and projects behind it."""
    found = artifacts.trace(
        db,
        caller.actor(),
        digest,
        limit=limit,
        attestations_cursor=attestations_cursor,
        deployments_cursor=deployments_cursor,
    )
    base = Evidence.of(found.attestations, found.summary, found.attestations_next_cursor)
    return ArtifactOut(
        **dict(base),
        digest=found.digest,
        deployments=[DeploymentRecord.of(r) for r in found.deployments],
        deployments_next_cursor=found.deployments_next_cursor,
    )
