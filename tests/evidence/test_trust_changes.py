"""Verdicts keep the trusted key's fingerprint: a name re-added with another key vouches
for nothing signed by the old one, and a stored verdict can be checked again."""

from __future__ import annotations

import hashlib
from pathlib import Path

import sqlalchemy as sa

from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.statements import CORPUS, corpus

SIGNED = "chainloop/attestation-dsse.json"  # cosign DSSE, no keyid
KEY = "chainloop/release-cosign.pub"  # the key that signed it
OTHER = "witness/testpub.pem"  # another key


def _fingerprint(path: str) -> str:
    return "sha256:" + hashlib.sha256(corpus(path)).hexdigest()


def _trust(api: ApiHarness, name: str, path: str) -> None:
    r = api.post("/v1/trust/keys", {"name": name, "pem": corpus(path).decode()})
    assert r.status == 201, r.body


def _swap(api: ApiHarness, name: str, path: str) -> None:
    assert api.delete(f"/v1/trust/{name}").status == 204
    _trust(api, name, path)


def test_a_re_added_name_does_not_vouch_for_old_verdicts(api: ApiHarness) -> None:
    _trust(api, "release", KEY)
    pushed = api.push(corpus(SIGNED), key="release")
    assert pushed.status == 201, pushed.body
    item = pushed.json()["items"][0]
    assert item["verification"]["identity"] == "key:release"
    assert item["verification"]["key_fingerprint"] == _fingerprint(KEY)

    _swap(api, "release", OTHER)
    again = api.push(corpus(SIGNED), key="release")
    assert again.status == 422
    assert "no valid signature by trusted key 'release'" in again.json()["error"]["message"]
    # The stored verdict is what was true at push time; it is not rewritten.
    stored = api.get(f"/v1/attestations/{item['digest']}").json()["verification"]
    assert stored == item["verification"]

    _swap(api, "release", KEY)
    assert api.push(corpus(SIGNED), key="release").status == 200


def test_a_verdict_without_a_fingerprint_is_checked_again(api: ApiHarness) -> None:
    """Verdicts stored before fingerprints were kept count only if the key verifies now."""
    _trust(api, "release", KEY)
    digest = api.push(corpus(SIGNED)).json()["items"][0]["digest"]
    with api.db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE attestations SET verification_key_fingerprint = NULL"))
    assert api.push(corpus(SIGNED), key="release").status == 200
    _swap(api, "release", OTHER)
    assert api.push(corpus(SIGNED), key="release").status == 422
    stored = api.get(f"/v1/attestations/{digest}").json()["verification"]
    assert (stored["identity"], stored["key_fingerprint"]) == ("key:release", None)


def test_recheck_against_todays_trust(api: ApiHarness) -> None:
    _trust(api, "release", KEY)
    digest = api.push(corpus(SIGNED)).json()["items"][0]["digest"]
    path = f"/v1/attestations/{digest}/verification"
    now = api.get(path, params={"key": "release"})
    assert now.status == 200, now.body
    assert now.json()["current"] == now.json()["stored"]

    _swap(api, "release", OTHER)
    r = api.get(path).json()
    assert r["stored"]["status"] == "verified"
    assert r["current"]["status"] == "unverified"
    refused = api.get(path, params={"key": "release"})
    assert refused.status == 422
    assert "not signed by trusted key 'release'" in refused.json()["error"]["message"]
    assert api.get(path, params={"key": "nope"}).status == 404
    assert api.get(f"/v1/attestations/sha256:{'0' * 64}/verification").status == 404


def test_attestation_verify_command(cli: CliRunner, tmp_path: Path) -> None:
    assert cli("trust", "add-key", str(CORPUS / KEY), "--name", "release").code == 0
    pushed = cli("attestation", "push", str(CORPUS / SIGNED), "-o", "json")
    digest = pushed.json()[0]["digest"]
    ok = cli("attestation", "verify", digest, "--key", "release")
    assert ok.code == 0, ok.err
    assert "at push time" in ok.out and "verified by key:release" in ok.out
    assert cli("trust", "remove", "release").code == 0
    assert cli("trust", "add-key", str(CORPUS / OTHER), "--name", "release").code == 0
    refused = cli("attestation", "verify", digest, "--key", "release")
    assert refused.code == 7
    assert refused.err.startswith("error: attestation sha256:")
    shown = cli("attestation", "verify", digest, "-o", "json").json()
    assert shown["stored"]["key_fingerprint"] == _fingerprint(KEY)
    assert shown["current"]["status"] == "unverified"
