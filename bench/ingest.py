"""Ingestion: attestations/s for the whole corpus (tests/data/attestations), with and
without signature verification, and where the time goes.

    python bench/ingest.py [--rounds 5]

Each round pushes every attestation file of the corpus, one file per request, into a
new organization (pushing the same bytes again would store nothing). Modes:

- HTTP: a `deploytrace server` process on PostgreSQL, one client (http.client).
- in-process: the product's ASGI app in this process (the embedded CLI's transport) on
  the same PostgreSQL, as it is, and with `deploytrace.attestations.verify` replaced by a
  stub (what the rate would be with free verification).
- stages: `attestations.parse` and `attestations.verify` alone, without any I/O.

Then a cProfile of one in-process round with verification.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import (
    REPO,
    Api,
    Postgres,
    Server,
    append_results,
    bootstrap,
    out_dir,
    table,
)

CORPUS = REPO / "tests" / "data" / "attestations"


def corpus() -> list[Path]:
    """The attestation files: not keys, certificates, trusted roots or OCI manifests."""
    files = []
    for path in sorted(CORPUS.rglob("*")):
        name = path.name
        if not path.is_file() or name == "SOURCES.md" or name.endswith((".pem", ".pub")):
            continue
        if name.startswith("trusted_root") or "cosign-att-manifest" in name:
            continue
        files.append(path)
    return files


def http_round(base: str, token: str, files: list[tuple[Path, bytes]]) -> tuple[float, int]:
    api = Api(base, token)
    stored = 0
    t0 = time.perf_counter()
    for path, data in files:
        status, raw = api.request("POST", "/v1/attestations", data, content_type="application/json")
        if status not in (200, 201):
            raise SystemExit(f"{path}: HTTP {status} {raw[:300]!r}")
        stored += len(_items(raw))
    elapsed = time.perf_counter() - t0
    api.close()
    return elapsed, stored


def _items(raw: bytes) -> list[Any]:
    return list(json.loads(raw)["items"])


class InProcess:
    """The ASGI app in this process, acting as a fresh organization's admin per round."""

    def __init__(self, url: str) -> None:
        from deploytrace.settings import Settings
        from deploytrace.storage.db import Database

        self.settings = Settings.from_env({})
        self.db = Database(url, self.settings)
        self.round = 0

    def transport(self) -> Any:
        from deploytrace.api.app import create_app
        from deploytrace.api.runtime import Runtime
        from deploytrace.cli.embedded import AsgiTransport
        from deploytrace.services import tenancy

        self.round += 1
        _org, token = tenancy.bootstrap(self.db, f"ingest-{self.round}")
        actor = tenancy.authenticate(self.db, f"Bearer {token}")
        app = create_app(Runtime(db=self.db, settings=self.settings, local_actor=actor))
        return AsgiTransport(lambda: app)

    def push_all(self, transport: Any, files: list[tuple[Path, bytes]]) -> tuple[float, int]:
        stored = 0
        headers = {"Content-Type": "application/json"}
        t0 = time.perf_counter()
        for path, data in files:
            response = transport.send("POST", "/v1/attestations", [], data, headers)
            if response.status not in (200, 201):
                raise SystemExit(f"{path}: HTTP {response.status} {response.body[:300]!r}")
            stored += len(_items(response.body))
        return time.perf_counter() - t0, stored


def without_verification() -> Callable[[], None]:
    """Replace `attestations.verify` by a stub; returns the undo."""
    import deploytrace.attestations as formats

    original = formats.verify

    def stub(att: Any, trust: Any) -> Any:
        return formats.Verification("unverified", None, None, "bench: verification skipped")

    formats.verify = stub  # type: ignore[assignment]

    def undo() -> None:
        formats.verify = original  # type: ignore[assignment]

    return undo


