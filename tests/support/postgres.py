"""A throwaway PostgreSQL server for the tests, started from Debian's binaries.

PostgreSQL refuses to run as root, so when the tests run as root the server
runs as the `postgres` user (runuser) in a directory it owns.

A server can also be a streaming-replication primary (`replication=True`) and
another one its hot standby (`start_standby`), made with `pg_basebackup -R`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg


def find_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    for candidate in reversed(candidates):
        if (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A port picked by free_port() is free only until someone else binds it (another
# test worker, a test server): a start that finds it taken tries a new one.
START_ATTEMPTS = 5
_PORT_TAKEN = ("could not bind", "Address already in use", "could not create any TCP/IP sockets")


class PostgresServer:
    """initdb + pg_ctl start on a free loopback port; `url(db)` gives SQLAlchemy URLs."""

    def __init__(
        self,
        bindir: Path,
        *,
        durable: bool = False,
        replication: bool = False,
        log_statements: bool = False,
    ) -> None:
        self.bindir = bindir
        # Durable servers keep fsync and synchronous commit: tests that crash the
        # server must not lose what it acknowledged. The others trade that for speed.
        self.durable = durable
        self.replication = replication
        # Every statement in the log, prefixed `application_name|database|`, so a
        # test can tell which server answered a query (see `statements`).
        self.log_statements = log_statements
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dt-pg-"))
        self.datadir = self.root / "data"
        self.user = "postgres"
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def _own_root(self) -> None:
        if self._as_root:
            os.chmod(self.root, 0o755)
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            # pytest's temp roots are 0700 root: the server must be able to traverse them.
            parent = self.root.parent
            while parent != parent.parent:
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    os.chmod(parent, mode | 0o001)
                parent = parent.parent

    def init(self) -> None:
        self._own_root()
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            self.user,
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        if self.replication:
            # initdb's defaults already allow it; said here so the test does not
            # depend on a packager's template.
            with (self.datadir / "pg_hba.conf").open("a") as hba:
                hba.write("host replication all 127.0.0.1/32 trust\n")
        if self.log_statements:
            # In the file, not on the command line: pg_ctl passes -o through a shell.
            # A standby copies this file, and so logs the same way.
            with (self.datadir / "postgresql.conf").open("a") as conf:
                conf.write("log_statement = 'all'\nlog_line_prefix = '%a|%d|'\n")

    def init_standby(self, primary: PostgresServer) -> None:
        """Copy `primary` with pg_basebackup -R: this server starts as its hot standby."""
        self._own_root()
        self._run(
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            primary.user,
            "-D",
            str(self.datadir),
            "-R",
            "-X",
            "stream",
            "--checkpoint=fast",
            "--no-sync",
        )

    def _options(self) -> str:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=300 -c shared_buffers=64MB"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        if self.replication:
            options += " -c wal_level=replica -c max_wal_senders=10 -c hot_standby=on"
        return options

    def start(self) -> None:
        log = self.log
        for attempt in range(START_ATTEMPTS):
            offset = log.stat().st_size if log.exists() else 0
            started = self._run(
                "pg_ctl",
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-o",
                self._options(),
                "-w",
                "-t",
                "60",
                "start",
                check=False,
            )
            if started.returncode == 0:
                break
            tail = log.read_bytes()[offset:].decode(errors="replace") if log.exists() else ""
            if attempt + 1 < START_ATTEMPTS and any(s in tail for s in _PORT_TAKEN):
                self.port = free_port()
                continue
            raise RuntimeError(
                f"PostgreSQL did not start on port {self.port}: "
                f"{started.stdout}{started.stderr}{tail[-2000:]}"
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise

    @property
    def log(self) -> Path:
        return self.root / "log"

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def statements(self, since: int, application_name: str, database: str) -> list[str]:
        """Statements logged after byte `since` by one application in one database."""
        prefix = f"{application_name}|{database}|"
        with self.log.open("rb") as f:
            f.seek(since)
            lines = f.read().decode(errors="replace").splitlines()
        entries: list[str] = []
        for line in lines:
            if line.startswith("\t") and entries:
                entries[-1] += "\n" + line  # the log indents a message's further lines
            else:
                entries.append(line)
        # "statement:" for the simple protocol, "execute <name>:" for the extended one.
        return [
            e
            for e in entries
            if e.startswith(prefix) and ("LOG:  statement:" in e or "LOG:  execute " in e)
        ]

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")
        return name

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _bindir() -> Path:
    bindir = find_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (pg_ctl) not found")
    return bindir


def start_server(
    *, durable: bool = False, replication: bool = False, log_statements: bool = False
) -> PostgresServer:
    server = PostgresServer(
        _bindir(), durable=durable, replication=replication, log_statements=log_statements
    )
    server.init()
    server.start()
    return server


def start_standby(primary: PostgresServer) -> PostgresServer:
    """A hot standby streaming from `primary` (which must have `replication=True`)."""
    standby = PostgresServer(
        primary.bindir,
        durable=primary.durable,
        replication=True,
        log_statements=primary.log_statements,
    )
    try:
        standby.init_standby(primary)
        standby.start()
    except BaseException:
        standby.destroy()
        raise
    return standby
