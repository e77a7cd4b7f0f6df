"""/v1/attestations: push, list, describe, content, and re-checking a stored verdict."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.evidence_schema import Verification
from deploytrace.services import attestations
from deploytrace.vocabulary import ArtifactRole

router = APIRouter(tags=["evidence"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)

Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]
Name = Annotated[str | None, Query(max_length=255)]
KeyName = Annotated[str | None, Query(max_length=63)]


class SubjectOut(BaseModel):
    name: str | None
    digest: str | None  # preferred algorithm, ALGORITHM:VALUE
    digests: dict[str, str]
    uri: str | None

    @classmethod
    def of(cls, subject: attestations.Subject) -> SubjectOut:
        return cls(
            name=subject.name, digest=subject.digest, digests=subject.digests, uri=subject.uri
        )


class AttestationOut(BaseModel):
    """An attestation in a list: its first few `subjects`, and `subjects_count` of them all."""

    digest: str
    format: str
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects: list[SubjectOut]
    subjects_count: int
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verification
    size: int
    created_at: dt.datetime

    @staticmethod
    def fields_of(found: attestations.Attestation) -> dict[str, Any]:
        return {
            "digest": found.digest,
            "format": found.format,
            "media_type": found.media_type,
            "statement_type": found.statement_type,
            "predicate_type": found.predicate_type,
            "subjects": [SubjectOut.of(s) for s in found.subjects],
            "subjects_count": found.subjects_count,
            "workflow": found.workflow,
            "project": found.project,
            "project_version": found.project_version,
            "verification": Verification.of(found.verification),
            "size": found.size,
            "created_at": found.created_at,
        }

    @classmethod
    def of(cls, found: attestations.Attestation) -> AttestationOut:
        return cls(**cls.fields_of(found))


class Reference(BaseModel):
    digest: str
    role: ArtifactRole
    material_type: str | None
    name: str | None


class AttestationDetail(AttestationOut):
    """One attestation with every subject and every artifact it names."""

    references: list[Reference]

    @classmethod
    def of_detail(cls, found: attestations.Described) -> AttestationDetail:
        return cls(
            **AttestationOut.fields_of(found.attestation),
            references=[
                Reference(digest=r.digest, role=r.role, material_type=r.material_type, name=r.name)
                for r in found.references
            ],
        )


class AttestationList(BaseModel):
    items: list[AttestationOut]
    next_cursor: str | None


class RecheckOut(BaseModel):
    digest: str
    stored: Verification  # the verdict given at push time
    current: Verification  # against the trust material as it is now


_RAW_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "An attestation file as it is: JSON, or JSON Lines of attestations.",
        "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": {}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/v1/attestations",
    status_code=status.HTTP_201_CREATED,
    responses={**_errors, 200: {"model": AttestationList, "description": "Nothing new stored"}},
    openapi_extra=_RAW_BODY,
)
async def push(
    request: Request,
    response: Response,
    db: DB,
    caller: CurrentCaller,
    workflow: Name = None,
    project: Name = None,
    project_version: Name = None,
    dry_run: bool = False,
    key: KeyName = None,
) -> AttestationList:
    """Store the attestations a file holds (byte-exact, content-addressed).

    With `dry_run`, check the file (format, signatures) and store nothing. With `key`,
    refuse unless the trusted key of that name signed every attestation in the file.
    At most 500 attestations per file and 16 signatures per attestation.
    """
    data = await request.body()
    result = await run_in_threadpool(
        lambda: attestations.push(
            db,
            caller.actor(),
            data,
            workflow=workflow,
            project=project,
            project_version=project_version,
            dry_run=dry_run,
            require_key=key,
        )
    )
    response.status_code = 201 if result.stored else 200
    return AttestationList(items=[AttestationOut.of(a) for a in result.items], next_cursor=None)


@router.get("/v1/attestations", responses=_errors)
def list_attestations(
    db: DB,
    caller: CurrentCaller,
    project: Name = None,
    workflow: Name = None,
    subject: Annotated[str | None, Query(max_length=255)] = None,
    limit: Limit = None,
    cursor: Cursor = None,
) -> AttestationList:
    """Newest first; `subject` keeps those naming that digest as subject or typed material.

    Each item carries its first subjects and `subjects_count`; describe one for all of them.
    """
    page = attestations.list_attestations(
        db,
        caller.actor(),
        project=project,
        workflow=workflow,
        subject=subject,
        limit=limit,
        cursor=cursor,
    )
    return AttestationList(
        items=[AttestationOut.of(a) for a in page.items], next_cursor=page.next_cursor
    )


# `:path` parameters: a value with a slash reaches the service (and gets its own
# error) instead of missing every route. The longer routes come first.


@router.get(
    "/v1/attestations/{digest:path}/content",
    responses={
        **_errors,
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The attestation's bytes, exactly as pushed",
        },
    },
    response_class=Response,
)
def attestation_content(digest: str, db: DB, caller: CurrentCaller) -> Response:
    return Response(
        attestations.content(db, caller.actor(), digest), media_type="application/octet-stream"
    )


@router.get("/v1/attestations/{digest:path}/verification", responses=_errors)
def recheck_attestation(
    digest: str, db: DB, caller: CurrentCaller, key: KeyName = None
) -> RecheckOut:
    """Verify a stored attestation again against today's trust material (nothing changes).

    With `key`, answer 422 unless the trusted key of that name verifies it now.
    """
    found = attestations.recheck(db, caller.actor(), digest, require_key=key)
    return RecheckOut(
        digest=found.digest,
        stored=Verification.of(found.stored),
        current=Verification.of(found.current),
    )


@router.get("/v1/attestations/{digest:path}", responses=_errors)
def describe_attestation(digest: str, db: DB, caller: CurrentCaller) -> AttestationDetail:
    return AttestationDetail.of_detail(attestations.describe(db, caller.actor(), digest))
