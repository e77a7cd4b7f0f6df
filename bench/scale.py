"""Scale independence: read latencies with 10 thousand and with 1 million deployment records.

    python bench/scale.py [--sizes 10000 1000000] [--calls 300]

For each size: a fresh database (migrations + org by `admin bootstrap`), bench/loader.py
fills it by COPY, one `deploytrace server` process serves it, and one client on loopback
times `--calls` sequential calls (after 20 warm-up calls) of:

- active: the active list of a logical environment, first page
  (GET /v1/deployments?logical_environment=production)
- history: a history page deep in the cursor (same, `history=true`, a cursor in the middle
  of production's history: page ~33 at 10k, ~3,300 at 1M; a different one per call)
- deployment describe: GET /v1/deployments/{id}, a different random record per call (not
  one of the hot digest's: describing those is the artifact describe case)
- artifact describe: GET /v1/artifacts/{digest} of the digest named by 10,000 attestations

The goal: 1M/10k ratio <= 1.3 for p50 and p99 of each, and p50 < 20 ms at 1M. The SQL of
each call is captured in-process (SQLAlchemy events) and EXPLAIN (ANALYZE, BUFFERS) run on
it at each size; the plans at the largest size go to RESULTS.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import time
from typing import Any

import loader
from common import (
    ORG,
    Api,
    Postgres,
    Server,
    StatementStats,
    append_results,
    bootstrap,
    capture_requests,
    explain,
    percentile,
    table,
)

ENDPOINTS = ("active", "history", "deployment describe", "artifact describe")


def cursor(created_at: dt.datetime, seq: int) -> str:
    """The product's keyset cursor of record lists (services/records.py cursor_of,
    services/pagination.py): base64url of the JSON key [created_at, seq]."""
    at = created_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return base64.urlsafe_b64encode(json.dumps([at, seq], separators=(",", ":")).encode()).decode()


def requests_for(
    pg: Postgres, database: str, n: int, hot: str
) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """(path, query) per call of each endpoint."""
    with pg.connect(database) as conn:
        prod = conn.execute(
            "SELECT id FROM logical_environments WHERE name = 'production'"
        ).fetchone()
        assert prod is not None
        lo, hi = conn.execute(
            "SELECT min(seq), max(seq) FROM deployment_records WHERE logical_environment_id = %s",
            (prod[0],),
        ).fetchone()  # type: ignore[misc]
        span = hi - lo
        keys = [
            (r[1], int(r[0]))
            for r in conn.execute(
                "SELECT seq, created_at FROM deployment_records WHERE logical_environment_id = %s "
                "AND seq BETWEEN %s AND %s ORDER BY random() LIMIT %s",
                (prod[0], lo + span * 4 // 10, lo + span * 6 // 10, n),
            )
        ]
        ids = [
            str(r[0])
            for r in conn.execute(
                "SELECT id FROM deployment_records TABLESAMPLE SYSTEM (5) "
                "WHERE artifact_digest <> %s ORDER BY random() LIMIT %s",
                (hot, n),
            )
        ]
    base = {"logical_environment": "production"}
    return {
        "active": [("/v1/deployments", base)] * n,
        "history": [
            ("/v1/deployments", {**base, "history": "true", "cursor": cursor(*k)})
            for k in (keys * (n // max(1, len(keys)) + 1))[:n]
        ],
        "deployment describe": [(f"/v1/deployments/{i}", {}) for i in (ids * n)[:n]],
        "artifact describe": [(f"/v1/artifacts/{hot}", {})] * n,
    }


OWNERS_DERIVED = """
SELECT DISTINCT r.digest, COALESCE(w.name, ''), COALESCE(p.name, ''), COALESCE(v.version, '')
FROM artifact_refs r
JOIN attestations a ON a.seq = r.attestation_seq
LEFT JOIN workflows w ON w.id = a.workflow_id
LEFT JOIN projects p ON p.id = a.project_id
LEFT JOIN project_versions v ON v.id = a.project_version_id
WHERE r.role IN ('subject', 'material') AND r.digest = %s
  AND (w.name IS NOT NULL OR p.name IS NOT NULL OR v.version IS NOT NULL)
