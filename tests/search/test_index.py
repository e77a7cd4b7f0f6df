"""Indexing: big SBOMs in chunks after the push commits, interrupted runs finished,
and attestations stored before the index existed indexed by `db reindex`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deploytrace.attestations import parse
from deploytrace.services import attestations, search, tenancy
from deploytrace.services import contents as service
from deploytrace.storage import contents as store
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.search.helpers import LOG4J, cyclonedx, log4j_sbom, maven, wrap
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.postgres import PostgresServer

IMAGE = digest("big image")


def big_sbom(n: int, *digests: str) -> bytes:
    components = [maven(f"org.example.g{i % 7}", f"lib-{i}", f"1.{i}.0") for i in range(n)]
    components.append(maven("org.apache.logging.log4j", "log4j-core", "2.14.1"))
    return wrap("https://cyclonedx.org/bom", cyclonedx(*components), *digests)


def rows(db: Database) -> int:
    with db.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(store.contents_components)) or 0)


def state(db: Database) -> list[tuple[str, int, int]]:
    s = store.attestation_contents
    with db.read() as conn:
        return [
            (r.state, r.chunks, r.chunks_done)
            for r in conn.execute(
                select(s.c.state, s.c.chunks, s.c.chunks_done).order_by(s.c.attestation_seq)
            )
        ]


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "CHUNK_ROWS", {"sqlite": 10, "postgresql": 10})


@pytest.fixture
def actor(db: Database) -> Any:
    return tenancy.local_actor(db)


def found(db: Database, actor: Any, purl: str) -> list[str]:
    page = search.search(db, actor, search.Query(purl=purl, all=True))
    return [h.digest for h in page.items]


def test_a_big_sbom_is_indexed_in_chunks_after_its_push(
    db: Database, actor: Any, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[list[tuple[str, int, int]], int]] = []
    complete = service.complete

    def spy(database: Database, runs: list[store.Pending]) -> None:
        # what the push transaction committed: the plan, no rows yet
        seen.append((state(database), rows(database)))
        complete(database, runs)

    monkeypatch.setattr(service, "complete", spy)
    attestations.push(db, actor, big_sbom(34, IMAGE))
    assert seen == [([("pending", 4, 0)], 0)]
    assert state(db) == [("indexed", 4, 4)]
    assert rows(db) == 35
    assert found(db, actor, f"{LOG4J}@2.14.1") == [IMAGE]
    assert found(db, actor, "pkg:maven/org.example.g5/lib-33@1.33.0") == [IMAGE]
    # a small one is indexed inside its push
    attestations.push(db, actor, log4j_sbom("2.17.1", digest("small")))
    assert state(db)[-1] == ("indexed", 0, 0)


def test_an_interrupted_run_is_finished_once(
    db: Database, actor: Any, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = {"chunks": 0}
    write_chunk = store.write_chunk

    def crash_after_two(conn: Any, run: store.Pending) -> bool:
        if written["chunks"] == 2:
            raise SystemExit("killed")  # the process dies mid-way
        written["chunks"] += 1
        return write_chunk(conn, run)

    monkeypatch.setattr(store, "write_chunk", crash_after_two)
    with pytest.raises(SystemExit):
        attestations.push(db, actor, big_sbom(34, IMAGE))
    monkeypatch.setattr(store, "write_chunk", write_chunk)
    assert state(db) == [("pending", 4, 2)] and rows(db) == 20
    assert service.repair(db) == 1
    assert state(db) == [("indexed", 4, 4)]
    assert rows(db) == 35  # the 20 rows of the dead run were replaced, not added to
    assert service.repair(db) == 0


def test_a_run_taken_over_writes_no_more(
    db: Database, actor: Any, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setattr(service, "complete", lambda _db, _runs: None)
        attestations.push(db, actor, big_sbom(34, IMAGE))
    with db.read() as conn:
        [(seq, token)] = store.pending(conn)
        org = actor.org_id
    # the original run, as it was planned
    att = parse(big_sbom(34, IMAGE))[0]
    first = store.Pending(
        org,
        seq,
        token,
        store.chunked(store.build_rows(org, seq, [IMAGE], service.extract(att)), 10),
    )
    assert service.repair(db) == 1  # another process takes it over and finishes
    with db.write() as conn:
        assert store.write_chunk(conn, first) is False
    assert rows(db) == 35


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, on the parametrized backend."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    pg: PostgresServer = request.getfixturevalue("pg")
    name = pg.create_database()
    yield pg.url(name)
    pg.drop_database(name)


def test_attestations_stored_before_the_index_are_indexed_by_db_reindex(
    empty_url: str, cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(empty_url)
    assert migrate.upgrade(db) is True
    actor = tenancy.local_actor(db)
    # The push path as it was before the contents index (revision 0007): the rows are
    # stored, nothing is indexed. Pushing through today's code keeps the test independent
    # of later columns of the attestations table.
    with monkeypatch.context() as m:
        m.setattr(service.Plan, "index", lambda *a, **k: None)
        m.setattr(service.Plan, "complete", lambda *a, **k: None)
        attestations.push(db, actor, log4j_sbom("2.14.1", IMAGE))
        attestations.push(db, actor, wrap("https://slsa.dev/provenance/v1", {}, IMAGE))
    assert found(db, actor, LOG4J) == []
    r = cli("db", "reindex", "--database-url", empty_url, "-o", "json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert (report["attestations"], report["with_contents"], report["components"]) == (2, 1, 3)
    assert found(db, actor, f"{LOG4J}@2.14.1") == [IMAGE]
    again = json.loads(cli("db", "reindex", "--database-url", empty_url, "-o", "json").out)
    assert again["attestations"] == 0
    everything = cli("db", "reindex", "--all", "--database-url", empty_url)
    assert everything.code == 0 and "indexed 2 attestations" in everything.out
    assert rows(db) == 3
    db.dispose()


def test_the_server_finishes_pending_runs_when_it_starts(
    db: Database, actor: Any, small_chunks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "complete", lambda _db, _runs: None)
    attestations.push(db, actor, big_sbom(34, IMAGE))
    monkeypatch.undo()
    assert state(db) == [("pending", 4, 0)]
    # `deploytrace server` runs this before it serves (cli/admin.py)
    assert service.repair(db) == 1 and rows(db) == 35
