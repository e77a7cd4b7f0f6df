"""Short forms: record id prefixes everywhere an id is taken, digest prefixes for `record`."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from tests.cli_ux.conftest import RECORD, V1, V2, Seeded
from tests.support.api import ApiHarness
from tests.support.cli import attest
from tests.support.digests import digest


def _common_prefix(a: str, b: str) -> str:
    return a[: next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), len(a))]


def test_an_ambiguous_id_prefix_is_one_line_naming_the_candidates(seeded: Seeded) -> None:
    cli = seeded.cli
    ids = [r["id"] for r in cli("deployment", "list", "--history", "-o", "json").json()]
    pairs = [(a, b) for a, b in itertools.combinations(ids, 2)]
    a, b = max(pairs, key=lambda p: len(_common_prefix(*p)))
    shared = _common_prefix(a, b)
    if len(shared.replace("-", "")) < 8:
        pytest.skip("the records were made across a 65 s boundary of their UUIDv7 time")
    r = cli("deployment", "describe", shared.rstrip("-"))
    assert r.code == 7
    assert r.out == ""
    lines = r.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: record id prefix") and "ambiguous" in lines[0]
    assert a in lines[0] and b in lines[0]


def test_an_unknown_id_prefix_is_not_found(seeded: Seeded) -> None:
    r = seeded.cli("deployment", "describe", "ffffffff")
    assert r.code == 3
    assert r.err.startswith("error: no deployment record id starts with")


def test_record_takes_a_digest_prefix_of_an_attested_artifact(seeded: Seeded) -> None:
    cli = seeded.cli
    r = cli(*RECORD, "--logical-env", "staging", "--digest", V2[:15], "-o", "json")
    assert r.code == 0, r.err
    assert r.json()["artifact"]["digest"] == V2
    assert r.json()["action"] == "superseded_previous"
    # Upper-case hex, as some tools print it, names the same artifact.
    beat = cli(*RECORD, "--logical-env", "staging", "--digest", V2[:20].upper(), "-o", "json")
    assert beat.json()["action"] == "heartbeat"
    # The table's short digest (12 hex digits) is accepted back.
    done = cli(
        *RECORD, "--logical-env", "staging", "--digest", V2[:19], "--status", "decommissioned"
    )
    assert done.code == 0, done.err


def test_a_digest_prefix_never_picks_an_unattested_or_ambiguous_artifact(
    seeded: Seeded, tmp_path: Path
) -> None:
    cli = seeded.cli
    r = cli(*RECORD, "--logical-env", "staging", "--digest", "sha256:00000000")
    assert r.code == 3
    assert r.err.startswith("error: no attested artifact has a digest starting with sha256:0000")
    assert len(r.err.splitlines()) == 1
    # Two attested digests sharing 8 hex digits: the prefix names neither.
    twins = _twins()
    attest(cli, tmp_path, *twins)
    shared = _common_prefix(*twins)
    r = cli(*RECORD, "--logical-env", "staging", "--digest", shared)
    assert r.code == 7
    assert len(r.err.splitlines()) == 1
    assert twins[0] in r.err and twins[1] in r.err
    # Seven digits are not a prefix at all, just an invalid digest.
    short = cli(*RECORD, "--logical-env", "staging", "--digest", V1[:14])
    assert short.code == 7
    assert "ambiguous" not in short.err


def _twins() -> tuple[str, str]:
    """Two test digests whose first 8 hex digits are equal (72d9d9bb; found by a search)."""
    return digest("twin-72235"), digest("twin-90705")


def test_api_record_resolves_prefixes_among_attested_digests(api: ApiHarness) -> None:
    api.env("k8s-east")
    api.auto_attest = False
    d = digest("prefixed")
    api.attest(d)
    created = api.record(digest=d[:16])
    assert created.status == 201, created.body
    assert created.json()["artifact"]["digest"] == d
    missing = api.record(digest="sha512:" + d[7:20])
    assert (missing.status, missing.error_code) == (404, "not_attested")
    twins = _twins()
    api.attest(*twins)
    ambiguous = api.record(digest=_common_prefix(*twins), deployment_name="other")
    assert (ambiguous.status, ambiguous.error_code) == (422, "ambiguous")
    assert api.get("/v1/deployments", params={"deployment_name": "other"}).json()["items"] == []


def test_describe_takes_digest_prefixes(seeded: Seeded) -> None:
    cli = seeded.cli
    shown = cli("artifact", "describe", V2[:15], "-o", "json")
    assert shown.code == 0, shown.err
    assert shown.json()["digest"] == V2
    listed = cli("attestation", "list", "-o", "json").json()
    whole = listed[0]["digest"]
    described = cli("attestation", "describe", whole[:16], "-o", "json")
    assert described.code == 0, described.err
    assert described.json()["digest"] == whole
    missing = cli("attestation", "describe", "sha256:00000000")
    assert missing.code == 3 and "no attestation digest starts with" in missing.err
