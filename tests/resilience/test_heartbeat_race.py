"""Heartbeats racing supersedes of the same slot through two replicas on PostgreSQL.

What is proven: when pipelines keep re-recording (heartbeating) the running digest of a
slot while another supersedes it, every slot's history stays one timeline: no record is
last seen after it ended, a superseded record ends the moment its successor starts,
`updated_at` never goes backwards, and every acknowledged heartbeat is stored as answered.
This is the worst case for a lock-free heartbeat: the supersede's `now` must not be taken
before a concurrent heartbeat's.

Bounded: four client threads on one slot for 4 s (~10 s in all).
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.resilience.load import (
    DIGESTS,
    SLOTS,
    Outcome,
    body,
    check_answer,
    check_survivors,
    client,
    prepare_database,
    prepare_org,
)
from tests.support.postgres import PostgresServer
from tests.support.server import start_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RACE_S = 4.0


def test_heartbeats_racing_supersedes_keep_one_timeline(pg: PostgresServer) -> None:
    name = pg.create_database()
    url = pg.url(name)
    token = prepare_database(url)
    servers = [start_server(url), start_server(url)]
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    stop = time.monotonic() + RACE_S

    def send(i: int, d: str) -> None:
        target = servers[i % 2].url
        with client(target, token) as c:
            while time.monotonic() < stop:
                started = time.monotonic()
                r = c.post("/v1/deployments", json=body(SLOTS[0], d))
                o = Outcome(
                    target,
                    body(SLOTS[0], d),
                    started,
                    time.monotonic(),
                    r.status_code,
                    r.json(),
                    None,
                )
                with lock:
                    outcomes.append(o)

    try:
        with client(servers[0].url, token) as c:
            prepare_org(c)
        # Three pipelines heartbeat D (superseding E back when they find it), one rolls E out.
        threads = [threading.Thread(target=send, args=(i, DIGESTS[0])) for i in range(3)]
        threads.append(threading.Thread(target=send, args=(3, DIGESTS[1])))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for o in outcomes:
            check_answer(o)
        actions = {o.answer["action"] for o in outcomes}
        assert {"heartbeat", "superseded_previous"} <= actions, actions
        with client(servers[1].url, token) as c:
            counts = check_survivors(c, url, outcomes)
        print(dict(counts))
    finally:
        for s in servers:
            s.stop()
        pg.drop_database(name)
