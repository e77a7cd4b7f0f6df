"""Length- and range-aware generation for the API fuzzer.

The OpenAPI document says an attestation push is "a string" and a cursor is "a
string of at most 512 characters": generated from that alone, no body is ever an
attestation and no cursor ever decodes, so the fuzzer never reached the limits
behind them (column lengths, BIGINT, timedelta). These strategies produce the
real shapes with their values drawn around those limits: at, just past and far
past each one, with NUL and other control characters among them.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from typing import Any

from hypothesis import strategies as st

# What the evidence store keeps, and how long (mirrors the storage columns).
LIMITS = {
    "_type": 255,
    "payloadType": 255,
    "predicateType": 1024,
    "digest": 255,
    "material_type": 64,
    "name": 255,  # workflow, project, project version
}
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
BIGINT = 2**63

_chars = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(["\x00", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff", "é", "a"]),
)


def around(limit: int) -> st.SearchStrategy[int]:
    """Lengths at the edges of `limit`, often; anything up to twice it, sometimes."""
    return st.one_of(
        st.sampled_from([0, 1, limit - 1, limit, limit + 1, limit + 64, 2 * limit]),
        st.integers(0, 2 * limit),
    )


@st.composite
def sized(draw: st.DrawFn, limit: int, prefix: str = "", suffix: str = "") -> str:
    """`prefix` + filler + `suffix`, the whole about `limit` characters long."""
    length = max(0, draw(around(limit)) - len(prefix) - len(suffix))
    filler = draw(st.sampled_from(["x", "é", None]))
    body = filler * length if filler else draw(st.text(_chars, min_size=length, max_size=length))
    return prefix + body + suffix


def _hex(length: int) -> st.SearchStrategy[str]:
    return st.text("0123456789abcdefABCDEF", min_size=length, max_size=length)


def digest_maps() -> st.SearchStrategy[dict[str, str]]:
    known = st.sampled_from([("sha256", 64), ("sha512", 128), ("gitCommit", 40), ("sha1", 40)])
    return st.dictionaries(
        st.one_of(
            known.map(lambda pair: pair[0]),
            st.sampled_from(["myalg", "gce_image_id", "SHA256", ""]),
            st.text(_chars, max_size=20),
        ),
        st.one_of(
            known.flatmap(lambda pair: _hex(pair[1])),
            sized(LIMITS["digest"]),
        ),
        min_size=1,
        max_size=3,
    )


def subjects() -> st.SearchStrategy[list[dict[str, Any]]]:
    subject = st.fixed_dictionaries(
        {"digest": digest_maps()},
        optional={"name": st.one_of(sized(300), st.text(_chars, max_size=20)), "uri": sized(64)},
    )
    return st.lists(subject, min_size=1, max_size=3)


def chainloop_predicate() -> st.SearchStrategy[dict[str, Any]]:
    material = st.fixed_dictionaries(
        {
            "name": sized(LIMITS["name"]),
            "digest": digest_maps(),
            "annotations": st.fixed_dictionaries(
                {"chainloop.material.type": sized(LIMITS["material_type"])}
            ),
        }
    )
    metadata = st.fixed_dictionaries(
        {},
        optional={
            "workflowName": sized(LIMITS["name"]),
            "project": sized(LIMITS["name"]),
            "projectVersion": sized(LIMITS["name"]),
        },
    )
    return st.fixed_dictionaries(
        {"metadata": metadata, "materials": st.lists(material, max_size=3)}
    )


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    chainloop = draw(st.booleans())
    if chainloop:
        predicate_type = draw(
            st.one_of(
                st.just("chainloop.dev/attestation/v0.2"),
                sized(LIMITS["predicateType"], "chainloop.dev/attestation/"),
            )
        )
        predicate = draw(chainloop_predicate())
    else:
        predicate_type = draw(
            st.one_of(
                st.just("https://slsa.dev/provenance/v1"),
                sized(LIMITS["predicateType"], "https://example.com/"),
            )
        )
        predicate = {}
    return {
        "_type": draw(st.one_of(st.just(STATEMENT_V1), sized(LIMITS["_type"], STATEMENT_V1))),
        "subject": draw(subjects()),
        "predicateType": predicate_type,
        "predicate": predicate,
    }


@st.composite
def attestation_documents(draw: st.DrawFn) -> dict[str, Any]:
    statement = draw(statements())
    if draw(st.booleans()):
        return statement
    payload_type = draw(
        st.one_of(
            st.just("application/vnd.in-toto+json"),
            sized(LIMITS["payloadType"], "application/vnd.in-toto", "+json"),
        )
    )
    return {
        "payloadType": payload_type,
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [],
    }


@st.composite
def attestation_files(draw: st.DrawFn) -> bytes:
    """One attestation as JSON, or JSON Lines of a few."""
    documents = draw(st.lists(attestation_documents(), min_size=1, max_size=3))
    if len(documents) == 1 and draw(st.booleans()):
        return json.dumps(documents[0]).encode()
    return b"\n".join(json.dumps(d).encode() for d in documents)


# --------------------------------------------------------------------------- query values


def _big_ints() -> st.SearchStrategy[int]:
    return st.one_of(
        st.sampled_from([BIGINT - 1, BIGINT, -BIGINT, -BIGINT - 1, 10**30, 0, -1]),
        st.integers(),
    )


def cursor_keys() -> st.SearchStrategy[Any]:
    scalar = st.one_of(_big_ints(), st.text(_chars, max_size=40), st.floats(), st.booleans())
    return st.one_of(
        scalar, st.lists(scalar, max_size=3), st.lists(_big_ints(), min_size=2, max_size=2)
    )


def cursors() -> st.SearchStrategy[str]:
    """What a next_cursor looks like (url-safe base64 of a JSON key), with keys past BIGINT."""
    encoded = cursor_keys().map(
        lambda key: base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    )
    return st.one_of(encoded, st.text(max_size=40)).filter(lambda c: len(c) <= 512)


def durations() -> st.SearchStrategy[str]:
    """`90d`-shaped durations, with numbers far past ten years."""
    part = st.tuples(
        st.one_of(st.integers(0, 10**12), st.sampled_from([9999999999, 3660, 3661, 10**19])),
        st.sampled_from("wdhms"),
    ).map(lambda pair: f"{pair[0]}{pair[1]}")
    return st.one_of(
        st.lists(part, min_size=1, max_size=3).map("".join), st.text(max_size=12)
    ).filter(lambda d: len(d) <= 32)


def instants() -> st.SearchStrategy[str]:
    """RFC 3339 times up to the ends of the calendar, with UTC offsets that leave it."""
    offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
        lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
    )
    edges = st.sampled_from([dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59)])
    moments = st.one_of(edges, st.datetimes())
    return st.builds(lambda moment, tz: moment.replace(tzinfo=tz).isoformat(), moments, offsets)


def labels() -> st.SearchStrategy[str]:
    """DNS labels, mostly valid (names that exist among them), else about 63 long."""
    return st.one_of(
        st.sampled_from(["k8s-east", "production", "staging", "api", "acme"]),
        st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True),
        sized(63),
    )


def digests() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just("sha256:" + "ab" * 32),
        _hex(64).map(lambda h: "sha256:" + h),
        _hex(128).map(lambda h: "sha512:" + h),
        sized(LIMITS["digest"], "myalg:"),
        st.text(_chars, max_size=20),
    )


def choices(*valid: str) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(valid), st.sampled_from([v.lower() for v in valid]), sized(32))


# Format name -> strategy, and which parameters and body fields take each.
FORMATS = {
    "deploytrace-cursor": cursors(),
    "deploytrace-duration": durations(),
    "deploytrace-instant": instants(),
    "deploytrace-label": labels(),
    "deploytrace-digest": digests(),
    "deploytrace-kind": choices("CONTAINER_IMAGE", "HELM_CHART"),
    "deploytrace-role": choices("admin", "writer", "viewer"),
    "deploytrace-status": choices("deployed", "decommissioned", "superseded"),
    "deploytrace-name": sized(LIMITS["name"]),
    "deploytrace-artifact-name": sized(512),
    "deploytrace-artifact-version": sized(256),
    "deploytrace-action": sized(64),
    "deploytrace-description": sized(1024),
}
FIELDS = {
    "cursor": "deploytrace-cursor",
    "attestations_cursor": "deploytrace-cursor",
    "deployments_cursor": "deploytrace-cursor",
    "expires_in": "deploytrace-duration",
    "since": "deploytrace-instant",
    "name": "deploytrace-label",
    "environment": "deploytrace-label",
    "logical_environment": "deploytrace-label",
    "deployment_name": "deploytrace-label",
    "key": "deploytrace-label",
    "name_or_id": "deploytrace-label",
    "digest": "deploytrace-digest",
    "subject": "deploytrace-digest",
    "kind": "deploytrace-kind",
    "role": "deploytrace-role",
    "status": "deploytrace-status",
    "project": "deploytrace-name",
    "project_version": "deploytrace-name",
    "workflow": "deploytrace-name",
    "artifact_name": "deploytrace-artifact-name",
    "artifact_version": "deploytrace-artifact-version",
    "action": "deploytrace-action",
    "description": "deploytrace-description",
}


def annotate(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the OpenAPI document whose parameters and request fields name the
    formats above (by field name), so that schemathesis draws them from these
    strategies: mostly valid, so that a request gets past its other fields to the
    one at its limit."""
    doc = copy.deepcopy(document)
    for operations in doc["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] in FIELDS:
                    _set_format(parameter["schema"], FIELDS[parameter["name"]])
    for name, schema in doc["components"]["schemas"].items():
        if name.endswith(("In", "Create", "Update")):
            for field, property_schema in schema.get("properties", {}).items():
                if field in FIELDS:
                    _set_format(property_schema, FIELDS[field])
    return doc


def _set_format(schema: dict[str, Any], name: str) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["format"] = name
