"""/v1/search: which artifacts contain a package or carry a vulnerability, and where they run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.records import Artifact, DeploymentRecord
from deploytrace.services import search as service

router = APIRouter(tags=["search"])
_errors = responses(401, 403, 422, 503)

Text = Annotated[str | None, Query(max_length=2048)]


class Suppression(BaseModel):
    """The VEX statement that suppresses a finding, and who stands behind it."""

    attestation: str
    verification: Literal["verified", "unverified", "invalid"]
    status: Literal["not_affected", "fixed"]
    justification: str | None


class Match(BaseModel):
    purl: str | None
    name: str | None
    version: str | None
    vulnerability: str | None  # findings only (a --cve search)
    severity: str | None
    attestation: str  # digest of the attestation that says so
    suppression: Suppression | None


class Hit(BaseModel):
    artifact: Artifact
    matches: list[Match]
    records: list[DeploymentRecord]
    suppressed: bool

    @classmethod
    def of(cls, hit: service.Hit) -> Hit:
        return cls.model_validate(
            {
                "artifact": {"digest": hit.digest, "name": hit.name, "version": hit.version},
                "matches": [
                    {
                        "purl": m.purl,
                        "name": m.name,
                        "version": m.version,
                        "vulnerability": m.vulnerability,
                        "severity": m.severity,
                        "attestation": m.attestation,
                        "suppression": None
                        if m.suppression is None
                        else {
                            "attestation": m.suppression.attestation,
                            "verification": m.suppression.verification,
                            "status": m.suppression.status,
                            "justification": m.suppression.justification,
                        },
                    }
                    for m in hit.matches
                ],
                "records": [DeploymentRecord.fields_of(r) for r in hit.records],
                "suppressed": hit.suppressed,
            }
        )


class SearchPage(BaseModel):
    items: list[Hit]
    next_cursor: str | None


@router.get("/v1/search", responses=_errors)
def search(
    db: DB,
    caller: CurrentCaller,
    purl: Text = None,
    component: Annotated[str | None, Query(max_length=255)] = None,
    cve: Annotated[str | None, Query(max_length=255)] = None,
    version_range: Text = None,
    at: Annotated[str | None, Query(max_length=64)] = None,
    history: bool = False,
    all_: Annotated[bool, Query(alias="all")] = False,
    include_suppressed: bool = False,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> SearchPage:
    """Artifacts containing `purl` (optionally within `version_range`, vers syntax) or
    `component`, or carrying the finding `cve`; with the records that run them now,
    `at` an instant, or ever (`history`). Artifacts with no record then are left out
    unless `all`; findings a VEX statement suppresses unless `include_suppressed`."""
    page = service.search(
        db,
        caller.actor(),
        service.Query(
            purl=purl,
            component=component,
            cve=cve,
            version_range=version_range,
            at=at,
            history=history,
            all=all_,
            include_suppressed=include_suppressed,
            limit=limit,
            cursor=cursor,
        ),
    )
    return SearchPage(items=[Hit.of(h) for h in page.items], next_cursor=page.next_cursor)
