"""SPEC §6 conventions: probes, auth, the JSON error body, OpenAPI, body limits."""

from __future__ import annotations

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.services import tenancy
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness


def test_probes_need_no_token(api: ApiHarness) -> None:
    assert api.get("/healthz", token=None).json() == {"status": "ok"}
    r = api.get("/readyz", token=None)
    assert r.status == 200 and r.json() == {"status": "ok"}


def test_readyz_is_503_when_the_database_is_gone(tmp_path: object) -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")
    harness = ApiHarness(create_app(Runtime(db=db, settings=Settings())), token=None, db=db)
    r = harness.get("/readyz")
    assert r.status == 503
    assert r.error_code == "unavailable"
    assert harness.get("/healthz").status == 200


def test_every_v1_call_needs_a_token(api: ApiHarness) -> None:
    for method, path in [
        ("GET", "/v1/environments"),
        ("POST", "/v1/environments"),
        ("GET", "/v1/deployments"),
        ("POST", "/v1/deployments"),
        ("GET", "/v1/logical-environments/production"),
    ]:
        r = api.request(method, path, token=None, json_body={})
        assert r.status == 401, (method, path)
        assert r.error_code == "unauthenticated"
        assert r.headers.get("www-authenticate") == "Bearer"


def test_bad_tokens_are_401(api: ApiHarness) -> None:
    assert api.token
    tampered = api.token[:-1] + ("A" if api.token[-1] != "A" else "B")
    for token in ["nonsense", "dt_" + "0" * 32 + "_" + "x" * 43, tampered]:
        assert api.get("/v1/environments", token=token).status == 401
    r = api.get("/v1/environments", headers={"authorization": f"Basic {api.token}"}, token=None)
    assert r.status == 401


def test_error_body_shape(api: ApiHarness) -> None:
    r = api.get("/v1/environments/nope")
    assert r.status == 404
    body = r.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["code"] == "not_found"


def test_unknown_route_and_method_use_the_error_body(api: ApiHarness) -> None:
    r = api.get("/v1/nothing-here")
    assert r.status == 404 and r.error_code == "not_found"
    r = api.request("PUT", "/v1/deployments")
    assert r.status == 405 and "error" in r.json()


def test_openapi_document(api: ApiHarness) -> None:
    doc = api.get("/openapi.json", token=None).json()
    paths = doc["paths"]
    for path in [
        "/healthz",
        "/readyz",
        "/v1/environments",
        "/v1/environments/{name}",
        "/v1/logical-environments",
        "/v1/logical-environments/{name}",
        "/v1/deployments",
        "/v1/deployments/{record_id}",
    ]:
        assert path in paths, path
    post = paths["/v1/deployments"]["post"]["responses"]
    assert {"200", "201", "404", "409", "422"} <= set(post)
    assert "HTTPValidationError" not in doc.get("components", {}).get("schemas", {})


def test_body_over_the_limit_is_413(db: Database) -> None:
    settings = Settings(max_body_bytes=1024)
    harness = ApiHarness(create_app(Runtime(db=db, settings=settings)), token=None, db=db)
    r = harness.request(
        "POST",
        "/v1/environments",
        content=b'{"name": "' + b"a" * 2000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status == 413
    assert r.error_code == "payload_too_large"


def test_streamed_body_over_the_limit_is_413(db: Database) -> None:
    """A chunked body has no Content-Length: the limit is enforced as bytes arrive."""
    import asyncio
    import json as json_

    app = create_app(Runtime(db=db, settings=Settings(max_body_bytes=1024)))
    # With a token: without one, a chunked body is refused (401) before it is read.
    _, token = tenancy.bootstrap(db, "acme")
    chunks = [b'{"name": "', b"a" * 800, b"a" * 800, b'"}']
    sent: list[dict[str, object]] = []

    async def run() -> None:
        queue = [
            {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
            for i, c in enumerate(chunks)
        ]

        async def receive() -> dict[str, object]:
            return queue.pop(0) if queue else {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/environments",
            "raw_path": b"/v1/environments",
            "root_path": "",
            "query_string": b"",
            "client": ("127.0.0.1", 1),
            "server": ("test", 80),
            "headers": [
                (b"content-type", b"application/json"),
                (b"transfer-encoding", b"chunked"),
                (b"authorization", f"Bearer {token}".encode()),
            ],
        }
        await app(scope, receive, send)

    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 413
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")  # type: ignore[misc]
    assert json_.loads(body)["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path", "params"),
    [
        ("GET", "/v1/environments/a%00b", None),
        ("GET", "/v1/logical-environments/a%00b", None),
        ("GET", "/v1/deployments", {"deployment_name": "a\x00b", "history": True}),
        ("GET", "/v1/deployments", {"environment": "a\x00b"}),
        ("GET", "/v1/deployments", {"project": "a\x00b"}),
        ("GET", "/v1/attestations", {"workflow": "a\x00b"}),
        ("GET", "/v1/audit", {"action": "a\x00b"}),
        ("GET", "/v1/artifacts/sha256:a%00b", None),
        ("DELETE", "/v1/tokens/a%00b", None),
        ("DELETE", "/v1/trust/a%0Ab", None),
    ],
)
def test_control_characters_in_the_url_are_refused(
    api: ApiHarness, method: str, path: str, params: dict[str, object] | None
) -> None:
    """PostgreSQL refuses NUL in text: such input must be a 422, never reach it and 500."""
    r = api.request(method, path, params=params)
    assert r.status == 422, r.body
    assert r.error_code == "invalid"
