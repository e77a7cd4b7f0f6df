"""What the tests check of what a receiver got: signatures, CloudEvents, order per slot."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import defaultdict
from typing import Any

import httpx
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook

from tests.support.digests import digest

PREFIX = "dev.deploytrace."


def verify(secret: str, request: dict[str, Any]) -> dict[str, Any]:
    """Check one request as a subscriber would; the CloudEvent as JSON."""
    headers = request["headers"]
    # The library's verifier (raises on a bad or stale signature) ...
    Webhook(secret).verify(request["body"], headers)
    # ... and the scheme recomputed by hand, so a bug shared by signer and verifier shows.
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.{request['body']}"
    expected = base64.b64encode(hmac.new(key, signed.encode(), hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    event = from_http_event(HTTPMessage(headers, request["body"].encode()))
    assert event.get_specversion() == "1.0"
    assert event.get_type().startswith(PREFIX)
    assert event.get_id() == headers["webhook-id"]
    assert event.get_source() == "/orgs/acme"
    assert headers["content-type"] == "application/cloudevents+json"
    parsed: dict[str, Any] = json.loads(request["body"])
    return parsed


def key_of(event: dict[str, Any]) -> str:
    data = event.get("data") or {}
    return str(data.get("slot") or event["subject"])


def received_in_order(
    secret: str, requests: list[dict[str, Any]]
) -> dict[str, list[tuple[str, str]]]:
    """Per ordering key, the (type, subject) of each event as first delivered, in order."""
    first: dict[str, dict[str, Any]] = {}
    for r in sorted(requests, key=lambda r: r["start"]):
        if 200 <= r["status"] < 300 and r["id"] not in first:
            first[r["id"]] = verify(secret, r)
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for event in first.values():
        by_key[key_of(event)].append((event["type"].removeprefix(PREFIX), event["subject"]))
    return dict(by_key)


def expected_in_order(
    client: httpx.Client, since_action: str = "webhook.created"
) -> dict[str, list[tuple[str, str]]]:
    """Per ordering key, the audited changes from the first `since_action` on, in order."""
    entries = client.get("/v1/audit", params={"limit": 500}).json()["items"]
    entries.sort(key=lambda e: e["position"])
    start = next(i for i, e in enumerate(entries) if e["action"] == since_action)
    by_key: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in entries[start:]:
        by_key[str(e["details"].get("slot") or e["target"])].append((e["action"], e["target"]))
    return dict(by_key)


def workflow(client: httpx.Client, *, slots: int = 3, tag: str = "w") -> None:
    """Something of every kind of change: environments, evidence, records, tokens."""

    def ok(response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    for env in ("k8s-east", "k8s-west"):
        ok(client.post("/v1/environments", json={"name": env}))
    ok(client.patch("/v1/environments/k8s-west", json={"description": "US west"}))
    ok(client.post("/v1/logical-environments", json={"name": "qa"}))
    digests = [digest(f"{tag}-{i}") for i in range(4)]
    from tests.support.statements import statement

    ok(
        client.post(
            "/v1/attestations",
            content=statement(*digests),
            headers={"content-type": "application/octet-stream"},
        )
    )
    for s in range(slots):
        body = {
            "environment": "k8s-east" if s % 2 else "k8s-west",
            "logical_environment": ("staging", "production", "qa")[s % 3],
            "deployment_name": f"svc-{s}",
            "kind": "CONTAINER_IMAGE",
        }
        for d in digests[:3]:
            ok(client.post("/v1/deployments", json={**body, "digest": d}))
        ok(
            client.post(
                "/v1/deployments", json={**body, "digest": digests[2], "status": "decommissioned"}
            )
        )
    ok(client.post("/v1/tokens", json={"name": f"ci-{tag}", "role": "writer"}))
    ok(client.delete(f"/v1/tokens/ci-{tag}"))
