"""Request-scoped dependencies: the database and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.services.context import Actor
from deploytrace.storage.db import Database

# The trivial dependencies are `async def`: FastAPI runs a plain `def` dependency
# in its thread pool, and a thread hop costs more than what they do.


async def database(request: Request) -> Database:
    rt: Runtime = request.app.state.runtime
    return rt.db


async def actor(request: Request) -> Actor:
    rt: Runtime = request.app.state.runtime
    if rt.local_actor is not None:
        return rt.local_actor
    return await run_in_threadpool(
        tenancy.authenticate, rt.db, request.headers.get("authorization")
    )


DB = Annotated[Database, Depends(database)]
CurrentActor = Annotated[Actor, Depends(actor)]
