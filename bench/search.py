"""Vulnerability search at scale, and indexing a big SBOM.

    python bench/search.py [--sizes 10000 1000000] [--per-artifact 100] [--calls 200]
                           [--index 100000] [--no-results]

Search: for each size (indexed components), a fresh PostgreSQL database (migrations + org
by `admin bootstrap`), filled by COPY (`load` below: `size / per-artifact` artifacts, each
attested, recorded once in production (30% still deployed, the rest superseded), with
`per-artifact` components drawn from a fixed pool of 5,000 packages (the 30 base
packages in nearly every artifact, a long tail for the rest), 10 findings each, and
log4j-core 2.14.1 with CVE-2021-44228 in 20 artifacts at every size, so that a query has
the same answer at both sizes and only the index grows), then one `deploytrace server`
and one client on loopback timing `--calls` sequential calls (after 20 warm-up calls) of
GET /v1/search:

- purl@version: pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1 (now)
- purl + range: the same purl without version, vers:maven/>=2.0.0|<2.15.0 (now)
- component: `openssl`, in every artifact: the first page (20) of a huge answer (now)
- cve: CVE-2021-44228 (now); cve history: the same with history=true

Goal (issue 13): p50 < 50 ms at 1M components over 10k artifacts, and 1M/10k <= 1.3.
The SQL of each query is captured in-process and EXPLAIN (ANALYZE, BUFFERS) of its
statements at the largest size goes to RESULTS.md.

Indexing (`--index N`, 0 to skip): an N-component CycloneDX SBOM (purls as syft writes
them) pushed through the API of the last server as an in-toto statement: wall time of
the push, with extraction alone timed in this process; meanwhile a second client
pushes small SBOMs (20 components) in a loop, and its worst latency is what the big
push made others wait.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import threading
import time
import uuid
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
    explain,
    machine_line,
    percentile,
    table,
)
from loader import _attestation_row, _copy_attestations

POOL = 5_000
BASE = 30  # base-image packages, in (nearly) every artifact
FINDINGS = 10
VULNERABLE = 20  # artifacts with log4j-core 2.14.1, whatever the size: the same answer
LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core"
LOG4SHELL = "CVE-2021-44228"
QUERIES: dict[str, dict[str, str]] = {
    "purl@version": {"purl": f"{LOG4J}@2.14.1"},
    "purl + range": {"purl": LOG4J, "version_range": "vers:maven/>=2.0.0|<2.15.0"},
    "component": {"component": "openssl", "limit": "20"},
    "cve": {"cve": LOG4SHELL},
    "cve history": {"cve": LOG4SHELL, "history": "true"},
}


def artifact(k: int) -> str:
    return "sha256:" + hashlib.sha256(f"search-artifact-{k}".encode()).hexdigest()


def package(i: int, variant: int) -> tuple[str, str, str, str, str]:
    """(type, namespace, name, version, purl) of pool package i in one of its versions."""
    if i == 0:
        name, version = "openssl", f"3.0.{variant}"
        return "deb", "debian", name, version, f"pkg:deb/debian/{name}@{version}?arch=amd64"
    if i % 3 == 0:
        ns, name, version = f"org.example.g{i % 97}", f"lib-{i}", f"1.{variant}.{i % 10}"
        return "maven", ns, name, version, f"pkg:maven/{ns}/{name}@{version}"
    if i % 3 == 1:
        name, version = f"node-mod-{i}", f"{variant}.{i % 20}.0"
        return "npm", "", name, version, f"pkg:npm/{name}@{version}"
    name, version = f"deb-pkg-{i}", f"{i % 9}.{variant}-1"
    return "deb", "debian", name, version, f"pkg:deb/debian/{name}@{version}?arch=amd64"


def load(dsn: str, components: int, per_artifact: int, seed: int = 7) -> dict[str, Any]:
    rnd = random.Random(seed)
    started = time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    artifacts = max(1, components // per_artifact)
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT id FROM organizations WHERE name = %s", (ORG,)).fetchone()
        assert row is not None
        org: uuid.UUID = row[0]
        env = uuid.uuid4()
        conn.execute(
            "INSERT INTO environments (id, org_id, name, description, created_at, updated_at) "
            "VALUES (%s, %s, 'bench-env', '', %s, %s)",
            (env, org, now, now),
        )
        lenv = conn.execute(
            "SELECT id FROM logical_environments WHERE org_id = %s AND name = 'production'",
            (org,),
        ).fetchone()[0]  # type: ignore[index]
        rows, subjects = [], []
        for k in range(artifacts):
            subs = [(f"ghcr.io/acme/app-{k}", artifact(k))]
            content = json.dumps({"bench": k}).encode()
            rows.append(_attestation_row(org, content, subs, now))
            subjects.append(subs)
        for start in range(0, len(rows), 5_000):
            _copy_attestations(conn, rows[start : start + 5_000], subjects[start : start + 5_000])
        seqs = dict(
            conn.execute(
                "SELECT r.digest, r.attestation_seq FROM artifact_refs r WHERE r.org_id = %s",
                (org,),
            ).fetchall()
        )
        deployed = 0
        vulnerable = 0
        with (
            conn.cursor().copy(
                "COPY contents_components (org_id, artifact_digest, attestation_seq, "
                "purl_name, purl_type, purl_namespace, version, purl, name) FROM STDIN"
            ) as comps,
        ):
            for k in range(artifacts):
                d, seq = artifact(k), seqs[artifact(k)]
                chosen = set(range(BASE)) if per_artifact > BASE else set()
                while len(chosen) < per_artifact - 1:
                    chosen.add(rnd.randrange(BASE, POOL))
                for i in sorted(chosen):
                    t, ns, name, version, purl = package(i, k % 4)
                    comps.write_row((org, d, seq, name, t, ns, version, purl, name))
                log4j = "2.14.1" if k < VULNERABLE else "2.17.1" if k < 2 * VULNERABLE else "2.20.0"
                comps.write_row(
                    (org, d, seq, "log4j-core", "maven", "org.apache.logging.log4j", log4j,
                     f"{LOG4J}@{log4j}", "log4j-core")
                )  # fmt: skip
        with conn.cursor().copy(
            "COPY contents_findings (org_id, artifact_digest, attestation_seq, vuln_id, "
            "vulnerability, severity, purl_name, purl_type, purl_namespace, version, purl, "
            "name) FROM STDIN"
        ) as found:
            for k in range(artifacts):
                d, seq = artifact(k), seqs[artifact(k)]
                for _ in range(FINDINGS):
                    cve = f"CVE-2024-{rnd.randrange(10_000, 12_000)}"
                    t, ns, name, version, purl = package(rnd.randrange(POOL), k % 4)
                    found.write_row(
                        (org, d, seq, cve, cve, "high", name, t, ns, version, purl, name)
                    )
                if k < VULNERABLE:
                    vulnerable += 1
                    found.write_row(
                        (org, d, seq, LOG4SHELL, LOG4SHELL, "critical", "log4j-core", "maven",
                         "org.apache.logging.log4j", "2.14.1", f"{LOG4J}@2.14.1", "log4j-core")
                    )  # fmt: skip
        first = now - dt.timedelta(days=365)
        with conn.cursor().copy(
            "COPY deployment_slots (org_id, environment_id, logical_environment_id, "
            "deployment_name, kind, created_at) FROM STDIN"
        ) as slots:
            for k in range(artifacts):
                slots.write_row((org, env, lenv, f"svc-{k}", "CONTAINER_IMAGE", first))
        slot_ids = dict(
            conn.execute(
                "SELECT deployment_name, id FROM deployment_slots WHERE environment_id = %s",
                (env,),
            ).fetchall()
        )
        with conn.cursor().copy(
            "COPY deployment_records (id, org_id, slot_id, environment_id, "
            "logical_environment_id, deployment_name, kind, artifact_digest, artifact_name, "
            "artifact_version, status, ended_reason, created_at, updated_at, last_seen_at, "
            "ended_at, recorded_by) FROM STDIN"
        ) as records:
            for k in range(artifacts):
                created = now - dt.timedelta(days=365) + dt.timedelta(seconds=k * 60)
                live = k < VULNERABLE or rnd.random() < 0.3  # log4shell runs
                deployed += live
                ended = None if live else created + dt.timedelta(hours=1)
                records.write_row(
                    (uuid.uuid4(), org, slot_ids[f"svc-{k}"], env, lenv, f"svc-{k}",
                     "CONTAINER_IMAGE", artifact(k), f"ghcr.io/acme/app-{k}", "1.0.0",
                     "deployed" if live else "superseded", None if live else "superseded",
                     created, ended or created, ended or created, ended, "bench")
                )  # fmt: skip
        with conn.cursor().copy(
            "COPY attestation_contents (attestation_seq, org_id, state, formats, components, "
            "findings, statements, skipped, chunks, chunks_done, updated_at) FROM STDIN"
        ) as states:
            for k in range(artifacts):
                states.write_row(
                    (seqs[artifact(k)], org, "indexed", "cyclonedx", per_artifact, FINDINGS,
                     0, 0, 0, 0, now)
                )  # fmt: skip
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return {
        "components": artifacts * per_artifact,
        "artifacts": artifacts,
        "deployed": deployed,
        "log4shell": vulnerable,
        "seconds": time.perf_counter() - started,
    }


def time_calls(api: Api, params: dict[str, str], calls: int, warmup: int = 20) -> list[float]:
    for _ in range(warmup):
        api.json("GET", "/v1/search", params=params)
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        status, raw = api.request("GET", "/v1/search", params=params)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise SystemExit(f"GET /v1/search {params}: HTTP {status} {raw[:300]!r}")
    return times


def big_sbom(n: int, subject: str) -> bytes:
    components = []
    for i in range(n):
        _, _, name, version, purl = package(i % POOL, i // POOL)
        purl = purl.replace(f"/{name}@", f"/{name}-{i}@")
        components.append({"bom-ref": purl, "type": "library", "name": f"{name}-{i}",
                           "version": version, "purl": purl})  # fmt: skip
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ghcr.io/acme/big", "digest": {"sha256": subject.split(":")[1]}}],
            "predicateType": "https://cyclonedx.org/bom",
            "predicate": {"bomFormat": "CycloneDX", "specVersion": "1.5", "components": components},
        }
    ).encode()


def measure_index(server: Server, token: str, n: int) -> dict[str, Any]:
    from deploytrace.attestations import parse
    from deploytrace.services.contents import extract

    data = big_sbom(n, artifact(-1))
    t0 = time.perf_counter()
    att = parse(data)[0]
    t1 = time.perf_counter()
    contents = extract(att)
    t2 = time.perf_counter()
    small: list[float] = []
    stop = threading.Event()

    def pusher() -> None:
        api = Api(server.base, token)
        i = 0
        while not stop.is_set():
            body = big_sbom(20, artifact(10**9 + i)).replace(b"ghcr.io/acme/big", f"s{i}".encode())
            t = time.perf_counter()
            status, raw = api.request(
                "POST", "/v1/attestations", body, content_type="application/json"
            )
            small.append((time.perf_counter() - t) * 1000)
            if status not in (200, 201):
                raise SystemExit(f"small push: HTTP {status} {raw[:200]!r}")
            i += 1
        api.close()

    api = Api(server.base, token, timeout=600)
    baseline: list[float] = []
    for i in range(10):
        body = big_sbom(20, artifact(2 * 10**9 + i)).replace(b"ghcr.io/acme/big", f"b{i}".encode())
        t = time.perf_counter()
        api.request("POST", "/v1/attestations", body, content_type="application/json")
        baseline.append((time.perf_counter() - t) * 1000)
    thread = threading.Thread(target=pusher, daemon=True)
    thread.start()
    t3 = time.perf_counter()
    status, raw = api.request("POST", "/v1/attestations", data, content_type="application/json")
    push = time.perf_counter() - t3
    stop.set()
    thread.join(60)
    api.close()
    if status not in (200, 201):
        raise SystemExit(f"big push: HTTP {status} {raw[:300]!r}")
    return {
        "components": len(contents.components),
        "mb": len(data) / 1e6,
        "parse_s": t1 - t0,
        "extract_s": t2 - t1,
        "push_s": push,
        "small_p50_alone_ms": percentile(baseline, 50),
        "small_during": len(small),
        "small_p50_ms": percentile(small, 50) if small else 0.0,
        "small_max_ms": max(small) if small else 0.0,
    }


def run_size(size: int, a: argparse.Namespace, index: int) -> dict[str, Any]:
    with Postgres() as pg:
        database = pg.create_database()
        url = pg.url(database)
        token = bootstrap(url)
        print(f"loading {size:,} components ...", flush=True)
        facts = load(pg.dsn(database), size, a.per_artifact)
        print(f"  loaded in {facts['seconds']:.0f} s: {facts}", flush=True)
        result: dict[str, Any] = {"facts": facts, "latency": {}, "answers": {}}
        with Server(url) as server:
            api = Api(server.base, token)
            for name, params in QUERIES.items():
                answer = api.json("GET", "/v1/search", params=params)
                result["answers"][name] = len(answer["items"])
                times = time_calls(api, params, a.calls)
                result["latency"][name] = (percentile(times, 50), percentile(times, 99))
                print(
                    f"  {name:14s} p50 {percentile(times, 50):7.2f} ms  "
                    f"p99 {percentile(times, 99):7.2f} ms  ({len(answer['items'])} artifacts)",
                    flush=True,
                )
            api.close()
            if index:
                print(f"  pushing a {index:,}-component SBOM ...", flush=True)
                result["index"] = measure_index(server, token, index)
                print(f"  {result['index']}", flush=True)
        one = [("GET", "/v1/search", list(p.items()), None) for p in QUERIES.values()]
        result["plans"] = {}
        for name, cap in zip(QUERIES, capture_requests(url, token, one), strict=True):
            plans = []
            for statement, params in cap.statements:
                head = statement.lstrip().upper()
                if head.startswith(("SELECT", "WITH")) and "contents_" in statement:
                    plan, ms = explain(pg, database, statement, params)
                    plans.append((" ".join(statement.split()), plan, ms))
            result["plans"][name] = plans
    return result


def report(results: dict[int, dict[str, Any]]) -> str:
    sizes = sorted(results)
    small, big = sizes[0], sizes[-1]
    rows = []
    for name in QUERIES:
        cells: list[object] = [name]
        for s in sizes:
            p50, p99 = results[s]["latency"][name]
            cells += [f"{p50:.2f}", f"{p99:.2f}"]
        ratio = results[big]["latency"][name][0] / results[small]["latency"][name][0]
        cells.append(f"{ratio:.2f}")
        rows.append(cells)
    headers = ["query"]
    for s in sizes:
        headers += [f"p50 ms @{s:,}", f"p99 ms @{s:,}"]
    headers.append(f"p50 {big:,}/{small:,}")
    lines = [machine_line(), "", table(headers, rows), ""]
    for s in sizes:
        lines.append(f"- {s:,} components: {results[s]['facts']}")
    for s in sizes:
        if "index" in results[s]:
            lines.append(f"- indexing at {s:,}: {results[s]['index']}")
    lines.append("")
    for name, plans in results[big]["plans"].items():
        for statement, plan, ms in plans:
            lines += [f"**{name}** ({ms:.2f} ms): `{statement[:300]}`", "", "```", plan, "```", ""]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000])
    p.add_argument("--per-artifact", type=int, default=100)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--index", type=int, default=100_000, help="SBOM size to push (0: skip)")
    p.add_argument("--no-results", action="store_true", help="print only")
    a = p.parse_args()
    results = {}
    for i, size in enumerate(a.sizes):
        results[size] = run_size(size, a, a.index if i == len(a.sizes) - 1 else 0)
    text = report(results)
    print(text)
    if not a.no_results:
        append_results("search.py: vulnerability search and SBOM indexing", text)


if __name__ == "__main__":
    main()
