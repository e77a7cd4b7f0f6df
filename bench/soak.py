"""Soak: minutes of mixed load from several clients over two server replicas on PostgreSQL.

    python bench/soak.py [--minutes 3] [--clients 6] [--window 10] [--read-replica]

Two `deploytrace server` processes (separate ports, one database), `--clients` client
processes (http.client, keep-alive; client i talks to replica i % 2), closed loop. Each
client owns its slots and draws its next request: heartbeat 45%, supersede 20%, active
list of a logical environment 15%, history page 5%, artifact describe 10%, deployment
describe 5%. Per window: requests/s, latency p50/p95/p99, errors (any unexpected status
or failed request), and the RSS of each replica (/proc). The goal: zero errors, latency
and memory flat, nothing lost.

`--read-replica`: the database is a streaming-replication primary with a hot standby
(the tests' fixture, tests/support/postgres.py: pg_basebackup -R), and both servers get
`--database-read-url` (SPEC §12): their reads go to the standby while it is within
DEPLOYTRACE_READ_MAX_LAG. After the run, "nothing lost" is checked on the primary and,
once it has caught up, on the standby: every record a client was answered 201 for
exists, and every client slot runs the digest the client last recorded there.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import time
import uuid
from pathlib import Path
from typing import Any

from common import (
    LOGICAL_ENVIRONMENTS,
    Api,
    Postgres,
    Server,
    append_results,
    attest,
    bootstrap,
    create_environments,
    out_dir,
    percentile,
    pool_digest,
    rss_mib,
    table,
)

NENV = 8
POOL = 997
SLOTS_PER_CLIENT = 64
MIX = (
    ("heartbeat", 45),
    ("supersede", 20),
    ("active list", 15),
    ("history page", 5),
    ("artifact describe", 10),
    ("deployment describe", 5),
)


def slot(client: int, s: int) -> dict[str, str]:
    return {
        "environment": f"env-{s % NENV}",
        "logical_environment": LOGICAL_ENVIRONMENTS[(s // NENV) % 3],
        "deployment_name": f"soak-{client}-{s}",
        "kind": "CONTAINER_IMAGE",
    }


def digest(client: int, s: int, round_: int) -> str:
    return pool_digest((client * 131 + s + round_) % POOL + 1)


def client(i: int, base: str, token: str, until: float, log: Path) -> None:
    rnd = random.Random(i)
    api = Api(base, token, timeout=30)
    rounds = [0] * SLOTS_PER_CLIENT
    ids: list[str] = []
    created: list[str] = []  # every record the server said it created (201)
    current: dict[str, str] = {}  # slot name -> the digest last acknowledged there
    ops = [name for name, _ in MIX]
    weights = [w for _, w in MIX]
    with log.open("w") as out:
        while time.time() < until:
            op = rnd.choices(ops, weights)[0]
            s = rnd.randrange(SLOTS_PER_CLIENT)
            body: bytes | None = None
            params: dict[str, Any] = {}
            expected = 200
            if op in ("heartbeat", "supersede"):
                if op == "supersede":
                    rounds[s] += 1
                    expected = 201
                record = {**slot(i, s), "digest": digest(i, s, rounds[s])}
                method, path, body = "POST", "/v1/deployments", json.dumps(record).encode()
            elif op == "active list":
                method, path = "GET", "/v1/deployments"
                params = {"logical_environment": rnd.choice(LOGICAL_ENVIRONMENTS)}
            elif op == "history page":
                method, path = "GET", "/v1/deployments"
                params = {"environment": f"env-{rnd.randrange(NENV)}", "history": "true"}
            elif op == "artifact describe":
                method, path = "GET", f"/v1/artifacts/{digest(i, s, rounds[s])}"
            else:
                method, path = "GET", f"/v1/deployments/{rnd.choice(ids) if ids else uuid.uuid4()}"
                expected = 200 if ids else 404
            t0 = time.perf_counter()
            try:
                status, raw = api.request(method, path, body, params)
            except OSError as error:
                status, raw = 0, str(error).encode()
            ms = (time.perf_counter() - t0) * 1000
            ok = status == expected
            if ok and op in ("heartbeat", "supersede"):
                answer = json.loads(raw)
                current[record["deployment_name"]] = record["digest"]
                if status == 201:
                    created.append(answer["id"])
                if len(ids) < 500:
                    ids.append(answer["id"])
            out.write(f"{time.time():.3f} {op.replace(' ', '_')} {ms:.3f} {int(ok)} {status}\n")
    api.close()
    log.with_suffix(".state.json").write_text(json.dumps({"created": created, "current": current}))


def prepare(base: str, token: str, clients: int) -> None:
    """Round 0 of every client's slots, through the API."""
    api = Api(base, token)
    for i in range(clients):
        for s in range(SLOTS_PER_CLIENT):
            api.json("POST", "/v1/deployments", {**slot(i, s), "digest": digest(i, s, 0)})
    api.close()


