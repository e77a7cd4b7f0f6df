"""Record rate: records/s through the HTTP API on PostgreSQL (fsync on) vs the same state
change done by a minimal psycopg transaction (bench/baseline_sql.py), 8 concurrent
keep-alive clients, many slots, in one run.

    python bench/record_rate.py [--duration 15] [--clients 8] [--workers 1 2] [--granian]

Load: wrk (C, keep-alive, closed loop) with bench/record.lua; the baseline: 8 Python
threads, one psycopg connection each. Both against one throwaway PostgreSQL server with
fsync and synchronous commit on. Per phase it reports records/s, client-side latency,
CPU per record of server / PostgreSQL / load generator, and the statements per record
PostgreSQL executed (pg_stat_statements). Then a py-spy profile of the server.
Goals (`deploytrace server --workers 2`): supersede >= 0.25, heartbeat >= 0.35 of the
baseline, zero errors.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import resource
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import baseline_sql
from common import (
    BENCH,
    LOGICAL_ENVIRONMENTS,
    ORG,
    SERVERS,
    Api,
    Postgres,
    Server,
    StatementStats,
    append_results,
    attest,
    bootstrap,
    cpu_seconds,
    create_environments,
    out_dir,
    percentile,
    pool_digest,
    table,
)

NENV = 8
PHASES_SQL = ("supersede", "heartbeat")
# Goals with `deploytrace server --workers 2`: records/s divided by the baseline's.
GOALS = {"supersede": 0.25, "heartbeat": 0.35}
# How the capture marks a statement that goes to the server together with COMMIT.
PIPELINED = " -- (sent with the COMMIT, one round trip)"


@dataclass
class Phase:
    name: str
    mode: str  # supersede | heartbeat
    seconds: float = 0.0
    records: int = 0
    errors: int = 0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # group -> CPU seconds
    statements: int = 0
    db_ms: float = 0.0
    top_statements: list[tuple[str, int, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def cpu_ms_per_record(self, group: str) -> float:
        return 1000 * self.cpu.get(group, 0.0) / self.records if self.records else 0.0


def slot(s: int, rng: str) -> tuple[str, str, str]:
    return f"env-{s % NENV}", LOGICAL_ENVIRONMENTS[(s // NENV) % 3], f"{rng}-{s}"


def digest_of(s: int, round_: int, pool: int) -> str:
    return pool_digest((s + round_) % pool + 1)


# Setup ------------------------------------------------------------------------------


def org_id(pg: Postgres, database: str) -> uuid.UUID:
    with pg.connect(database) as conn:
        row = conn.execute("SELECT id FROM organizations WHERE name = %s", (ORG,)).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def prepopulate(
    pg: Postgres, database: str, org: uuid.UUID, rng: str, slots: int, pool: int
) -> dict[int, baseline_sql.SlotRef]:
    """Round 0 of every slot of a range (its slot row and one deployed record, written
    directly in SQL), so that every measured supersede request really supersedes; the
    slots' ids, which the baseline starts from."""
    refs: dict[int, baseline_sql.SlotRef] = {}
    with pg.connect(database, autocommit=False) as conn:
        envs = dict(
            conn.execute(
                "SELECT name, id FROM environments WHERE org_id = %s AND deleted_at IS NULL",
                (org,),
            ).fetchall()
        )
        lenvs = dict(
            conn.execute(
                "SELECT name, id FROM logical_environments WHERE org_id = %s "
                "AND deleted_at IS NULL",
                (org,),
            ).fetchall()
        )
        for s in range(slots):
            env, lenv, name = slot(s, rng)
            row = conn.execute(
                "INSERT INTO deployment_slots (org_id, environment_id, logical_environment_id, "
                "deployment_name, kind, created_at) VALUES (%s, %s, %s, %s, %s, now()) "
                "RETURNING id",
                (org, envs[env], lenvs[lenv], name, baseline_sql.KIND),
            ).fetchone()
            assert row is not None
            refs[s] = baseline_sql.SlotRef(int(row[0]), org, envs[env], lenvs[lenv], name)
            baseline_sql.record(conn, refs[s], digest_of(s, 0, pool), "bench-setup")
    return refs


def _autocommit(conn: Any) -> bool:
    """Whether this SQLAlchemy connection's psycopg connection is in autocommit mode: then
    psycopg sends no BEGIN and COMMIT, whatever SQLAlchemy's events say."""
    return bool(getattr(conn.connection.dbapi_connection, "autocommit", False))


