"""Organizations and API tokens."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import (
    Column,
    Connection,
    ForeignKey,
    Index,
    String,
    Table,
    Uuid,
    bindparam,
    exists,
    insert,
    or_,
    select,
    update,
)

from deploytrace.storage.base import UTCDateTime, metadata

organizations = Table(
    "organizations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("created_by", String(63)),
    Index(
        "uq_api_tokens_org_id_name_live",
        "org_id",
        "name",
        unique=True,
        postgresql_where="revoked_at IS NULL",
        sqlite_where="revoked_at IS NULL",
    ),
    Index("ix_api_tokens_org_id_created_at", "org_id", "created_at"),
)


@dataclass(frozen=True)
class Org:
    id: uuid.UUID
    name: str


@dataclass(frozen=True)
class Token:
    id: uuid.UUID
    org_id: uuid.UUID
    org_name: str
    name: str
    role: str
    secret_hash: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None
    created_by: str | None


def get_org_by_name(conn: Connection, name: str) -> Org | None:
    row = conn.execute(
        select(organizations.c.id, organizations.c.name).where(organizations.c.name == name)
    ).first()
    return Org(row.id, row.name) if row else None


def insert_org(conn: Connection, org_id: uuid.UUID, name: str, now: dt.datetime) -> Org:
    conn.execute(insert(organizations).values(id=org_id, name=name, created_at=now))
    return Org(org_id, name)


_token_columns = (
    api_tokens.c.id,
    api_tokens.c.org_id,
    organizations.c.name.label("org_name"),
    api_tokens.c.name,
    api_tokens.c.role,
    api_tokens.c.secret_hash,
    api_tokens.c.created_at,
    api_tokens.c.expires_at,
    api_tokens.c.revoked_at,
    api_tokens.c.last_used_at,
    api_tokens.c.created_by,
)


def _token(row: object) -> Token:
    return Token(**row._mapping)  # type: ignore[attr-defined]


# Every authenticated request runs this: built once, with a bind parameter.
_TOKEN_BY_ID = (
    select(*_token_columns)
    .join(organizations, organizations.c.id == api_tokens.c.org_id)
    .where(api_tokens.c.id == bindparam("token_id"))
)


# A token the process verified a moment ago (services/tenancy.py) is confirmed by the
# first statement of the request's own work: neither revoked nor expired by :now.
# Bind parameters :token and :now.
TOKEN_LIVE = exists().where(
    api_tokens.c.id == bindparam("token"),
    api_tokens.c.revoked_at.is_(None),
    or_(
        api_tokens.c.expires_at.is_(None),
        api_tokens.c.expires_at > bindparam("now", type_=UTCDateTime),
    ),
)


def get_token(conn: Connection, token_id: uuid.UUID) -> Token | None:
    row = conn.execute(_TOKEN_BY_ID, {"token_id": token_id}).first()
    return _token(row) if row else None


def insert_token(
    conn: Connection,
    *,
    token_id: uuid.UUID,
    org_id: uuid.UUID,
    name: str,
    role: str,
    secret_hash: str,
    now: dt.datetime,
    expires_at: dt.datetime | None,
    created_by: str | None,
) -> None:
    conn.execute(
        insert(api_tokens).values(
            id=token_id,
            org_id=org_id,
            name=name,
            role=role,
            secret_hash=secret_hash,
            created_at=now,
            expires_at=expires_at,
            created_by=created_by,
        )
    )


def list_tokens(conn: Connection, org_id: uuid.UUID, *, include_revoked: bool) -> list[Token]:
    query = (
        select(*_token_columns)
        .join(organizations, organizations.c.id == api_tokens.c.org_id)
        .where(api_tokens.c.org_id == org_id)
        .order_by(api_tokens.c.created_at, api_tokens.c.id)
    )
    if not include_revoked:
        query = query.where(api_tokens.c.revoked_at.is_(None))
    return [_token(row) for row in conn.execute(query)]


def find_live_token(conn: Connection, org_id: uuid.UUID, name_or_id: str) -> Token | None:
    query = (
        select(*_token_columns)
        .join(organizations, organizations.c.id == api_tokens.c.org_id)
        .where(api_tokens.c.org_id == org_id, api_tokens.c.revoked_at.is_(None))
    )
    try:
        token_id = uuid.UUID(name_or_id)
    except ValueError:
        query = query.where(api_tokens.c.name == name_or_id)
    else:
        query = query.where(api_tokens.c.id == token_id)
    row = conn.execute(query).first()
    return _token(row) if row else None


def revoke_token(conn: Connection, token_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))


def touch_token(conn: Connection, token_id: uuid.UUID, now: dt.datetime) -> None:
    conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now))
