"""One digest normalizer for indexing and lookups: any spelling of a digest finds it."""

from __future__ import annotations

import json

import pytest

from deploytrace import digests
from deploytrace.errors import InvalidInput
from tests.support.api import ApiHarness

GIT = "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"  # 40 hex, upper case
SHA3 = "3A985DA74FE225B2045C172D6BD390BD855F086E3E9D525B46BFE24511431532"  # 64 hex
VERY = "0" * 63 + "F"


def _statement(*subjects: dict[str, str]) -> bytes:
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": f"s{i}", "digest": d} for i, d in enumerate(subjects)],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {},
        }
    ).encode()


@pytest.mark.parametrize(
    ("algorithm", "value", "expected"),
    [
        ("gitCommit", GIT, f"gitcommit:{GIT.lower()}"),
        ("SHA3_256", SHA3, f"sha3_256:{SHA3.lower()}"),
        ("sha256", " " + VERY + " ", f"sha256:{VERY.lower()}"),
        ("gce_image_id", "8970095005306000053", "gce_image_id:8970095005306000053"),
        ("Custom", "MixedCase", "custom:MixedCase"),  # not a hash: the value is kept
        ("sha256", "abc", None),  # a known hash of the wrong length
        ("gitCommit", "Z" * 40, None),
        ("", "x", None),
    ],
)
def test_normalize(algorithm: str, value: str, expected: str | None) -> None:
    assert digests.normalize(algorithm, value) == expected


@pytest.mark.parametrize(
    "typed",
    [f"gitCommit:{GIT}", f"GITCOMMIT:{GIT.lower()}", f" gitcommit:{GIT} "],
)
def test_parse_meets_the_index_spelling(typed: str) -> None:
    assert digests.parse(typed) == digests.normalize("gitCommit", GIT)


@pytest.mark.parametrize(
    "typed",
    ["", "sha256", "sha256:", "sha256:abc", "sha3_256:" + "g" * 64, "a b:c", "x:" + "y" * 300],
)
def test_parse_refuses_what_cannot_be_a_digest(typed: str) -> None:
    with pytest.raises(InvalidInput, match="invalid digest"):
        digests.parse(typed)


def test_upper_case_digests_are_found_as_typed(api: ApiHarness) -> None:
    r = api.push(_statement({"gitCommit": GIT}, {"sha3_256": SHA3}))
    assert r.status == 201, r.body
    pushed = r.json()["items"][0]["digest"]
    for typed in (f"gitCommit:{GIT}", f"gitcommit:{GIT.lower()}", f"SHA3_256:{SHA3}"):
        trace = api.get(f"/v1/artifacts/{typed}")
        assert trace.status == 200, (typed, trace.body)
        assert [e["digest"] for e in trace.json()["attestations"]] == [pushed]
        listed = api.get("/v1/attestations", params={"subject": typed}).json()["items"]
        assert [i["digest"] for i in listed] == [pushed], typed


def test_a_malformed_lookup_is_invalid_not_a_miss(api: ApiHarness) -> None:
    r = api.get("/v1/artifacts/gitCommit:" + "Z" * 40)
    assert r.status == 422
    assert "gitcommit needs 40 or 64 hex characters" in r.json()["error"]["message"]
