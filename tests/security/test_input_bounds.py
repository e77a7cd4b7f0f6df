"""Bad input is a 422, never a 500, on both backends (issue 9, security 4).

PostgreSQL refuses a value longer than its column and an integer parameter past
BIGINT; SQLite takes both. So each of these reached the database and answered
500 on PostgreSQL until the lengths and ranges were checked at the edge.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.statements import statement

V1 = "https://in-toto.io/Statement/v1"


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(statement(digest(1)))
    doc.update(changes)
    return doc


def _push(api: ApiHarness, doc: dict[str, Any]) -> Any:
    return api.push(json.dumps(doc).encode())


def _envelope(payload_type: str) -> dict[str, Any]:
    payload = base64.b64encode(statement(digest(1))).decode()
    return {"payloadType": payload_type, "payload": payload, "signatures": []}


def _chainloop(material_type: str) -> dict[str, Any]:
    return json.loads(statement(digest(1), materials=[(digest(2), material_type)]))


@pytest.mark.parametrize(
    ("case", "longest_ok", "too_long", "named"),
    [
        (
            "predicateType",
            _doc(predicateType="https://example.com/" + "p" * 1004),
            _doc(predicateType="https://example.com/" + "p" * 1005),
            "predicateType",
        ),
        ("_type", _doc(_type=V1 + "x" * 224), _doc(_type=V1 + "x" * 225), "_type"),
        (
            "unknown-algorithm digest",
            _doc(subject=[{"name": "a", "digest": {"myalg": "v" * 249}}]),
            _doc(subject=[{"name": "a", "digest": {"myalg": "v" * 250}}]),
            "subject digest",
        ),
        (
            "Chainloop material type",
            _chainloop("T" * 64),
            _chainloop("T" * 65),
            "material type",
        ),
        (
            "DSSE payloadType",
            _envelope("application/vnd.in-toto" + "x" * 227 + "+json"),
            _envelope("application/vnd.in-toto" + "x" * 228 + "+json"),
            "payloadType",
        ),
    ],
)
def test_overlong_attestation_fields_are_refused(
    api: ApiHarness, case: str, longest_ok: dict[str, Any], too_long: dict[str, Any], named: str
) -> None:
    refused = _push(api, too_long)
    assert refused.status == 422, (case, refused.status, refused.body[:300])
    assert named in refused.json()["error"]["message"]
    accepted = _push(api, longest_ok)
    assert accepted.status == 201, (case, accepted.body[:300])


def _cursor(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
def test_cursor_integers_past_bigint_are_refused(api: ApiHarness, value: int) -> None:
    api.push(statement(digest(1)))
    at = "2026-01-01T00:00:00.000000Z"
    for path, params in [
        ("/v1/deployments", {"cursor": _cursor([at, value])}),
        ("/v1/audit", {"cursor": _cursor(value)}),
        ("/v1/attestations", {"cursor": _cursor(value)}),
        (f"/v1/artifacts/{digest(1)}", {"attestations_cursor": _cursor([value, 1])}),
        (f"/v1/artifacts/{digest(1)}", {"attestations_cursor": _cursor([1, value])}),
        (f"/v1/artifacts/{digest(1)}", {"deployments_cursor": _cursor([at, value])}),
    ]:
        r = api.get(path, params=params)
        assert r.status == 422, (path, params, r.status, r.body[:300])
        assert "cursor" in r.json()["error"]["message"]
    # The largest key is still a key.
    assert api.get("/v1/audit", params={"cursor": _cursor(2**63 - 1)}).status == 200


@pytest.mark.parametrize(
    "expires_in", ["9999999999d", "99999999999999999999w", "1000000000000s", "3661d", "0s"]
)
def test_durations_past_ten_years_are_refused(api: ApiHarness, expires_in: str) -> None:
    r = api.post("/v1/tokens", {"name": "ci", "role": "viewer", "expires_in": expires_in})
    assert r.status == 422, (expires_in, r.status, r.body[:300])
    assert "duration" in r.json()["error"]["message"]


def test_the_longest_duration_is_ten_years(api: ApiHarness) -> None:
    assert (
        api.post("/v1/tokens", {"name": "ci", "role": "viewer", "expires_in": "3660d"}).status
        == 201
    )


@pytest.mark.parametrize("since", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_times_that_leave_the_calendar_in_utc_are_refused(api: ApiHarness, since: str) -> None:
    r = api.get("/v1/audit", params={"since": since})
    assert r.status == 422, (since, r.status, r.body[:300])
