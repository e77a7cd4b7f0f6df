"""The look-ups of one `deployment record`, asked in the one SELECT that opens its write
transaction.

Besides the slot's ids, a record that is not a heartbeat needs to know whether its
token is still live (when the process verified the token recently and skipped the
lookup, services/tenancy.py), whether any policy is attached where it deploys (SPEC §9:
the gate costs nothing where none is), the logical environment before this one in the
promotion order (§8), and whether the artifact is attested and under which name (§3).
Each is an index probe; as scalar subqueries of one statement they cost no round trip
of their own. The statement is built once, with bind parameters.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Table, bindparam, exists, or_, select, true
from sqlalchemy.sql.selectable import ScalarSelect

from deploytrace.storage.artifacts import ATTESTED, ATTESTING_NAME
from deploytrace.storage.deployments import deployment_slots as s_
from deploytrace.storage.environments import environments, logical_environments
from deploytrace.storage.policies import policies, policy_attachments
from deploytrace.storage.tenancy import TOKEN_LIVE


def _live(t: Table, name_param: str) -> tuple[ColumnElement[bool], ...]:
    return (
        t.c.org_id == bindparam("org"),
        t.c.name == bindparam(name_param),
        t.c.deleted_at.is_(None),
    )


env, lenv = environments, logical_environments
_before = logical_environments.alias("before")

# A superset of what policies.check evaluates (it also needs the policy's latest
# version): when this says no, the gate's answer is "no policy" without reading more.
_POLICY_ATTACHED = exists().where(
    policy_attachments.c.org_id == bindparam("org"),
    policy_attachments.c.logical_environment_id == lenv.c.id,
    or_(
        policy_attachments.c.environment_id.is_(None),
        policy_attachments.c.environment_id == env.c.id,
    ),
    policies.c.id == policy_attachments.c.policy_id,
    policies.c.deleted_at.is_(None),
)


def _previous(column: ColumnElement[Any]) -> ScalarSelect[Any]:
    """The live logical environment right before this one in the promotion order."""
    return (
        select(column)
        .where(
            _before.c.org_id == bindparam("org"),
            _before.c.deleted_at.is_(None),
            _before.c.position.is_not(None),
            _before.c.position < lenv.c.position,
        )
        .order_by(_before.c.position.desc())
        .limit(1)
        .scalar_subquery()
    )


_LOOKUP = (
    select(
        env.c.id.label("environment_id"),
        env.c.stale_after_seconds,
        lenv.c.id.label("logical_environment_id"),
        lenv.c.position,
        select(s_.c.id)
        .where(
            s_.c.org_id == bindparam("org"),
            s_.c.environment_id == env.c.id,
            s_.c.logical_environment_id == lenv.c.id,
            s_.c.deployment_name == bindparam("name"),
            s_.c.kind == bindparam("kind"),
        )
        .scalar_subquery()
        .label("slot_id"),
        TOKEN_LIVE.label("token_live"),
        _POLICY_ATTACHED.label("policy_attached"),
        _previous(_before.c.id).label("previous_id"),
        _previous(_before.c.name).label("previous_name"),
        ATTESTED.label("attested"),
        ATTESTING_NAME.scalar_subquery().label("attested_name"),
    )
    .select_from(env.join(lenv, true()))
    .where(*_live(env, "env"), *_live(lenv, "lenv"))
)
_ENVIRONMENT_ID = select(env.c.id).where(*_live(env, "env"))
_LOGICAL_ENVIRONMENT_ID = select(lenv.c.id).where(*_live(lenv, "lenv"))


@dataclass(frozen=True)
class SlotIds:
    """What the record path knows before it takes the slot's lock."""

    environment_id: uuid.UUID | None
    logical_environment_id: uuid.UUID | None
    slot_id: int | None
    stale_after_seconds: int | None
    position: int | None
    # None when a name is unknown (nothing else was looked up).
    token_live: bool | None = None
    policy_attached: bool | None = None
    previous_id: uuid.UUID | None = None  # the logical environment before this one
    previous_name: str | None = None
    attested: bool | None = None
    attested_name: str | None = None


def slot_ids(
    conn: Connection,
    org_id: uuid.UUID,
    environment: str,
    logical_environment: str,
    deployment_name: str,
    kind: str,
    *,
    digest: str,
    token_id: uuid.UUID | None,
    now: dt.datetime,
) -> SlotIds:
    """The ids a slot is made of (None where a name is unknown), the slot's own id, and
    the record path's other look-ups (see the module's docstring) for `digest` and the
    token `token_id`."""
    params = {
        "org": org_id,
        "env": environment,
        "lenv": logical_environment,
        "name": deployment_name,
        "kind": kind,
        "digest": digest,
        "token": token_id,
        "now": now,
    }
    row = conn.execute(_LOOKUP, params).first()
    if row is None:
        return SlotIds(
            conn.scalar(_ENVIRONMENT_ID, params),
            conn.scalar(_LOGICAL_ENVIRONMENT_ID, params),
            None,
            None,
            None,
        )
    return SlotIds(
        row.environment_id,
        row.logical_environment_id,
        row.slot_id,
        row.stale_after_seconds,
        row.position,
        token_live=bool(row.token_live),
        policy_attached=bool(row.policy_attached),
        previous_id=row.previous_id,
        previous_name=row.previous_name,
        attested=bool(row.attested),
        attested_name=row.attested_name,
    )
