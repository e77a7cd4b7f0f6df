"""What real registries rarely do: lie about digests, fail transiently, hang, misbehave."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from deploytrace.errors import (
    DeploytraceError,
    InvalidInput,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from deploytrace.oci import RegistryCredentials, resolve, transport
from deploytrace.oci.transport import MAX_BODY_BYTES
from tests.support.registry import free_port, make_tls_files

from .fakes import Canned, Seen, fake_registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "1" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OTHER = "sha256:" + "f" * 64


@pytest.fixture(autouse=True)
def _quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries are counted here, not timed: keep the suite fast."""
    monkeypatch.setattr(transport, "BACKOFF_SECONDS", 0.01)


def ok(body: bytes = MANIFEST, digest: str | None = DIGEST, **headers: str) -> Canned:
    all_headers = {"Content-Type": OCI_MANIFEST, **headers}
    if digest is not None:
        all_headers["Docker-Content-Digest"] = digest
    return Canned(200, all_headers, body)


def error(status: int, code: str = "", **headers: str) -> Canned:
    body = (
        json.dumps({"errors": [{"code": code, "message": code.lower()}]}).encode() if code else b""
    )
    return Canned(status, {"Content-Type": "application/json", **headers}, body)


def test_sends_the_full_accept_list() -> None:
    with fake_registry([ok()]) as fake:
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    (seen,) = fake.requests
    assert (seen.method, seen.path) == ("GET", "/v2/demo/app/manifests/1.0")
    for media_type in (
        "application/vnd.oci.image.index.v1+json",
        OCI_MANIFEST,
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ):
        assert media_type in seen.headers["Accept"]
    assert "Authorization" not in seen.headers


def test_wrong_docker_content_digest_is_refused() -> None:
    with fake_registry([ok(digest=OTHER)]) as fake, pytest.raises(DeploytraceError) as caught:
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    assert f"hashes to {DIGEST}, not to {OTHER}" in str(caught.value)
    assert "Docker-Content-Digest" in str(caught.value)


def test_bytes_not_matching_the_reference_digest_are_refused() -> None:
    with (
        fake_registry([ok(digest=None)]) as fake,
        pytest.raises(DeploytraceError, match="digest in the reference"),
    ):
        resolve(f"{fake.host}/demo/app@{OTHER}", kind="CONTAINER_IMAGE")


def test_without_docker_content_digest_the_body_is_hashed() -> None:
    with fake_registry([ok(digest=None)]) as fake:
        assert resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE").digest == DIGEST


