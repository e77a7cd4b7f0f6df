"""Insight at scale (SPEC §8): diff, DORA and `--at` with 10 thousand and 1 million records.

    python bench/insight.py [--sizes 10000 1000000] [--calls 100] [--explain-only]

Their cost must follow what they answer, not the history behind it. So the data holds
what is answered fixed and grows the history around it. For each size a fresh
database (migrations + `admin bootstrap`), filled by COPY (`load` below), holds:

- the focus: environment `focus`, 500 deployment names, staging and production. In the
  last 90 days each name gets 4 new versions in staging, 3 of them promoted to
  production a day or more later (1 in 8 production deployments rolled back 1-3 h
  later; 1 name in 20 runs a hotfix in production that staging never ran). Each of those
  digests has one attestation stating its build finish. That is ~3,700 records at
  every size;
- the history: every other record, all older than 90 days: half in the focus slots
  (~500 per slot at 1M, ~3 at 10k), half in 9 other environments; their digests are
  attested 500 to a statement, as a push of those would store them.

Timed, `--calls` sequential calls each after 10 warm-up calls, one `deploytrace server`
process, one client on loopback:

- diff: GET /v1/diff?from=staging&to=production&environment=focus (500 rows);
- dora: GET /v1/metrics/dora?logical_environment=production&since=90d (~1,600
  deployments, their lead times, failures and restores);
- at: GET /v1/deployments?logical_environment=production&at=<45 days ago> (first page).

Goal: 1M/10k p50 ratio <= 1.3, p50 < 50 ms (diff, dora) and < 20 ms (at). The SQL of
each call is captured in-process and EXPLAIN (ANALYZE, BUFFERS) run on it; the plans at
the largest size go to RESULTS.md. `--explain-only` loads, prints the plans and the
timing of one call each, and writes nothing (a quick check of the plans).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

import psycopg
from common import (
    ORG,
    Api,
    Postgres,
    Server,
    append_results,
    bootstrap,
    capture_requests,
    percentile,
    table,
)
from loader import uuid7
from psycopg.types.json import Json

NAMES = 500
FOCUS = "focus"
OTHERS = [f"other-{i:02d}" for i in range(1, 10)]
WINDOW = dt.timedelta(days=90)
STAGING_VERSIONS = 4  # per name in the window
PROMOTED = 3  # of those, to production
ROLLBACK_EVERY = 8  # production deployments per rollback
HOTFIX_EVERY = 20  # names with a production-only hotfix
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE = "https://slsa.dev/provenance/v1"
KIND = "CONTAINER_IMAGE"
ENDPOINTS = ("diff", "dora", "at")
GOAL_MS = {"diff": 50.0, "dora": 50.0, "at": 20.0}


def digest_of(name: int, version: int) -> str:
    return "sha256:" + hashlib.sha256(f"insight-{name}-{version}".encode()).hexdigest()


@dataclass
class Change:
    """One record of a slot: deployed at `at`, ended by the next one (or by decommission)."""

    at: dt.datetime
    digest: str
    version: str


def _statement(subjects: list[tuple[str, str]], finished: dt.datetime | None) -> bytes:
    metadata: dict[str, Any] = {"invocationId": "bench"}
    if finished is not None:
        metadata["finishedOn"] = finished.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(
        {
            "_type": STATEMENT_TYPE,
            "subject": [{"name": n, "digest": {"sha256": d[7:]}} for n, d in subjects],
            "predicateType": PREDICATE,
            "predicate": {"runDetails": {"metadata": metadata}},
        }
    ).encode()


def _ids(conn: psycopg.Connection[Any], table_name: str, org: uuid.UUID) -> dict[str, uuid.UUID]:
    rows = conn.execute(
        f"SELECT name, id FROM {table_name} WHERE org_id = %s AND deleted_at IS NULL", (org,)
    ).fetchall()
    return {str(name): row_id for name, row_id in rows}


Slots = dict[tuple[str, str, int], list[Change]]


def plan_slots(
    records: int, now: dt.datetime, rnd: random.Random
) -> tuple[Slots, dict[str, dt.datetime]]:
    """(environment, logical environment, name index) -> the slot's changes, oldest first;
    and the build finish of each recent digest."""
    start = now - WINDOW
    slots: Slots = {}
    built: dict[str, dt.datetime] = {}
    # The last 90 days of the focus: staging versions, promotions, rollbacks, hotfixes.
    for n in range(NAMES):
        staging, production = [], []
        t = start + dt.timedelta(hours=rnd.uniform(1, 48))
        for v in range(STAGING_VERSIONS):
            version = 10_000 + v
            d = digest_of(n, version)
            built[d] = t - dt.timedelta(minutes=rnd.uniform(10, 240))
            staging.append(Change(t, d, f"2.{v}.0"))
            if v < PROMOTED:
                promoted = t + dt.timedelta(hours=rnd.uniform(24, 96))
                production.append(Change(promoted, d, f"2.{v}.0"))
            t += dt.timedelta(hours=rnd.uniform(300, 480))
        production.sort(key=lambda c: c.at)
        with_rollbacks: list[Change] = []
        for i, change in enumerate(production):
            with_rollbacks.append(change)
            if i and (n * PROMOTED + i) % ROLLBACK_EVERY == 0:
                back = with_rollbacks[-2]
                at = change.at + dt.timedelta(hours=rnd.uniform(1, 3))
                with_rollbacks.append(Change(at, back.digest, back.version))
        if n % HOTFIX_EVERY == 0:
            d = digest_of(n, 19_999)
            at = with_rollbacks[-1].at + dt.timedelta(hours=5)
            built[d] = at - dt.timedelta(hours=1)
            with_rollbacks.append(Change(at, d, "2.2.1-hotfix"))
        # Keep every change in the past and each slot in time order.
        slots[FOCUS, "staging", n] = [c for c in staging if c.at < now]
        slots[FOCUS, "production", n] = sorted(
            (c for c in with_rollbacks if c.at < now), key=lambda c: c.at
        )
    recent = sum(len(v) for v in slots.values())
    history = max(0, records - recent)
    # The history: older than the window, half in the focus slots, half elsewhere.
    old = [(FOCUS, lenv, n) for lenv in ("staging", "production") for n in range(NAMES)]
    others = [
        (e, lenv, n) for e in OTHERS for lenv in ("staging", "production") for n in range(NAMES)
    ]
    past: Slots = {}
    span = dt.timedelta(days=3 * 365)
    for i in range(history):
        key = old[i % len(old)] if i % 2 == 0 else others[rnd.randrange(len(others))]
        at = start - span + dt.timedelta(seconds=rnd.uniform(0, span.total_seconds() - 86400))
        version = rnd.randrange(1000)
        past.setdefault(key, []).append(Change(at, digest_of(key[2], version), f"1.{version}.0"))
    for key, changes in past.items():
        changes.sort(key=lambda c: c.at)
        slots[key] = changes + slots.get(key, [])
    return slots, built


def load(dsn: str, org_name: str, records: int, seed: int = 1) -> dict[str, Any]:
    rnd = random.Random(seed)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    slots, built = plan_slots(records, now, rnd)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT id FROM organizations WHERE name = %s", (org_name,)).fetchone()
        if row is None:
            raise SystemExit(f"organization {org_name!r} not found: bootstrap it first")
        org: uuid.UUID = row[0]
        with conn.cursor().copy(
            "COPY environments (id, org_id, name, description, created_at, updated_at) FROM STDIN"
        ) as copy:
            for name in [FOCUS, *OTHERS]:
                copy.write_row((uuid.uuid4(), org, name, "", now, now))
        envs = _ids(conn, "environments", org)
        lenvs = _ids(conn, "logical_environments", org)
        with conn.cursor().copy(
            "COPY deployment_slots (org_id, environment_id, logical_environment_id, "
            "deployment_name, kind, created_at) FROM STDIN"
        ) as copy:
            for (env, lenv, n), changes in slots.items():
                if changes:
                    copy.write_row(
                        (org, envs[env], lenvs[lenv], f"svc-{n:04d}", KIND, changes[0].at)
                    )
        slot_ids = {
            (e, le, name): sid
            for sid, e, le, name in conn.execute(
                "SELECT s.id, e.name, l.name, s.deployment_name FROM deployment_slots s "
                "JOIN environments e ON e.id = s.environment_id "
                "JOIN logical_environments l ON l.id = s.logical_environment_id "
                "WHERE s.org_id = %s",
                (org,),
            )
        }
        attestations = _load_attestations(conn, org, slots, built, now)
        count = _load_records(conn, org, envs, lenvs, slots, slot_ids, now, rnd)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return {
        "records": count,
        "slots": sum(1 for v in slots.values() if v),
        "recent": sum(1 for v in slots.values() for c in v if c.at >= now - WINDOW),
        "attestations": attestations,
        "seconds": time.perf_counter() - started,
    }


_ATTESTATION_COLUMNS = (
    "org_id, digest, format, statement_type, predicate_type, subjects, size, content, "
    "verification_status, verification_reason, created_at, created_by, built_at"
)


def _load_attestations(
    conn: psycopg.Connection[Any],
    org: uuid.UUID,
    slots: Slots,
    built: dict[str, dt.datetime],
    now: dt.datetime,
) -> int:
    """One statement with a build time per recent digest; the history's digests 500 to a
    statement without one (pushed when the bench loads: later than every old deployment)."""
    digests = sorted({(c.digest, k[2]) for k, v in slots.items() for c in v})
    recent = [(d, n) for d, n in digests if d in built]
    old = [(d, n) for d, n in digests if d not in built]
    groups = [([(f"svc-{n:04d}", d)], built[d]) for d, n in recent]
    groups += [
        ([(f"svc-{n:04d}", d) for d, n in old[i : i + 500]], None) for i in range(0, len(old), 500)
    ]
    rows = []
    for subjects, finished in groups:
        content = _statement(subjects, finished)
        rows.append(
            (
                org,
                "sha256:" + hashlib.sha256(content).hexdigest(),
                "statement",
                STATEMENT_TYPE,
                PREDICATE,
                Json([{"name": n, "digest": {"sha256": d[7:]}, "uri": None} for n, d in subjects]),
                len(content),
                content,
                "unverified",
                "unsigned statement",
                now,
                "bench-insight",
                finished,
            )
        )
    with conn.cursor().copy(f"COPY attestations ({_ATTESTATION_COLUMNS}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    seqs = dict(conn.execute("SELECT digest, seq FROM attestations WHERE org_id = %s", (org,)))
    with conn.cursor().copy(
        "COPY artifact_refs (org_id, digest, attestation_seq, role, material_type, name) FROM STDIN"
    ) as copy:
        for row, (subjects, _) in zip(rows, groups, strict=True):
            for name, d in subjects:
                copy.write_row((org, d, seqs[row[1]], "subject", None, name))
    return len(rows)


def _load_records(
    conn: psycopg.Connection[Any],
    org: uuid.UUID,
    envs: dict[str, uuid.UUID],
    lenvs: dict[str, uuid.UUID],
    slots: Slots,
    slot_ids: dict[tuple[str, str, str], int],
    now: dt.datetime,
    rnd: random.Random,
) -> int:
    """Records in time order (so `seq` follows `created_at`, as the product stores them):
    each ended by its successor; a slot's last one deployed, or decommissioned 1 in 25."""
    rows = []
    for (env, lenv, n), changes in slots.items():
        name = f"svc-{n:04d}"
        ids = [uuid7(int(c.at.timestamp() * 1000), rnd) for c in changes]
        for i, change in enumerate(changes):
            if i + 1 < len(changes):
                ended, status, reason, by = (
                    changes[i + 1].at,
                    "superseded",
                    "superseded",
                    ids[i + 1],
                )
            elif env != FOCUS and n % 25 == 7:
                ended, status, reason, by = (
                    change.at + dt.timedelta(hours=1),
                    "decommissioned",
                    "decommissioned",
                    None,
                )
            else:
                ended, status, reason, by = None, "deployed", None, None
            rows.append(
                (
                    ids[i],
                    org,
                    slot_ids[env, lenv, name],
                    envs[env],
                    lenvs[lenv],
                    name,
                    KIND,
                    change.digest,
                    f"registry.example.com/team/{name}",
                    change.version,
                    status,
                    change.at,
                    ended or change.at,
                    change.at,
                    ended,
                    by,
                    reason,
                    "ci-bot",
                )
            )
    rows.sort(key=lambda r: r[11])
    columns = (
        "id, org_id, slot_id, environment_id, logical_environment_id, deployment_name, kind, "
        "artifact_digest, artifact_name, artifact_version, status, created_at, updated_at, "
        "last_seen_at, ended_at, superseded_by, ended_reason, recorded_by"
    )
    with conn.cursor().copy(f"COPY deployment_records ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


# Measuring -----------------------------------------------------------------------------


def explain(pg: Postgres, database: str, statement: str, parameters: Any) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) with JIT off, as the product runs these reads
    (storage/insight.py `tune`; `--at` runs with the server's default)."""
    with pg.connect(database) as conn:
        conn.execute("SET jit = off")
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).fetchall()
    plan = "\n".join(str(r[0]) for r in rows)
    ms = 0.0
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            ms = float(line.split()[2])
    return plan, ms


