"""Organizations, API tokens and authentication.

A token reads `dt_<token id>_<secret>`. Only sha256(token) is stored: the
secret is 256 random bits, so a fast hash is enough, and the id lets us fetch
the one candidate row and compare hashes in constant time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace

from sqlalchemy import Connection

from deploytrace.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from deploytrace.services import audit, validation
from deploytrace.services.context import Action, Actor, Role
from deploytrace.storage import audit as audit_store
from deploytrace.storage import environments as env_store
from deploytrace.storage import tenancy as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

DEFAULT_ORG = "default"
DEFAULT_LOGICAL_ENVIRONMENTS = {
    "development": "For development and testing",
    "staging": "Pre-production validation",
    "production": "Live production workloads",
}
_TOKEN = re.compile(r"^dt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
# Writing last_used_at on every request would turn every read into a write.
_TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class TokenInfo:
    id: uuid.UUID
    name: str
    role: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None
    created_by: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_org(conn: Connection, name: str, actor: str = "system") -> store.Org:
    """Create an organization with its default logical environments, in the caller's transaction."""
    validation.dns_label(name, "organization name")
    now = utcnow()
    org = store.insert_org(conn, new_id(), name, now)
    audit_store.create_head(conn, org.id)
    # The built-in logical environments are the promotion order (SPEC §8).
    for position, (env_name, description) in enumerate(DEFAULT_LOGICAL_ENVIRONMENTS.items(), 1):
        env_store.insert_row(
            conn,
            env_store.logical_environments,
            org_id=org.id,
            row_id=new_id(),
            name=env_name,
            description=description,
            now=now,
            position=position,
        )
    audit.append(conn, org.id, actor, "organization.created", f"organization/{name}", {})
    return org


def ensure_org(db: Database, name: str) -> store.Org:
    # Read first: the embedded CLI asks on every call, and it almost always exists.
    """The organization of that name, created (with its built-in logical environments) if needed."""
    with db.read() as conn:
        org = store.get_org_by_name(conn, name)
    if org is not None:
        return org
    with db.write() as conn:
        return store.get_org_by_name(conn, name) or create_org(conn, name)


def local_actor(db: Database) -> Actor:
    """The embedded mode's single user: owner of the default organization."""
    org = ensure_org(db, DEFAULT_ORG)
    return Actor(org_id=org.id, org_name=org.name, name="local", role=Role.ADMIN)


def _issue(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    name: str,
    role: Role,
    expires_at: dt.datetime | None,
    created_by: str,
) -> tuple[uuid.UUID, str]:
    token_id = new_id()
    secret = f"dt_{token_id.hex}_{secrets.token_urlsafe(32)}"
    store.insert_token(
        conn,
        token_id=token_id,
        org_id=org_id,
        name=name,
        role=role.value,
        secret_hash=_hash(secret),
        now=utcnow(),
        expires_at=expires_at,
        created_by=created_by,
    )
    audit.append(
        conn,
        org_id,
        created_by,
        "token.created",
        f"token/{name}",
        {
            "id": str(token_id),
            "role": role.value,
            "expires_at": expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if expires_at else None,
        },
    )
    return token_id, secret


def bootstrap(db: Database, org_name: str) -> tuple[store.Org, str]:
    """Operator command: the org (created if needed) and a new admin token for it."""
    with db.write() as conn:
        org = store.get_org_by_name(conn, org_name) or create_org(conn, org_name, "admin bootstrap")
        name = f"bootstrap-{secrets.token_hex(3)}"
        _, secret = _issue(
            conn, org.id, name=name, role=Role.ADMIN, expires_at=None, created_by="admin bootstrap"
        )
    return org, secret


def bearer_token(authorization: str | None) -> tuple[uuid.UUID, str]:
    """The token id and token of an `Authorization: Bearer` header, checked for form only."""
    if not authorization:
        raise Unauthenticated("missing token: pass --token or set DEPLOYTRACE_TOKEN")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    match = _TOKEN.match(token)
    if scheme.lower() != "bearer" or not match:
        raise Unauthenticated("invalid token")
    return uuid.UUID(match.group(1)), token


def authenticate(db: Database, authorization: str | None) -> Actor:
    """The Actor an `Authorization: Bearer` header stands for.

    Unauthenticated for a missing, malformed, unknown, expired or revoked token.
    """
    token_id, token = bearer_token(authorization)
    now = utcnow()
    with db.single() as conn:
        row = store.get_token(conn, token_id)
    key = (db.url, _hash(token))
    if row is None or not hmac.compare_digest(row.secret_hash, key[1]):
        raise Unauthenticated("invalid token")
    try:
        _refuse_dead(row, now)
    except Unauthenticated:
        _VERIFIED.pop(key, None)
        raise
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        with db.write() as conn:
            store.touch_token(conn, token_id, now)
    actor = Actor(
        org_id=row.org_id,
        org_name=row.org_name,
        name=row.name,
        role=Role(row.role),
        token_id=row.id,
    )
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED[key] = (actor, row.expires_at, time.monotonic())
    return actor


