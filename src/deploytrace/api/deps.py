"""Request-scoped dependencies: the runtime and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.services.context import Actor
from deploytrace.storage.db import Database


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def database(request: Request) -> Database:
    return runtime(request).db


def actor(request: Request) -> Actor:
    rt = runtime(request)
    if rt.local_actor is not None:
        return rt.local_actor
    return tenancy.authenticate(rt.db, request.headers.get("authorization"))


DB = Annotated[Database, Depends(database)]
CurrentActor = Annotated[Actor, Depends(actor)]
