"""Environments and logical environments: create, list, describe, update, delete.

The two share every rule, so one class serves both, configured by table and
by the words used in messages. What only one of them has — an environment's
stale-after (SPEC §7), a logical environment's place in the promotion order
(SPEC §8) — is refused for the other.
"""

from __future__ import annotations

import datetime as dt
import difflib
import uuid
from dataclasses import dataclass
from typing import NoReturn

from sqlalchemy import Connection, Table

from deploytrace.errors import Conflict, InvalidInput, NotFound
from deploytrace.services import audit, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.tenancy import DEFAULT_LOGICAL_ENVIRONMENTS
from deploytrace.storage import deployments as deployment_store
from deploytrace.storage import environments as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database

# Spellings that clear a stale-after.
NEVER = frozenset({"", "none", "never", "off"})


@dataclass(frozen=True)
class Environment:
    id: uuid.UUID
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime
    stale_after_seconds: int | None = None  # environments only
    position: int | None = None  # logical environments only: place in the promotion order

    @property
    def stale_after(self) -> str | None:
        seconds = self.stale_after_seconds
        return validation.format_duration(seconds) if seconds is not None else None


def _view(row: store.EnvRow) -> Environment:
    return Environment(
        row.id,
        row.name,
        row.description,
        row.created_at,
        row.updated_at,
        row.stale_after_seconds,
        row.position,
    )


def stale_after_seconds(value: str) -> int | None:
    """`15m`, `24h`, … as seconds; `none` (or `never`, `off`) for "never stale"."""
    if value.strip().lower() in NEVER:
        return None
    return int(validation.duration(value).total_seconds())


