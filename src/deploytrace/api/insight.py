"""/v1/diff and /v1/metrics/dora (SPEC §8)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from deploytrace.api.deps import DB, CurrentCaller
from deploytrace.api.errors import responses
from deploytrace.api.records import DeploymentRecord
from deploytrace.services import diff as diff_service
from deploytrace.services import dora as dora_service

router = APIRouter(prefix="/v1", tags=["insight"])
_errors = responses(401, 403, 404, 422, 503)


class DiffRow(BaseModel):
    """One (environment, deployment name, kind) and what each side runs there."""

    model_config = ConfigDict(populate_by_name=True)
    environment: str | None  # null when two environments are compared
    deployment_name: str
    kind: Literal["CONTAINER_IMAGE", "HELM_CHART"]
    # `from` is a Python keyword: `from_` here, `from` on the wire.
    from_: DeploymentRecord | None = Field(alias="from")
    to: DeploymentRecord | None
    state: Literal["same", "different", "only_from", "only_to"]
    behind: int | None
    since: dt.datetime | None

    @classmethod
    def fields_of(cls, row: diff_service.DiffRow) -> dict[str, object]:
        return {
            "environment": row.environment,
            "deployment_name": row.deployment_name,
            "kind": row.kind.value,
            "from": DeploymentRecord.fields_of(row.from_) if row.from_ else None,
            "to": DeploymentRecord.fields_of(row.to) if row.to else None,
            "state": row.state.value,
            "behind": row.behind,
            "since": row.since,
        }


class DiffList(BaseModel):
    items: list[DiffRow]
    next_cursor: None = None  # the whole diff is one page


def _time(value: object) -> str:
    """A time as the response models write it: RFC 3339, UTC, `Z`."""
    if not isinstance(value, dt.datetime):
        raise TypeError(f"{type(value).__name__} is not JSON")
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@router.get("/diff", responses=_errors, response_model=DiffList)
def diff(
    db: DB,
    caller: CurrentCaller,
    from_: Annotated[
        str | None, Query(alias="from", max_length=253, description="Logical environment")
    ] = None,
    to: Annotated[str | None, Query(max_length=253, description="Logical environment")] = None,
    environment: Annotated[
        str | None, Query(max_length=253, description="With from/to: only this environment")
    ] = None,
    from_env: Annotated[str | None, Query(max_length=253, description="Environment")] = None,
    to_env: Annotated[str | None, Query(max_length=253, description="Environment")] = None,
    logical_environment: Annotated[
        str | None, Query(max_length=253, description="With from_env/to_env")
    ] = None,
) -> Response:
    """Compare two logical environments within each environment (`from`, `to`,
    `environment`), or two environments within one logical environment (`from_env`,
    `to_env`, `logical_environment`). The whole diff in one page, most behind first."""
    rows = diff_service.diff(
        db,
        caller.actor(),
        diff_service.DiffQuery(
            from_=from_,
            to=to,
            environment=environment,
            from_environment=from_env,
            to_environment=to_env,
            logical_environment=logical_environment,
        ),
    )
    # Written directly: a diff is up to two whole records per row, and validating
    # what the service built against the models again would triple its cost.
    body = {"items": [DiffRow.fields_of(row) for row in rows], "next_cursor": None}
    return Response(
        json.dumps(body, default=_time, separators=(",", ":")), media_type="application/json"
    )


class Percentiles(BaseModel):
    p50: float | None
    p90: float | None


class Window(BaseModel):
    from_: dt.datetime = Field(alias="from")
    to: dt.datetime


class Dora(BaseModel):
    """DORA's figures over the records created in the window (SPEC §8)."""

    deployments: int
    deployment_frequency_per_day: float
    lead_time_seconds: Percentiles
    change_failure_rate: float | None
    time_to_restore_seconds: Percentiles
    window: Window


@router.get("/metrics/dora", responses=_errors)
def dora(
    db: DB,
    caller: CurrentCaller,
    logical_environment: Annotated[str, Query(max_length=253)],
    environment: Annotated[str | None, Query(max_length=253)] = None,
    deployment_name: Annotated[str | None, Query(max_length=253)] = None,
    since: Annotated[
        str | None,
        Query(max_length=64, description="A duration before `until` (30d) or an RFC 3339 time"),
    ] = None,
    until: Annotated[
        str | None, Query(max_length=64, description="An RFC 3339 time; default: now")
    ] = None,
    failure_window: Annotated[
        str | None, Query(max_length=32, description="A duration; default 24h")
    ] = None,
) -> Dora:
    """Deployment frequency, lead time, change failure rate and time to restore over
    the records created in [since, until) (default: the last 30 days)."""
    found = dora_service.dora(
        db,
        caller.actor(),
        dora_service.DoraQuery(
            logical_environment=logical_environment,
            environment=environment,
            deployment_name=deployment_name,
            since=since,
            until=until,
            failure_window=failure_window,
        ),
    )
    return Dora.model_validate(
        {
            "deployments": found.deployments,
            "deployment_frequency_per_day": found.deployment_frequency_per_day,
            "lead_time_seconds": vars(found.lead_time_seconds),
            "change_failure_rate": found.change_failure_rate,
            "time_to_restore_seconds": vars(found.time_to_restore_seconds),
            "window": {"from": found.window_from, "to": found.window_to},
        }
    )