def lost(pg: Postgres, database: str, logs: Path, standby: bool = False) -> dict[str, int]:
    """What the clients were told against what a server of the database holds (the
    primary, or the standby): records answered 201 that are missing, client slots whose
    active digest is not the one last acknowledged."""
    created: list[str] = []
    current: dict[str, str] = {}
    for path in sorted(logs.glob("client-*.state.json")):
        state = json.loads(path.read_text())
        created += state["created"]
        current.update(state["current"])
    server = pg.standby if standby else pg.server
    assert server is not None
    import psycopg

    with psycopg.connect(server.dsn(database), autocommit=True) as conn:
        found = {
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM deployment_records WHERE id = ANY(%s)",
                ([uuid.UUID(x) for x in created],),
            )
        }
        active = dict(
            conn.execute(
                "SELECT deployment_name, artifact_digest FROM deployment_records "
                "WHERE status = 'deployed' AND deployment_name LIKE 'soak-%%'"
            ).fetchall()
        )
        records = conn.execute("SELECT count(*) FROM deployment_records").fetchone()
    return {
        "acknowledged creations": len(created),
        "missing": sum(1 for x in created if x not in found),
        "slots checked": len(current),
        "slots not as acknowledged": sum(1 for k, v in current.items() if active.get(k) != v),
        "records": int(records[0]) if records else 0,
    }


def replica_transactions(pg: Postgres, database: str) -> int:
    """Transactions the standby has run in the database (every one a read)."""
    assert pg.standby is not None
    import psycopg

    with psycopg.connect(pg.standby.dsn(database), autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (database,),
        ).fetchone()
    return int(row[0]) if row else 0


def caught_up(pg: Postgres, timeout: float = 60) -> float:
    """Wait until the standby has replayed everything the primary wrote; the seconds."""
    assert pg.standby is not None
    import psycopg

    start = time.monotonic()
    with psycopg.connect(pg.server.dsn("postgres"), autocommit=True) as primary:
        target = primary.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(pg.standby.dsn("postgres"), autocommit=True) as standby:
        while time.monotonic() - start < timeout:
            row = standby.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
            ).fetchone()
            if row and row[0]:
                break
            time.sleep(0.2)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3)
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--window", type=float, default=10, help="seconds per table row")
    parser.add_argument(
        "--read-replica", action="store_true", help="a streaming standby for the servers' reads"
    )
    parser.add_argument("--no-results", action="store_true")
    a = parser.parse_args()
    logs = out_dir("soak")
    for stale in [*logs.glob("client-*.log"), *logs.glob("client-*.state.json")]:
        stale.unlink()  # a previous run's, with more clients perhaps
    samples: list[tuple[float, float, float]] = []
    checks: dict[str, Any] = {}
    with Postgres(replication=a.read_replica) as pg:
        database = pg.create_database()
        url = pg.url(database)
        read_url = None
        if a.read_replica:
            read_url = pg.start_standby().url(database)
        token = bootstrap(url)
        with Server(url, read_url=read_url) as one, Server(url, read_url=read_url) as two:
            api = Api(one.base, token)
            create_environments(api, [f"env-{i}" for i in range(NENV)])
            attest(api, [pool_digest(n) for n in range(1, POOL + 1)])
            api.close()
            prepare(one.base, token, a.clients)
            if a.read_replica:
                caught_up(pg)
                checks["replica transactions before"] = replica_transactions(pg, database)
            replicas = [one, two]
            pids = [r.serving_pids()[0] for r in replicas]
            start = time.time()
            until = start + a.minutes * 60
            procs = [
                multiprocessing.Process(
                    target=client,
                    args=(i, replicas[i % 2].base, token, until, logs / f"client-{i}.log"),
                )
                for i in range(a.clients)
            ]
            for p in procs:
                p.start()
            where = " and a read replica" if a.read_replica else ""
            print(
                f"soaking for {a.minutes:g} min: {a.clients} clients, 2 servers{where} ...",
                flush=True,
            )
            while any(p.is_alive() for p in procs):
                samples.append((time.time(), rss_mib(pids[0]), rss_mib(pids[1])))
                time.sleep(1)
            for p in procs:
                p.join()
            readyz = Api(one.base).json("GET", "/readyz")
        checks["primary"] = lost(pg, database, logs)
        if a.read_replica:
            checks["replica transactions"] = replica_transactions(pg, database) - checks.pop(
                "replica transactions before"
            )
            checks["catch-up seconds"] = round(caught_up(pg), 2)
            checks["replica"] = lost(pg, database, logs, standby=True)
        checks["/readyz after the run"] = readyz
    report(a, start, samples, logs, checks)