def capture_product(url: str, token: str, show: bool) -> dict[str, Any]:
    """Run one create, supersede and heartbeat through the product's ASGI app in this
    process and list the statements PostgreSQL receives (SQLAlchemy events; BEGIN/COMMIT
    only where psycopg sends them, i.e. not in autocommit) and the pool checkouts."""
    from sqlalchemy import event

    from deploytrace.api.app import create_app
    from deploytrace.api.runtime import Runtime
    from deploytrace.cli.embedded import AsgiTransport
    from deploytrace.settings import Settings
    from deploytrace.storage.db import Database

    settings = Settings.from_env({})
    db = Database(url, settings)
    app = create_app(Runtime(db=db, settings=settings))
    transport = AsgiTransport(lambda: app)
    log: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _stmt(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        log.append(" ".join(statement.split()))

    @event.listens_for(db.engine, "begin")
    def _begin(conn: Any) -> None:
        log.append("(autocommit: no BEGIN)" if _autocommit(conn) else "BEGIN")

    @event.listens_for(db.engine, "commit")
    def _commit(conn: Any) -> None:
        log.append("(autocommit: no COMMIT)" if _autocommit(conn) else "COMMIT")

    @event.listens_for(db.engine, "rollback")
    def _rollback(conn: Any) -> None:
        if not _autocommit(conn):
            log.append("ROLLBACK")

    # Before 4e6427e the pool pinged on every checkout (pool_pre_ping): a round trip
    # psycopg sends as an empty query, which pg_stat_statements does not count.
    pre_ping = bool(getattr(db.engine.pool, "_pre_ping", False))
    checkout = "(pool checkout: pre-ping)" if pre_ping else "(pool checkout; pinged after 2 s idle)"

    @event.listens_for(db.engine, "checkout")
    def _checkout(*args: Any) -> None:
        log.append(checkout)

    # Since round 2 the audit append goes to the server with COMMIT, on the driver's
    # connection (storage/db.py execute_and_commit): no SQLAlchemy event sees it.
    from deploytrace.storage import audit as audit_store

    pipelined = getattr(audit_store, "execute_and_commit", None)
    if pipelined is not None:

        def logged(conn: Any, statement: Any, params: Any) -> int:
            log.append(" ".join(str(statement).split()) + PIPELINED)
            return int(pipelined(conn, statement, params))

        audit_store.execute_and_commit = logged  # type: ignore[attr-defined]

    found: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for label, d in (("create", 1), ("supersede", 2), ("heartbeat", 2)):
        log.clear()
        body = {
            "environment": "env-0",
            "logical_environment": "production",
            "deployment_name": "capture",
            "kind": "CONTAINER_IMAGE",
            "digest": pool_digest(d),
        }
        response = transport.send("POST", "/v1/deployments", [], json.dumps(body).encode(), headers)
        if response.status >= 300:
            raise SystemExit(f"capture {label}: HTTP {response.status} {response.body[:300]!r}")
        sent = [x for x in log if not x.startswith("(")]
        found[label] = {
            "statements": len(sent),
            "round trips": len(sent) - sum(1 for x in sent if x.endswith(PIPELINED)),
            "transactions": sum(1 for x in sent if x == "BEGIN"),
            "autocommit": sum(1 for x in log if x == "(autocommit: no BEGIN)"),
            "checkouts": sum(1 for x in log if x.startswith("(pool")),
            "pings": sum(1 for x in log if x == "(pool checkout: pre-ping)"),
            "sent": sent,
            "log": list(log),
        }
        if show:
            print(f"\n== product statements for one {label} ({len(sent)} sent) ==")
            for line in log:
                print("  " + line[:400])
    db.dispose()
    return found


# Load generators -----------------------------------------------------------------------


def children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def self_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def run_wrk(
    base: str, args: list[str], seconds: float, clients: int, threads: int
) -> dict[str, int]:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(BENCH / "record.lua"),
        f"{base}/v1/deployments",
        "--",
        *args,
        str(threads),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    match = re.search(r"^RESULT (.*)$", done.stdout, re.M)
    if done.returncode != 0 or match is None:
        raise SystemExit(f"wrk failed: {done.stdout}\n{done.stderr}")
    if done.stderr.strip():
        print("  wrk stderr: " + done.stderr.strip()[:500])
    return {k: int(v) for k, v in (kv.split("=") for kv in match.group(1).split())}


def wrk_plain(url: str, seconds: int, clients: int, threads: int) -> float:
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    return float(match.group(1)) if match else 0.0


def measure(
    name: str,
    mode: str,
    pg: Postgres,
    stats: StatementStats,
    server_pids: list[int],
    client_cpu: Callable[[], float],
    run: Callable[[], tuple[float, int, int, list[float] | tuple[float, float]]],
) -> Phase:
    """Run one phase with CPU and statement accounting around it."""
    stats.reset()
    pg_pids = pg.backend_pids()
    before = {
        "server": cpu_seconds(server_pids),
        "postgres": cpu_seconds(pg_pids),
        "client": client_cpu(),
    }
    seconds, records, errors, latencies = run()
    pg_pids_after = pg.backend_pids()
    after = {
        "server": cpu_seconds(server_pids),
        "postgres": cpu_seconds(sorted(set(pg_pids) | set(pg_pids_after))),
        "client": client_cpu(),
    }
    rows = stats.read()
    phase = Phase(name, mode, seconds, records, errors)
    phase.cpu = {k: after[k] - before[k] for k in before}
    phase.statements = sum(calls for _, calls, _ in rows)
    phase.db_ms = sum(ms for _, _, ms in rows)
    phase.top_statements = rows[:20]
    if isinstance(latencies, tuple):
        phase.p50_ms, phase.p99_ms = latencies
    else:
        phase.p50_ms, phase.p99_ms = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"  {name:28s} {phase.rate:8.1f} records/s  p50 {phase.p50_ms:6.2f} ms  "
        f"p99 {phase.p99_ms:6.2f} ms  errors {errors}  "
        f"statements/record {phase.statements / max(1, records):.1f}"
    )
    return phase


