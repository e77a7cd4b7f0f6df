"""A real PostgreSQL primary with a hot standby streaming from it, and APIs reading from both.

Both servers log every statement, prefixed with the connection's application
name and database: `deploytrace` (the primary pool), `deploytrace-read` (the
replica pool), `deploytrace-monitor` (the lag checks). A test proves where a
read went by looking for its query in the right server's log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import psycopg
import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.conftest import missing_service
from tests.support.api import ApiHarness
from tests.support.postgres import PostgresServer, start_server, start_standby

pytestmark = [pytest.mark.postgres]

READ = "deploytrace-read"
PRIMARY = "deploytrace"


@dataclass
class Cluster:
    primary: PostgresServer
    standby: PostgresServer
    template: str = ""
    paused: bool = field(default=False)

    def replay_lsn(self) -> str | None:
        with psycopg.connect(self.standby.dsn("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()
        return None if row is None else row[0]

    def wait_caught_up(self, timeout: float = 30) -> None:
        """Until the standby replayed everything the primary wrote so far."""
        with psycopg.connect(self.primary.dsn("postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
        assert row is not None
        target = row[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.standby.dsn("postgres"), autocommit=True) as conn:
            while True:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
                if done and done[0]:
                    return
                assert time.monotonic() < deadline, f"standby did not replay up to {target}"
                time.sleep(0.02)

    def pause(self) -> None:
        with psycopg.connect(self.standby.dsn("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
            deadline = time.monotonic() + 30
            while conn.execute("SELECT pg_get_wal_replay_pause_state()").fetchone() != ("paused",):
                assert time.monotonic() < deadline, "replay did not pause"
                time.sleep(0.02)
        self.paused = True

    def resume(self) -> None:
        with psycopg.connect(self.standby.dsn("postgres"), autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        self.paused = False

    def standby_running(self) -> bool:
        try:
            psycopg.connect(self.standby.dsn("postgres"), connect_timeout=2).close()
        except psycopg.OperationalError:
            return False
        return True

    def terminate_reads(self) -> int:
        """Kill the standby's backends of the API's replica pool (as a restart would)."""
        with psycopg.connect(self.standby.dsn("postgres"), autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (READ,),
            ).fetchall()
        return len(rows)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    try:
        primary = start_server(replication=True, log_statements=True)
    except (FileNotFoundError, OSError) as error:
        missing_service(f"PostgreSQL ({error})")
    try:
        standby = start_standby(primary)
    except BaseException:
        primary.destroy()
        raise
    found = Cluster(primary, standby)
    found.template = primary.create_database()
    db = Database(primary.url(found.template))
    migrate.upgrade(db)
    db.dispose()
    yield found
    standby.destroy()
    primary.destroy()


@dataclass
class ReplicaApi:
    """The API over a primary and its standby (one fresh database), as `deploytrace server` runs."""

    api: ApiHarness
    db: Database
    name: str  # the database's name on both servers
    cluster: Cluster

    def readyz(self) -> dict[str, object]:
        r = self.api.get("/readyz", token=None)
        assert r.status == 200, r.body
        answer: dict[str, object] = r.json()
        return answer

    def replica_status(self) -> str:
        replica = self.readyz()["replica"]
        assert isinstance(replica, dict)
        return str(replica["status"])

    def wait_replica(self, status: str, timeout: float = 30) -> dict[str, object]:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.readyz()
            replica = answer["replica"]
            assert isinstance(replica, dict)
            if replica["status"] == status:
                return replica
            assert time.monotonic() < deadline, f"replica never {status}: {answer}"
            time.sleep(0.05)

    def mark(self) -> tuple[int, int]:
        """Where both logs end now."""
        return self.cluster.primary.log_size(), self.cluster.standby.log_size()

    def served_by(self, mark: tuple[int, int], table: str) -> set[str]:
        """Which servers ran an API query on `table` since `mark`: {"primary", "replica"}."""
        found = set()
        primary, standby = mark
        if any(table in s for s in self.cluster.primary.statements(primary, PRIMARY, self.name)):
            found.add("primary")
        if any(table in s for s in self.cluster.standby.statements(standby, READ, self.name)):
            found.add("replica")
        return found


@pytest.fixture
def replica_api(cluster: Cluster) -> Iterator[Callable[..., ReplicaApi]]:
    """Make the API over a fresh database with `read_max_lag` seconds of tolerated lag."""
    made: list[ReplicaApi] = []

    def make(read_max_lag: float = 60.0) -> ReplicaApi:
        name = cluster.primary.create_database(template=cluster.template)
        cluster.wait_caught_up()
        settings = Settings(read_max_lag=read_max_lag)
        db = Database(cluster.primary.url(name), settings, read_url=cluster.standby.url(name))
        app = create_app(Runtime(db=db, settings=settings, local_actor=None))
        _, token = tenancy.bootstrap(db, "acme")
        made.append(ReplicaApi(ApiHarness(app, token=token, db=db), db, name, cluster))
        return made[-1]

    yield make
    if not cluster.standby_running():
        cluster.standby.start()
    if cluster.paused:
        cluster.resume()
    for each in made:
        each.db.dispose()
        cluster.primary.drop_database(each.name)
