"""Which URL a reference is fetched from: Docker Hub's API host, HTTPS for remote hosts."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from deploytrace.oci import resolve
from deploytrace.oci.transport import Reply, Transport

BODY = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}
).encode()


@pytest.fixture
def urls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Capture requested URLs instead of going to the network."""
    seen: list[str] = []

    def request(self: Transport, method: str, url: httpx.URL, **kwargs: object) -> Reply:
        seen.append(str(url))
        digest = "sha256:" + hashlib.sha256(BODY).hexdigest()
        return Reply(200, httpx.Headers({"Docker-Content-Digest": digest}), BODY, url)

    monkeypatch.setattr(Transport, "request", request)
    return seen


@pytest.mark.parametrize(
    ("reference", "url", "name"),
    [
        (
            "nginx",
            "https://registry-1.docker.io/v2/library/nginx/manifests/latest",
            "index.docker.io/library/nginx",
        ),
        (
            "docker.io/bitnami/nginx:1.25",
            "https://registry-1.docker.io/v2/bitnami/nginx/manifests/1.25",
            "index.docker.io/bitnami/nginx",
        ),
        ("ghcr.io/o/r:v1", "https://ghcr.io/v2/o/r/manifests/v1", "ghcr.io/o/r"),
        (
            "registry.example.com:5000/a/b@sha256:" + hashlib.sha256(BODY).hexdigest(),
            "https://registry.example.com:5000/v2/a/b/manifests/sha256:"
            + hashlib.sha256(BODY).hexdigest(),
            "registry.example.com:5000/a/b",
        ),
        ("localhost:5000/a:b", "http://localhost:5000/v2/a/manifests/b", "localhost:5000/a"),
        ("127.0.0.2:5000/a:b", "http://127.0.0.2:5000/v2/a/manifests/b", "127.0.0.2:5000/a"),
        ("[::1]:5000/a:b", "http://[::1]:5000/v2/a/manifests/b", "[::1]:5000/a"),
    ],
)
def test_manifest_url(urls: list[str], reference: str, url: str, name: str) -> None:
    resolved = resolve(reference, kind="CONTAINER_IMAGE")
    assert urls == [url]
    assert resolved.name == name