def api_phase(
    name: str,
    mode: str,
    pg: Postgres,
    stats: StatementStats,
    server: Server,
    token: str,
    rng: str,
    a: argparse.Namespace,
    seconds: float,
) -> Phase:
    expected = "s201" if mode == "supersede" else "s200"
    unexpected = "s200" if mode == "supersede" else "s201"

    def run() -> tuple[float, int, int, tuple[float, float]]:
        r = run_wrk(
            server.base,
            [mode, token, rng, str(a.slots), str(a.pool), str(NENV)],
            seconds,
            a.clients,
            a.wrk_threads,
        )
        errors = r["other"] + r["connect"] + r["read"] + r["write"] + r["timeout"] + r[unexpected]
        return r["duration_us"] / 1e6, r[expected], errors, (r["p50_us"] / 1e3, r["p99_us"] / 1e3)

    return measure(name, mode, pg, stats, server.pids(), children_cpu, run)


def sql_phase(
    name: str,
    mode: str,
    pg: Postgres,
    stats: StatementStats,
    database: str,
    refs: dict[int, baseline_sql.SlotRef],
    a: argparse.Namespace,
    seconds: float,
) -> Phase:
    """The baseline: `clients` threads, each its own psycopg connection, closed loop, over
    the slots of one range (`refs`), in the order wrk's threads visit theirs."""
    expected = "superseded_previous" if mode == "supersede" else "heartbeat"
    # Connected before and closed after the measurement: the CPU of a backend that
    # exits during it would be lost (or not) depending on when the postmaster reaps it.
    conns = [pg.connect(database, autocommit=False) for _ in range(a.clients)]

    def run() -> tuple[float, int, int, list[float]]:
        counts = [0] * a.clients
        errors = [0] * a.clients
        latencies: list[list[float]] = [[] for _ in range(a.clients)]
        per = a.slots // a.clients
        start_gate = threading.Barrier(a.clients + 1)
        deadline = [0.0]

        def worker(i: int) -> None:
            conn = conns[i]
            start_gate.wait()
            k = 0
            while time.perf_counter() < deadline[0]:
                s = i + a.clients * (k % per)
                round_ = 0 if mode == "heartbeat" else k // per + 1
                k += 1
                t0 = time.perf_counter()
                try:
                    action = baseline_sql.record(conn, refs[s], digest_of(s, round_, a.pool))
                except Exception as error:
                    errors[i] += 1
                    if errors[i] <= 3:
                        print(f"  baseline error: {error}")
                    continue
                latencies[i].append((time.perf_counter() - t0) * 1000)
                if action == expected:
                    counts[i] += 1
                else:
                    errors[i] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.clients)]
        for t in threads:
            t.start()
        t0 = time.perf_counter()
        deadline[0] = t0 + seconds
        start_gate.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        return elapsed, sum(counts), sum(errors), [x for xs in latencies for x in xs]

    try:
        return measure(name, mode, pg, stats, [], self_cpu, run)
    finally:
        for c in conns:
            c.close()


