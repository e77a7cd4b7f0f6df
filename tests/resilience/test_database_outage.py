"""PostgreSQL stopped hard (`pg_ctl -m immediate`) under a running server under load.

What is proven: while the database is down the server degrades, it does not hang: every
answer during the outage comes within 5 s, requests sent while the database is away are
refused with 503 `unavailable`, `/readyz` is 503 and `/healthz` 200. After PostgreSQL
restarts (crash recovery of a durable server), the *same* process is ready again within
20 s and serves every request normally, and nothing it acknowledged before, during or
after the outage is lost: acknowledged records stored as answered, well-formed slot
chains, at most one `deployed` record per slot (SQL), audit log intact with one entry per
transition.

Bounded: four client threads, phases that wait for fixed numbers of requests with
timeouts, a 3 s outage, so the test takes ~15-20 s.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.resilience.load import Load, check_answer, check_survivors, client, prepare_database
from tests.resilience.load import prepare_org as prepare
from tests.support.postgres import PostgresServer
from tests.support.server import start_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

MAX_ANSWER_S = 5.0
OUTAGE_S = 3.0
RECOVERY_S = 20.0


def _probe(c: httpx.Client, path: str) -> tuple[int, float]:
    started = time.monotonic()
    r = c.get(path)
    return r.status_code, time.monotonic() - started


def test_database_outage_under_load_answers_503_fast_and_recovers(
    durable_pg: PostgresServer,
) -> None:
    url = durable_pg.url(durable_pg.create_database())
    token = prepare_database(url)
    server = start_server(url)
    try:
        probe = client(server.url, token, timeout=MAX_ANSWER_S * 3)
        prepare(probe)
        with Load(token, [server.url], threads=4, seed=2, timeout=MAX_ANSWER_S * 3) as load:
            load.wait_for_acks(150)

            down_from = time.monotonic()
            durable_pg.stop("immediate")
            down = time.monotonic()
            probes = []
            while time.monotonic() - down < OUTAGE_S:
                probes.append(("/readyz", 503, *_probe(probe, "/readyz")))
                probes.append(("/healthz", 200, *_probe(probe, "/healthz")))
                time.sleep(0.2)
            load.wait_until(
                lambda outs: sum(o.started >= down and o.status == 503 for o in outs) >= 20,
                "requests refused during the outage",
            )

            up_from = time.monotonic()
            durable_pg.start()
            while (status := _probe(probe, "/readyz"))[0] != 200:
                assert status[1] <= MAX_ANSWER_S, status
                assert time.monotonic() - up_from < RECOVERY_S, "server not ready again"
                time.sleep(0.1)
            ready = time.monotonic()
            load.wait_for_acks(150, since=ready)
        outcomes = load.outcomes()
        assert server.process.poll() is None, "the server process did not survive"

        for path, expected, status, elapsed in probes:
            assert (status, path) == (expected, path), probes
            assert elapsed <= MAX_ANSWER_S, (path, elapsed)
        for o in outcomes:
            check_answer(o, unavailable_ok=True)  # an answer, never a transport error
            if o.started < up_from and o.ended > down_from:
                assert o.elapsed <= MAX_ANSWER_S, f"slow answer during the outage: {o}"
            if o.started >= down and o.ended <= up_from:
                assert o.status == 503, f"answered while the database was down: {o}"
            if o.started >= ready:
                assert o.status != 503, f"refused after /readyz said ready: {o}"
        assert all(o.status != 503 for o in outcomes if o.ended < down_from)

        counts = check_survivors(probe, url, outcomes)
        probe.close()
        print(dict(counts), f"ready {ready - up_from:.1f}s after restart")
    finally:
        server.stop()
