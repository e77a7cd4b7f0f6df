"""Snapshot sync (SPEC §7) against the single-record API, in one run, on SQLite and PostgreSQL.

    python bench/sync.py [--workloads 10000] [--singles 400] [--backends sqlite postgres]

A real `deploytrace server` process per backend. For each backend:

1. the single-record rate: `--singles` `POST /v1/deployments` creating records one by
   one (each a new attested digest in its own slot), from one client;
2. a first sync of `--workloads` workloads (every slot created);
3. a repeat with 1% of the digests changed and 1% of the workloads gone (1% superseded,
   1% decommissioned as absent, 98% heartbeats);
4. an identical repeat (heartbeats only).

Reported: wall time of each sync, records/s through the first sync (records created ÷
seconds) against the single-record rate, and the repeat's seconds (goal ≤ 2 s). The
server's RSS before and after says whether memory stays flat.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    Api,
    Postgres,
    Server,
    append_results,
    attest,
    bootstrap,
    hashed_digest,
    rss_mib,
    table,
)

ENV = "k8s-east"


def _workloads(n: int, version: str, names: range) -> list[dict[str, Any]]:
    return [
        {
            "deployment_name": f"svc-{i}",
            "kind": "CONTAINER_IMAGE",
            "digest": hashed_digest(f"{version}-{i}"),
            "artifact_name": f"registry.example/team/svc-{i}",
            "artifact_version": version,
        }
        for i in names
    ]


def _sync(api: Api, workloads: list[dict[str, Any]]) -> tuple[float, dict[str, Any]]:
    body = {"logical_environment": "production", "deployments": workloads}
    t0 = time.perf_counter()
    answer = api.json("POST", f"/v1/environments/{ENV}/snapshots", body)
    return time.perf_counter() - t0, answer


def run_backend(url: str, workloads: int, singles: int) -> dict[str, Any]:
    token = bootstrap(url)
    with Server(url) as server:
        api = Api(server.base, token)
        api.json("POST", "/v1/environments", {"name": ENV})
        first = _workloads(workloads, "v1", range(workloads))
        changed = max(1, workloads // 100)
        singles_digests = [hashed_digest(f"single-{i}") for i in range(singles)]
        attest(api, [w["digest"] for w in first] + singles_digests)
        repeat = _workloads(workloads, "v1", range(workloads - changed))
        for w in repeat[:changed]:
            w["digest"] = hashed_digest(f"v2-{w['deployment_name']}")
            w["artifact_version"] = "v2"
        attest(api, [w["digest"] for w in repeat[:changed]])

        t0 = time.perf_counter()
        for i, d in enumerate(singles_digests):
            body = {
                "environment": ENV,
                "logical_environment": "staging",
                "deployment_name": f"single-{i}",
                "kind": "CONTAINER_IMAGE",
                "digest": d,
            }
            api.json("POST", "/v1/deployments", body)
        single_rate = singles / (time.perf_counter() - t0)

        rss_before = rss_mib(server.serving_pids()[0])
        first_s, out = _sync(api, first)
        assert len(out["created"]) == workloads, len(out["created"])
        repeat_s, out = _sync(api, repeat)
        assert len(out["superseded"]) == changed and len(out["decommissioned"]) == changed
        same_s, out = _sync(api, repeat)
        assert out["heartbeats"] == len(repeat)
        rss_after = rss_mib(server.serving_pids()[0])
        api.close()
    return {
        "single_rate": single_rate,
        "first_s": first_s,
        "first_rate": workloads / first_s,
        "repeat_s": repeat_s,
        "repeat_rate": len(repeat) / repeat_s,
        "same_s": same_s,
        "rss": (rss_before, rss_after),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--singles", type=int, default=400)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"])
    parser.add_argument("--no-results", action="store_true")
    args = parser.parse_args()
    rows = []
    for backend in args.backends:
        with contextlib.ExitStack() as stack:
            if backend == "postgres":
                pg = stack.enter_context(Postgres())
                url = pg.url(pg.create_database())
            else:
                tmp = stack.enter_context(tempfile.TemporaryDirectory())
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            print(f"{backend}: {args.workloads} workloads …", flush=True)
            r = run_backend(url, args.workloads, args.singles)
        rows.append(
            [
                backend,
                f"{r['single_rate']:.0f}",
                f"{r['first_s']:.2f}",
                f"{r['first_rate']:.0f}",
                f"**{r['first_rate'] / r['single_rate']:.1f}x**"
                + (" ✅" if r["first_rate"] >= 10 * r["single_rate"] else " ❌"),
                f"**{r['repeat_s']:.2f}**" + (" ✅" if r["repeat_s"] <= 2 else " ❌"),
                f"{r['repeat_rate']:.0f}",
                f"{r['same_s']:.2f}",
                f"{r['rss'][0]:.0f} → {r['rss'][1]:.0f}",
            ]
        )
        print(rows[-1], flush=True)
    body = (
        f"{args.workloads} workloads per snapshot, one `deploytrace server` process per backend, "
        "one client. Single-record rate: records created one per request "
        f"({args.singles} requests). Repeat: 1% of digests changed, 1% of workloads gone.\n\n"
        + table(
            [
                "backend",
                "single records/s",
                "first sync s",
                "first sync records/s",
                "ratio (goal ≥ 10x)",
                "repeat sync s (goal ≤ 2)",
                "repeat workloads/s",
                "identical repeat s",
                "server RSS MiB",
            ],
            rows,
        )
    )
    print(body)
    if not args.no_results:
        append_results("Snapshot sync (sync.py)", body)


if __name__ == "__main__":
    main()
