"""The deployment record as every face of the product shows it (SPEC §5, §7-§9).

Services turn stored rows into `Record`s, computing what is only true at read
time (`stale`); the API and the CLI never see a storage row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from deploytrace.errors import InvalidInput
from deploytrace.services import pagination, validation
from deploytrace.storage.deployments import Cursor, RecordRow
from deploytrace.vocabulary import EndedReason, Kind, Status


@dataclass(frozen=True)
class CiRun:
    """The CI run that made a report (SPEC §8 "who and which pipeline")."""

    provider: str
    run_url: str | None = None
    commit: str | None = None
    ref: str | None = None
    actor: str | None = None
    workflow: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return dict(self.__dict__)

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> CiRun | None:
        if not data:
            return None
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]

    def validated(self) -> CiRun:
        checked: dict[str, str | None] = {}
        for name, value in self.__dict__.items():
            checked[name] = validation.text(value, f"ci.{name}", validation.MAX_CI_FIELD)
        if not checked["provider"]:
            raise InvalidInput("ci.provider must not be empty")
        url = checked["run_url"]
        if url is not None and not url.startswith(("https://", "http://")):
            raise InvalidInput(f"ci.run_url must be an http(s) URL, got {url!r}")
        return CiRun(**checked)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReportedBy:
    token: str | None
    ci: CiRun | None


@dataclass(frozen=True)
class Record:
    """A deployment record as every face of the product shows it (SPEC §5, §7-§9)."""

    id: uuid.UUID
    environment: str
    logical_environment: str
    deployment_name: str
    kind: Kind
    digest: str
    artifact_name: str | None
    artifact_version: str | None
    status: Status
    created_at: dt.datetime
    updated_at: dt.datetime
    last_seen_at: dt.datetime
    ended_at: dt.datetime | None
    superseded_by: uuid.UUID | None
    ended_reason: EndedReason | None
    heartbeats: int
    stale: bool
    scope: str | None
    reported_by: ReportedBy
    promotion_skipped: str | None
    policy: dict[str, Any]

    @classmethod
    def of(cls, row: RecordRow, now: dt.datetime) -> Record:
        return cls(
            id=row.id,
            environment=row.environment,
            logical_environment=row.logical_environment,
            deployment_name=row.deployment_name,
            kind=Kind(row.kind),
            digest=row.artifact_digest,
            artifact_name=row.artifact_name,
            artifact_version=row.artifact_version,
            status=Status(row.status),
            created_at=row.created_at,
            updated_at=row.updated_at,
            last_seen_at=row.last_seen_at,
            ended_at=row.ended_at,
            superseded_by=row.superseded_by,
            ended_reason=EndedReason(row.ended_reason) if row.ended_reason else None,
            heartbeats=row.heartbeats,
            stale=is_stale(row.status, row.last_seen_at, row.stale_after_seconds, now),
            scope=row.scope,
            reported_by=ReportedBy(row.recorded_by, CiRun.of(row.reported_ci)),
            promotion_skipped=row.promotion_skipped,
            policy=row.policy or {"status": "none"},
        )


def is_stale(
    status: str, last_seen: dt.datetime, stale_after: int | None, now: dt.datetime
) -> bool:
    """SPEC §7: deployed, and not seen for longer than its environment's stale-after."""
    return (
        status == Status.DEPLOYED
        and stale_after is not None
        and (now - last_seen).total_seconds() > stale_after
    )


def z(value: dt.datetime) -> str:
    """RFC 3339 UTC with microseconds and `Z`, as every answer spells times."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def cursor_of(row: RecordRow) -> list[object]:
    """The keyset key of a record in lists: (created_at, seq)."""
    return [z(row.created_at), row.seq]


def decode_cursor(cursor: str | None) -> Cursor | None:
    """The (created_at, seq) key of a records cursor (InvalidInput when malformed)."""
    key = pagination.decode(cursor, list)
    if key is None:
        return None
    try:
        at, seq = key
        parsed = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 < seq < 2**63:
            raise ValueError(seq)
    except (TypeError, ValueError):
        raise InvalidInput("invalid cursor: pass back the next_cursor of a previous page") from None
    return parsed, seq
