"""Shared helpers for the benchmarks: machine facts, percentiles, RESULTS.md,
throwaway PostgreSQL servers, `deploytrace server` processes and a tiny HTTP client.

Nothing here imports `deploytrace` at module level: the scripts measure whatever
`deploytrace` the running interpreter imports (the working tree through the
editable install, or a snapshot put first on PYTHONPATH; see README.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import importlib.util
import json
import math
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
OUT = BENCH / "out"  # raw outputs (profiles, logs): git-ignored

sys.path.insert(0, str(REPO))  # tests.support.postgres: the tests' throwaway server

from tests.support.postgres import PostgresServer, find_bin  # noqa: E402

ORG = "bench"
LOGICAL_ENVIRONMENTS = ("development", "staging", "production")


# Machine facts and results ---------------------------------------------------------


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def code_dir() -> Path:
    """Where the `deploytrace` under test lives (its `src/deploytrace`)."""
    spec = importlib.util.find_spec("deploytrace")
    if spec is None or spec.origin is None:
        raise SystemExit("deploytrace is not importable: activate the venv (see bench/README.md)")
    return Path(spec.origin).parent


def commit() -> str:
    """The commit under test: BENCH_COMMIT, else git's HEAD (+dirty when src/ differs)."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    where = code_dir()
    head = _git("rev-parse", "--short", "HEAD", cwd=where)
    if not head:
        return "unknown"
    dirty = _git("status", "--porcelain", "--", ".", cwd=where)
    return head + ("+dirty" if dirty else "")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def nproc() -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout)
    return os.cpu_count() or 0


def machine() -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "nproc": nproc(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
    }


def machine_line() -> str:
    m = machine()
    return (
        f"date {m['date']} · commit `{m['commit']}` · nproc {m['nproc']} · "
        f"CPU {m['cpu']} · Python {m['python']}"
    )


def append_results(title: str, body: str) -> None:
    """Append one section (title, machine facts, body) to bench/RESULTS.md."""
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by the scripts in `bench/` (see README.md); "
            "newest at the end.\n"
        )
    with RESULTS.open("a") as f:
        f.write(f"\n## {title}\n\n{machine_line()}\n\n{body.rstrip()}\n")
    print(f"\nappended to {RESULTS.relative_to(REPO)}: {title}")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def out_dir(name: str) -> Path:
    path = OUT / name
    path.mkdir(parents=True, exist_ok=True)
    return path


# Processes: CPU time and memory from /proc ------------------------------------------


def descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds of these processes (and their reaped children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / ticks


def rss_mib(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


# PostgreSQL ---------------------------------------------------------------------------


class Postgres:
    """A throwaway server (tests/support/postgres.py) with pg_stat_statements loaded;
    `durable`: fsync and synchronous commit on (the tests' servers run without)."""

    def __init__(self, *, durable: bool = False, replication: bool = False) -> None:
        bindir = find_bin()
        if bindir is None:
            raise SystemExit("PostgreSQL binaries not found: apt-get install postgresql")
        self.durable = durable
        self.server = PostgresServer(bindir, durable=durable, replication=replication)
        self.standby: PostgresServer | None = None

    def start_standby(self) -> PostgresServer:
        """A hot standby streaming from this server (made with `replication=True`), the
        tests' fixture (tests/support/postgres.py); destroyed with this server."""
        from tests.support.postgres import start_standby

        self.standby = start_standby(self.server)
        return self.standby

    def __enter__(self) -> Postgres:
        self.server.init()
        conf = self.server.datadir / "postgresql.conf"
        with conf.open("a") as f:
            f.write("\nshared_preload_libraries = 'pg_stat_statements'\n")
            f.write("pg_stat_statements.track_utility = on\n")
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.standby is not None:
            self.standby.destroy()
        self.server.destroy()

    def create_database(self) -> str:
        name = self.server.create_database()
        with self.connect(name) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        return name

    def url(self, database: str) -> str:
        return self.server.url(database)

    def dsn(self, database: str) -> str:
        return self.server.dsn(database)

    def connect(self, database: str, autocommit: bool = True) -> Any:
        import psycopg

        return psycopg.connect(self.dsn(database), autocommit=autocommit)

    def backend_pids(self) -> list[int]:
        """The postmaster and all its children (backends, checkpointer, WAL writer...)."""
        pidfile = self.server.datadir / "postmaster.pid"
        return descendants(int(pidfile.read_text().split()[0]))

    def version(self) -> str:
        with self.connect("postgres") as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])


