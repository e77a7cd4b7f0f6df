"""Engines and transactions for SQLite (embedded) and PostgreSQL (server).

Services open every transaction through `Database.read()`, `Database.write()`
or `Database.single()`. Database failures that mean "the database is not there"
become `Unavailable` here, once, so the API answers 503 and the CLI exits 6.

With a read replica (`read_url`), `read()` may be answered by the replica; see
`storage/replica.py` for when. `write()` and `single()` always use the primary.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, TextClause, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from deploytrace.errors import DeploytraceError, InvalidInput, Unavailable
from deploytrace.settings import Settings
from deploytrace.storage.replica import ReadRoute, ReplicaMonitor, current_route


def normalize_url(url: str) -> str:
    """Accept the URL spellings users paste and map them to our drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """One engine (two with a read replica) plus the transaction discipline every service uses."""

    def __init__(
        self, url: str, settings: Settings | None = None, *, read_url: str | None = None
    ) -> None:
        settings = settings or Settings()
        url = normalize_url(url)
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise InvalidInput(f"not a database URL: {url!r}") from None
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "sqlite":
            self.engine = _sqlite_engine(url)
        elif self.dialect == "postgresql":
            if parsed.get_driver_name() != "psycopg":
                raise InvalidInput(
                    "PostgreSQL URLs must use the psycopg driver: postgresql+psycopg://"
                )
            self.engine = _postgres_engine(url, settings)
        else:
            raise InvalidInput(f"unsupported database {self.dialect!r}: use sqlite or postgresql")
        self.replica: ReplicaMonitor | None = None
        self.read_engine: Engine | None = None
        if read_url:
            self.replica = self._replica(read_url, settings)

    def _replica(self, read_url: str, settings: Settings) -> ReplicaMonitor:
        if not self.is_postgres:
            raise InvalidInput(
                "a read replica needs a PostgreSQL database: the database URL is "
                f"{self.dialect}, the read URL works only with postgresql+psycopg://"
            )
        read_url = normalize_url(read_url)
        try:
            parsed = make_url(read_url)
        except exc.ArgumentError:
            raise InvalidInput(f"not a database URL (read URL): {read_url!r}") from None
        if parsed.get_backend_name() != "postgresql" or parsed.get_driver_name() != "psycopg":
            raise InvalidInput(
                "the read URL must name a PostgreSQL streaming replica: postgresql+psycopg://"
            )
        self.read_engine = _postgres_engine(read_url, settings, application_name="deploytrace-read")
        # The checks have connections of their own: a pool busy with requests
        # must not delay them, and they must not take a request's place.
        return ReplicaMonitor(
            _postgres_engine(self.url, settings, application_name="deploytrace-monitor", pool=1),
            _postgres_engine(read_url, settings, application_name="deploytrace-monitor", pool=1),
            settings.read_max_lag,
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.contextmanager
    def read(self, *, primary: bool = False) -> Iterator[Connection]:
        """A read-only transaction.

        Inside a request that allows it (GET/HEAD through the API's read routing),
        it reads from the replica while the replica is up and within the lag
        limit; `primary=True` insists on the primary (a read that must see a
        write this request's caller made in an earlier transaction).
        """
        if self.replica is not None and not primary:
            route = current_route.get()
            if route is not None and not route.primary and self.replica.usable():
                with self._replica_read(route) as conn:
                    yield conn
                return
        with self._transaction(write=False) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self, *, dry_run: bool = False) -> Iterator[Connection]:
        """A write transaction; with `dry_run` everything it did is rolled back at the end."""
        if self.replica is not None:
            _wrote()
        with self._transaction(write=True, rollback=dry_run) as conn:
            yield conn

    @contextlib.contextmanager
    def single(self, *, write: bool = False) -> Iterator[Connection]:
        """For work that is one statement, atomic by itself.

        On PostgreSQL it runs in autocommit mode: no BEGIN and COMMIT round trips
        around it, which on the hot paths (authentication, heartbeats) are most
        of the cost. On SQLite, which has no such cost, it is a transaction.
        Always on the primary, even to read: a token lookup must see a revocation
        at once.
        """
        if write and self.replica is not None:
            _wrote()
        if not self.is_postgres:
            with self._transaction(write=write) as conn:
                yield conn
            return
        with self._transaction(write=write, autocommit=True) as conn:
            yield conn

    @contextlib.contextmanager
    def _replica_read(self, route: ReadRoute) -> Iterator[Connection]:
        assert self.replica is not None and self.read_engine is not None
        raw: Connection | None = None
        try:
            raw = self.read_engine.connect()
        except exc.DBAPIError as error:
            # Not there, though the last check said it was.
            self.replica.mark_down(_first_line(error))
        except exc.TimeoutError:
            pass  # every replica connection stayed busy: the primary answers instead
        if raw is None:
            with self._transaction(write=False) as conn:
                yield conn
            return
        route.used_replica = True
        try:
            with raw, raw.begin():
                yield raw
        except DeploytraceError:
            raise
        except exc.DBAPIError as error:
            # Gone mid-read, or a query cancelled by a conflict with recovery: the
            # request fails with 503 here and the read routing runs it again on the
            # primary (a context manager cannot run its body twice).
            route.replica_failed = True
            if error.connection_invalidated or isinstance(error, exc.InterfaceError):
                self.replica.mark_down(_first_line(error))
            raise Unavailable(f"read replica unavailable: {_first_line(error)}") from error

    @contextlib.contextmanager
    def _transaction(
        self, *, write: bool, autocommit: bool = False, rollback: bool = False
    ) -> Iterator[Connection]:
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(isolation_level="AUTOCOMMIT") if autocommit else raw
                conn.info["write"] = write
                with conn.begin() as transaction:
                    yield conn
                    if rollback:
                        transaction.rollback()
        except DeploytraceError:
            raise
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise Unavailable(f"database unavailable: {_first_line(error)}") from error
        except exc.DBAPIError as error:
            if error.connection_invalidated:
                raise Unavailable(f"database unavailable: {_first_line(error)}") from error
            raise

    def lock_key(
        self, conn: Connection, *parts: object, shared: tuple[object, ...] | None = None
    ) -> None:
        """Serialize writers of one logical key until the transaction ends.

        `shared` names a wider key taken in shared mode first, in the same round
        trip: writers of different keys under it proceed together, and a writer
        that takes the wider key exclusively (`lock_key(*wider)`) waits for them
        all and holds them all off.

        PostgreSQL: transaction-scoped advisory locks on 64-bit hashes of the keys
        (a collision only serializes two unrelated keys). SQLite: every write
        transaction already holds the database's write lock (BEGIN IMMEDIATE).
        """
        if not self.is_postgres:
            return
        if shared is None:
            conn.execute(_LOCK, {"k": advisory_key(*parts)})
            return
        conn.execute(_LOCK_UNDER, {"w": advisory_key(*shared), "k": advisory_key(*parts)})

    def ping(self) -> None:
        """Raise `Unavailable` unless the primary answers."""
        with self._transaction(write=False) as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        if self.replica is not None:
            self.replica.stop()
            self.replica.primary.dispose()
            self.replica.replica.dispose()
        if self.read_engine is not None:
            self.read_engine.dispose()
        self.engine.dispose()