def test_media_type_from_content_type_when_the_manifest_omits_it() -> None:
    body = json.dumps(
        {"schemaVersion": 2, "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json"}}
    ).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with fake_registry(
        [ok(body, digest, **{"Content-Type": f"{OCI_MANIFEST}; charset=utf-8"})]
    ) as fake:
        resolved = resolve(f"{fake.host}/charts/c:1", kind="HELM_CHART")
    assert (resolved.media_type, resolved.kind) == (OCI_MANIFEST, "HELM_CHART")


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html>", "text/html", "not a JSON object"),
        (
            b'{"schemaVersion": 1}',
            "application/vnd.docker.distribution.manifest.v1+prettyjws",
            "neither",
        ),
        (b'{"schemaVersion": 2}', "", "media type missing"),
    ],
)
def test_not_a_manifest_is_invalid_input(body: bytes, content_type: str, message: str) -> None:
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    with (
        fake_registry([ok(body, digest, **{"Content-Type": content_type})]) as fake,
        pytest.raises(InvalidInput, match=message),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_oversized_answer_is_refused() -> None:
    body = b" " * (MAX_BODY_BYTES + 1)
    with (
        fake_registry([ok(body, digest=None)]) as fake,
        pytest.raises(InvalidInput, match="more than 4 MiB"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_are_retried(status: int) -> None:
    with fake_registry([error(status, **{"Retry-After": "0"}), error(status), ok()]) as fake:
        assert resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE").digest == DIGEST
    assert len(fake.requests) == 3


def test_retries_are_bounded() -> None:
    with fake_registry([error(503)]) as fake, pytest.raises(Unavailable, match="answered HTTP 503"):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    assert len(fake.requests) == 3


def test_server_error_is_unavailable_without_retry() -> None:
    with (
        fake_registry([error(500)]) as fake,
        pytest.raises(Unavailable, match=f"registry {fake.host} answered HTTP 500"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")
    assert len(fake.requests) == 1


def test_timeout_is_unavailable() -> None:
    started = time.monotonic()
    with (
        fake_registry([Canned(200, {}, b"{}", delay=1.0)]) as fake,
        pytest.raises(Unavailable, match=f"registry {fake.host} did not answer within 0.2 s"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE", timeout=0.2)
    assert time.monotonic() - started < 5


def test_name_unknown_is_not_found() -> None:
    with (
        fake_registry([error(404, "NAME_UNKNOWN")]) as fake,
        pytest.raises(NotFound, match=f"repository demo/app not found on registry {fake.host}"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_other_client_errors_are_invalid_input() -> None:
    with (
        fake_registry([error(400, "NAME_INVALID")]) as fake,
        pytest.raises(
            InvalidInput,
            match=r"rejected the request for .*demo/app:1.0 \(HTTP 400: name_invalid\)",
        ),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_forbidden_without_a_challenge_is_unauthenticated() -> None:
    with (
        fake_registry([error(403, "DENIED")]) as fake,
        pytest.raises(Unauthenticated, match="denied anonymous access"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_unsupported_challenge_is_unauthenticated() -> None:
    with (
        fake_registry([error(401, **{"WWW-Authenticate": "Negotiate"})]) as fake,
        pytest.raises(Unauthenticated, match="authentication scheme deploytrace does not support"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_bearer_challenge_handling_and_token_spellings() -> None:
    """One fake plays registry and token service; `access_token` alone is accepted."""

    def answer(seen: Seen) -> Canned:
        if seen.path.startswith("/token"):
            assert "scope=repository%3Ademo%2Fapp%3Apull" in seen.path
            assert "service=fake" in seen.path
            return Canned(200, {}, b'{"access_token": "tok-123"}')
        if seen.headers.get("Authorization") == "Bearer tok-123":
            return ok()
        realm = f'Bearer realm="http://{fake.host}/token",service="fake",scope="repository:demo/app:pull"'
        return error(401, "UNAUTHORIZED", **{"WWW-Authenticate": realm})

    with fake_registry(answer) as fake:
        assert resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE").digest == DIGEST
    assert [seen.path.split("?")[0] for seen in fake.requests] == [
        "/v2/demo/app/manifests/1.0",
        "/token",
        "/v2/demo/app/manifests/1.0",
    ]


@pytest.mark.parametrize(
    ("token_reply", "message"),
    [
        (Canned(200, {}, b'{"nothing": 1}'), "answered without a token"),
        (Canned(500, {}, b""), "answered HTTP 500"),
    ],
)
def test_broken_token_service_is_unavailable(token_reply: Canned, message: str) -> None:
    def answer(seen: Seen) -> Canned:
        if seen.path.startswith("/token"):
            return token_reply
        return error(401, **{"WWW-Authenticate": f'Bearer realm="http://{fake.host}/token"'})

    with fake_registry(answer) as fake, pytest.raises(Unavailable, match=message):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_unreachable_token_service_is_unavailable_naming_it() -> None:
    port = free_port()
    challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="x"'
    with (
        fake_registry([error(401, **{"WWW-Authenticate": challenge})]) as fake,
        pytest.raises(Unavailable, match=f"cannot connect to token service 127.0.0.1:{port}"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


@pytest.mark.parametrize("realm", ["", "ftp://x/token", "not a url"])
def test_unusable_realm_is_unavailable(realm: str) -> None:
    challenge = f'Bearer realm="{realm}"' if realm else "Bearer"
    with (
        fake_registry([error(401, **{"WWW-Authenticate": challenge})]) as fake,
        pytest.raises(Unavailable, match="Bearer challenge with no usable realm"),
    ):
        resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE")


def test_credentials_never_sent_to_a_plain_http_realm_elsewhere() -> None:
    challenge = 'Bearer realm="http://auth.example.com/token",service="x"'
    creds_password = "Pl41n-Http-Secret"
    with fake_registry([error(401, **{"WWW-Authenticate": challenge})]) as fake:
        creds = RegistryCredentials(fake.host, "alice", creds_password)
        with pytest.raises(Unauthenticated, match="without TLS; refusing to send them") as caught:
            resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE", credentials=creds)
    assert creds_password not in str(caught.value)


def test_basic_challenge_sends_basic_credentials() -> None:
    def answer(seen: Seen) -> Canned:
        if seen.headers.get("Authorization") == "Basic YWxpY2U6cHc=":  # alice:pw
            return ok()
        return error(401, **{"WWW-Authenticate": 'Basic realm="r"'})

    with fake_registry(answer) as fake:
        creds = RegistryCredentials(fake.host, "alice", "pw")
        assert (
            resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE", credentials=creds).digest
            == DIGEST
        )
    assert len(fake.requests) == 2


def test_loopback_tls_server_that_hangs_up_on_plain_http(tmp_path: Path) -> None:
    ca, cert, key = make_tls_files(tmp_path)
    with fake_registry([ok()], tls=(cert, key)) as fake:
        resolved = resolve(f"{fake.host}/demo/app:1.0", kind="CONTAINER_IMAGE", ca_file=str(ca))
    assert resolved.digest == DIGEST
