"""A push verifies with no transaction open, within limits, and races itself safely."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import deploytrace.attestations
from deploytrace.services import attestations, tenancy
from tests.support.api import ApiHarness, Reply
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.statements import corpus, statement

MAX_SIGNATURES = attestations.MAX_SIGNATURES_PER_ATTESTATION
MAX_ATTESTATIONS = attestations.MAX_ATTESTATIONS_PER_FILE


def _envelope(signatures: int, subject: str = "signed") -> bytes:
    """A DSSE envelope with `signatures` well-formed fake signatures (no keyid)."""
    return json.dumps(
        {
            "payloadType": "application/vnd.in-toto+json",
            "payload": base64.b64encode(statement(digest(subject))).decode(),
            "signatures": [
                {"keyid": "", "sig": base64.b64encode(os.urandom(64)).decode()}
                for _ in range(signatures)
            ],
        }
    ).encode()


def _lines(count: int) -> bytes:
    return b"\n".join(statement(digest(f"line {i}")) for i in range(count)) + b"\n"


def _count(api: ApiHarness) -> int:
    return len(api.get("/v1/attestations", params={"limit": 500}).json()["items"])


def _spy_on_verify(monkeypatch: pytest.MonkeyPatch, during: Callable[[], None]) -> list[float]:
    """Run `during` inside every signature check of a push; return the checks' count."""
    real = deploytrace.attestations.verify
    calls: list[float] = []

    def verify(att: Any, trust: Any) -> Any:
        calls.append(time.monotonic())
        during()
        return real(att, trust)

    monkeypatch.setattr(deploytrace.attestations, "verify", verify)
    return calls


def _trust_a_key(api: ApiHarness) -> None:
    pem = corpus("chainloop/release-cosign.pub").decode()
    assert api.post("/v1/trust/keys", {"name": "release", "pem": pem}).status == 201


def test_no_transaction_is_open_while_signatures_are_checked(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another organization writes while a push checks its signatures: nothing waits."""
    _trust_a_key(api)
    _, token = tenancy.bootstrap(api.db, "other")
    other = ApiHarness(api.app, token=token, db=api.db)
    waits: list[tuple[int, float]] = []

    def another_orgs_write() -> None:
        assert api.db.engine.pool.checkedout() == 0, "a connection is held during verification"
        started = time.monotonic()
        r = other.post("/v1/environments", {"name": f"k8s-{len(waits)}"})
        waits.append((r.status, time.monotonic() - started))

    calls = _spy_on_verify(monkeypatch, another_orgs_write)
    r = api.push(_envelope(MAX_SIGNATURES))
    assert r.status == 201, r.body
    assert r.json()["items"][0]["verification"]["status"] == "unverified"
    assert len(calls) == 1
    # Had the push held SQLite's write lock, the write would wait out the 30 s busy
    # timeout and fail; on PostgreSQL the pool check above is what fails.
    assert [status for status, _ in waits] == [201]
    assert waits[0][1] < 10, waits


def test_too_many_signatures_are_refused_before_any_check(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _trust_a_key(api)
    calls = _spy_on_verify(monkeypatch, lambda: None)
    r = api.push(_envelope(MAX_SIGNATURES + 1))
    assert r.status == 422
    assert (
        f"carries {MAX_SIGNATURES + 1} signatures; at most {MAX_SIGNATURES}"
        in (r.json()["error"]["message"])
    )
    assert calls == []
    assert _count(api) == 0


def test_too_many_attestations_in_one_file_are_refused(api: ApiHarness) -> None:
    r = api.push(_lines(MAX_ATTESTATIONS + 1))
    assert r.status == 422
    assert (
        f"holds {MAX_ATTESTATIONS + 1} attestations; at most {MAX_ATTESTATIONS}"
        in (r.json()["error"]["message"])
    )
    assert _count(api) == 0
    assert api.push(_lines(MAX_ATTESTATIONS), dry_run=True).status == 200


def test_the_limits_fit_every_real_file_with_room() -> None:
    from tests.evidence.test_push import ATTESTATIONS

    most_attestations = most_signatures = 0
    for path in ATTESTATIONS:
        parsed = deploytrace.attestations.parse(corpus(path))
        most_attestations = max(most_attestations, len(parsed))
        for att in parsed:
            signatures = sum(len(e.signatures) for e in att.envelopes)
            most_signatures = max(most_signatures, signatures)
    assert most_attestations * 10 <= MAX_ATTESTATIONS
    assert most_signatures * 4 <= MAX_SIGNATURES


def test_the_cli_exits_7_beyond_the_limits(cli: CliRunner, tmp_path: Any) -> None:
    path = tmp_path / "many.dsse.json"
    path.write_bytes(_envelope(MAX_SIGNATURES + 1))
    r = cli("attestation", "push", str(path))
    assert r.code == 7
    assert r.err.startswith("error: attestation sha256:") and "signatures" in r.err


def test_concurrent_identical_pushes_store_one(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both pushes find the file new, verify, then write: the unique key picks one."""
    both_checked = threading.Barrier(2, timeout=20)
    _spy_on_verify(monkeypatch, both_checked.wait)
    data = _envelope(2, subject="raced")
    replies: list[Reply] = []

    def push() -> None:
        replies.append(api.push(data))

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(r.status for r in replies) == [200, 201], [r.body for r in replies]
    assert replies[0].json() == replies[1].json()
    assert _count(api) == 1
    pushed = api.get("/v1/audit", params={"action": "attestation.pushed"}).json()["items"]
    assert len(pushed) == 1
    assert api.get("/v1/audit/verify").json()["intact"] is True