def requests(now: dt.datetime) -> dict[str, tuple[str, dict[str, str]]]:
    at = (now - WINDOW / 2).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "diff": ("/v1/diff", {"from": "staging", "to": "production", "environment": FOCUS}),
        "dora": ("/v1/metrics/dora", {"logical_environment": "production", "since": "90d"}),
        "at": ("/v1/deployments", {"logical_environment": "production", "at": at}),
    }


def time_calls(api: Api, path: str, params: dict[str, str], calls: int) -> list[float]:
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        status, raw = api.request("GET", path, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path} {params}: HTTP {status} {raw[:300]!r}")
    return times


def run_size(size: int, a: argparse.Namespace) -> dict[str, Any]:
    with Postgres() as pg:
        database = pg.create_database()
        url = pg.url(database)
        token = bootstrap(url)
        print(f"loading {size:,} records ...", flush=True)
        facts = load(pg.dsn(database), ORG, size)
        print(f"  loaded {facts['records']:,} records in {facts['seconds']:.0f} s", flush=True)
        calls = requests(dt.datetime.now(dt.UTC))
        result: dict[str, Any] = {"facts": facts, "latency": {}, "answers": {}}
        with Server(url) as server:
            api = Api(server.base, token)
            for name in ENDPOINTS:
                path, params = calls[name]
                body = api.json("GET", path, params=params)
                result["answers"][name] = _summary(name, body)
                times = time_calls(api, path, params, 10 if a.explain_only else a.calls + 10)
                times = times[10:] or times
                result["latency"][name] = (percentile(times, 50), percentile(times, 99))
                print(
                    f"  {name:5s} p50 {percentile(times, 50):7.2f} ms  "
                    f"p99 {percentile(times, 99):7.2f} ms  ({result['answers'][name]})",
                    flush=True,
                )
            api.close()
        captured = capture_requests(
            url,
            token,
            [("GET", path, list(params.items()), None) for path, params in calls.values()],
        )
        result["plans"] = {}
        for name, cap in zip(ENDPOINTS, captured, strict=True):
            if cap.status != 200:
                raise SystemExit(f"capture {name}: HTTP {cap.status} {cap.body[:300]!r}")
            plans = []
            for statement, params in cap.statements:
                if statement.lstrip().upper().startswith(("SELECT", "WITH")):
                    plan, ms = explain(pg, database, statement, params)
                    plans.append((" ".join(statement.split()), plan, ms))
            result["plans"][name] = plans
            if a.explain_only:
                for statement, plan, ms in plans:
                    short = "\n".join(line[:160] for line in plan.splitlines())
                    print(f"\n--- {name}: {ms:.2f} ms\n{statement[:300]}\n{short}")
    return result


