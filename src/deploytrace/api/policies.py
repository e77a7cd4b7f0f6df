"""/v1/policies: the policy store, attachments, and the gate as a dry run."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.services import policies as service

router = APIRouter(prefix="/v1/policies", tags=["policies"])
_errors = responses(401, 403, 404, 409, 413, 422, 503)

Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]
Name = Annotated[str, Field(min_length=1, max_length=253)]


class AttachmentOut(BaseModel):
    policy: str
    logical_environment: str
    environment: str | None
    mode: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, a: service.AttachmentView) -> AttachmentOut:
        return cls(
            policy=a.policy,
            logical_environment=a.logical_environment,
            environment=a.environment,
            mode=a.mode,
            created_at=a.created_at,
            updated_at=a.updated_at,
        )


class EntryOut(BaseModel):
    kind: str | None
    package: str


class PolicyOut(BaseModel):
    name: str
    description: str
    version: int
    digest: str
    entries: list[EntryOut]
    created_at: dt.datetime
    updated_at: dt.datetime
    attachments: list[AttachmentOut]

    @classmethod
    def of(cls, p: service.PolicyView) -> PolicyOut:
        return cls(
            name=p.name,
            description=p.description,
            version=p.version,
            digest=p.digest,
            entries=[EntryOut(kind=e["kind"], package=e["package"]) for e in p.entries],
            created_at=p.created_at,
            updated_at=p.updated_at,
            attachments=[AttachmentOut.of(a) for a in p.attachments],
        )


class PolicyAdded(PolicyOut):
    changed: bool = Field(description="False when the latest version already had this content")


class VersionOut(BaseModel):
    version: int
    digest: str
    created_at: dt.datetime
    created_by: str | None


class PolicyDetailOut(PolicyOut):
    versions: list[VersionOut]
    content: str = Field(description="The latest version's document, as added")


class PolicyList(BaseModel):
    items: list[PolicyOut]
    next_cursor: str | None


class AttachIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    logical_environment: Name
    environment: Name | None = None
    mode: str = Field(default="enforce", max_length=16)


class EvaluateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digest: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    environment: Name
    logical_environment: Name
    deployment_name: Name | None = None
    artifact_name: str | None = Field(default=None, max_length=512)
    artifact_version: str | None = Field(default=None, max_length=256)


class RunOut(BaseModel):
    entry: int
    kind: str | None
    subject: str | None
    status: str
    violations: list[str]
    skip_reason: str
    error: str | None


class PolicyResultOut(BaseModel):
    policy: str
    version: int
    mode: str
    status: str
    violations: list[str]
    skip_reasons: list[str]
    runs: list[RunOut]


class DecisionOut(BaseModel):
    status: str = Field(description="none | passed | skipped | violated")
    enforced: bool = Field(description="An enforce-mode policy is violated: a record is refused")
    results: list[PolicyResultOut]


_YAML_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A Chainloop policy document (YAML), as it is.",
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**_errors, 200: {"model": PolicyAdded, "description": "Same content: unchanged"}},
    openapi_extra=_YAML_BODY,
)
async def add(request: Request, response: Response, db: DB, caller: CurrentCaller) -> PolicyAdded:
    """Add a policy, or a new version of it (admin). The Rego is compiled first."""
    data = await request.body()
    result = await run_in_threadpool(lambda: service.add(db, caller.actor(), data))
    response.status_code = 201 if result.changed else 200
    return PolicyAdded(**PolicyOut.of(result.policy).model_dump(), changed=result.changed)


@router.get("", responses=_errors)
def list_(db: DB, caller: CurrentCaller, limit: Limit = None, cursor: Cursor = None) -> PolicyList:
    page = service.list_policies(db, caller.actor(), limit=limit, cursor=cursor)
    return PolicyList(items=[PolicyOut.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.post("/evaluate", responses=_errors)
def evaluate(body: EvaluateIn, db: DB, caller: CurrentCaller) -> DecisionOut:
    """The gate as a dry run: every attached policy's result; nothing is stored."""
    target = service.Target(
        digest=body.digest,
        kind=body.kind,
        environment=body.environment,
        logical_environment=body.logical_environment,
        deployment_name=body.deployment_name or "",
        artifact_name=body.artifact_name,
        artifact_version=body.artifact_version,
    )
    decision = service.evaluate_target(db, caller.actor(), target)
    return DecisionOut.model_validate(decision.to_json())


@router.get("/{name}", responses=_errors)
def describe(name: str, db: DB, caller: CurrentCaller) -> PolicyDetailOut:
    detail = service.describe(db, caller.actor(), name)
    return PolicyDetailOut(
        **PolicyOut.of(detail.policy).model_dump(),
        versions=[
            VersionOut(
                version=v.version, digest=v.digest, created_at=v.created_at, created_by=v.created_by
            )
            for v in detail.versions
        ],
        content=detail.content,
    )


@router.delete("/{name}", responses=_errors)
def remove(name: str, db: DB, caller: CurrentCaller) -> PolicyOut:
    """Remove a policy and its attachments (admin); its versions stay readable in records."""
    return PolicyOut.of(service.remove(db, caller.actor(), name))


@router.post(
    "/{name}/attachments",
    status_code=status.HTTP_201_CREATED,
    responses={**_errors, 200: {"model": AttachmentOut, "description": "Already attached so"}},
)
def attach(
    name: str, body: AttachIn, response: Response, db: DB, caller: CurrentCaller
) -> AttachmentOut:
    """Attach a policy to a logical environment, in every environment or one (admin)."""
    view, changed = service.attach(
        db, caller.actor(), name, body.logical_environment, body.environment, body.mode
    )
    response.status_code = 201 if changed else 200
    return AttachmentOut.of(view)


@router.delete("/{name}/attachments", responses=_errors)
def detach(
    name: str,
    db: DB,
    caller: CurrentCaller,
    logical_environment: Annotated[str, Query(min_length=1, max_length=253)],
    environment: Annotated[str | None, Query(max_length=253)] = None,
) -> AttachmentOut:
    """Detach a policy from a logical environment (admin)."""
    return AttachmentOut.of(
        service.detach(db, caller.actor(), name, logical_environment, environment or None)
    )
