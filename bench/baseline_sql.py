"""THE BASELINE: one `deployment record` request's SQL, replayed with plain psycopg.

record_rate.py divides the API's records/s by the rate of this code against the
same server. It sends what the product sends to PostgreSQL for one request, statement
for statement, as SQLAlchemy renders it for psycopg (captured with `record_rate.py
--show-sql`; whitespace aside, record_rate.py checks the texts), with the same
transaction boundaries and so the same round trips:

- the token lookup (`services.tenancy.authenticate`): one SELECT in autocommit;
- the heartbeat attempt (`services.deployments.record`): one UPDATE ... RETURNING in
  autocommit, which is the whole request when the slot runs that digest;
- otherwise (a supersede) one transaction: BEGIN ISOLATION LEVEL READ COMMITTED (what
  psycopg sends once SQLAlchemy has reset the connection after autocommit use), both
  environment ids in one SELECT, the slot's advisory lock, the active record, the
  attestation check, the predecessor ended (RETURNING), the new record inserted
  (RETURNING), the audit append as one statement (a CTE that locks the org's head
  FOR UPDATE, chains both entries with sha256() in SQL, inserts them and moves the
  head), COMMIT.

The Python work the product's SQL needs is done too: the slot's lock key (blake2b),
the new record's UUIDv7, the audit entries' canonical JSON and sha256 (so that the
chain the baseline writes verifies like the product's). Left out: HTTP, validation,
the token's hash comparison, and the pool's ping after 2 s idle (not on the hot path:
connections are never idle that long under load).

When the product's SQL changes, update the statements and `record()` below
(`record_rate.py --show-sql` prints the product's current statements); record_rate.py
warns when the product's statements for a supersede or a heartbeat differ from
`statements()` in number or text.

Captured from commit 37336b0 (record path of f99960f).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from typing import Any

from psycopg import Connection, IsolationLevel

from deploytrace.services.audit import entry_digest
from deploytrace.storage.base import new_id
from deploytrace.storage.db import advisory_key


def _sql(text: str) -> str:
    """One line, single spaces: how record_rate.py compares texts (and what is sent)."""
    return " ".join(text.split())


BEGIN = "BEGIN"
COMMIT = "COMMIT"

# services.tenancy.authenticate -> storage.tenancy.get_token, in autocommit.
TOKEN = _sql("""
SELECT api_tokens.id, api_tokens.org_id, organizations.name AS org_name, api_tokens.name,
  api_tokens.role, api_tokens.secret_hash, api_tokens.created_at, api_tokens.expires_at,
  api_tokens.revoked_at, api_tokens.last_used_at, api_tokens.created_by
FROM api_tokens JOIN organizations ON organizations.id = api_tokens.org_id
WHERE api_tokens.id = %(token_id)s::UUID
""")

_RECORD_COLUMNS = """
deployment_records.seq, deployment_records.id, deployment_records.deployment_name,
deployment_records.kind, deployment_records.artifact_digest, deployment_records.artifact_name,
deployment_records.artifact_version, deployment_records.status, deployment_records.created_at,
deployment_records.updated_at, deployment_records.last_seen_at, deployment_records.ended_at,
deployment_records.superseded_by, deployment_records.heartbeats
"""
# The positions of the columns above that record() reads back.
_SEQ, _ID, _DIGEST, _ENDED_AT = 0, 1, 4, 11


def _live_id(table: str, name_param: str) -> str:
    return (
        f"(SELECT {table}.id FROM {table} WHERE {table}.org_id = %(org)s::UUID"
        f" AND {table}.name = %({name_param})s::VARCHAR AND {table}.deleted_at IS NULL)"
    )


def _not_before(column: str) -> str:
    """storage.deployments._not_before: `now`, or `column` if it is later."""
    return (
        f"CASE WHEN ({column} > %(now)s::TIMESTAMP WITH TIME ZONE) THEN {column}"
        " ELSE %(now)s::TIMESTAMP WITH TIME ZONE END"
    )


# storage.deployments._HEARTBEAT, in autocommit: first step of every record request.
HEARTBEAT = _sql(f"""
UPDATE deployment_records SET updated_at={_not_before("deployment_records.updated_at")},
  last_seen_at={_not_before("deployment_records.last_seen_at")},
  heartbeats=(deployment_records.heartbeats + %(heartbeats_1)s::INTEGER)
WHERE deployment_records.org_id = %(org)s::UUID
  AND deployment_records.environment_id = {_live_id("environments", "env")}
  AND deployment_records.logical_environment_id = {_live_id("logical_environments", "lenv")}
  AND deployment_records.deployment_name = %(name)s::VARCHAR
  AND deployment_records.kind = %(kind_)s::VARCHAR
  AND deployment_records.status = %(status_1)s::VARCHAR
  AND deployment_records.artifact_digest = %(digest)s::VARCHAR
RETURNING {_RECORD_COLUMNS}
""")

# storage.deployments._SLOT_IDS
SLOT_IDS = _sql(f"""
SELECT {_live_id("environments", "env")} AS environment_id,
  {_live_id("logical_environments", "lenv")} AS logical_environment_id
