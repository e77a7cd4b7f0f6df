"""Environments and logical environments: CRUD, conflicts, soft deletion."""

from __future__ import annotations

from tests.support.api import ApiHarness
from tests.support.digests import digest


def test_environment_crud(api: ApiHarness) -> None:
    created = api.post("/v1/environments", {"name": "k8s-east", "description": "US-East"})
    assert created.status == 201
    env = created.json()
    assert env["name"] == "k8s-east" and env["description"] == "US-East"
    assert api.get("/v1/environments/k8s-east").json() == {**env, "snapshots": [], "unattested": []}
    updated = api.patch("/v1/environments/k8s-east", {"description": "Kubernetes US-East"})
    assert updated.status == 200
    assert updated.json()["description"] == "Kubernetes US-East"
    assert updated.json()["updated_at"] >= env["updated_at"]
    assert api.delete("/v1/environments/k8s-east").status == 200
    assert api.get("/v1/environments/k8s-east").status == 404
    assert api.get("/v1/environments").json()["items"] == []


def test_duplicate_environment_conflicts(api: ApiHarness) -> None:
    api.env("k8s-east")
    r = api.post("/v1/environments", {"name": "k8s-east"})
    assert r.status == 409 and r.error_code == "conflict"


def test_unknown_environment_is_404_everywhere(api: ApiHarness) -> None:
    assert api.get("/v1/environments/nope").status == 404
    assert api.patch("/v1/environments/nope", {"description": "x"}).status == 404
    assert api.delete("/v1/environments/nope").status == 404
    assert api.get("/v1/environments/NOT%20A%20LABEL").status == 404


def test_delete_refused_while_deployed_then_allowed(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.record(digest=digest(1))
    r = api.delete("/v1/environments/k8s-east")
    assert r.status == 409
    assert "decommission" in r.json()["error"]["message"]
    api.record(digest=digest(1), status="decommissioned")
    assert api.delete("/v1/environments/k8s-east").status == 200
    # History survives and still names the environment.
    history = api.get("/v1/deployments", params={"history": True}).json()["items"]
    assert [h["environment"] for h in history] == ["k8s-east"]
    assert api.get("/v1/deployments", params={"environment": "k8s-east", "history": True}).json()[
        "items"
    ]
    # The name can be used again; old history stays with it.
    api.env("k8s-east")
    assert api.record(digest=digest(2)).json()["action"] == "created"
    history = api.get(
        "/v1/deployments", params={"environment": "k8s-east", "history": True}
    ).json()["items"]
    assert len(history) == 2


def test_logical_environments(api: ApiHarness) -> None:
    r = api.post("/v1/logical-environments", {"name": "canary", "description": "1% traffic"})
    assert r.status == 201
    assert api.get("/v1/logical-environments/canary").json()["description"] == "1% traffic"
    assert api.post("/v1/logical-environments", {"name": "canary"}).status == 409
    assert api.delete("/v1/logical-environments/canary").status == 200
    assert api.get("/v1/logical-environments/canary").status == 404


def test_builtin_logical_environments_cannot_be_deleted(api: ApiHarness) -> None:
    r = api.delete("/v1/logical-environments/production")
    assert r.status == 409
    assert api.get("/v1/logical-environments/production").status == 200


def test_logical_environment_delete_refused_while_deployed(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.post("/v1/logical-environments", {"name": "canary"})
    api.record(digest=digest(1), logical_environment="canary")
    assert api.delete("/v1/logical-environments/canary").status == 409


def test_environment_list_paginates(api: ApiHarness) -> None:
    for i in range(5):
        api.env(f"env-{i}")
    page = api.get("/v1/environments", params={"limit": 2}).json()
    names = [e["name"] for e in page["items"]]
    while page["next_cursor"]:
        page = api.get(
            "/v1/environments", params={"limit": 2, "cursor": page["next_cursor"]}
        ).json()
        names += [e["name"] for e in page["items"]]
    assert names == [f"env-{i}" for i in range(5)]


def test_logical_environments_have_no_patch(api: ApiHarness) -> None:
    assert api.patch("/v1/logical-environments/production", {"description": "x"}).status == 405
