"""When an attestation's build finished (SPEC §8 lead time): read at push, backfilled by
migration 0006, and the earliest one per digest is what DORA starts a lead time from."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from deploytrace.attestations import parse
from deploytrace.attestations.times import built_at, parse_time
from deploytrace.storage import migrate
from deploytrace.storage.base import UTCDateTime
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.postgres import PostgresServer
from tests.support.statements import corpus, statement

UTC = dt.UTC

# Real attestations of the corpus (tests/data/attestations/SOURCES.md) and the build
# finish each states; None: it states none (GitHub's provenance, SBOMs, VSAs).
CORPUS_TIMES = {
    "chainloop/statement.json": dt.datetime(2024, 7, 12, 11, 5, 19, 808858, UTC),
    "chainloop/attestation-dsse.json": dt.datetime(2024, 4, 29, 9, 2, 44, 316889, UTC),
    "chainloop/bundle_valid.json": dt.datetime(2025, 2, 12, 9, 19, 13, 772213, UTC),
    "slsa-verifier/container_workflow_dispatch.buildkit-provenance.sha256-c1944d47.json": (
        dt.datetime(2024, 3, 21, 10, 33, 18, 649779, UTC)
    ),
    "slsa-verifier/gcloud-container-github.json": dt.datetime(2022, 9, 6, 17, 54, 22, 169342, UTC),
    "gh-cli/sigstore-js-2.1.0-bundle.json": None,
    "sigstore-go/bundle-provenance.json": None,
    "trivy/sigstore-bundle.json": None,
}


@pytest.mark.parametrize(("path", "expected"), sorted(CORPUS_TIMES.items()))
def test_build_finish_of_real_attestations(path: str, expected: dt.datetime | None) -> None:
    (att,) = parse(corpus(path))
    assert built_at(att.statement) == expected


def _slsa_v1(metadata: dict[str, Any], key: str = "runDetails") -> dict[str, Any]:
    # The field's place per the SLSA v1 schema (slsa.dev/spec/v1.1/provenance).
    return {
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {key: {"metadata": metadata}},
    }


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (
            _slsa_v1({"finishedOn": "2026-11-01T10:00:00Z"}),
            dt.datetime(2026, 11, 1, 10, tzinfo=UTC),
        ),
        (
            _slsa_v1({"finishedOn": "2026-11-01T12:00:00.123456789+02:00"}),
            dt.datetime(2026, 11, 1, 10, 0, 0, 123456, UTC),
        ),
        (
            _slsa_v1({"finished_on": "2026-11-01T10:00:00Z"}, key="run_details"),
            dt.datetime(2026, 11, 1, 10, tzinfo=UTC),
        ),
        (_slsa_v1({"startedOn": "2026-11-01T10:00:00Z"}), None),
        (_slsa_v1({"finishedOn": "2026-11-01 10:00"}), None),
        (_slsa_v1({"finishedOn": "2026-11-01T10:00:00"}), None),  # no zone: not guessed
        (_slsa_v1({"finishedOn": "2026-02-30T10:00:00Z"}), None),
        (_slsa_v1({"finishedOn": 1730455200}), None),
        (_slsa_v1({"finishedOn": None}), None),
        ({"predicateType": "https://slsa.dev/provenance/v1", "predicate": []}, None),
        (
            {
                "predicateType": "https://slsa.dev/provenance/v0.2",
                "predicate": {"metadata": {"buildFinishedOn": "2026-11-01T10:00:00Z"}},
            },
            dt.datetime(2026, 11, 1, 10, tzinfo=UTC),
        ),
        (
            {
                "predicateType": "https://cyclonedx.org/bom",
                "predicate": {"metadata": {"buildFinishedOn": "2026-11-01T10:00:00Z"}},
            },
            None,
        ),
        ({"predicate": {"metadata": {"finishedAt": "2026-11-01T10:00:00Z"}}}, None),
    ],
)
def test_build_finish_rules(doc: dict[str, Any], expected: dt.datetime | None) -> None:
    assert built_at(doc) == expected


def test_parse_time_bounds() -> None:
    assert parse_time("9999-12-31T23:59:59Z") == dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_time("9999-12-31T23:59:59-01:00") is None  # past the end of time
    assert parse_time("0001-01-01T00:00:00+01:00") is None


def test_a_push_stores_the_build_finish(api: ApiHarness) -> None:
    """And lead time starts at the earliest one: a later, faster rebuild of the same digest
    does not shorten it; an attestation without a time counts from its push."""
    d = digest("app")
    early, late = "2026-01-01T10:00:00Z", "2026-01-05T10:00:00Z"
    for finished in (late, early, None):
        metadata = {"invocationId": finished or "none"}
        if finished:
            metadata["finishedOn"] = finished
        body = json.loads(statement(d))
        body["predicate"] = {"runDetails": {"metadata": metadata}}
        assert api.push(json.dumps(body).encode()).status == 201
    with api.db.read() as conn:
        rows = conn.execute(sa.text("SELECT built_at FROM attestations ORDER BY seq")).all()
    assert [r[0] is not None for r in rows] == [True, True, False]
    api.env("k8s-east")
    at = dt.datetime(2026, 1, 2, 10, tzinfo=UTC)
    r = api.record(digest=d, observed_at=at.isoformat())
    assert r.status == 201, r.body
    since = {"since": "2026-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"}
    found = api.get("/v1/metrics/dora", params={"logical_environment": "production", **since})
    assert found.json()["lead_time_seconds"] == {"p50": 86400.0, "p90": 86400.0}


# Migration 0006's backfill --------------------------------------------------------------


@pytest.fixture
def empty_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    pg: PostgresServer = request.getfixturevalue("pg")
    name = pg.create_database()
    yield pg.url(name)
    pg.drop_database(name)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    return config


def _before_insight() -> str:
    """The revision the insight migration follows (whatever number it was given)."""
    for script in ScriptDirectory.from_config(_config()).walk_revisions():
        if script.path.endswith("_insight.py"):
            assert isinstance(script.down_revision, str)
            return script.down_revision
    raise AssertionError("no *_insight.py migration")


def _upgrade(db: Database, revision: str) -> None:
    config = _config()
    with db.engine.connect() as conn:
        conn.info["write"] = True
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, revision)


_OLD_COLUMNS: dict[str, Any] = {
    "org_id": sa.Uuid,
    "digest": sa.String,
    "format": sa.String,
    "predicate_type": sa.String,
    "subjects": sa.JSON,
    "size": sa.BigInteger,
    "content": sa.LargeBinary,
    "verification_status": sa.String,
    "created_at": UTCDateTime,
}


def test_migration_reads_the_build_finish_of_stored_attestations(empty_url: str) -> None:
    db = Database(empty_url)
    _upgrade(db, _before_insight())
    org = uuid.uuid4()
    now = dt.datetime(2026, 11, 1, tzinfo=UTC)
    stored = {
        **{path: (corpus(path), expected) for path, expected in CORPUS_TIMES.items()},
        # Bytes a laxer parser once accepted: left as they are (lead time from the push).
        "broken": (b'{"predicateType": "https://slsa.dev/provenance/v1", "oops"', None),
    }
    # The tables as the migrations before this one left them (no built_at yet).
    orgs = sa.table(
        "organizations",
        sa.column("id", sa.Uuid),
        sa.column("name", sa.String),
        sa.column("created_at", UTCDateTime),
    )
    old = sa.table(
        "attestations",
        *(sa.column(c, t) for c, t in _OLD_COLUMNS.items()),
    )
    with db.engine.begin() as conn:
        conn.execute(sa.insert(orgs).values(id=org, name="o", created_at=now))
        for i, (path, (content, _)) in enumerate(sorted(stored.items())):
            predicate = "https://slsa.dev/provenance/v1"
            if path != "broken":
                predicate = parse(content)[0].predicate_type
            conn.execute(
                sa.insert(old).values(
                    org_id=org,
                    digest=f"sha256:{i:064x}",
                    format="statement",
                    predicate_type=predicate,
                    subjects=[],
                    size=len(content),
                    content=content,
                    verification_status="unverified",
                    created_at=now,
                )
            )
    _upgrade(db, "head")
    from deploytrace.storage.attestations import attestations

    with db.read() as conn:
        rows = conn.execute(
            sa.select(attestations.c.digest, attestations.c.built_at).order_by(attestations.c.seq)
        ).all()
    expected = [stored[path][1] for path in sorted(stored)]
    assert [r.built_at for r in rows] == expected
    db.dispose()
