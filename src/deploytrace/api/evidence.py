"""/v1/attestations, /v1/artifacts and /v1/trust: the evidence store."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import evidence
from deploytrace.storage.evidence import AttestationRow, Ref, RefRow

router = APIRouter(tags=["evidence"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)

Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]
Name = Annotated[str | None, Query(max_length=255)]


class Verification(BaseModel):
    status: Literal["verified", "unverified", "invalid"]
    method: str | None
    identity: str | None
    reason: str | None


class SubjectOut(BaseModel):
    name: str | None
    digest: str | None  # preferred algorithm, ALGORITHM:VALUE
    digests: dict[str, str]
    uri: str | None


class AttestationOut(BaseModel):
    digest: str
    format: str
    media_type: str | None
    statement_type: str | None
    predicate_type: str
    subjects: list[SubjectOut]
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verification
    size: int
    created_at: dt.datetime

    @staticmethod
    def fields_of(row: AttestationRow) -> dict[str, Any]:
        return {
            "digest": row.digest,
            "format": row.format,
            "media_type": row.media_type,
            "statement_type": row.statement_type,
            "predicate_type": row.predicate_type,
            "subjects": [
                {
                    "name": s.get("name"),
                    "digest": evidence.as_json_digest(s),
                    "digests": s.get("digest") or {},
                    "uri": s.get("uri"),
                }
                for s in row.subjects
            ],
            "workflow": row.workflow,
            "project": row.project,
            "project_version": row.project_version,
            "verification": _verification(row),
            "size": row.size,
            "created_at": row.created_at,
        }

    @classmethod
    def of(cls, row: AttestationRow) -> AttestationOut:
        return cls.model_validate(cls.fields_of(row))


def _verification(row: AttestationRow) -> dict[str, Any]:
    return {
        "status": row.verification_status,
        "method": row.verification_method,
        "identity": row.verification_identity,
        "reason": row.verification_reason,
    }


class Reference(BaseModel):
    digest: str
    role: Literal["subject", "material", "input"]
    material_type: str | None
    name: str | None


class AttestationDetail(AttestationOut):
    references: list[Reference]

    @classmethod
    def of_detail(cls, row: AttestationRow, refs: list[Ref]) -> AttestationDetail:
        return cls.model_validate(
            {
                **AttestationOut.fields_of(row),
                "references": [
                    {
                        "digest": r.digest,
                        "role": r.role,
                        "material_type": r.material_type,
                        "name": r.name,
                    }
                    for r in refs
                ],
            }
        )


class AttestationList(BaseModel):
    items: list[AttestationOut]
    next_cursor: str | None


class EvidenceEntry(BaseModel):
    """One attestation naming an artifact, and the role the artifact plays in it."""

    digest: str
    predicate_type: str
    role: Literal["subject", "material", "input"]
    material_type: str | None
    name: str | None
    workflow: str | None
    project: str | None
    project_version: str | None
    verification: Verification
    created_at: dt.datetime

    @classmethod
    def of(cls, ref: RefRow) -> EvidenceEntry:
        row = ref.attestation
        return cls.model_validate(
            {
                "digest": row.digest,
                "predicate_type": row.predicate_type,
                "role": ref.role,
                "material_type": ref.material_type,
                "name": ref.name,
                "workflow": row.workflow,
                "project": row.project,
                "project_version": row.project_version,
                "verification": _verification(row),
                "created_at": row.created_at,
            }
        )


class ProjectVersion(BaseModel):
    project: str
    version: str


class Evidence(BaseModel):
    attestations: list[EvidenceEntry]
    workflows: list[str]
    projects: list[str]
    project_versions: list[ProjectVersion]
    attestations_next_cursor: str | None

    @classmethod
    def of(cls, refs: list[RefRow], summary: evidence.Summary, cursor: str | None) -> Evidence:
        return cls(
            attestations=[EvidenceEntry.of(r) for r in refs],
            workflows=summary.workflows,
            projects=summary.projects,
            project_versions=[
                ProjectVersion(project=p, version=v) for p, v in summary.project_versions
            ],
            attestations_next_cursor=cursor,
        )


class ArtifactOut(Evidence):
    digest: str
    deployments: list[DeploymentRecord]
    deployments_next_cursor: str | None


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
    key: Annotated[str | None, Query(max_length=63)] = None,
) -> AttestationList:
    """Store the attestations a file holds (byte-exact, content-addressed).

    With `dry_run`, check the file (format, signatures) and store nothing. With `key`,
    refuse unless the trusted key of that name signed every attestation in the file.
    """
    data = await request.body()
    result = await run_in_threadpool(
        lambda: evidence.push(
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
    return AttestationList(items=[AttestationOut.of(r) for r in result.items], next_cursor=None)


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
    """Newest first; `subject` keeps those naming that digest as subject or typed material."""
    page = evidence.list_attestations(
        db,
        caller.actor(),
        project=project,
        workflow=workflow,
        subject=subject,
        limit=limit,
        cursor=cursor,
    )
    return AttestationList(
        items=[AttestationOut.of(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/v1/attestations/{digest}", responses=_errors)
def describe_attestation(digest: str, db: DB, caller: CurrentCaller) -> AttestationDetail:
    found = evidence.describe(db, caller.actor(), digest)
    return AttestationDetail.of_detail(found.row, found.refs)


@router.get(
    "/v1/attestations/{digest}/content",
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
        evidence.content(db, caller.actor(), digest), media_type="application/octet-stream"
    )


@router.get("/v1/artifacts/{digest}", responses=_errors)
def describe_artifact(
    digest: str,
    db: DB,
    caller: CurrentCaller,
    limit: Limit = None,
    attestations_cursor: Cursor = None,
    deployments_cursor: Cursor = None,
) -> ArtifactOut:
    """Where an artifact runs and ran, and the attestations, workflows and projects behind it."""
    found = evidence.trace(
        db,
        caller.actor(),
        digest,
        limit=limit,
        attestations_cursor=attestations_cursor,
        deployments_cursor=deployments_cursor,
    )
    base = Evidence.of(found.attestations, found.summary, found.attestations_next_cursor)
    return ArtifactOut(
        **base.model_dump(),
        digest=found.digest,
        deployments=[DeploymentRecord.of(r) for r in found.deployments],
        deployments_next_cursor=found.deployments_next_cursor,
    )


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
    kind: Literal["key", "root"]
    fingerprint: str
    builtin: bool
    created_at: dt.datetime | None

    @classmethod
    def of(cls, entry: evidence.TrustEntry) -> TrustOut:
        return cls.model_validate(entry.__dict__)


class TrustList(BaseModel):
    items: list[TrustOut]
    next_cursor: None = None


@router.post("/v1/trust/keys", status_code=status.HTTP_201_CREATED, responses=_errors)
def add_key(body: TrustKeyIn, db: DB, caller: CurrentCaller) -> TrustOut:
    """Trust a public key (PEM: ECDSA, RSA or Ed25519) for DSSE signatures."""
    return TrustOut.of(
        evidence.add_trust(
            db, caller.actor(), name=body.name, kind="key", content=body.pem.encode()
        )
    )


@router.post("/v1/trust/roots", status_code=status.HTTP_201_CREATED, responses=_errors)
def add_root(body: TrustRootIn, db: DB, caller: CurrentCaller) -> TrustOut:
    """Trust a Sigstore instance, by its trusted_root.json (e.g. staging, a private Sigstore)."""
    return TrustOut.of(
        evidence.add_trust(
            db, caller.actor(), name=body.name, kind="root", content=body.trusted_root.encode()
        )
    )


@router.get("/v1/trust", responses=_errors)
def list_trust(db: DB, caller: CurrentCaller) -> TrustList:
    return TrustList(items=[TrustOut.of(e) for e in evidence.list_trust(db, caller.actor())])


@router.delete("/v1/trust/{name}", status_code=status.HTTP_204_NO_CONTENT, responses=_errors)
def remove_trust(name: str, db: DB, caller: CurrentCaller) -> Response:
    evidence.remove_trust(db, caller.actor(), name)
    return Response(status_code=204)
