"""/v1/tokens and /v1/audit: who may act, and who did what."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, AppSettings, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.services import audit, tenancy

router = APIRouter(tags=["tokens and audit"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    role: str = Field(max_length=32)
    expires_in: str | None = Field(default=None, max_length=32, description="e.g. 90d, 12h")


class TokenOut(BaseModel):
    id: str
    name: str
    role: Literal["admin", "writer", "viewer"]
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str | None

    @classmethod
    def of(cls, info: tenancy.TokenInfo) -> TokenOut:
        return cls.model_validate({**info.__dict__, "id": str(info.id)})


class NewToken(TokenOut):
    token: str = Field(description="The secret, shown this once")


class TokenList(BaseModel):
    items: list[TokenOut]
    next_cursor: None = None


@router.post("/v1/tokens", status_code=status.HTTP_201_CREATED, responses=_errors)
def create_token(body: TokenIn, db: DB, caller: CurrentCaller) -> NewToken:
    """Create an API token of this organization; its secret is in the answer only."""
    info, secret = tenancy.create_token(
        db, caller.actor(), name=body.name, role=body.role, expires_in=body.expires_in
    )
    return NewToken.model_validate({**TokenOut.of(info).model_dump(), "token": secret})


@router.get("/v1/tokens", responses=_errors)
def list_tokens(db: DB, caller: CurrentCaller, revoked: bool = False) -> TokenList:
    """Live tokens (with `revoked`, revoked ones too). Never their secrets."""
    return TokenList(
        items=[
            TokenOut.of(t) for t in tenancy.list_tokens(db, caller.actor(), include_revoked=revoked)
        ]
    )


@router.delete("/v1/tokens/{name_or_id}", responses=_errors)
def revoke_token(name_or_id: str, db: DB, caller: CurrentCaller) -> TokenOut:
    """Revoke a token; it is refused from the next request on."""
    return TokenOut.of(tenancy.revoke_token(db, caller.actor(), name_or_id))


class AuditEntryOut(BaseModel):
    position: int
    time: dt.datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    hash: str
    prev_hash: str


class AuditList(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None


class AuditVerdict(BaseModel):
    intact: bool
    entries: int
    head: str
    first_broken: int | None
    reason: str | None
    checked_from: int


@router.get("/v1/audit", responses=_errors)
def list_audit(
    db: DB,
    caller: CurrentCaller,
    since: dt.datetime | None = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> AuditList:
    """The organization's audit entries, newest first."""
    page = audit.list_entries(
        db, caller.actor(), since=since, action=action, limit=limit, cursor=cursor
    )
    return AuditList(
        items=[
            AuditEntryOut(
                position=e.position,
                time=e.created_at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                details=e.details,
                hash=e.hash,
                prev_hash=e.prev_hash,
            )
            for e in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.get("/v1/audit/verify", responses=_errors)
def verify_audit(
    db: DB, caller: CurrentCaller, app_settings: AppSettings, full: bool = False
) -> AuditVerdict:
    """Recompute the organization's hash chain; `intact` is false at the first broken entry.

    From the last checkpoint a verify left (`checked_from` says where), or with
    `full` from the first entry.
    """
    verdict = audit.verify(db, caller.actor(), full=full, key=app_settings.audit_key)
    return AuditVerdict.model_validate(verdict.as_dict())
