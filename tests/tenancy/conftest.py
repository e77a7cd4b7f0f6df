"""Two organizations on one server, and tokens of every role."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness


@dataclass
class Org:
    admin: ApiHarness
    writer: ApiHarness
    viewer: ApiHarness


def make_org(db: Database, app: object, name: str) -> Org:
    _, admin_token = tenancy.bootstrap(db, name)
    admin = ApiHarness(app, token=admin_token, db=db)
    tokens = {}
    for role in ("writer", "viewer"):
        r = admin.post("/v1/tokens", {"name": f"{role}-token", "role": role})
        assert r.status == 201, r.body
        tokens[role] = r.json()["token"]
    return Org(
        admin=admin,
        writer=ApiHarness(app, token=tokens["writer"], db=db),
        viewer=ApiHarness(app, token=tokens["viewer"], db=db),
    )


@pytest.fixture
def orgs(db: Database) -> tuple[Org, Org]:
    app = create_app(Runtime(db=db, settings=Settings()))
    return make_org(db, app, "acme"), make_org(db, app, "globex")