""")

# storage.db.Database.lock_key
SLOT_LOCK = "SELECT pg_advisory_xact_lock(%(k)s)"

# storage.deployments._ACTIVE_IN_SLOT
ACTIVE_IN_SLOT = _sql(f"""
SELECT {_RECORD_COLUMNS} FROM deployment_records
WHERE deployment_records.org_id = %(org)s::UUID
  AND deployment_records.environment_id = %(env_id)s::UUID
  AND deployment_records.logical_environment_id = %(lenv_id)s::UUID
  AND deployment_records.deployment_name = %(name)s::VARCHAR
  AND deployment_records.kind = %(kind_)s::VARCHAR
  AND deployment_records.status = %(status_1)s::VARCHAR
""")

# storage.artifacts (is_attested)
IS_ATTESTED = _sql("""
SELECT EXISTS (SELECT * FROM artifact_refs
  WHERE artifact_refs.org_id = %(org)s::UUID AND artifact_refs.digest = %(digest)s::VARCHAR
    AND artifact_refs.role IN (%(role_1_1)s::VARCHAR, %(role_1_2)s::VARCHAR)
    AND (artifact_refs.material_type IS NULL
         OR artifact_refs.material_type = %(kind)s::VARCHAR)) AS anon_1
""")

# storage.deployments._END
END_RECORD = _sql(f"""
UPDATE deployment_records SET status=%(status_)s::VARCHAR,
  updated_at={_not_before("deployment_records.last_seen_at")},
  ended_at={_not_before("deployment_records.last_seen_at")},
  superseded_by=%(successor)s::UUID
WHERE deployment_records.seq = %(seq_)s::BIGINT
RETURNING {_RECORD_COLUMNS}
""")

# storage.deployments._INSERT (the columns the product passes)
INSERT_RECORD = _sql(f"""
INSERT INTO deployment_records (id, org_id, environment_id, logical_environment_id,
    deployment_name, kind, artifact_digest, artifact_name, artifact_version, status,
    created_at, updated_at, last_seen_at, recorded_by)
VALUES (%(id)s::UUID, %(org_id)s::UUID, %(environment_id)s::UUID,
    %(logical_environment_id)s::UUID, %(deployment_name)s::VARCHAR, %(kind)s::VARCHAR,
    %(artifact_digest)s::VARCHAR, %(artifact_name)s::VARCHAR, %(artifact_version)s::VARCHAR,
    %(status)s::VARCHAR, %(created_at)s::TIMESTAMP WITH TIME ZONE,
    %(updated_at)s::TIMESTAMP WITH TIME ZONE, %(last_seen_at)s::TIMESTAMP WITH TIME ZONE,
    %(recorded_by)s::VARCHAR)
