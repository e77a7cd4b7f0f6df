"""SIGKILL of one of two server replicas under concurrent load, then a restart.

What is proven: killing a `deploytrace server` process in the middle of concurrent writes
(creates, supersedes, heartbeats, decommissions over 16 slots, through two replicas of one
durable PostgreSQL) loses nothing it acknowledged and leaves no half-done transition: every
2xx answer's record is stored as answered, each slot's history is a well-formed chain (a
superseded record points at the next record, which starts when it ended), at most one
record per slot is `deployed` (SQL), and the audit log verifies and has exactly one entry
per transition. Requests to the killed process may fail without an answer (they were
never acknowledged); the surviving and the restarted replica answer everything.

Bounded: a fixed number of client threads, each phase waits for a fixed number of
acknowledgements (with timeouts), so the test takes ~10-30 s.
"""

from __future__ import annotations

import time

import pytest

from tests.resilience.load import Load, check_answer, check_survivors, client, prepare_database
from tests.resilience.load import prepare_org as prepare
from tests.support.postgres import PostgresServer
from tests.support.server import start_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_sigkill_of_a_replica_under_load_loses_nothing_acknowledged(
    durable_pg: PostgresServer,
) -> None:
    url = durable_pg.url(durable_pg.create_database())
    token = prepare_database(url)
    victim, survivor = start_server(url), start_server(url)
    servers = [victim, survivor]
    try:
        with client(survivor.url, token) as c:
            prepare(c)
        with Load(token, [victim.url, survivor.url], threads=6, seed=1) as load:
            load.wait_for_acks(200)
            killed_at = time.monotonic()
            victim.process.kill()
            victim.process.wait(10)
            # Clients keep picking the dead replica for a moment: connection errors.
            load.wait_until(
                lambda outs: (
                    sum(o.target == victim.url and o.started > killed_at for o in outs) >= 5
                ),
                "requests to the killed replica",
            )
            load.set_targets([survivor.url])
            load.wait_for_acks(100, since=time.monotonic())
            restarted = start_server(url)
            servers.append(restarted)
            load.set_targets([survivor.url, restarted.url])
            load.wait_until(
                lambda outs: sum(o.acknowledged and o.target == restarted.url for o in outs) >= 100,
                "acknowledgements from the restarted replica",
            )
        outcomes = load.outcomes()

        for o in outcomes:
            if o.status is None:
                # No answer: only from the killed replica, for requests not done before it died.
                assert o.target == victim.url and o.ended >= killed_at, str(o)
            else:
                check_answer(o)
        assert any(o.status is None for o in outcomes), "no request met the killed replica"
        assert survivor.process.poll() is None and restarted.process.poll() is None

        with client(restarted.url, token) as c:
            counts = check_survivors(c, url, outcomes)
        print(dict(counts))
    finally:
        for s in servers:
            s.stop()
