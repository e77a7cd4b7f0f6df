"""The pure parts: URL rules, patterns, the retry schedule, sealed secrets, the message."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import random
import stat
from pathlib import Path

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from deploytrace.errors import InvalidInput
from deploytrace.events import message, patterns, schedule, secrets, urls


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("https://example.com/hook", "https://example.com/hook"),
        ("HTTPS://Example.COM:8443/a/b?x=1", "https://example.com:8443/a/b?x=1"),
        ("https://example.com", "https://example.com/"),
        ("http://127.0.0.1:9000/in", "http://127.0.0.1:9000/in"),
        ("http://127.8.9.10/in", "http://127.8.9.10/in"),
        ("http://localhost:8080/x", "http://localhost:8080/x"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
    ],
)
def test_allowed_urls(raw: str, kept: str) -> None:
    assert urls.webhook_url(raw) == kept


@pytest.mark.parametrize(
    "raw",
    [
        "http://example.com/hook",  # plain http off this machine
        "http://10.0.0.1/hook",
        "http://0.0.0.0:80/",
        "http://localhost.evil.example/",
        "file:///etc/passwd",
        "ftp://example.com/",
        "javascript:alert(1)",
        "gopher://127.0.0.1:6379/",
        "https://",
        "https:///path-only",
        "https://exa mple.com/",
        "https://example.com/\x00",
        "https://example.com/#fragment",
        "https://example.com:99999/",
        "https://example.com/" + "a" * 3000,
        "",
        "example.com/hook",
    ],
)
def test_refused_urls(raw: str) -> None:
    with pytest.raises(InvalidInput):
        urls.webhook_url(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "https://alice:s3cr3t-pw@example.com/hook",
        "https://tok3n-value@example.com/hook",
        "http://user:hunter2@127.0.0.1/",
        "http://127.0.0.1@evil.example/",  # the host is evil.example: refused either way
    ],
)
def test_credentials_are_refused_and_never_repeated(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        urls.webhook_url(raw)
    for secret in ("s3cr3t-pw", "tok3n-value", "hunter2", "evil.example", "alice"):
        assert secret not in refused.value.message


def test_patterns() -> None:
    assert patterns.validate(None) == ["*"]
    assert patterns.validate([]) == ["*"]
    assert patterns.validate(["deployment.*", "Deployment.*", "token.created"]) == [
        "deployment.*",
        "token.created",
    ]
    assert patterns.validate(["deployment.created", "*"]) == ["*"]
    for bad in ("deploy ment", "a%b", "x" * 65, "", "déploiement"):
        with pytest.raises(InvalidInput):
            patterns.validate([bad])
    with pytest.raises(InvalidInput):
        patterns.validate([f"e{i}" for i in range(patterns.MAX_PATTERNS + 1)])
    assert patterns.to_like("deployment.*") == "deployment.%"
    assert patterns.to_like("workload_x.*") == "workload\\_x.%"
    assert patterns.matches("deployment.*", "deployment.stale")
    assert patterns.matches("*", "token.created")
    assert patterns.matches("*.created", "environment.created")
    assert not patterns.matches("deployment.*", "deploymentXstale")
    assert not patterns.matches("deployment.created", "deployment.created.x")


def test_retry_schedule() -> None:
    rng = random.Random(7)
    for attempt, base in [(1, 5), (2, 30), (3, 120), (4, 300), (5, 1800), (6, 3600), (20, 3600)]:
        for _ in range(50):
            wait = schedule.delay(attempt, rng=rng)
            assert base * 0.9 <= wait <= base * 1.1
        assert schedule.delay(attempt, scale=0.01, rng=rng) <= base * 0.011
    # Retried until 24 h have passed since the first attempt, then given up.
    first = now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    attempts = 1
    while (at := schedule.next_attempt(attempts, first, now, rng=rng)) is not None:
        now, attempts = at, attempts + 1
    assert dt.timedelta(hours=23) < now - first <= dt.timedelta(hours=24)
    assert 25 <= attempts <= 30
    # The whole schedule shrinks with the scale.
    now = first
    attempts = 1
    while (at := schedule.next_attempt(attempts, first, now, scale=0.001, rng=rng)) is not None:
        now, attempts = at, attempts + 1
    assert now - first <= dt.timedelta(seconds=86.4)


def test_secrets_are_standard_and_sealed(tmp_path: Path) -> None:
    secret = secrets.new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    assert secrets.new_secret() != secret
    key = os.urandom(32)
    sealed = secrets.seal(key, secret, "hook-1")
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert secrets.unseal(key, sealed, "hook-1") == secret
    with pytest.raises(secrets.SealedSecretError):
        secrets.unseal(os.urandom(32), sealed, "hook-1")  # another key
    with pytest.raises(secrets.SealedSecretError):
        secrets.unseal(key, sealed, "hook-2")  # moved onto another webhook


def test_server_key_from_the_environment_or_a_private_file(tmp_path: Path) -> None:
    configured = base64.b64encode(b"x" * 32).decode()
    assert secrets.server_key(configured, tmp_path / "unused") == b"x" * 32
    urlsafe = base64.urlsafe_b64encode(b"\xff" * 32).decode().rstrip("=")
    assert secrets.server_key(urlsafe, tmp_path / "unused") == b"\xff" * 32
    assert not (tmp_path / "unused").exists()
    for bad in ("short", base64.b64encode(b"x" * 16).decode(), "!" * 44):
        with pytest.raises(InvalidInput, match="DEPLOYTRACE_SECRET_KEY"):
            secrets.server_key(bad, tmp_path / "unused")
    path = tmp_path / "home" / "secret.key"
    made = secrets.server_key(None, path)
    assert len(made) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secrets.server_key(None, path) == made


def _event() -> message.Event:
    return message.Event(
        id="8b4d7c1e-0000-4000-8000-000000000001",
        type="deployment.created",
        subject="deployment/01a2",
        data={"slot": "k8s-east/production/api-server/CONTAINER_IMAGE", "digest": "sha256:ab"},
        created_at=dt.datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC),
        org="acme",
        actor="ci-east",
    )


def test_the_body_is_a_cloudevent_and_the_same_every_time() -> None:
    body, content_type = message.body(_event())
    assert message.body(_event()) == (body, content_type)
    assert content_type == "application/cloudevents+json"
    parsed = from_http_event(HTTPMessage({"content-type": content_type}, body))
    assert parsed.get_type() == "dev.deploytrace.deployment.created"
    assert parsed.get_source() == "/orgs/acme"
    assert parsed.get_subject() == "deployment/01a2"
    assert parsed.get_id() == "8b4d7c1e-0000-4000-8000-000000000001"
    assert parsed.get_time() == dt.datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=dt.UTC)
    assert json.loads(body)["data"] == {
        "slot": "k8s-east/production/api-server/CONTAINER_IMAGE",
        "digest": "sha256:ab",
        "actor": "ci-east",
        "environment": "k8s-east",
        "logical_environment": "production",
        "deployment_name": "api-server",
        "kind": "CONTAINER_IMAGE",
    }


def test_signatures_follow_standard_webhooks() -> None:
    secret = secrets.new_secret()
    body, _ = message.body(_event())
    now = dt.datetime.now(dt.UTC)
    headers = message.Signer(secret).headers("msg-1", body, now)
    assert headers["webhook-id"] == "msg-1"
    assert headers["webhook-timestamp"] == str(int(now.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"acme", b"acmf"), headers)