def report(
    a: argparse.Namespace,
    start: float,
    samples: list[tuple[float, float, float]],
    logs: Path,
    checks: dict[str, Any],
) -> None:
    events: list[tuple[float, str, float, bool]] = []
    for path in sorted(logs.glob("client-*.log")):
        for line in path.read_text().splitlines():
            t, op, ms, ok, _status = line.split()
            events.append((float(t), op, float(ms), ok == "1"))
    windows = int(a.minutes * 60 // a.window)
    rows = []
    p99s = []
    for w in range(windows):
        lo, hi = start + w * a.window, start + (w + 1) * a.window
        lat = [ms for t, _, ms, _ in events if lo <= t < hi]
        errors = sum(1 for t, _, _, ok in events if lo <= t < hi and not ok)
        rss = [(r1, r2) for t, r1, r2 in samples if lo <= t < hi] or [(float("nan"),) * 2]
        p99s.append(percentile(lat, 99))
        rows.append(
            (
                f"{int(w * a.window)}-{int((w + 1) * a.window)} s",
                f"{len(lat) / a.window:.0f}",
                f"{percentile(lat, 50):.1f}",
                f"{percentile(lat, 95):.1f}",
                f"{percentile(lat, 99):.1f}",
                errors,
                f"{rss[-1][0]:.1f}",
                f"{rss[-1][1]:.1f}",
            )
        )
    by_op: dict[str, list[float]] = {}
    for _, op, ms, _ in events:
        by_op.setdefault(op, []).append(ms)
    total_errors = sum(1 for *_, ok in events if not ok)
    first = [s for s in samples if s[0] < start + 60] or samples[:1]
    last = [s for s in samples if s[0] >= samples[-1][0] - 60] or samples[-1:]
    growth = [
        sum(s[k] for s in last) / len(last) - sum(s[k] for s in first) / len(first) for k in (1, 2)
    ]
    text = "\n".join(
        [
            f"{a.minutes:g} min, {a.clients} client processes (closed loop, keep-alive) over 2 "
            f"server replicas{' reading from a streaming standby' if a.read_replica else ''}, "
            f"{len(events):,} requests, **{total_errors} errors**; replica RSS "
            f"growth, mean of the last minute minus mean of the first: {growth[0]:+.1f} MiB and "
            f"{growth[1]:+.1f} MiB. Mix: " + ", ".join(f"{name} {w}%" for name, w in MIX) + ".\n",
            table(
                [
                    "window",
                    "req/s",
                    "p50 ms",
                    "p95 ms",
                    "p99 ms",
                    "errors",
                    "RSS replica 1 MiB",
                    "RSS replica 2 MiB",
                ],
                rows,
            ),
            "\nWhole run, per request type:\n",
            table(
                ["request", "count", "p50 ms", "p99 ms"],
                [
                    (
                        op.replace("_", " "),
                        len(v),
                        f"{percentile(v, 50):.1f}",
                        f"{percentile(v, 99):.1f}",
                    )
                    for op, v in sorted(by_op.items())
                ],
            ),
            "\nNothing lost (what the clients were answered against what the database holds "
            "after the run):\n",
            table(["check", "result"], [(k, f"`{json.dumps(v)}`") for k, v in checks.items()]),
        ]
    )
    print(text)
    if not a.no_results:
        append_results("Soak (soak.py)", text)


if __name__ == "__main__":
    main()
