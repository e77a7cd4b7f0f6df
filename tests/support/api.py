"""Drive the FastAPI app in-process, exactly as the embedded CLI does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deploytrace.cli.embedded import AsgiTransport
from deploytrace.storage.db import Database
from tests.support.statements import statement


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_code(self) -> str:
        return str(self.json()["error"]["code"])


class ApiHarness:
    def __init__(
        self, app: Any, *, token: str | None, db: Database, auto_attest: bool = True
    ) -> None:
        self.app = app
        self.token = token
        self.db = db
        # State-machine tests attest every digest they record; gate tests turn this off.
        self.auto_attest = auto_attest
        self._attested: set[str] = set()
        self._transport = AsgiTransport(lambda: app)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        token: str | None = "default",
    ) -> Reply:
        sent = dict(headers or {})
        bearer = self.token if token == "default" else token
        if bearer:
            sent.setdefault("authorization", f"Bearer {bearer}")
        body = content
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent.setdefault("content-type", "application/json")
        query = [
            (k, str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in (params or {}).items()
            if v is not None
        ]
        r = self._transport.send(method, path, query, body, sent)
        return Reply(r.status, r.headers, r.body)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("POST", path, json_body=body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Reply:
        return self.request("PATCH", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)

    # Shortcuts for the common set-up steps.
    def env(self, name: str, description: str | None = None) -> Reply:
        r = self.post("/v1/environments", {"name": name, "description": description})
        assert r.status == 201, r.body
        return r

    def push(self, data: bytes, *, token: str | None = "default", **params: Any) -> Reply:
        return self.request(
            "POST",
            "/v1/attestations",
            content=data,
            params=params,
            headers={"content-type": "application/octet-stream"},
            token=token,
        )

    def attest(self, *digests: str) -> None:
        fresh = [d for d in digests if d not in self._attested]
        if fresh:
            r = self.push(statement(*fresh))
            assert r.status in (200, 201), r.body
            self._attested.update(fresh)

    def record(self, **fields: Any) -> Reply:
        if self.auto_attest and "digest" in fields and fields.get("status") != "decommissioned":
            digest = str(fields["digest"])
            if digest.startswith(("sha256:", "sha512:")) and len(digest) in (71, 135):
                self.attest(digest.lower())
        body = {
            "environment": "k8s-east",
            "logical_environment": "production",
            "deployment_name": "api-server",
            "kind": "CONTAINER_IMAGE",
        }
        body.update(fields)
        return self.post("/v1/deployments", body)