"""


def check_owners(pg: Postgres, database: str, hot: str) -> str:
    """The loader's artifact_owners rows for the hot digest against the owners derived from
    the stored attestations (migration 0004's query): they must be the same set."""
    with pg.connect(database) as conn:
        if conn.execute("SELECT to_regclass('artifact_owners')").fetchone() == (None,):
            return "no artifact_owners table (schema before migration 0004)"
        derived = set(conn.execute(OWNERS_DERIVED, (hot,)).fetchall())
        stored = set(
            conn.execute(
                "SELECT digest, workflow, project, project_version FROM artifact_owners "
                "WHERE digest = %s",
                (hot,),
            ).fetchall()
        )
    if derived != stored:
        raise SystemExit(
            f"loader: artifact_owners of the hot digest ({len(stored)} rows) differ from the "
            f"owners of its attestations ({len(derived)}): fix bench/loader.py"
        )
    return f"{len(stored):,} rows, equal to the owners derived from its attestations"


def time_calls(api: Api, calls: list[tuple[str, dict[str, Any]]], warmup: int) -> list[float]:
    for path, params in calls[:warmup]:
        api.json("GET", path, params=params)
    times = []
    for path, params in calls:
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
        facts = loader.load(pg.dsn(database), ORG, size)
        print(f"  loaded in {facts['seconds']:.0f} s", flush=True)
        facts["owners_check"] = check_owners(pg, database, facts["hot_digest"])
        print(f"  artifact_owners of the hot digest: {facts['owners_check']}", flush=True)
        with pg.connect(database) as conn:
            size_mb = conn.execute(
                "SELECT pg_total_relation_size('deployment_records') / 1048576"
            ).fetchone()[0]  # type: ignore[index]
        calls = requests_for(pg, database, a.calls, facts["hot_digest"])
        result: dict[str, Any] = {"facts": facts, "table_mb": size_mb, "latency": {}, "db": {}}
        stats = StatementStats(pg, database)
        with Server(url) as server:
            api = Api(server.base, token)
            health = time_calls(api, [("/healthz", {})] * a.calls, 20)
            result["healthz"] = (percentile(health, 50), percentile(health, 99))
            for name in ENDPOINTS:
                time_calls(api, calls[name][:20], 0)  # warm-up, outside the statistics
                stats.reset()
                times = time_calls(api, calls[name], 0)
                rows = stats.read()
                # DB time per call as the server ran it (prepared, possibly generic plans)
                result["db"][name] = (
                    sum(ms for *_, ms in rows) / len(times),
                    sum(c for _, c, _ in rows) / len(times),
                )
                result["latency"][name] = (percentile(times, 50), percentile(times, 99))
                print(
                    f"  {name:20s} p50 {percentile(times, 50):7.2f} ms  "
                    f"p99 {percentile(times, 99):7.2f} ms",
                    flush=True,
                )
            api.close()
        # The SQL of one call of each endpoint, and its plan at this size.
        one = [
            (
                "GET",
                calls[n][len(calls[n]) // 2][0],
                list(calls[n][len(calls[n]) // 2][1].items()),
                None,
            )
            for n in ENDPOINTS
        ]
        captured = capture_requests(url, token, one)
        result["plans"] = {}
        for name, cap in zip(ENDPOINTS, captured, strict=True):
            if cap.status != 200:
                raise SystemExit(f"capture {name}: HTTP {cap.status} {cap.body[:300]!r}")
            plans = []
            for statement, params in cap.statements:
                if statement.lstrip().upper().startswith("SELECT"):
                    plan, ms = explain(pg, database, statement, params)
                    plans.append((" ".join(statement.split()), plan, ms))
            result["plans"][name] = plans
    return result


def report(a: argparse.Namespace, results: dict[int, dict[str, Any]]) -> str:
    small, large = min(results), max(results)
    rows = []
    for name in ENDPOINTS:
        s50, s99 = results[small]["latency"][name]
        l50, l99 = results[large]["latency"][name]
        r50, r99 = l50 / s50, l99 / s99
        ok = r50 <= 1.3 and r99 <= 1.3 and l50 < 20
        rows.append(
            (
                name,
                f"{s50:.2f} / {s99:.2f}",
                f"{l50:.2f} / {l99:.2f}",
                f"**{r50:.2f}** / **{r99:.2f}**",
                "✅" if ok else "❌",
                f"{results[small]['db'][name][0]:.2f} / {results[large]['db'][name][0]:.2f}",
                f"{results[large]['db'][name][1]:.1f}",
            )
        )
    h_small, h_large = results[small]["healthz"], results[large]["healthz"]
    lines = [
        f"One server process, one client on loopback, {a.calls} sequential calls per endpoint "
        "(after 20 warm-up calls), latency measured by the client (http.client, keep-alive). "
        f"Floor: `/healthz` p50 {h_small[0]:.2f} ms (p99 {h_small[1]:.2f}) at {small:,}, "
        f"{h_large[0]:.2f} ms ({h_large[1]:.2f}) at {large:,}.\n",
        table(
            [
                "endpoint",
                f"p50 / p99 ms at {small:,}",
                f"p50 / p99 ms at {large:,}",
                "ratio p50 / p99 (goal ≤ 1.3)",
                "goal (and p50 < 20 ms)",
                "DB exec ms per call, small / large (pg_stat_statements)",
                "statements per call",
            ],
            rows,
        ),
        "",
        table(
            [
                "records",
                "slots",
                "artifacts",
                "attestations",
                "artifact_owners rows of the hot digest",
                "load s",
                "deployment_records MB",
            ],
            [
                (
                    f"{n:,}",
                    f"{r['facts']['slots']:,}",
                    f"{r['facts']['artifacts']:,}",
                    f"{r['facts']['attestations']:,}",
                    r["facts"]["owners_check"],
                    f"{r['facts']['seconds']:.0f}",
                    r["table_mb"],
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
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--no-results", action="store_true")
    a = parser.parse_args()
    results = {size: run_size(size, a) for size in a.sizes}
    text = report(a, results)
    print(text)
    if not a.no_results:
        append_results("Scale independence (scale.py)", text)


if __name__ == "__main__":
    main()