def _refuse_dead(row: store.Token, now: dt.datetime) -> None:
    if row.revoked_at is not None:
        raise Unauthenticated(f"token {row.name!r} was revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise Unauthenticated(f"token {row.name!r} expired")


# Tokens this process verified, by (database, sha256 of the token): the Actor, when the
# token expires, and when it was verified (time.monotonic()). Trusted for a few
# seconds and only by a caller that confirms the token in the statement doing its work
# (`recently_verified`), so a revocation still applies on the very next request.
_VERIFIED: dict[tuple[str, str], tuple[Actor, dt.datetime | None, float]] = {}
# Shorter than _TOUCH_EVERY: a token in use keeps its last_used_at within ~90 s.
_VERIFIED_FOR = 30.0
_VERIFIED_MAX = 10_000


def recently_verified(db: Database, authorization: str | None) -> Actor | None:
    """The Actor of a token `authenticate` verified in this process within the last
    seconds, marked `unconfirmed`; None if there is none (then call `authenticate`).

    Saves the token lookup, not the revocation check: the caller must confirm the token
    in its own first statement (storage.tenancy.TOKEN_LIVE) and, when that says no,
    call `confirm`, which refuses the request as `authenticate` would. Unauthenticated
    for a missing or malformed header.
    """
    _, token = bearer_token(authorization)
    entry = _VERIFIED.get((db.url, _hash(token)))
    if entry is None:
        return None
    actor, expires_at, verified = entry
    if time.monotonic() - verified > _VERIFIED_FOR or (
        expires_at is not None and expires_at <= utcnow()
    ):
        return None
    return replace(actor, unconfirmed=True)


def confirm(db: Database, actor: Actor) -> Actor:
    """`actor` confirmed by looking its token up again; Unauthenticated (as from
    `authenticate`) if the token was revoked or expired since it was verified."""
    if not actor.unconfirmed:
        return actor
    assert actor.token_id is not None
    with db.single() as conn:
        row = store.get_token(conn, actor.token_id)
    if row is None:
        raise Unauthenticated("invalid token")
    now = utcnow()
    try:
        _refuse_dead(row, now)
    except Unauthenticated:
        for key in [k for k, v in list(_VERIFIED.items()) if v[0].token_id == row.id]:
            _VERIFIED.pop(key, None)
        raise
    return replace(actor, unconfirmed=False)


def _info(row: store.Token) -> TokenInfo:
    return TokenInfo(
        row.id,
        row.name,
        row.role,
        row.created_at,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
        row.created_by,
    )


def create_token(
    db: Database, actor: Actor, *, name: str, role: str, expires_in: str | None
) -> tuple[TokenInfo, str]:
    """A new token (admin): its info and the secret, shown once; Conflict for a live name."""
    actor.require(Action.ADMIN)
    validation.dns_label(name, "token name")
    span = validation.duration(expires_in) if expires_in is not None else None
    try:
        parsed_role = Role(role.lower())
    except ValueError:
        raise InvalidInput(f"invalid role {role!r}: must be admin, writer or viewer") from None
    expires_at = utcnow() + span if span is not None else None
    with db.write() as conn:
        if store.find_live_token(conn, actor.org_id, name) is not None:
            raise Conflict(f"a token named {name!r} already exists")
        token_id, secret = _issue(
            conn,
            actor.org_id,
            name=name,
            role=parsed_role,
            expires_at=expires_at,
            created_by=actor.name,
        )
        row = store.get_token(conn, token_id)
    assert row is not None
    return _info(row), secret


def list_tokens(db: Database, actor: Actor, *, include_revoked: bool = False) -> list[TokenInfo]:
    """The org's tokens (admin), never their secrets; revoked ones with `include_revoked`."""
    actor.require(Action.ADMIN)
    with db.read() as conn:
        return [
            _info(t) for t in store.list_tokens(conn, actor.org_id, include_revoked=include_revoked)
        ]


def revoke_token(db: Database, actor: Actor, name_or_id: str) -> TokenInfo:
    """Revoke a live token by name or id (admin): refused from its next request on."""
    actor.require(Action.ADMIN)
    with db.write() as conn:
        row = store.find_live_token(conn, actor.org_id, name_or_id)
        if row is None:
            raise NotFound(f"token {name_or_id!r} not found")
        store.revoke_token(conn, row.id, utcnow())
        audit.append(
            conn,
            actor.org_id,
            actor.name,
            "token.revoked",
            f"token/{row.name}",
            {"id": str(row.id)},
        )
        revoked = store.get_token(conn, row.id)
    assert revoked is not None
    return _info(revoked)
