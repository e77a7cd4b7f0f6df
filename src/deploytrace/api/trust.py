"""/v1/trust: the keys and Sigstore roots an organization trusts for signatures."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.services import trust
from deploytrace.vocabulary import TrustKind

router = APIRouter(tags=["evidence"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)


class TrustKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    pem: str = Field(max_length=65536)


class TrustRootIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    trusted_root: str = Field(max_length=4 * 1024 * 1024, description="trusted_root.json, as text")


class TrustOut(BaseModel):
    name: str
    kind: TrustKind
    fingerprint: str
    builtin: bool
    created_at: dt.datetime | None

    @classmethod
    def of(cls, entry: trust.TrustEntry) -> TrustOut:
        return cls(
            name=entry.name,
            kind=entry.kind,
            fingerprint=entry.fingerprint,
            builtin=entry.builtin,
            created_at=entry.created_at,
        )


class TrustList(BaseModel):
    items: list[TrustOut]
    next_cursor: None = None


@router.post("/v1/trust/keys", status_code=status.HTTP_201_CREATED, responses=_errors)
def add_key(body: TrustKeyIn, db: DB, caller: CurrentCaller) -> TrustOut:
    """Trust a public key (PEM: ECDSA, RSA or Ed25519) for DSSE signatures."""
    return TrustOut.of(
        trust.add_trust(
            db, caller.actor(), name=body.name, kind=TrustKind.KEY, content=body.pem.encode()
        )
    )


@router.post("/v1/trust/roots", status_code=status.HTTP_201_CREATED, responses=_errors)
def add_root(body: TrustRootIn, db: DB, caller: CurrentCaller) -> TrustOut:
    """Trust a Sigstore instance, by its trusted_root.json (e.g. staging, a private Sigstore)."""
    return TrustOut.of(
        trust.add_trust(
            db,
            caller.actor(),
            name=body.name,
            kind=TrustKind.ROOT,
            content=body.trusted_root.encode(),
        )
    )


@router.get("/v1/trust", responses=_errors)
def list_trust(db: DB, caller: CurrentCaller) -> TrustList:
    return TrustList(items=[TrustOut.of(e) for e in trust.list_trust(db, caller.actor())])


# `{name:path}`: a name with a slash is answered "not found" by the service, not
# with a bare 404 from the router.
@router.delete("/v1/trust/{name:path}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def remove_trust(name: str, db: DB, caller: CurrentCaller) -> Response:
    """Stop trusting a key or root; verdicts already stored keep what they said."""
    trust.remove_trust(db, caller.actor(), name)
    return Response(status_code=204)
