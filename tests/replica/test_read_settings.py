"""The read replica's settings, refusals and pieces that need no server."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.routing import ReadRouting
from deploytrace.api.runtime import Runtime
from deploytrace.cli.client import READ_PRIMARY_HEADER, ApiClient, Response
from deploytrace.errors import InvalidInput
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from deploytrace.storage.replica import LsnClock, lsn
from tests.support.cli import CliRunner

PG = "postgresql+psycopg://u@127.0.0.1:1/db"


def test_settings_read_the_replica_url_and_lag_limit() -> None:
    settings = Settings.from_env(
        {"DEPLOYTRACE_DATABASE_READ_URL": PG, "DEPLOYTRACE_READ_MAX_LAG": "2.5"}
    )
    assert settings.database_read_url == PG
    assert settings.read_max_lag == 2.5
    assert Settings.from_env({}).read_max_lag == 5
    assert Settings.from_env({}).database_read_url is None


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf"])
def test_a_bad_lag_limit_is_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="DEPLOYTRACE_READ_MAX_LAG"):
        Settings.from_env({"DEPLOYTRACE_READ_MAX_LAG": value})


def test_a_read_url_needs_postgresql_on_both_sides(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="needs a PostgreSQL database"):
        Database(f"sqlite:///{tmp_path / 'x.db'}", read_url=PG)
    with pytest.raises(InvalidInput, match="streaming replica"):
        Database(PG, read_url=f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(InvalidInput, match="streaming replica"):
        Database(PG, read_url="postgresql+psycopg2://u@h/db")
    # Nothing is connected to at construction: a replica that is down is no reason to refuse.
    db = Database(PG, read_url="postgres://u@127.0.0.1:2/db")
    assert db.replica is not None
    db.dispose()


def test_the_server_refuses_an_unusable_read_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DEPLOYTRACE_DATABASE_READ_URL", raising=False)
    cli = CliRunner()
    sqlite = f"sqlite:///{tmp_path / 'server.db'}"
    r = cli("server", "--database-url", sqlite, "--database-read-url", PG)
    assert r.code == 7, r.err
    assert r.err.startswith("error: a read replica needs a PostgreSQL database")
    monkeypatch.setenv("DEPLOYTRACE_READ_MAX_LAG", "soon")
    r = cli("server", "--database-url", sqlite)
    assert r.code == 7
    assert "DEPLOYTRACE_READ_MAX_LAG" in r.err


def test_without_a_replica_nothing_routes(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    app = create_app(Runtime(db=db, settings=Settings()))
    assert db.replica is None
    assert ReadRouting not in [m.cls for m in app.user_middleware]
    db.dispose()


class Recording:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    def send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        headers: dict[str, str],
    ) -> Response:
        self.sent.append((method, dict(headers)))
        return Response(200, {}, b'{"items": [], "next_cursor": null}')


def test_the_client_asks_for_the_primary_after_its_first_write() -> None:
    transport = Recording()
    client = ApiClient(transport)
    client.call("GET", "/v1/deployments")
    client.call("POST", "/v1/environments", json_body={"name": "e"})
    client.call("GET", "/v1/deployments")
    client.call_raw("GET", "/v1/attestations/x/content")
    asked = [READ_PRIMARY_HEADER in headers for _, headers in transport.sent]
    assert asked == [False, False, True, True]


def test_lsn_positions() -> None:
    assert lsn("0/0") == 0
    assert lsn("0/3001148") == 0x3001148
    assert lsn("1/0") == 1 << 32


def test_lag_is_zero_when_caught_up_however_long_the_primary_idles() -> None:
    clock = LsnClock(window=60)
    for t in range(30):
        clock.add(float(t), 1000)
    assert clock.lag(1000, now=30.0) == (0, True)


def test_lag_is_the_time_since_the_primary_was_where_the_replica_is() -> None:
    clock = LsnClock(window=60)
    assert clock.lag(10, now=1.0) is None
    clock.add(0.0, 1000)
    clock.add(1.0, 2000)
    clock.add(2.0, 3000)
    assert clock.lag(1500, now=2.0) == (pytest.approx(1.5), True)
    assert clock.lag(2000, now=5.0) == (pytest.approx(4.0), True)
    # Behind everything sampled: at least as old as the oldest sample, maybe more.
    assert clock.lag(10, now=2.0) == (pytest.approx(2.0), False)


def test_the_window_keeps_one_older_sample_and_a_new_primary_starts_over() -> None:
    clock = LsnClock(window=10)
    clock.add(0.0, 1000)
    clock.add(20.0, 2000)
    assert clock.lag(1500, now=20.0) == (pytest.approx(10.0), True)
    clock.add(30.0, 3000)
    clock.add(31.0, 3100)  # (0, 1000) leaves: (20, 2000) dates positions from 2000 on
    assert clock.lag(1500, now=31.0) == (pytest.approx(11.0), False)
    assert clock.lag(2500, now=31.0) == (pytest.approx(6.0), True)
    clock.add(32.0, 500)  # positions went back: a promoted standby, a new history
    assert clock.lag(500, now=33.0) == (0, True)
