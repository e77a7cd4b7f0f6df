"""The environment diff (SPEC §8): what runs on one side and not (yet) on the other.

Two ways to pick the sides: two logical environments compared within each
environment (`staging` → `production`, optionally in some environments only), or
two environments compared within one logical environment. Either way a row is one
(environment, deployment name, kind) that runs on at least one side.
"""

from __future__ import annotations

import datetime as dt
import enum
import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, Table

from deploytrace.errors import InvalidInput
from deploytrace.services import validation
from deploytrace.services.context import Action, Actor
from deploytrace.services.environments import (
    EnvironmentService,
    environments,
    logical_environments,
)
from deploytrace.services.records import Record
from deploytrace.storage import environments as env_store
from deploytrace.storage import insight as store
from deploytrace.storage.base import utcnow
from deploytrace.storage.db import Database
from deploytrace.vocabulary import Kind


class DiffState(enum.StrEnum):
    SAME = "same"  # both sides run the same digest
    DIFFERENT = "different"  # both run something, not the same digest
    ONLY_FROM = "only_from"  # the `to` side runs nothing there (not promoted, or removed)
    ONLY_TO = "only_to"  # the `from` side runs nothing there


@dataclass(frozen=True)
class DiffQuery:
    """Logical environments (`from_`, `to`, optionally `environment`), or environments
    (`from_environment`, `to_environment` within `logical_environment`)."""

    from_: str | None = None
    to: str | None = None
    environment: str | None = None
    from_environment: str | None = None
    to_environment: str | None = None
    logical_environment: str | None = None

    @property
    def by_environment(self) -> bool:
        return any(
            v is not None
            for v in (self.from_environment, self.to_environment, self.logical_environment)
        )


@dataclass(frozen=True)
class DiffRow:
    environment: str | None  # None when two environments are compared
    deployment_name: str
    kind: Kind
    from_: Record | None
    to: Record | None
    state: DiffState
    behind: int | None
    since: dt.datetime | None  # when the `to` side last changed


def diff(db: Database, actor: Actor, query: DiffQuery) -> list[DiffRow]:
    """One row per (environment, deployment name, kind) running on either side, most
    behind first.

    `behind`: the distinct digests the `from` side deployed after it last ran the
    digest the `to` side runs (0 when `same`; None when it never ran it, and for
    `only_*`). `since`: the `to` side's last creation or end (heartbeats aside).
    Raises InvalidInput (a side missing, two ways mixed, a side compared with itself,
    a malformed name) and NotFound (an unknown environment or logical environment).
    """
    actor.require(Action.READ)
    now = utcnow()
    with db.read() as conn:
        store.tune(conn)
        source, target = _sides(conn, actor, query)
        states = store.slot_states(conn, actor.org_id, [source, target])
        behind = store.behind(conn, actor.org_id, source, target)
    per_environment = not query.by_environment
    pairs: dict[tuple[uuid.UUID | None, str, str], list[store.SlotState | None]] = {}
    for state in states:
        key = (state.environment_id if per_environment else None, state.deployment_name, state.kind)
        side = 0 if _on(state, source) else 1
        pairs.setdefault(key, [None, None])[side] = state
    rows = [_row(pair[0], pair[1], behind, now, per_environment) for pair in pairs.values()]
    found = [row for row in rows if row is not None]
    found.sort(key=_most_behind_first)
    return found


def _on(state: store.SlotState, side: store.Side) -> bool:
    if state.logical_environment_id != side.logical_environment_id:
        return False
    return side.environment_ids is None or state.environment_id in side.environment_ids


def _row(
    source: store.SlotState | None,
    target: store.SlotState | None,
    behind: dict[int, int],
    now: dt.datetime,
    per_environment: bool,
) -> DiffRow | None:
    from_, to = (
        Record.of(s.active, now) if s is not None and s.active is not None else None
        for s in (source, target)
    )
    if from_ is None and to is None:
        return None
    count: int | None = None
    if from_ is not None and to is not None:
        if from_.digest == to.digest:
            state, count = DiffState.SAME, 0
        else:
            assert source is not None
            state, count = DiffState.DIFFERENT, behind.get(source.slot_id)
    else:
        state = DiffState.ONLY_TO if from_ is None else DiffState.ONLY_FROM
    since = target.changed_at if target is not None else None
    shown = from_ or to
    assert shown is not None
    return DiffRow(
        environment=shown.environment if per_environment else None,
        deployment_name=shown.deployment_name,
        kind=shown.kind,
        from_=from_,
        to=to,
        state=state,
        behind=count,
        since=since,
    )


_STATE_ORDER = {
    DiffState.DIFFERENT: 0,
    DiffState.ONLY_FROM: 1,
    DiffState.ONLY_TO: 2,
    DiffState.SAME: 3,
}


def _most_behind_first(row: DiffRow) -> tuple[object, ...]:
    """Most `behind` first; then different with an unknown distance, only_from (not on the
    `to` side at all), only_to, same; ties by environment, name and kind."""
    return (
        _STATE_ORDER[row.state],
        -(row.behind if row.behind is not None else -1),
        row.environment or "",
        row.deployment_name,
        row.kind.value,
    )


def _sides(conn: Connection, actor: Actor, query: DiffQuery) -> tuple[store.Side, store.Side]:
    if query.by_environment:
        if query.from_ is not None or query.to is not None or query.environment is not None:
            raise InvalidInput(
                "compare either two logical environments (from, to, environment) or two "
                "environments (from_env, to_env, logical_environment), not both"
            )
        names = (query.from_environment, query.to_environment, query.logical_environment)
        if any(n is None for n in names):
            raise InvalidInput(
                "comparing two environments needs from_env, to_env and logical_environment"
            )
        e1, e2, lenv = (
            validation.dns_label(str(n), what)
            for n, what in zip(
                names,
                ("environment name", "environment name", "logical environment name"),
                strict=True,
            )
        )
        if e1 == e2:
            raise InvalidInput(f"from_env and to_env are both {e1!r}: compare two environments")
        lenv_id = _live_id(conn, actor, env_store.logical_environments, lenv, logical_environments)
        return (
            store.Side(lenv_id, [_live_id(conn, actor, env_store.environments, e1, environments)]),
            store.Side(lenv_id, [_live_id(conn, actor, env_store.environments, e2, environments)]),
        )
    if query.from_ is None or query.to is None:
        raise InvalidInput(
            "give the two sides to compare: from and to (logical environments), or "
            "from_env, to_env and logical_environment"
        )
    source = validation.dns_label(query.from_, "logical environment name")
    target = validation.dns_label(query.to, "logical environment name")
    if source == target:
        raise InvalidInput(f"from and to are both {source!r}: compare two logical environments")
    env_ids = None
    if query.environment is not None:
        env = validation.dns_label(query.environment, "environment name")
        env_ids = [_live_id(conn, actor, env_store.environments, env, environments)]
    return (
        store.Side(
            _live_id(conn, actor, env_store.logical_environments, source, logical_environments),
            env_ids,
        ),
        store.Side(
            _live_id(conn, actor, env_store.logical_environments, target, logical_environments),
            env_ids,
        ),
    )


def _live_id(
    conn: Connection, actor: Actor, table: Table, name: str, service: EnvironmentService
) -> uuid.UUID:
    """The live (logical) environment called `name`; NotFound with suggestions otherwise."""
    row = env_store.get(conn, table, actor.org_id, name)
    if row is None:
        service.not_found(conn, actor, name)
    return row.id
