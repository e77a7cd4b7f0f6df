"""/v1/environments and /v1/logical-environments."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.services.environments import (
    Environment,
    EnvironmentService,
    environments,
    logical_environments,
)


class EnvironmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    description: str | None = Field(default=None, max_length=4096)


class EnvironmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = Field(max_length=4096)


class EnvironmentOut(BaseModel):
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, env: Environment) -> EnvironmentOut:
        return cls(
            name=env.name,
            description=env.description,
            created_at=env.created_at,
            updated_at=env.updated_at,
        )


class EnvironmentList(BaseModel):
    items: list[EnvironmentOut]
    next_cursor: str | None


Limit = Annotated[int | None, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]


def _router(service: EnvironmentService, prefix: str, tag: str, *, updatable: bool) -> APIRouter:
    router = APIRouter(prefix=prefix, tags=[tag])
    errors = responses(401, 403, 404, 409, 413, 422, 503)

    @router.post("", status_code=status.HTTP_201_CREATED, responses=errors)
    def create(body: EnvironmentCreate, db: DB, caller: CurrentCaller) -> EnvironmentOut:
        return EnvironmentOut.of(service.create(db, caller.actor(), body.name, body.description))

    @router.get("", responses=errors)
    def list_(
        db: DB, caller: CurrentCaller, limit: Limit = None, cursor: Cursor = None
    ) -> EnvironmentList:
        page = service.list(db, caller.actor(), limit=limit, cursor=cursor)
        return EnvironmentList(
            items=[EnvironmentOut.of(e) for e in page.items], next_cursor=page.next_cursor
        )

    @router.get("/{name}", responses=errors)
    def describe(name: str, db: DB, caller: CurrentCaller) -> EnvironmentOut:
        return EnvironmentOut.of(service.describe(db, caller.actor(), name))

    if updatable:

        @router.patch("/{name}", responses=errors)
        def update(
            name: str, body: EnvironmentUpdate, db: DB, caller: CurrentCaller
        ) -> EnvironmentOut:
            return EnvironmentOut.of(service.update(db, caller.actor(), name, body.description))

    @router.delete("/{name}", responses=errors)
    def delete(name: str, db: DB, caller: CurrentCaller) -> EnvironmentOut:
        return EnvironmentOut.of(service.delete(db, caller.actor(), name))

    return router


environments_router = _router(environments, "/v1/environments", "environments", updatable=True)
logical_environments_router = _router(
    logical_environments, "/v1/logical-environments", "logical environments", updatable=False
)