class EnvironmentService:
    def __init__(
        self,
        table: Table,
        noun: str,
        record_column: str,
        protected: frozenset[str],
        *,
        ordered: bool = False,
    ):
        self.table = table
        self.noun = noun
        self.kind = noun.replace(" ", "_")
        self.record_column = record_column
        self.protected = protected
        self.ordered = ordered  # logical environments: a promotion order

    def _get(self, conn: Connection, actor: Actor, name: str) -> store.EnvRow:
        row = store.get(conn, self.table, actor.org_id, name)
        if row is None:
            self.not_found(conn, actor, name)
        return row

    def not_found(self, conn: Connection, actor: Actor, name: str) -> NoReturn:
        """Refuse an unknown name, suggesting the closest known ones."""
        known = [
            r.name for r in store.list_page(conn, self.table, actor.org_id, after=None, limit=200)
        ]
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f": did you mean {' or '.join(close)}?" if close else ""
        if known and not close:
            shown = ", ".join(known[:10]) + (", …" if len(known) > 10 else "")
            hint = f" (known: {shown})"
        elif not known:
            hint = f": create it first (deploytrace {self.kind.replace('_', '-')} create)"
        raise NotFound(f"{self.noun} {name!r} not found{hint}")

    def create(
        self,
        db: Database,
        actor: Actor,
        name: str,
        description: str | None,
        *,
        stale_after: str | None = None,
        after: str | None = None,
    ) -> Environment:
        """Create one (admin). `stale_after`: environments only; `after`: place a logical
        environment right after that one in the promotion order (else it is outside it)."""
        actor.require(Action.ADMIN)
        validation.dns_label(name, f"{self.noun} name")
        text = validation.description(description)
        extra = self._extra(stale_after=stale_after, after=after, creating=name)
        with db.write() as conn:
            if store.get(conn, self.table, actor.org_id, name) is not None:
                raise Conflict(f"{self.noun} {name!r} already exists")
            if after is not None:
                extra["position"] = self._place_after(conn, actor, after)
            row = store.insert_row(
                conn,
                self.table,
                org_id=actor.org_id,
                row_id=new_id(),
                name=name,
                description=text,
                now=utcnow(),
                **extra,
            )
            details: dict[str, audit.Scalar] = {"description": text, **extra}
            if after is not None:
                details["after"] = after
            self._audit(conn, actor, "created", name, details)
        return _view(row)

    def _extra(
        self, *, stale_after: str | None, after: str | None, creating: str | None = None
    ) -> dict[str, int | None]:
        extra: dict[str, int | None] = {}
        if stale_after is not None:
            if self.ordered:
                raise InvalidInput(f"a {self.noun} has no stale-after (environments do)")
            extra["stale_after_seconds"] = stale_after_seconds(stale_after)
        if after is not None:
            if not self.ordered:
                raise InvalidInput(f"an {self.noun} has no promotion order (logical ones do)")
            if after == creating:
                raise InvalidInput(f"{self.noun} {after!r} cannot come after itself")
        return extra

    def _place_after(self, conn: Connection, actor: Actor, after: str) -> int:
        """Free the place right after `after` in the order and return it."""
        before = store.get(conn, self.table, actor.org_id, after)
        if before is None:
            raise InvalidInput(f"--after {after!r}: no {self.noun} of that name")
        if before.position is None:
            raise InvalidInput(
                f"--after {after!r}: it is outside the promotion order (created without --after)"
            )
        store.make_room_after(conn, actor.org_id, before.position)
        return before.position + 1

    def list(
        self, db: Database, actor: Actor, *, limit: int | None = None, cursor: str | None = None
    ) -> pagination.Page[Environment]:
        """By name (logical environments too; their order is in `position`)."""
        actor.require(Action.READ)
        size = pagination.limit(limit)
        after = pagination.decode(cursor, str)
        with db.read() as conn:
            rows = store.list_page(conn, self.table, actor.org_id, after=after, limit=size + 1)
        found = pagination.page(rows, size, lambda r: r.name)
        return pagination.Page([_view(r) for r in found.items], found.next_cursor)

    def describe(self, db: Database, actor: Actor, name: str) -> Environment:
        actor.require(Action.READ)
        with db.read() as conn:
            return _view(self._get(conn, actor, name))

    def get(self, conn: Connection, actor: Actor, name: str) -> Environment:
        """One by name inside the caller's transaction (NotFound with suggestions)."""
        return _view(self._get(conn, actor, name))

    def update(
        self,
        db: Database,
        actor: Actor,
        name: str,
        description: str | None = None,
        *,
        stale_after: str | None = None,
    ) -> Environment:
        """Change what is given: the description, an environment's stale-after (`none` clears)."""
        actor.require(Action.ADMIN)
        values: dict[str, object] = {}
        if description is not None:
            values["description"] = validation.description(description)
        values.update(self._extra(stale_after=stale_after, after=None))
        if not values:
            raise InvalidInput("nothing to update: pass a description or a stale-after")
        with db.write() as conn:
            row = self._get(conn, actor, name)
            now = utcnow()
            store.set_fields(conn, self.table, row.id, now, **values)
            self._audit(conn, actor, "updated", name, dict(values))  # type: ignore[arg-type]
            updated = store.get(conn, self.table, actor.org_id, name)
        assert updated is not None
        return _view(updated)

    def delete(self, db: Database, actor: Actor, name: str) -> Environment:
        """Soft-delete (admin); refused for built-ins and while something is deployed in it."""
        actor.require(Action.ADMIN)
        with db.write() as conn:
            row = self._get(conn, actor, name)
            if name in self.protected:
                raise Conflict(f"{self.noun} {name!r} is built in and cannot be deleted")
            if deployment_store.has_active(
                conn, actor.org_id, column=self.record_column, value=row.id
            ):
                raise Conflict(
                    f"{self.noun} {name!r} still has deployed artifacts: decommission them first"
                )
            store.soft_delete(conn, self.table, row.id, utcnow())
            self._audit(conn, actor, "deleted", name, {})
        return _view(row)

    def _audit(
        self, conn: Connection, actor: Actor, verb: str, name: str, details: dict[str, audit.Scalar]
    ) -> None:
        audit.append(
            conn, actor.org_id, actor.name, f"{self.kind}.{verb}", f"{self.kind}/{name}", details
        )


environments = EnvironmentService(store.environments, "environment", "environment_id", frozenset())
logical_environments = EnvironmentService(
    store.logical_environments,
    "logical environment",
    "logical_environment_id",
    frozenset(DEFAULT_LOGICAL_ENVIRONMENTS),
    ordered=True,
)