class StatementStats:
    """Statements the server executed between `reset()` and `read()` (pg_stat_statements)."""

    def __init__(self, pg: Postgres, database: str) -> None:
        self.pg, self.database = pg, database

    def reset(self) -> None:
        with self.pg.connect(self.database) as conn:
            conn.execute("SELECT pg_stat_statements_reset()")

    def read(self) -> list[tuple[str, int, float]]:
        """(query, calls, total exec ms), the bench's own monitoring queries left out."""
        with self.pg.connect(self.database) as conn:
            rows = conn.execute(
                "SELECT query, calls, total_exec_time FROM pg_stat_statements s "
                "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = %s "
                "AND query NOT ILIKE '%%pg_stat_statements%%' ORDER BY calls DESC",
                (self.database,),
            ).fetchall()
        return [(str(q), int(c), float(t)) for q, c, t in rows]


# deploytrace processes ------------------------------------------------------------------


def deploytrace_cmd() -> list[str]:
    """`deploytrace` run by this interpreter (so PYTHONPATH snapshots apply)."""
    return [sys.executable, "-m", "deploytrace"]


def bootstrap(url: str, org: str = ORG) -> str:
    done = subprocess.run(
        [
            *deploytrace_cmd(),
            "admin",
            "bootstrap",
            "--database-url",
            url,
            "--org",
            org,
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(done.stdout)["token"])


def free_port() -> int:
    from tests.support.postgres import free_port as pick

    return pick()


# How a server may be run (record_rate.py --server): `deploytrace server` itself (uvicorn,
# which picks uvloop and httptools when installed, as uvicorn[standard] does), uvicorn on
# the stdlib loop and h11, or granian; the last two serve the same app factory.
SERVERS = ("uvicorn", "uvicorn-asyncio-h11", "granian")


class Server:
    """`deploytrace server` on loopback (`workers` processes on one port); `kind` another
    ASGI server for the same app (SERVERS; the database must be migrated already)."""

    def __init__(
        self,
        url: str,
        *,
        workers: int = 1,
        env: dict[str, str] | None = None,
        kind: str = "uvicorn",
        read_url: str | None = None,
    ) -> None:
        if kind not in SERVERS:
            raise SystemExit(f"unknown server {kind!r}: one of {', '.join(SERVERS)}")
        self.url = url
        self.read_url = read_url
        self.workers = workers
        self.kind = kind
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = out_dir("logs") / f"server-{self.port}.log"

    def command(self) -> list[str]:
        if self.kind == "uvicorn":
            return [
                *deploytrace_cmd(),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--database-url",
                self.url,
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
                *(["--database-read-url", self.read_url] if self.read_url else []),
            ]
        self.env["DEPLOYTRACE_DATABASE_URL"] = self.url
        if self.read_url:
            self.env["DEPLOYTRACE_DATABASE_READ_URL"] = self.read_url
        # As `deploytrace server` does: the workers' metrics in one directory.
        self.env.setdefault(
            "PROMETHEUS_MULTIPROC_DIR", str(out_dir("metrics") / f"server-{self.port}")
        )
        Path(self.env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        target = "deploytrace.api.app:server_app"
        if self.kind == "granian":
            return [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
                "--log-level",
                "warning",
                target,
            ]
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--loop",
            "asyncio",
            "--http",
            "h11",
            "--log-level",
            "warning",
            "--no-server-header",
            target,
        ]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        cmd = self.command()
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=self.env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited: see {self.log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200 and len(self.pids()) >= self.workers:
                    return self
            time.sleep(0.2)
        raise SystemExit(f"server did not become ready: see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def pids(self) -> list[int]:
        """Every process of the server (uvicorn's supervisor and workers): CPU accounting."""
        assert self.proc is not None
        return descendants(self.proc.pid)

    def serving_pids(self) -> list[int]:
        assert self.proc is not None
        if self.workers == 1 and self.kind != "granian":  # granian always forks its workers
            return [self.proc.pid]
        return [p for p in descendants(self.proc.pid) if p != self.proc.pid and _is_python(p)]


def _is_python(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "python" in Path(f"/proc/{pid}/comm").read_text() or "deploytrace" in Path(
            f"/proc/{pid}/cmdline"
        ).read_text(errors="replace")
    return False


# A small HTTP client: keep-alive, no dependencies, low overhead -------------------------


class Api:
    def __init__(self, base: str, token: str | None = None, timeout: float = 60) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        params: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        if params:
            path += "?" + urlencode({k: v for k, v in params.items() if v is not None})
        headers = dict(self.headers)
        if body is not None:
            headers["Content-Type"] = content_type
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnect on the next call
            raise

    def json(
        self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        status, raw = self.request(method, path, data, params)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
        return json.loads(raw)

    def close(self) -> None:
        self.conn.close()


# Test data ------------------------------------------------------------------------------


def pool_digest(n: int) -> str:
    """The n-th digest of the benches' pool: 64 decimal digits are valid sha256 hex
    (and wrk's Lua can spell them: string.format("sha256:%064d", n))."""
    return f"sha256:{n:064d}"


def hashed_digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def statement(digests: Sequence[str], name: str = "bench") -> bytes:
    """A minimal in-toto v1 statement attesting `digests` as subjects."""
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [
                {"name": f"{name}-{i}", "digest": {"sha256": d.split(":", 1)[1]}}
                for i, d in enumerate(digests)
            ],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {},
        }
    ).encode()


def attest(api: Api, digests: Sequence[str], chunk: int = 500) -> None:
    for start in range(0, len(digests), chunk):
        part = digests[start : start + chunk]
        status, raw = api.request(
            "POST",
            "/v1/attestations",
            statement(part, f"s{start}"),
            content_type="application/json",
        )
        if status not in (200, 201):
            raise RuntimeError(f"attestation push: HTTP {status}: {raw[:300]!r}")


def create_environments(api: Api, names: Sequence[str]) -> None:
    for name in names:
        status, raw = api.request("POST", "/v1/environments", json.dumps({"name": name}).encode())
        if status not in (201, 409):
            raise RuntimeError(f"environment {name}: HTTP {status}: {raw[:300]!r}")


@contextlib.contextmanager
def stopwatch() -> Iterator[list[float]]:
    """`with stopwatch() as t: ...` then t[0] is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


# In-process: the product's own SQL for a request -----------------------------------------


class Captured:
    """Every statement (with its parameters) SQLAlchemy sent for one request."""

    def __init__(self, status: int, body: bytes, statements: list[tuple[str, Any]]) -> None:
        self.status, self.body, self.statements = status, body, statements


def capture_requests(
    url: str, token: str, requests: Sequence[tuple[str, str, list[tuple[str, str]], bytes | None]]
) -> list[Captured]:
    """Run (method, path, query, body) requests through the product's ASGI app in this
    process, over its own engine, and record the statements of each one."""
    from sqlalchemy import event

    from deploytrace.api.app import create_app
    from deploytrace.api.runtime import Runtime
    from deploytrace.cli.embedded import AsgiTransport
    from deploytrace.settings import Settings
    from deploytrace.storage.db import Database

    settings = Settings.from_env({})
    db = Database(url, settings)
    app = create_app(Runtime(db=db, settings=settings))
    transport = AsgiTransport(lambda: app)
    log: list[tuple[str, Any]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _statement(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        log.append((statement, parameters))

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    found = []
    for method, path, query, body in requests:
        log.clear()
        response = transport.send(method, path, query, body, headers)
        found.append(Captured(response.status, response.body, list(log)))
    db.dispose()
    return found


def explain(pg: Postgres, database: str, statement: str, parameters: Any) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) of one captured statement: (plan text, execution ms)."""
    with pg.connect(database) as conn:
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).fetchall()
    plan = "\n".join(str(r[0]) for r in rows)
    ms = 0.0
    for line in plan.splitlines():
        if line.startswith("Execution Time:"):
            ms = float(line.split()[2])
    return plan, ms
