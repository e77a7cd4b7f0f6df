"""/v1/environments and /v1/logical-environments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.snapshots import ScopeOut, UnattestedWorkloadOut
from deploytrace.services import snapshots
from deploytrace.services.environments import (
    Environment,
    EnvironmentService,
    environments,
    logical_environments,
)

_STALE_AFTER = Field(
    default=None,
    max_length=64,
    description="Environments: a deployed record not seen for this long is stale "
    "(`15m`, `24h`; `none` clears)",
)


class EnvironmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    description: str | None = Field(default=None, max_length=4096)
    stale_after: str | None = _STALE_AFTER
    after: str | None = Field(
        default=None,
        max_length=253,
        description="Logical environments: the one it comes right after in the promotion order",
    )


class EnvironmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str | None = Field(default=None, max_length=4096)
    stale_after: str | None = _STALE_AFTER


class EnvironmentOut(BaseModel):
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime
    stale_after: str | None = None
    stale_after_seconds: int | None = None

    @classmethod
    def of(cls, env: Environment) -> EnvironmentOut:
        return cls(
            name=env.name,
            description=env.description,
            created_at=env.created_at,
            updated_at=env.updated_at,
            stale_after=env.stale_after,
            stale_after_seconds=env.stale_after_seconds,
        )


class LogicalEnvironmentOut(BaseModel):
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime
    position: int | None = Field(description="Place in the promotion order; null: outside it")

    @classmethod
    def of(cls, env: Environment) -> LogicalEnvironmentOut:
        return cls(
            name=env.name,
            description=env.description,
            created_at=env.created_at,
            updated_at=env.updated_at,
            position=env.position,
        )


class EnvironmentList(BaseModel):
    items: list[EnvironmentOut]
    next_cursor: str | None


class LogicalEnvironmentList(BaseModel):
    items: list[LogicalEnvironmentOut]
    next_cursor: str | None


Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _router(
    service: EnvironmentService,
    prefix: str,
    tag: str,
    out: type[EnvironmentOut] | type[LogicalEnvironmentOut],
    many: type[EnvironmentList] | type[LogicalEnvironmentList],
    *,
    updatable: bool,
    detail: Callable[..., Any] | None = None,
) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    errors = responses(401, 403, 404, 409, 413, 422, 503)

    @router.post("", status_code=status.HTTP_201_CREATED, responses=errors, response_model=out)
    def create(body: EnvironmentCreate, db: DB, caller: CurrentCaller) -> Any:
        created = service.create(
            db,
            caller.actor(),
            body.name,
            body.description,
            stale_after=body.stale_after,
            after=body.after,
        )
        return out.of(created)

    @router.get("", responses=errors, response_model=many)
    def list_(db: DB, caller: CurrentCaller, limit: Limit = None, cursor: Cursor = None) -> Any:
        page = service.list(db, caller.actor(), limit=limit, cursor=cursor)
        return many.model_validate(
            {"items": [out.of(e) for e in page.items], "next_cursor": page.next_cursor}
        )

    if detail is None:

        @router.get("/{name}", responses=errors, response_model=out)
        def describe(name: str, db: DB, caller: CurrentCaller) -> Any:
            return out.of(service.describe(db, caller.actor(), name))

    else:
        router.add_api_route(
            "/{name}", detail, methods=["GET"], responses=errors, summary="Describe"
        )

    if updatable:

        @router.patch("/{name}", responses=errors, response_model=out)
        def update(name: str, body: EnvironmentUpdate, db: DB, caller: CurrentCaller) -> Any:
            changed = service.update(
                db, caller.actor(), name, body.description, stale_after=body.stale_after
            )
            return out.of(changed)

    @router.delete("/{name}", responses=errors, response_model=out)
    def delete(name: str, db: DB, caller: CurrentCaller) -> Any:
        return out.of(service.delete(db, caller.actor(), name))

    return router


class EnvironmentDetail(EnvironmentOut):
    snapshots: list[ScopeOut] = Field(
        description="Per logical environment and scope, the last applied snapshot"
    )
    unattested: list[UnattestedWorkloadOut] = Field(
        description="What its reporters saw running without evidence (first 500)"
    )


def describe_environment(name: str, db: DB, caller: CurrentCaller) -> EnvironmentDetail:
    """The environment, its snapshots' last times, and what runs in it without evidence."""
    env, runtime = snapshots.describe_environment(db, caller.actor(), name)
    return EnvironmentDetail.model_validate(
        {
            **EnvironmentOut.of(env).model_dump(),
            "snapshots": [
                {**s.__dict__, "snapshot_id": str(s.snapshot_id)} for s in runtime.scopes
            ],
            "unattested": [w.__dict__ for w in runtime.unattested],
        }
    )


environments_router = _router(
    environments,
    "/v1/environments",
    "environments",
    EnvironmentOut,
    EnvironmentList,
    updatable=True,
    detail=describe_environment,
)
logical_environments_router = _router(
    logical_environments,
    "/v1/logical-environments",
    "logical environments",
    LogicalEnvironmentOut,
    LogicalEnvironmentList,
    updatable=False,
)
