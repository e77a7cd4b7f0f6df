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


@router.get("/healthz")
def healthz() -> Status:
    """200 while the process serves."""
    return Status(status="ok")


@router.get("/readyz", response_model=Status, responses=responses(503))
def readyz(db: DB) -> JSONResponse:
    """200 when the database answers, 503 otherwise."""
    try:
        db.ping()
    except Unavailable as error:
        return error_response(503, error.code, error.message)
    return JSONResponse({"status": "ok"})
