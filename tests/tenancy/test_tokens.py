"""Tokens: shown once, stored as hashes, revocation and expiry effective at once."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from deploytrace.storage.tenancy import api_tokens
from tests.support.api import ApiHarness
from tests.support.postgres import PostgresServer
from tests.tenancy.conftest import Org


def test_create_shows_the_secret_once_and_list_never(orgs: tuple[Org, Org]) -> None:
    admin = orgs[0].admin
    created = admin.post("/v1/tokens", {"name": "ci-east", "role": "writer", "expires_in": "90d"})
    assert created.status == 201
    body = created.json()
    assert body["token"].startswith("dt_")
    assert body["role"] == "writer"
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    listed = admin.get("/v1/tokens").json()["items"]
    assert all("token" not in t for t in listed)
    assert body["token"] not in admin.get("/v1/tokens").body.decode()
    assert {t["name"] for t in listed} >= {"ci-east", "writer-token", "viewer-token"}


def test_duplicate_names_and_bad_input(orgs: tuple[Org, Org]) -> None:
    admin = orgs[0].admin
    assert admin.post("/v1/tokens", {"name": "writer-token", "role": "writer"}).status == 409
    for body in (
        {"name": "x", "role": "owner"},
        {"name": "Bad Name", "role": "viewer"},
        {"name": "x", "role": "viewer", "expires_in": "forever"},
        {"name": "x", "role": "viewer", "expires_in": "0s"},
        {"name": "x", "role": "viewer", "secret": "mine"},
    ):
        assert admin.post("/v1/tokens", body).status == 422, body


def test_revocation_is_effective_on_the_next_request(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    assert org.writer.get("/v1/deployments").status == 200
    revoked = org.admin.delete("/v1/tokens/writer-token")
    assert revoked.status == 200 and revoked.json()["revoked_at"]
    r = org.writer.get("/v1/deployments")
    assert r.status == 401
    assert "revoked" in r.json()["error"]["message"]
    assert org.admin.delete("/v1/tokens/writer-token").status == 404
    # Its name can be given to a new token.
    assert org.admin.post("/v1/tokens", {"name": "writer-token", "role": "writer"}).status == 201


def test_expired_tokens_are_refused(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    with org.admin.db.write() as conn:
        conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == "viewer-token")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
    r = org.viewer.get("/v1/environments")
    assert r.status == 401 and "expired" in r.json()["error"]["message"]


def test_last_used_is_recorded(orgs: tuple[Org, Org]) -> None:
    org = orgs[0]
    org.viewer.get("/v1/environments")
    viewer = next(
        t for t in org.admin.get("/v1/tokens").json()["items"] if t["name"] == "viewer-token"
    )
    assert viewer["last_used_at"] is not None


def _stored_bytes(database_url: str, request: pytest.FixtureRequest) -> bytes:
    """Everything the database holds: the SQLite files, or a pg_dump of the database."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    pg: PostgresServer = request.getfixturevalue("pg")
    name = make_url(database_url).database
    assert name
    dump = subprocess.run(
        [str(pg.bindir / "pg_dump"), "--data-only", pg.dsn(name)],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"COPY public.api_tokens" in dump  # the dump holds the token table
    return dump


def test_secrets_are_absent_from_the_database_file(
    orgs: tuple[Org, Org], database_url: str, request: pytest.FixtureRequest
) -> None:
    org = orgs[0]
    secrets = [h.token for h in (org.admin, org.writer, org.viewer)]
    org.admin.db.dispose()
    blob = _stored_bytes(database_url, request)
    with org.admin.db.read() as conn:
        hashes = [h for (h,) in conn.execute(select(api_tokens.c.secret_hash))]
    assert len(hashes) >= 3 and all(h.encode() in blob for h in hashes)  # it is all there
    for secret in secrets:
        assert secret
        assert secret.encode() not in blob
        # dt_<id>_<secret>: the secret itself may hold "_" (URL-safe base64).
        assert secret.split("_", 2)[2].encode() not in blob


def test_role_names_in_refusals(orgs: tuple[Org, Org]) -> None:
    harness: ApiHarness = orgs[0].viewer
    r = harness.post("/v1/environments", {"name": "x"})
    assert r.status == 403
    assert "viewer" in r.json()["error"]["message"]
