"""Liveness and readiness probes (no token)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from deploytrace.api.deps import DB
from deploytrace.api.errors import error_response, responses
from deploytrace.errors import Unavailable

router = APIRouter(tags=["health"])


class Status(BaseModel):
    status: Literal["ok"]


class DatabaseStatus(BaseModel):
    status: Literal["ok"]


class ReplicaStatus(BaseModel):
    status: Literal["ok", "lagging", "down"]
    lag_seconds: float | None
    max_lag_seconds: float


class Ready(BaseModel):
    status: Literal["ok"]
    # Both present only when a read replica is configured.
    database: DatabaseStatus | None = None
    replica: ReplicaStatus | None = None


@router.get("/healthz")
def healthz() -> Status:
    """200 while the process serves."""
    return Status(status="ok")


@router.get("/readyz", response_model=Ready, responses=responses(503))
def readyz(db: DB) -> JSONResponse:
    """200 when the database answers, 503 otherwise.

    With a read replica, the answer also says how the replica is (`ok`, `lagging`
    or `down`, with its lag in seconds); it stays 200 while the primary answers,
    because reads then go to the primary.
    """
    try:
        db.ping()
    except Unavailable as error:
        return error_response(503, error.code, error.message)
    if db.replica is None:
        return JSONResponse({"status": "ok"})
    replica = db.replica.state()
    return JSONResponse(
        {
            "status": "ok",
            "database": {"status": "ok"},
            "replica": {
                "status": replica.status,
                "lag_seconds": replica.lag_seconds,
                "max_lag_seconds": db.replica.max_lag,
            },
        }
    )
