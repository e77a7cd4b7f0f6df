"""Request-scoped dependencies: the database and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from deploytrace.api.limits import ACTOR_KEY
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.services.context import Actor
from deploytrace.settings import Settings
from deploytrace.storage.db import Database

# The trivial dependencies are `async def`: FastAPI runs a plain `def` dependency
# in its thread pool, and a thread hop costs more than what they do.


async def database(request: Request) -> Database:
    rt: Runtime = request.app.state.runtime
    return rt.db


async def settings(request: Request) -> Settings:
    rt: Runtime = request.app.state.runtime
    return rt.settings


class Caller:
    """Who is calling, authenticated on first use.

    Endpoints are plain functions that FastAPI runs in its thread pool; checking
    the token there, inside the endpoint, instead of in a dependency of its own
    saves every request a second trip through the pool.
    """

    def __init__(self, runtime: Runtime, authorization: str | None, actor: Actor | None) -> None:
        self._runtime = runtime
        self._authorization = authorization
        self._actor = actor or runtime.local_actor

    def actor(self) -> Actor:
        if self._actor is None:
            self._actor = tenancy.authenticate(self._runtime.db, self._authorization)
        return self._actor

    def recent_actor(self) -> Actor:
        """The actor, `unconfirmed` when this process verified the token a moment ago
        (tenancy.recently_verified): only for a service that confirms the token in its
        own first statement (deployments.record), which saves the lookup's round trip."""
        if self._actor is not None:
            return self._actor
        recent = tenancy.recently_verified(self._runtime.db, self._authorization)
        return recent if recent is not None else self.actor()


async def caller(request: Request) -> Caller:
    runtime: Runtime = request.app.state.runtime
    authorization = request.headers.get("authorization")
    # limits.Authenticate has refused a missing or malformed token before the body
    # was read, and looked the token up already if the body was large.
    actor: Actor | None = request.scope.get(ACTOR_KEY)
    if actor is None and runtime.local_actor is None:
        tenancy.bearer_token(authorization)
    return Caller(runtime, authorization, actor)


DB = Annotated[Database, Depends(database)]
AppSettings = Annotated[Settings, Depends(settings)]
CurrentCaller = Annotated[Caller, Depends(caller)]
