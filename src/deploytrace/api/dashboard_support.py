"""/v1/dashboard/*: read-only answers the web dashboard needs beyond the record list.

They are plain API calls (same token, same organization scoping) so any client may
use them, but they are shaped for the dashboard's views: the verification summary
of the artifacts on screen, the deployment names, the search box's lookup, and the
time slider's range.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import dashboard_support as service

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"])
_errors = responses(401, 403, 422, 503)


class AttestedOut(BaseModel):
    digest: str
    verified: int = Field(description="Attestations naming it whose signature was verified")
    unverified: int = Field(description="... that carry no signature that could be checked")
    invalid: int = Field(description="... whose signature did not verify")


class AttestedList(BaseModel):
    items: list[AttestedOut]
    next_cursor: None = None


@router.get("/attested", responses=_errors)
def attested(
    db: DB,
    caller: CurrentCaller,
    digest: Annotated[list[str], Query(max_length=service.MAX_DIGESTS)],
) -> AttestedList:
    """For each `digest` (repeat the parameter, at most 500): how many of the org's
    attestations name it, by verification status."""
    found = service.attested(db, caller.actor(), digest)
    return AttestedList(items=[AttestedOut(**vars(a)) for a in found])


class NameOut(BaseModel):
    deployment_name: str
    slots: int = Field(description="Slots (environment, logical environment, kind) it was ever in")
    active: int = Field(description="Of those, how many run something now")


class NameList(BaseModel):
    items: list[NameOut]
    next_cursor: str | None


@router.get("/deployment-names", responses=_errors)
def deployment_names(
    db: DB,
    caller: CurrentCaller,
    contains: Annotated[str | None, Query(max_length=service.MAX_QUERY)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> NameList:
    """Every deployment name of the organization, in name order."""
    page = service.names(db, caller.actor(), contains=contains, limit=limit, cursor=cursor)
    return NameList(items=[NameOut(**vars(n)) for n in page.items], next_cursor=page.next_cursor)


class LookupOut(BaseModel):
    deployment_names: list[NameOut] = Field(description="Names containing the text (first 20)")
    records: list[DeploymentRecord] = Field(
        description="Active records whose version starts with the text or whose artifact "
        "name contains it (first 50, newest first)"
    )
    digests: list[str] = Field(description="Digests of records or attested artifacts it starts")


@router.get("/lookup", responses=_errors)
def lookup(
    db: DB,
    caller: CurrentCaller,
    q: Annotated[str, Query(min_length=1, max_length=service.MAX_QUERY)],
) -> LookupOut:
    """What a search-box text names: deployment names, running versions, digest prefixes."""
    found = service.lookup(db, caller.actor(), q)
    return LookupOut.model_validate(
        {
            "deployment_names": [vars(n) for n in found.deployment_names],
            "records": [DeploymentRecord.fields_of(r) for r in found.records],
            "digests": found.digests,
        }
    )


class TimelineOut(BaseModel):
    first_record_at: dt.datetime | None = Field(description="The earliest record's created_at")


@router.get("/timeline", responses=_errors)
def timeline(db: DB, caller: CurrentCaller) -> TimelineOut:
    """Where the organization's deployment history starts (the time slider's left end)."""
    return TimelineOut(first_record_at=service.first_record_at(db, caller.actor()))