def stages(files: list[tuple[Path, bytes]], rounds: int) -> dict[str, float]:
    """Seconds per round for parse and verify alone."""
    import deploytrace.attestations as formats

    trust = formats.TrustStore()
    parsed = [att for _, data in files for att in formats.parse(data)]
    t0 = time.perf_counter()
    for _ in range(rounds):
        for _, data in files:
            formats.parse(data)
    parse_s = (time.perf_counter() - t0) / rounds
    t0 = time.perf_counter()
    verdicts: dict[str, int] = {}
    for _ in range(rounds):
        for att in parsed:
            v = formats.verify(att, trust)
            verdicts[v.status] = verdicts.get(v.status, 0) + 1
    verify_s = (time.perf_counter() - t0) / rounds
    per_att: list[tuple[float, str, str]] = []
    for att in parsed:
        t0 = time.perf_counter()
        v = formats.verify(att, trust)
        per_att.append((time.perf_counter() - t0, att.format, v.status))
    return {
        "parse": parse_s,
        "verify": verify_s,
        "attestations": len(parsed),
        "verdicts": {k: n // rounds for k, n in verdicts.items()},  # type: ignore[dict-item]
        "slowest": sorted(per_att, reverse=True)[:5],  # type: ignore[dict-item]
    }


def profile_round(inproc: InProcess, files: list[tuple[Path, bytes]]) -> tuple[str, float]:
    """cProfile one round of `services.attestations.push` calls (the API runs them in a worker
    thread, which cProfile would not see); returns the report and the round's seconds."""
    from deploytrace.services import attestations, tenancy

    inproc.round += 1
    _org, token = tenancy.bootstrap(inproc.db, f"ingest-{inproc.round}")
    actor = tenancy.authenticate(inproc.db, f"Bearer {token}")
    attestations.push(inproc.db, actor, files[0][1])  # warm the trust store cache
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for _, data in files[1:]:
        attestations.push(inproc.db, actor, data)
    profiler.disable()
    seconds = time.perf_counter() - t0
    profiler.dump_stats(str(out_dir("profiles") / "ingest.prof"))
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(20)
    lines = [ln.replace(str(REPO), ".") for ln in text.getvalue().splitlines() if ln.strip()]
    return "\n".join(lines), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-results", action="store_true")
    a = parser.parse_args()
    files = [(p, p.read_bytes()) for p in corpus()]

    rates: dict[str, tuple[float, int]] = {}
    with Postgres() as pg:
        database = pg.create_database()
        url = pg.url(database)
        bootstrap(url)
        with Server(url) as server:
            total, count = 0.0, 0
            for r in range(a.rounds + 1):
                token = bootstrap(url, f"http-{r}")
                seconds, stored = http_round(server.base, token, files)
                if r:  # round 0 warms the server up
                    total, count = total + seconds, count + stored
            rates["HTTP server, verification as is"] = (total, count)
        inproc = InProcess(url)
        for label, stub in (("as is", False), ("verification stubbed out", True)):
            undo = without_verification() if stub else None
            total, count = 0.0, 0
            for r in range(a.rounds + 1):
                seconds, stored = inproc.push_all(inproc.transport(), files)
                if r:
                    total, count = total + seconds, count + stored
            if undo:
                undo()
            rates[f"in-process, {label}"] = (total, count)
        split = stages(files, a.rounds)
        prof, service_s = profile_round(inproc, files)
        inproc.db.dispose()

    n = split["attestations"]
    rows = [
        (label, f"{count / seconds:.1f}", f"{1000 * seconds / count:.2f}")
        for label, (seconds, count) in rates.items()
    ]
    rows += [
        ("parse only (no I/O)", f"{n / split['parse']:.1f}", f"{1000 * split['parse'] / n:.2f}"),
        ("verify only (no I/O)", f"{n / split['verify']:.1f}", f"{1000 * split['verify'] / n:.2f}"),
    ]
    inproc_s = rates["in-process, as is"][0] / a.rounds
    other = inproc_s - split["parse"] - split["verify"]
    slowest = ", ".join(f"{fmt} {status} {s * 1000:.1f} ms" for s, fmt, status in split["slowest"])
    text = "\n".join(
        [
            f"Corpus: {len(files)} files, {n} attestations (tests/data/attestations without keys, "
            f"certificates, trusted roots and the OCI manifest); {a.rounds} rounds per mode after "
            "one warm-up round, each into a new organization, one file per request, sequential. "
            f"Verdicts: {split['verdicts']}.\n",
            table(["mode", "attestations/s", "ms per attestation"], rows),
            f"\nSplit of one in-process round ({inproc_s * 1000:.0f} ms): parse "
            f"{split['parse'] * 1000:.0f} ms ({100 * split['parse'] / inproc_s:.0f}%), verify "
            f"{split['verify'] * 1000:.0f} ms ({100 * split['verify'] / inproc_s:.0f}%), the rest "
            f"(API, transactions, storage) {other * 1000:.0f} ms ({100 * other / inproc_s:.0f}%). "
            f"Slowest verifications: {slowest}.\n",
            f"`services.attestations.push` called directly (no API) under cProfile: "
            f"{1000 * service_s / (len(files) - 1):.1f} ms per file.\n",
            "<details><summary>cProfile of one round of services.attestations.push</summary>\n",
            f"```\n{prof}\n```\n</details>",
        ]
    )
    print(text)
    if not a.no_results:
        append_results("Ingestion (ingest.py)", text)


if __name__ == "__main__":
    main()
