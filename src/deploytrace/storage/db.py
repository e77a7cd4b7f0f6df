"""Engines and transactions for SQLite (embedded) and PostgreSQL (server).

Services open every transaction through `Database.read()` or `Database.write()`.
Database failures that mean "the database is not there" become `Unavailable`
here, once, so the API answers 503 and the CLI exits 6.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

from deploytrace.errors import DeploytraceError, InvalidInput, Unavailable
from deploytrace.settings import Settings


def normalize_url(url: str) -> str:
    """Accept the URL spellings users paste and map them to our drivers."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """One engine plus the transaction discipline every service uses."""

    def __init__(self, url: str, settings: Settings | None = None) -> None:
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

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self._transaction(write=False) as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self._transaction(write=True) as conn:
            yield conn

    @contextlib.contextmanager
    def single(self, *, write: bool = False) -> Iterator[Connection]:
        """For work that is one statement, atomic by itself.

        On PostgreSQL it runs in autocommit mode: no BEGIN and COMMIT round trips
        around it, which on the hot paths (authentication, heartbeats) are most
        of the cost. On SQLite, which has no such cost, it is a transaction.
        """
        if not self.is_postgres:
            with self._transaction(write=write) as conn:
                yield conn
            return
        with self._transaction(write=write, autocommit=True) as conn:
            yield conn

    @contextlib.contextmanager
    def _transaction(self, *, write: bool, autocommit: bool = False) -> Iterator[Connection]:
        try:
            with self.engine.connect() as raw:
                conn = raw.execution_options(isolation_level="AUTOCOMMIT") if autocommit else raw
                conn.info["write"] = write
                with conn.begin():
                    yield conn
        except DeploytraceError:
            raise
        except (exc.OperationalError, exc.InterfaceError, exc.TimeoutError) as error:
            raise Unavailable(f"database unavailable: {_first_line(error)}") from error
        except exc.DBAPIError as error:
            if error.connection_invalidated:
                raise Unavailable(f"database unavailable: {_first_line(error)}") from error
            raise

    def lock_key(self, conn: Connection, *parts: object) -> None:
        """Serialize writers of one logical key until the transaction ends.

        PostgreSQL: a transaction-scoped advisory lock on a 64-bit hash of the key
        (a collision only serializes two unrelated keys). SQLite: every write
        transaction already holds the database's write lock (BEGIN IMMEDIATE).
        """
        if not self.is_postgres:
            return
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": advisory_key(*parts)})

    def ping(self) -> None:
        with self.read() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


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


def _postgres_engine(url: str, settings: Settings) -> Engine:
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=5,
        pool_recycle=1800,
        connect_args={
            "connect_timeout": settings.db_connect_timeout,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
            "application_name": "deploytrace",
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
