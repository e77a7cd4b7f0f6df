"""Environments and logical environments: create, list, describe, update, delete.

The two share every rule, so one class serves both, configured by table and
by the words used in messages.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Table

from deploytrace.errors import Conflict, NotFound
from deploytrace.services import audit, pagination, validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.tenancy import DEFAULT_LOGICAL_ENVIRONMENTS
from deploytrace.storage import deployments as deployment_store
from deploytrace.storage import environments as store
from deploytrace.storage.base import new_id, utcnow
from deploytrace.storage.db import Database


@dataclass(frozen=True)
class Environment:
    id: uuid.UUID
    name: str
    description: str
    created_at: dt.datetime
    updated_at: dt.datetime


def _view(row: store.EnvRow) -> Environment:
    return Environment(row.id, row.name, row.description, row.created_at, row.updated_at)


class EnvironmentService:
    def __init__(self, table: Table, noun: str, record_column: str, protected: frozenset[str]):
        self.table = table
        self.noun = noun
        self.kind = noun.replace(" ", "_")
        self.record_column = record_column
        self.protected = protected

    def _get(self, conn: Connection, actor: Actor, name: str) -> store.EnvRow:
        row = store.get(conn, self.table, actor.org_id, name)
        if row is None:
            raise NotFound(f"{self.noun} {name!r} not found")
        return row

    def create(self, db: Database, actor: Actor, name: str, description: str | None) -> Environment:
        actor.require(Action.ADMIN)
        validation.dns_label(name, f"{self.noun} name")
        text = validation.description(description)
        with db.write() as conn:
            if store.get(conn, self.table, actor.org_id, name) is not None:
                raise Conflict(f"{self.noun} {name!r} already exists")
            row = store.insert_row(
                conn,
                self.table,
                org_id=actor.org_id,
                row_id=new_id(),
                name=name,
                description=text,
                now=utcnow(),
            )
            self._audit(conn, actor, "created", name, {"description": text})
        return _view(row)

    def list(
        self, db: Database, actor: Actor, *, limit: int | None = None, cursor: str | None = None
    ) -> pagination.Page[Environment]:
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

    def update(self, db: Database, actor: Actor, name: str, description: str | None) -> Environment:
        actor.require(Action.ADMIN)
        text = validation.description(description)
        with db.write() as conn:
            row = self._get(conn, actor, name)
            now = utcnow()
            store.set_description(conn, self.table, row.id, text, now)
            self._audit(conn, actor, "updated", name, {"description": text})
        return Environment(row.id, row.name, text, row.created_at, now)

    def delete(self, db: Database, actor: Actor, name: str) -> Environment:
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
)