def verify_audit(url: str, token: str) -> str:
    """`audit verify` of the org after the run: the chain the API's concurrent writers
    built must hold."""
    from deploytrace.services import audit, tenancy
    from deploytrace.settings import Settings
    from deploytrace.storage.db import Database

    db = Database(url, Settings.from_env({}))
    try:
        verdict = audit.verify(db, tenancy.authenticate(db, f"Bearer {token}"))
    finally:
        db.dispose()
    if verdict.intact:
        return f"intact, {verdict.entries:,} entries"
    return f"**BROKEN** at entry {verdict.first_broken} of {verdict.entries}: {verdict.reason}"


# Profile ---------------------------------------------------------------------------------


def profile_server(server: Server, seconds: float, load: Callable[[], Any], label: str) -> str:
    """py-spy the (single) server process while `load` runs; a markdown summary."""
    if shutil.which("py-spy") is None:
        return "py-spy not installed: no profile (pip install py-spy)\n"
    raw = out_dir("profiles") / f"record-{label}.txt"
    pid = str(server.serving_pids()[0])
    common = [
        "py-spy",
        "record",
        "--pid",
        pid,
        "--duration",
        str(round(seconds)),
        "--rate",
        "250",
        "--gil",
        "--full-filenames",
        "--nonblocking",
    ]
    spy = subprocess.Popen(
        [*common, "--format", "raw", "--nolineno", "-o", str(raw)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    load()
    spy.wait()
    return summarize_collapsed(raw.read_text(), label, seconds)


CATEGORIES = (
    ("deploytrace", "/deploytrace/"),
    ("sqlalchemy", "/sqlalchemy/"),
    ("psycopg", "/psycopg"),
    ("pydantic", "/pydantic"),
    ("fastapi+starlette", "/fastapi/"),
    ("fastapi+starlette", "/starlette/"),
    ("uvicorn/h11/httptools", "/uvicorn/"),
    ("uvicorn/h11/httptools", "/h11/"),
    ("uvicorn/h11/httptools", "/httptools/"),
    ("anyio/asyncio/threads", "/anyio/"),
    ("anyio/asyncio/threads", "/asyncio/"),
    ("anyio/asyncio/threads", "threading.py"),
    ("anyio/asyncio/threads", "concurrent/futures"),
    ("json/hashlib/uuid/datetime (stdlib)", "/json/"),
    ("json/hashlib/uuid/datetime (stdlib)", "uuid.py"),
)


def category(frame: str) -> str:
    for name, needle in CATEGORIES:
        if needle in frame:
            return name
    return "other"


def summarize_collapsed(text: str, label: str, seconds: float = 0.0, rate: int = 250) -> str:
    self_count: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    cats: collections.Counter[str] = collections.Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        total += count
        self_count[frames[-1]] += count
        # the innermost non-stdlib frame says whose work it is
        for f in reversed(frames):
            c = category(f)
            if c != "other" or f is frames[0]:
                cats[c] += count
                break
        for f in set(frames):
            incl[f] += count
    if not total:
        return "(no samples)\n"

    def pct(n: int) -> str:
        return f"{100 * n / total:.1f}%"

    held = f", the GIL held {100 * total / (seconds * rate):.0f}% of the time" if seconds else ""
    out = [
        f"py-spy --gil at {rate} Hz: {total} samples of the thread holding the GIL ({label}"
        f"{held}); raw collapsed stacks: bench/out/profiles/\n"
    ]
    out.append(
        table(
            ["library (innermost known frame)", "share"],
            [(c, pct(n)) for c, n in cats.most_common()],
        )
    )
    ours = [
        (f, n)
        for f, n in incl.most_common()
        if "/deploytrace/" in f and "/deploytrace/cli/" not in f and "__main__" not in f
    ][:14]
    out.append("\nInclusive time of deploytrace functions:\n")
    out.append(table(["function", "inclusive"], [(f"`{short(f)}`", pct(n)) for f, n in ours]))
    out.append("\nTop self time:\n")
    out.append(
        table(
            ["function", "self"],
            [(f"`{short(f)}`", pct(n)) for f, n in self_count.most_common(12)],
        )
    )
    return "\n".join(out) + "\n"


def short(frame: str) -> str:
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


# Main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per measured phase")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--slots", type=int, default=512, help="slots per phase")
    parser.add_argument("--pool", type=int, default=997, help="attested digests")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--server",
        nargs="+",
        default=["uvicorn"],
        choices=SERVERS,
        help="ASGI servers to measure (uvicorn = `deploytrace server`)",
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--show-sql", action="store_true", help="print the product's statements")
    parser.add_argument("--no-results", action="store_true", help="do not append to RESULTS.md")
    a = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk (see bench/README.md)")

    phases: list[Phase] = []
    profiles: list[str] = []
    healthz: dict[str, float] = {}
    with Postgres(durable=True) as pg:
        database = pg.create_database()
        url = pg.url(database)
        token = bootstrap(url)
        org = org_id(pg, database)
        stats = StatementStats(pg, database)
        print("preparing: environments, attestations, slots ...")
        with Server(url) as server:
            api = Api(server.base, token)
            create_environments(api, [f"env-{i}" for i in range(NENV)])
            attest(api, [pool_digest(n) for n in range(1, a.pool + 1)])
            api.close()
        captured = capture_product(url, token, a.show_sql)
        servers = [(kind, w) for kind in a.server for w in a.workers]
        ranges = ["hb", "sqlwarm", "sqlsup", "prof"]
        ranges += [f"{kind}{w}{part}" for kind, w in servers for part in ("warm", "sup")]
        refs = {rng: prepopulate(pg, database, org, rng, a.slots, a.pool) for rng in ranges}
        with pg.connect(database) as conn:
            conn.execute("VACUUM ANALYZE")

        for kind, w in servers:
            with Server(url, workers=w, kind=kind) as server:

                def phase(
                    name: str, mode: str, rng: str, seconds: float, srv: Server = server
                ) -> Phase:
                    return api_phase(name, mode, pg, stats, srv, token, rng, a, seconds)

                label = f"API {kind} {w} proc" if kind != "uvicorn" else f"API {w} proc"
                print(f"{label}:")
                phase("warm-up", "supersede", f"{kind}{w}warm", a.warmup)
                phase("warm-up", "heartbeat", "hb", a.warmup)
                phases.append(phase(f"{label} supersede", "supersede", f"{kind}{w}sup", a.duration))
                phases.append(phase(f"{label} heartbeat", "heartbeat", "hb", a.duration))
                if w == 1 and kind == "uvicorn" and not a.no_profile:
                    print("profiling the server (py-spy) ...")
                    for mode, rng in (("supersede", "prof"), ("heartbeat", "hb")):
                        summary = profile_server(
                            server,
                            a.duration,
                            lambda m=mode, r=rng: phase("profiled", m, r, a.duration),
                            mode,
                        )
                        profiles.append(f"#### {mode}, 1 server process\n\n{summary}")
                if w == 1 and kind not in healthz:
                    healthz[kind] = wrk_plain(f"{server.base}/healthz", 5, a.clients, a.wrk_threads)

        print("baseline: a minimal psycopg transaction (bench/baseline_sql.py):")
        sql_phase("warm-up", "supersede", pg, stats, database, refs["sqlwarm"], a, a.warmup)
        for mode, rng in (("supersede", "sqlsup"), ("heartbeat", "hb")):
            phases.append(
                sql_phase(f"psycopg {mode}", mode, pg, stats, database, refs[rng], a, a.duration)
            )
        audit = verify_audit(url, token)
        print(f"audit chain after the run: {audit}")
        pg_version = pg.version()

    report(a, phases, captured, profiles, healthz, pg_version, audit)


def report(
    a: argparse.Namespace,
    phases: list[Phase],
    captured: dict[str, Any],
    profiles: list[str],
    healthz: dict[str, float],
    pg_version: str,
    audit: str,
) -> None:
    base = {p.mode: p for p in phases if p.name.startswith("psycopg")}
    rows = []
    for p in phases:
        if p.name.startswith("psycopg"):
            ratio_cell = "1 (baseline)"
        else:
            ratio = p.rate / base[p.mode].rate
            goal = GOALS[p.mode]
            # The goals are set for `deploytrace server --workers 2`.
            if re.fullmatch(r"API 2 proc \w+", p.name):
                ratio_cell = f"**{ratio:.2f}** {'✅' if ratio >= goal and not p.errors else '❌'}"
            else:
                ratio_cell = f"{ratio:.2f}"
        rows.append(
            (
                p.name,
                f"{p.rate:.0f}",
                ratio_cell,
                f"{p.p50_ms:.2f} / {p.p99_ms:.2f}",
                p.errors,
                f"{p.cpu_ms_per_record('server'):.2f}",
                f"{p.cpu_ms_per_record('postgres'):.2f}",
                f"{p.cpu_ms_per_record('client'):.2f}",
                f"{p.statements / max(1, p.records):.1f}",
                f"{p.db_ms / max(1, p.records):.3f}",
            )
        )
    body = [
        f"{a.clients} concurrent keep-alive clients, {a.slots} slots per phase, "
        f"{a.duration:.0f} s per phase (after {a.warmup:.0f} s warm-up per server); "
        f"PostgreSQL {pg_version}, **fsync and synchronous commit on**; API load from wrk "
        f"({a.wrk_threads} threads, bench/record.lua), baseline from {a.clients} Python threads "
        "with one psycopg connection each (bench/baseline_sql.py: BEGIN, the slot's active row "
        "FOR UPDATE, the heartbeat UPDATE or the supersede's UPDATE + INSERT, COMMIT; slot ids "
        "known in advance, no token, no evidence, no audit, no policy). Every supersede "
        "request deploys a new attested digest in a slot that has one deployed; heartbeats "
        "re-record a slot's digest. Goals with `deploytrace server --workers 2`: supersede "
        f"≥ {GOALS['supersede']}, heartbeat ≥ {GOALS['heartbeat']}, zero errors.\n",
        table(
            [
                "phase",
                "records/s",
                "ratio vs psycopg (same run)",
                "latency p50 / p99 ms",
                "errors",
                "server CPU ms/rec",
                "PostgreSQL CPU ms/rec",
                "client CPU ms/rec",
                "statements/rec (pg_stat_statements)",
                "DB exec ms/rec",
            ],
            rows,
        ),
        "\nLoad generator ceiling: wrk against `/healthz` (same "
        f"{a.clients} connections, 1 server process): "
        + ", ".join(f"{kind} {rate:.0f} requests/s" for kind, rate in healthz.items())
        + ". `client CPU` is wrk's (API rows) or the baseline process's own CPU (psycopg "
        f"rows). Audit chain of the org after the run (`audit verify`): {audit}.\n",
        "Statements PostgreSQL receives per request, as the product sends them (SQLAlchemy "
        "events, in-process; BEGIN/COMMIT counted only when psycopg sends them, i.e. not in "
        "autocommit), and the baseline's:\n",
        table(
            [
                "request",
                "statements (BEGIN, COMMIT included)",
                "round trips",
                "transactions (BEGIN ... COMMIT)",
                "autocommit units",
                "baseline",
                "pool checkouts",
            ],
            [
                (
                    k,
                    v["statements"],
                    v["round trips"],
                    v["transactions"],
                    v["autocommit"],
                    len(baseline_sql.statements(k)) if k in PHASES_SQL else "-",
                    v["checkouts"],
                )
                for k, v in captured.items()
            ],
        ),
    ]
    for mode in PHASES_SQL:
        body.append(f"\n<details><summary>The product's statements of one {mode}</summary>\n")
        body.append("```")
        body += [
            f"{i + 1:2d}. {line[:200]}{PIPELINED if line.endswith(PIPELINED) else ''}"
            for i, line in enumerate(captured[mode]["sent"])
        ]
        body.append("```\n</details>")
    for p in phases:
        if p.name in (
            "API 1 proc supersede",
            "API 2 proc supersede",
            "API 2 proc heartbeat",
            "psycopg supersede",
        ):
            body.append(
                f"\n<details><summary>pg_stat_statements, {p.name} (calls per record)</summary>\n"
            )
            body.append(
                table(
                    ["calls/rec", "ms/rec", "statement"],
                    [
                        (
                            f"{c / max(1, p.records):.2f}",
                            f"{ms / max(1, p.records):.3f}",
                            "`" + " ".join(q.split())[:110] + "`",
                        )
                        for q, c, ms in p.top_statements
                    ],
                )
            )
            body.append("\n</details>")
    if profiles:
        body.append("\n### Server profile (py-spy)\n")
        body += profiles
    text = "\n".join(body)
    print(text)
    if not a.no_results:
        append_results("Record rate (record_rate.py)", text)


if __name__ == "__main__":
    main()