RETURNING {_RECORD_COLUMNS}
""")


@functools.cache
def audit_append(count: int) -> str:
    """storage.audit._append_sql(count) as rendered for psycopg: lock the org's head, chain
    `count` entries (hash_n = sha256(hash_{n-1}:n:digest_n)), insert them, move the head."""
    steps = [
        "head AS (SELECT position AS p, hash AS h FROM audit_heads"
        " WHERE org_id = %(org)s::UUID FOR UPDATE)"
    ]
    previous = "head"
    for i in range(count):
        steps.append(
            f"e{i} AS (SELECT {previous}.p + 1 AS p, {previous}.h AS prev, encode(sha256("
            f"convert_to({previous}.h || ':' || ({previous}.p + 1)::text || ':' || %(digest{i})s,"
            f" 'UTF8')), 'hex') AS h FROM {previous})"
        )
        previous = f"e{i}"
    rows = " UNION ALL ".join(
        f"SELECT %(org)s::UUID, e{i}.p, %(created_at)s::TIMESTAMP WITH TIME ZONE, %(actor)s,"
        f" %(action{i})s, %(target{i})s, CAST(%(details{i})s AS json), e{i}.prev, e{i}.h"
        f" FROM e{i}"
        for i in range(count)
    )
    steps.append(
        "ins AS (INSERT INTO audit_entries (org_id, position, created_at, actor, action,"
        f" target, details, prev_hash, hash) {rows})"
    )
    return _sql(
        "WITH " + ", ".join(steps) + f" UPDATE audit_heads SET position = {previous}.p,"
        f" hash = {previous}.h FROM {previous} WHERE audit_heads.org_id = %(org)s::UUID"
    )


def statements(mode: str, authenticate: bool = True) -> list[str]:
    """What PostgreSQL receives for one request of `mode` ("supersede" or "heartbeat")."""
    found = [TOKEN] if authenticate else []
    found.append(HEARTBEAT)
    if mode == "supersede":
        found += [BEGIN, SLOT_IDS, SLOT_LOCK, ACTIVE_IN_SLOT, IS_ATTESTED, END_RECORD]
        found += [INSERT_RECORD, audit_append(2), COMMIT]
    return found


# Statements per request, BEGIN and COMMIT included (what record_rate.py compares).
BASELINE_COUNTS = {mode: len(statements(mode)) for mode in ("supersede", "heartbeat")}


# The product's own pure helpers: the baseline does the same CPU work for ids,
# lock keys and audit digests, and only the database access differs.
_uuid7 = new_id
_lock_key = advisory_key
_entry_digest = entry_digest


def _audit(
    conn: Connection[Any], org_id: uuid.UUID, actor: str, changes: list[tuple[str, str, Any]]
) -> None:
    now = dt.datetime.now(dt.UTC)
    params: dict[str, Any] = {"org": org_id, "created_at": now, "actor": actor}
    for i, (action, target, details) in enumerate(changes):
        params[f"digest{i}"] = _entry_digest(org_id, now, actor, action, target, details)
        params[f"action{i}"] = action
        params[f"target{i}"] = target
        params[f"details{i}"] = json.dumps(details)
    if conn.execute(audit_append(len(changes)), params).rowcount != 1:
        raise LookupError(f"organization {org_id} has no audit head")


def record(
    conn: Connection[Any],
    org_id: uuid.UUID,
    actor: str,
    environment: str,
    logical_environment: str,
    deployment_name: str,
    digest: str,
    kind: str = "CONTAINER_IMAGE",
    token_id: uuid.UUID | None = None,
) -> str:
    """One record request; returns "created", "superseded_previous" or "heartbeat".

    With `token_id`, the token lookup first (as the API authenticates every request);
    without, the record path alone (setup, and the record-path-only baseline). The
    connection's autocommit is switched as SQLAlchemy switches the product's: on for
    the single statements, off (psycopg then sends BEGIN with the first statement) for
    the transaction, which `commit()` ends.
    """
    conn.autocommit = True
    if token_id is not None:
        conn.execute(TOKEN, {"token_id": token_id}).fetchone()
    names = {"org": org_id, "env": environment, "lenv": logical_environment}
    slot = {**names, "name": deployment_name, "kind_": kind, "status_1": "deployed"}
    beat = {**slot, "digest": digest, "now": dt.datetime.now(dt.UTC), "heartbeats_1": 1}
    if conn.execute(HEARTBEAT, beat).fetchone() is not None:
        return "heartbeat"
    conn.autocommit = False
    conn.isolation_level = IsolationLevel.READ_COMMITTED
    try:
        action = _deploy(conn, org_id, actor, names, slot, beat, kind)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
    return action


def _deploy(
    conn: Connection[Any],
    org_id: uuid.UUID,
    actor: str,
    names: dict[str, Any],
    slot: dict[str, Any],
    beat: dict[str, Any],
    kind: str,
) -> str:
    """services.deployments.record after the heartbeat attempt: the slow path."""
    env_id, lenv_id = conn.execute(SLOT_IDS, names).fetchone()  # type: ignore[misc]
    if env_id is None or lenv_id is None:
        raise LookupError("environment not found")
    name, digest = slot["name"], beat["digest"]
    conn.execute(SLOT_LOCK, {"k": _lock_key(org_id, env_id, lenv_id, name, kind)}).fetchone()
    where = {**slot, "env_id": env_id, "lenv_id": lenv_id}
    del where["env"], where["lenv"]
    active = conn.execute(ACTIVE_IN_SLOT, where).fetchone()
    now = dt.datetime.now(dt.UTC)
    if active is not None and active[_DIGEST] == digest:
        # A concurrent writer deployed it after the heartbeat attempt: now a heartbeat.
        conn.execute(HEARTBEAT, {**beat, "now": now}).fetchone()
        return "heartbeat"
    attested = conn.execute(
        IS_ATTESTED,
        {
            "org": org_id,
            "digest": digest,
            "kind": kind,
            "role_1_1": "subject",
            "role_1_2": "material",
        },
    ).fetchone()
    if not attested or not attested[0]:
        raise LookupError(f"{digest} is not attested")
    new = _uuid7()
    if active is not None:
        ended = conn.execute(
            END_RECORD,
            {"status_": "superseded", "now": now, "successor": new, "seq_": active[_SEQ]},
        ).fetchone()
        assert ended is not None
        now = ended[_ENDED_AT]
    conn.execute(
        INSERT_RECORD,
        {
            "id": new,
            "org_id": org_id,
            "environment_id": env_id,
            "logical_environment_id": lenv_id,
            "deployment_name": name,
            "kind": kind,
            "artifact_digest": digest,
            "artifact_name": None,
            "artifact_version": None,
            "status": "deployed",
            "created_at": now,
            "updated_at": now,
            "last_seen_at": now,
            "recorded_by": actor,
        },
    ).fetchone()
    slot_name = f"{names['env']}/{names['lenv']}/{name}/{kind}"
    changes: list[tuple[str, str, Any]] = []
    if active is not None:
        changes.append(
            (
                "deployment.superseded",
                f"deployment/{active[_ID]}",
                {"slot": slot_name, "digest": active[_DIGEST], "superseded_by": str(new)},
            )
        )
    changes.append(
        (
            "deployment.created",
            f"deployment/{new}",
            {"slot": slot_name, "digest": digest, "artifact_name": None, "artifact_version": None},
        )
    )
    _audit(conn, org_id, actor, changes)
    return "superseded_previous" if active is not None else "created"
