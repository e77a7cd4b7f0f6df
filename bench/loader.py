"""Bulk loader: fill an organization with N deployment records (and their evidence) by COPY.

    python bench/loader.py postgresql://postgres@127.0.0.1:PORT/DB --records 1000000

The schema must exist and the organization too (`deploytrace admin bootstrap` makes both).
Rows are what the product itself would store (checked against one attestation pushed
through the product by scale.py):

- 40 environments x the 3 logical environments x deployment names: one slot per
  `records / 25` records (400 slots at 10k, 40,000 at 1M); records arrive over a year in
  `seq` order, each in a slot drawn with a skew (a few busy slots, a long tail). A new
  record supersedes the slot's previous one (`superseded_by`, `ended_at`); the last
  record of a slot is `deployed`, or `decommissioned` for 1 slot in 20, so the partial
  unique index (one `deployed` per slot) holds.
- Digests: a pool of `records / 10` artifacts, each attested as a subject by an unsigned
  in-toto statement (500 subjects per statement).
- HOT_DIGEST: one artifact named by 10,000 attestations (workflows, projects and versions
  among them) and deployed in 50 records: `artifact describe` of it is the worst case.
- `artifact_owners` (migration 0004, when the schema has it): what pushes of those
  attestations would have added, one row per distinct (digest, workflow, project, version)
  of their subjects: ~1,000 for HOT_DIGEST (10 projects x 20 versions x 5 workflows drawn
  10,000 times), one for each hot attestation's second subject. The pool's statements name
  no owner, so they add none.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import time
import uuid
from typing import Any

import psycopg
from psycopg.types.json import Json

ENVIRONMENTS = 40
DEPTH = 25  # records per slot, on average
PER_STATEMENT = 500
HOT_ATTESTATIONS = 10_000
HOT_RECORDS = 50
HOT_DIGEST = "sha256:" + hashlib.sha256(b"deploytrace bench hot artifact").hexdigest()
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE = "https://slsa.dev/provenance/v1"


def artifact(k: int) -> str:
    return "sha256:" + hashlib.sha256(f"artifact-{k}".encode()).hexdigest()


def uuid7(ms: int, rnd: random.Random) -> uuid.UUID:
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rnd.getrandbits(12) << 64
    return uuid.UUID(int=value | 0b10 << 62 | rnd.getrandbits(62))


def statement(subjects: list[tuple[str, str]]) -> bytes:
    return json.dumps(
        {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": n, "digest": {"sha256": d.split(":")[1]}} for n, d in subjects],
            "predicateType": PREDICATE,
            "predicate": {},
        }
    ).encode()


def _ids(conn: psycopg.Connection[Any], table: str, org: uuid.UUID) -> dict[str, uuid.UUID]:
    rows = conn.execute(
        f"SELECT name, id FROM {table} WHERE org_id = %s AND deleted_at IS NULL", (org,)
    ).fetchall()
    return {str(name): row_id for name, row_id in rows}


def load(dsn: str, org_name: str, records: int, seed: int = 1) -> dict[str, Any]:
    """Load; returns facts the scale benchmark needs (hot digest, counts, timings)."""
    rnd = random.Random(seed)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    with psycopg.connect(dsn) as conn:
        org = conn.execute("SELECT id FROM organizations WHERE name = %s", (org_name,)).fetchone()
        if org is None:
            raise SystemExit(f"organization {org_name!r} not found: bootstrap it first")
        org_id: uuid.UUID = org[0]
        lenvs = _ids(conn, "logical_environments", org_id)
        logical = [lenvs[n] for n in ("development", "staging", "production")]
        with conn.cursor().copy(
            "COPY environments (id, org_id, name, description, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(ENVIRONMENTS):
                copy.write_row((uuid.uuid4(), org_id, f"cluster-{i:02d}", "", now, now))
        envs = _ids(conn, "environments", org_id)
        env_ids = [envs[f"cluster-{i:02d}"] for i in range(ENVIRONMENTS)]

        pool = max(1000, records // 10)
        attestations = _load_pool(conn, org_id, pool, now)
        attestations += _load_hot(conn, org_id, now, rnd)
        _load_records(conn, org_id, env_ids, logical, records, pool, now, rnd)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        owners = _count_owners(conn, org_id, HOT_DIGEST)
    return {
        "records": records,
        "slots": _slots(records),
        "owners": owners,
        "artifacts": pool,
        "attestations": attestations,
        "hot_digest": HOT_DIGEST,
        "seconds": time.perf_counter() - started,
    }


def _count_owners(conn: psycopg.Connection[Any], org_id: uuid.UUID, digest: str) -> int | None:
    """Rows of artifact_owners for `digest` (None without the table)."""
    if conn.execute("SELECT to_regclass('artifact_owners')").fetchone() == (None,):
        return None
    row = conn.execute(
        "SELECT count(*) FROM artifact_owners WHERE org_id = %s AND digest = %s", (org_id, digest)
    ).fetchone()
    return int(row[0]) if row else 0


def _slots(records: int) -> int:
    return max(ENVIRONMENTS * 3, records // DEPTH)


def _attestation_row(
    org_id: uuid.UUID,
    content: bytes,
    subjects: list[tuple[str, str]],
    now: dt.datetime,
    owners: tuple[uuid.UUID | None, uuid.UUID | None, uuid.UUID | None] = (None, None, None),
) -> tuple[Any, ...]:
    workflow, project, version = owners
    return (
        org_id,
        "sha256:" + hashlib.sha256(content).hexdigest(),
        "statement",
        STATEMENT_TYPE,
        PREDICATE,
        Json(
            [{"name": n, "digest": {"sha256": d.split(":")[1]}, "uri": None} for n, d in subjects]
        ),
        len(content),
        content,
        workflow,
        project,
        version,
        "unverified",
        "unsigned statement",
        now,
        "bench-loader",
    )


_ATTESTATION_COLUMNS = (
    "org_id, digest, format, statement_type, predicate_type, subjects, size, content, "
    "workflow_id, project_id, project_version_id, verification_status, verification_reason, "
    "created_at, created_by"
)


def _copy_attestations(
    conn: psycopg.Connection[Any],
    rows: list[tuple[Any, ...]],
    subjects: list[list[tuple[str, str]]],
) -> None:
    """COPY attestations, then their artifact_refs (one subject ref per subject)."""
    with conn.cursor().copy(f"COPY attestations ({_ATTESTATION_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    digests = [row[1] for row in rows]
    seqs = dict(
        conn.execute(
            "SELECT digest, seq FROM attestations WHERE org_id = %s AND digest = ANY(%s)",
            (rows[0][0], digests),
        ).fetchall()
    )
    with conn.cursor().copy(
        "COPY artifact_refs (org_id, digest, attestation_seq, role, material_type, name) FROM STDIN"
    ) as copy:
        for row, subs in zip(rows, subjects, strict=True):
            for name, digest in subs:
                copy.write_row((row[0], digest, seqs[row[1]], "subject", None, name))


def _load_pool(
    conn: psycopg.Connection[Any], org_id: uuid.UUID, pool: int, now: dt.datetime
) -> int:
    rows, subjects = [], []
    for start in range(0, pool, PER_STATEMENT):
        subs = [(f"app-{k}", artifact(k)) for k in range(start, min(pool, start + PER_STATEMENT))]
        rows.append(_attestation_row(org_id, statement(subs), subs, now))
        subjects.append(subs)
    _copy_attestations(conn, rows, subjects)
    return len(rows)


def _load_hot(
    conn: psycopg.Connection[Any], org_id: uuid.UUID, now: dt.datetime, rnd: random.Random
) -> int:
    """10,000 attestations naming HOT_DIGEST, from 10 projects x 20 versions x 5 workflows."""
    projects, versions, workflows = {}, {}, {}
    for p in range(10):
        projects[p] = uuid.uuid4()
        conn.execute(
            "INSERT INTO projects (id, org_id, name, created_at) VALUES (%s, %s, %s, %s)",
            (projects[p], org_id, f"project-{p}", now),
        )
        for v in range(20):
            versions[p, v] = uuid.uuid4()
            conn.execute(
                "INSERT INTO project_versions (id, org_id, project_id, version, created_at) "
                "VALUES (%s, %s, %s, %s, %s)",
                (versions[p, v], org_id, projects[p], f"v1.{v}.0", now),
            )
        for w in range(5):
            workflows[p, w] = uuid.uuid4()
            conn.execute(
                "INSERT INTO workflows (id, org_id, project_name, project_id, name, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (workflows[p, w], org_id, f"project-{p}", projects[p], f"build-{w}", now),
            )
    rows, subjects = [], []
    names: set[tuple[str, str, str, str]] = set()  # artifact_owners: digest, w, p, v
    for i in range(HOT_ATTESTATIONS):
        subs = [("hot", HOT_DIGEST), (f"hot-sbom-{i}", artifact(10_000_000 + i))]
        p, v, w = rnd.randrange(10), rnd.randrange(20), rnd.randrange(5)
        owners = (workflows[p, w], projects[p], versions[p, v])
        rows.append(_attestation_row(org_id, statement(subs), subs, now, owners))
        subjects.append(subs)
        names.update((d, f"build-{w}", f"project-{p}", f"v1.{v}.0") for _, d in subs)
    _copy_attestations(conn, rows, subjects)
    _copy_owners(conn, org_id, names)
    return len(rows)


def _copy_owners(
    conn: psycopg.Connection[Any], org_id: uuid.UUID, names: set[tuple[str, str, str, str]]
) -> None:
    """What `services.attestations.push` adds to artifact_owners (storage.artifacts.add_owners):
    each subject and material digest with the workflow, project and version the
    attestation is filed under. Skipped for a schema older than migration 0004."""
    if conn.execute("SELECT to_regclass('artifact_owners')").fetchone() == (None,):
        return
    with conn.cursor().copy(
        "COPY artifact_owners (org_id, digest, workflow, project, project_version) FROM STDIN"
    ) as copy:
        for digest, workflow, project, version in sorted(names):
            copy.write_row((org_id, digest, workflow, project, version))


def _load_records(
    conn: psycopg.Connection[Any],
    org_id: uuid.UUID,
    env_ids: list[uuid.UUID],
    logical: list[uuid.UUID],
    records: int,
    pool: int,
    now: dt.datetime,
    rnd: random.Random,
) -> None:
    slots = _slots(records)
    # Which slot each record lands in: a skew (paretovariate) over the slots.
    order = [min(slots - 1, int(rnd.paretovariate(1.2) - 1) * 7 % slots) for _ in range(records)]
    for i in range(records):  # half uniform, so every slot gets a history
        if i % 2:
            order[i] = rnd.randrange(slots)
    for s in range(slots):  # every slot has at least one record
        order[s * records // slots] = s
    hot = set(rnd.sample(range(records), HOT_RECORDS))
    following: list[int] = [-1] * records
    last: dict[int, int] = {}
    for i in range(records - 1, -1, -1):
        following[i] = last.get(order[i], -1)
        last[order[i]] = i
    start = now - dt.timedelta(days=365)
    step_us = 365 * 86_400 * 1_000_000 // records
    times = [start + dt.timedelta(microseconds=i * step_us) for i in range(records)]
    ids = [uuid7(int(t.timestamp() * 1000), rnd) for t in times]
    digest_of = [HOT_DIGEST if i in hot else artifact(rnd.randrange(pool)) for i in range(records)]
    decommissioned = {s for s in range(slots) if s % 20 == 7}
    slot_ids = _load_slots(conn, org_id, env_ids, logical, slots, times, first_records(order))
    columns = (
        "id, org_id, slot_id, environment_id, logical_environment_id, deployment_name, kind, "
        "artifact_digest, artifact_name, artifact_version, status, created_at, updated_at, "
        "last_seen_at, ended_at, superseded_by, heartbeats, recorded_by"
    )
    with conn.cursor().copy(f"COPY deployment_records ({columns}) FROM STDIN") as copy:
        for i in range(records):
            s = order[i]
            nxt = following[i]
            t = times[i]
            if nxt >= 0:
                status, ended, by, updated = "superseded", times[nxt], ids[nxt], times[nxt]
            elif s in decommissioned:
                ended = t + dt.timedelta(hours=1)
                status, by, updated = "decommissioned", None, ended
            else:
                status, ended, by, updated = "deployed", None, None, t
            copy.write_row(
                (
                    ids[i],
                    org_id,
                    slot_ids[s],
                    env_ids[s % ENVIRONMENTS],
                    logical[(s // ENVIRONMENTS) % 3],
                    f"svc-{s // (ENVIRONMENTS * 3):05d}",
                    "CONTAINER_IMAGE",
                    digest_of[i],
                    f"registry.example.com/team/svc-{s // (ENVIRONMENTS * 3):05d}",
                    f"1.{i % 97}.{i % 13}",
                    status,
                    t,
                    updated,
                    updated,
                    ended,
                    by,
                    rnd.randrange(500),
                    "ci-bot",
                )
            )


def first_records(order: list[int]) -> dict[int, int]:
    """slot -> the index of its first record."""
    first: dict[int, int] = {}
    for i, s in enumerate(order):
        first.setdefault(s, i)
    return first


def _slot_key(s: int) -> tuple[int, int, str]:
    """Slot s: its environment, its logical environment (indexes) and its name."""
    return s % ENVIRONMENTS, (s // ENVIRONMENTS) % 3, f"svc-{s // (ENVIRONMENTS * 3):05d}"


def _load_slots(
    conn: psycopg.Connection[Any],
    org_id: uuid.UUID,
    env_ids: list[uuid.UUID],
    logical: list[uuid.UUID],
    slots: int,
    times: list[dt.datetime],
    first: dict[int, int],
) -> dict[int, int]:
    """COPY one deployment_slots row per slot (created with its first record); their ids."""
    with conn.cursor().copy(
        "COPY deployment_slots (org_id, environment_id, logical_environment_id, "
        "deployment_name, kind, created_at) FROM STDIN"
    ) as copy:
        for s in range(slots):
            e, le, name = _slot_key(s)
            copy.write_row(
                (org_id, env_ids[e], logical[le], name, "CONTAINER_IMAGE", times[first[s]])
            )
    found = {
        (e, le, name): sid
        for sid, e, le, name in conn.execute(
            "SELECT id, environment_id, logical_environment_id, deployment_name "
            "FROM deployment_slots WHERE org_id = %s",
            (org_id,),
        )
    }
    result = {}
    for s in range(slots):
        e, le, name = _slot_key(s)
        result[s] = int(found[env_ids[e], logical[le], name])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dsn", help="postgresql://user@host:port/database")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--org", default="bench")
    parser.add_argument("--seed", type=int, default=1)
    a = parser.parse_args()
    facts = load(a.dsn.replace("postgresql+psycopg://", "postgresql://"), a.org, a.records, a.seed)
    print(json.dumps(facts, indent=2))


if __name__ == "__main__":
    main()
