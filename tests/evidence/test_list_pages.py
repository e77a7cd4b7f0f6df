"""Attestation lists carry a subject count and the first few subjects; describe carries all."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from deploytrace.services import attestations
from deploytrace.storage import migrate
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.schema import all_tables
from tests.support.statements import statement

SHOWN = attestations.LIST_SUBJECTS
MANY = 40


def _many_subjects(tag: str = "") -> tuple[bytes, list[str]]:
    names = [f"{tag}artifact-{i}" for i in range(MANY)]
    return statement(*(digest(n) for n in names)), [digest(n) for n in names]


def test_lists_carry_the_count_and_the_first_subjects(api: ApiHarness) -> None:
    data, digests = _many_subjects()
    pushed = api.push(data).json()["items"][0]
    listed = api.get("/v1/attestations").json()["items"][0]
    for item in (pushed, listed):
        assert item["subjects_count"] == MANY
        assert [s["digest"] for s in item["subjects"]] == digests[:SHOWN]
    described = api.get(f"/v1/attestations/{listed['digest']}").json()
    assert described["subjects_count"] == MANY
    assert [s["digest"] for s in described["subjects"]] == digests


def test_a_list_page_stays_small_however_many_subjects(api: ApiHarness) -> None:
    for i in range(4):
        api.push(statement(*(digest(f"{i}-{n}") for n in range(2000))))
    page = api.get("/v1/attestations").body
    assert len(page) < 20_000, len(page)


def test_attestation_list_table_shows_the_count(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")  # wide enough to keep the SUBJECTS column
    data, _ = _many_subjects()
    path = tmp_path / "many.json"
    path.write_bytes(data)
    assert cli("attestation", "push", str(path)).code == 0
    table = cli("attestation", "list")
    assert table.code == 0, table.err
    assert "SUBJECTS" in table.out
    assert f" {MANY} " in table.out


def _alembic(db: Database, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with db.engine.connect() as conn:
        conn.info["write"] = True
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


def test_the_migration_fills_counts_and_heads_of_stored_attestations(database_url: str) -> None:
    db = Database(database_url)
    with db.engine.begin() as conn:
        all_tables().drop_all(conn)
        conn.exec_driver_sql("DROP TABLE alembic_version")
    _alembic(db, "0004")
    org = "0190c8a4-0000-7000-8000-000000000001"
    subjects = [{"name": f"s{i}", "digest": {"sha256": f"{i:064x}"}} for i in range(5)]
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organizations (id, name, created_at) "
                "VALUES (:id, 'acme', '2026-01-01T00:00:00.000000Z')"
            ),
            {"id": org.replace("-", "") if db.dialect == "sqlite" else org},
        )
        for seq, stored in ((1, subjects), (2, [])):
            conn.execute(
                sa.text(
                    "INSERT INTO attestations (seq, org_id, digest, format, predicate_type, "
                    "subjects, size, content, verification_status, created_at) VALUES "
                    "(:seq, :org, :digest, 'statement', 'p', :subjects, 1, :content, "
                    "'unverified', '2026-01-01T00:00:00.000000Z')"
                ),
                {
                    "seq": seq,
                    "org": org.replace("-", "") if db.dialect == "sqlite" else org,
                    "digest": f"sha256:{seq:064x}",
                    "subjects": json.dumps(stored),
                    "content": b"x",
                },
            )
    assert migrate.upgrade(db) is True
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT seq, subjects_count, subjects_head, verification_key_fingerprint "
                "FROM attestations ORDER BY seq"
            )
        ).all()
    db.dispose()
    found = [
        (seq, count, json.loads(head) if isinstance(head, str) else head, fingerprint)
        for seq, count, head, fingerprint in rows
    ]
    assert found == [(1, 5, subjects[:SHOWN], None), (2, 0, [], None)]