def execute_and_commit(conn: Connection, statement: TextClause, params: dict[str, Any]) -> int:
    """Run `statement` (a `text()` with bind parameters) and COMMIT the transaction in
    one round trip; its row count. Call it last in a `Database.write()` block: the
    block's own COMMIT then finds nothing left to commit.

    For the statement that takes the lock all of an organization's writers queue on
    (the audit head, storage/audit.py): sent alone, that lock stays held until the
    thread that sent it has read the answer and, holding the GIL again, sent COMMIT;
    in a busy server process that wait is a few switch intervals (5 ms each), and the
    organization's writers queue behind it. Pipelined (psycopg's pipeline mode),
    PostgreSQL commits right after the statement. On SQLite a plain execute.
    """
    if conn.dialect.name != "postgresql":
        return int(conn.execute(statement, params).rowcount)
    import psycopg

    sql = _driver_sql(statement, conn.dialect)
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    try:
        with raw.pipeline():
            cursor = raw.cursor()
            cursor.execute(sql, params)
            raw.commit()
        return cursor.rowcount
    except psycopg.Error as error:
        raise exc.DBAPIError.instance(sql, params, error, psycopg.Error) from error


@functools.lru_cache(maxsize=256)
def _driver_sql(statement: TextClause, dialect: Dialect) -> str:
    """The SQL text the driver receives for `statement` (psycopg: %(name)s parameters)."""
    return str(statement.compile(dialect=dialect))


_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_UNDER = text("SELECT pg_advisory_xact_lock_shared(:w), pg_advisory_xact_lock(:k)")


def _wrote() -> None:
    # What a request reads after its own write must come from the primary.
    route = current_route.get()
    if route is not None:
        route.primary = True


def advisory_key(*parts: object) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, hashed from `parts`."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from its first byte: it holds token hashes and the evidence.
        # SQLite gives its -wal and -shm files the database file's mode.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: two writers queue on
        # busy_timeout instead of deadlocking on a read-to-write upgrade.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

    return engine


# A pooled connection idle longer than this is pinged before use.
IDLE_PING_SECONDS = 2.0


def _postgres_engine(
    url: str, settings: Settings, *, application_name: str = "deploytrace", pool: int = 0
) -> Engine:
    """An engine with `settings.db_pool_size` connections (or `pool`, with no overflow)."""
    engine = create_engine(
        url,
        pool_size=pool or settings.db_pool_size,
        max_overflow=0 if pool else settings.db_pool_size,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": application_name,
        },
    )

    # pool_pre_ping would add a round trip to every transaction. Under load the
    # pool's connections are seconds old at most, so only a connection that sat
    # idle (perhaps across a database restart) is pinged; a dead one is replaced
    # before the request sees it.
    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("checked_in_at")
        if last is None or time.monotonic() - last < IDLE_PING_SECONDS:
            return
        try:
            dbapi_conn.execute("SELECT 1")
            dbapi_conn.rollback()
        except Exception as error:
            raise exc.DisconnectionError(str(error)) from error

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    return engine