def _summary(name: str, body: Any) -> str:
    if name == "diff":
        items = body["items"]
        behind = [i["behind"] for i in items if i["behind"]]
        return f"{len(items)} rows, {len(behind)} behind (max {max(behind, default=0)})"
    if name == "dora":
        return (
            f"{body['deployments']} deployments, failure rate {body['change_failure_rate']:.3f}, "
            f"lead p50 {body['lead_time_seconds']['p50']:.0f} s"
        )
    return f"{len(body['items'])} records on the first page"


def report(a: argparse.Namespace, results: dict[int, dict[str, Any]]) -> str:
    small, large = min(results), max(results)
    rows = []
    for name in ENDPOINTS:
        s50, s99 = results[small]["latency"][name]
        l50, l99 = results[large]["latency"][name]
        ok = l50 / s50 <= 1.3 and l50 < GOAL_MS[name]
        rows.append(
            (
                name,
                f"{s50:.2f} / {s99:.2f}",
                f"{l50:.2f} / {l99:.2f}",
                f"**{l50 / s50:.2f}** / {l99 / s99:.2f}",
                f"< {GOAL_MS[name]:.0f} ms: " + ("✅" if ok else "❌"),
                results[large]["answers"][name],
            )
        )
    lines = [
        f"One server process, one client on loopback, {a.calls} sequential calls per endpoint "
        "(after 10 warm-up calls). The window's content is the same at every size (see "
        "bench/README.md); the history around it grows.\n",
        table(
            [
                "call",
                f"p50 / p99 ms at {small:,}",
                f"p50 / p99 ms at {large:,}",
                "ratio p50 / p99 (goal p50 ≤ 1.3)",
                "goal",
                f"answer at {large:,}",
            ],
            rows,
        ),
        "",
        table(
            ["records", "slots", "records in the last 90 days", "attestations", "load s"],
            [
                (
                    f"{n:,}",
                    f"{r['facts']['slots']:,}",
                    f"{r['facts']['recent']:,}",
                    f"{r['facts']['attestations']:,}",
                    f"{r['facts']['seconds']:.0f}",
                )
                for n, r in sorted(results.items())
            ],
        ),
        f"\n### Query plans at {large:,} records (EXPLAIN (ANALYZE, BUFFERS), custom plans)\n",
    ]
    for name in ENDPOINTS:
        plans = results[large]["plans"][name]
        summary = ", ".join(f"{ms:.2f}" for *_, ms in plans)
        lines.append(f"<details><summary>{name}: {len(plans)} SELECTs, ms {summary}</summary>\n")
        for statement, plan, _ in plans:
            lines.append(f"```sql\n{statement}\n```\n```\n{plan}\n```\n")
        lines.append("</details>\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--explain-only", action="store_true")
    parser.add_argument("--no-results", action="store_true")
    a = parser.parse_args()
    results = {size: run_size(size, a) for size in a.sizes}
    if a.explain_only:
        return
    text = report(a, results)
    print(text)
    if not a.no_results:
        append_results("Insight at scale (insight.py)", text)


if __name__ == "__main__":
    main()
