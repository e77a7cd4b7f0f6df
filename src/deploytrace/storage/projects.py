"""The projects, project versions and workflows attestations are filed under."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Column, Connection, ForeignKey, String, Table, UniqueConstraint, Uuid, select

from deploytrace.storage.base import UTCDateTime, insert_ignoring_conflicts, metadata

projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "name"),
)

project_versions = Table(
    "project_versions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id"), nullable=False),
    Column("version", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "project_id", "version"),
)

workflows = Table(
    "workflows",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, ForeignKey("organizations.id"), nullable=False),
    # The project's name, or "" for a workflow outside any project: a plain column
    # keeps the uniqueness rule expressible on SQLite and PostgreSQL alike.
    Column("project_name", String(255), nullable=False),
    Column("project_id", Uuid, ForeignKey("projects.id")),
    Column("name", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("org_id", "project_name", "name"),
)

Ids = tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None]


def ensure_named(
    conn: Connection,
    org_id: uuid.UUID,
    *,
    project: str | None,
    version: str | None,
    workflow: str | None,
    now: dt.datetime,
    new_id: Callable[[], uuid.UUID],
) -> Ids:
    """Ids of the project, version and workflow an attestation names, created on first use."""
    project_id = version_id = workflow_id = None
    if project is not None:
        project_id = _get_or_insert(
            conn, projects, {"org_id": org_id, "name": project}, now, new_id
        )
        if version is not None:
            version_id = _get_or_insert(
                conn,
                project_versions,
                {"org_id": org_id, "project_id": project_id, "version": version},
                now,
                new_id,
            )
    if workflow is not None:
        workflow_id = _get_or_insert(
            conn,
            workflows,
            {"org_id": org_id, "project_name": project or "", "name": workflow},
            now,
            new_id,
            extra={"project_id": project_id},
        )
    return project_id, version_id, workflow_id


def _get_or_insert(
    conn: Connection,
    table: Table,
    key: dict[str, Any],
    now: dt.datetime,
    new_id: Callable[[], uuid.UUID],
    extra: dict[str, Any] | None = None,
) -> uuid.UUID:
    where = [table.c[k] == v for k, v in key.items()]
    found = conn.scalar(select(table.c.id).where(*where))
    if found is None:
        # Two pushes naming a new project at once: the unique key lets one insert
        # win and the other find its row, instead of failing.
        conn.execute(
            insert_ignoring_conflicts(conn, table)
            .values(id=new_id(), created_at=now, **key, **(extra or {}))
            .on_conflict_do_nothing(index_elements=list(key))
        )
        found = conn.scalar(select(table.c.id).where(*where))
    return uuid.UUID(str(found))
