"""Whatever the input, `parse` returns attestations or raises InvalidInput, and `verify` answers."""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploytrace.attestations import (
    TrustStore,
    load_public_key,
    load_trusted_root,
    parse,
    verify,
)
from deploytrace.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"
FUZZ = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
# Drawing these nested values costs hypothesis more than parsing them costs us.
FUZZ_GENERATION_HEAVY = settings(FUZZ, max_examples=120)
TRUST = TrustStore(keys=[("w", (CORPUS / "witness/testpub.pem").read_bytes())])
SAMPLES = [
    (CORPUS / name).read_bytes()
    for name in (
        "sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json",
        "sigstore-go/dsse-2sigs.sigstore.json",
        "witness/cdx-att.json",
        "slsa-verifier/gke-gce-pre.bcid-vsa.jsonl",
        "slsa-verifier/gcloud-container-github.json",
        "chainloop/statement.json",
        "gh-cli/sigstore-js-2.1.0_with_2_bundles.jsonl",
    )
]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "_type", "type", "predicateType", "predicate_type", "subject", "predicate", "payloadType",
    "payload", "signatures", "mediaType", "dsseEnvelope", "verificationMaterial",
    "messageSignature", "provenance_summary", "envelope", "provenance", "digest", "name", "uri",
    "sig", "keyid", "cert", "certificate", "rawBytes", "x509CertificateChain", "publicKey",
    "materials", "metadata", "annotations", "chainloop.material.type", "sha256",
]  # fmt: skip
SPECIAL_STRINGS = [
    "https://in-toto.io/Statement/v1",
    "application/vnd.in-toto+json",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "chainloop.dev/attestation/v0.2",
    "https://slsa.dev/provenance/v1",
    "https://slsa.dev/provenance/v0.2",
    "ab" * 32,
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
]


def _b64_json(value: Any) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


shaped_values = st.deferred(
    lambda: (
        st.sampled_from(SPECIAL_STRINGS)
        | json_values
        | json_values.map(_b64_json)
        | shaped.map(_b64_json)
        | st.lists(shaped, max_size=3)
        | shaped
    )
)
shaped: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    st.sampled_from(KEYS), shaped_values, max_size=6
)


digests = st.dictionaries(
    st.sampled_from(["sha256", "SHA256", "sha1", "sha512", "gitCommit", "gce_image_id", ""]),
    st.sampled_from(["ab" * 32, "AB" * 20, "0" * 128, "x", ""]) | st.text(max_size=6),
    max_size=3,
)
descriptors = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=8),
        "uri": st.text(max_size=8),
        "digest": digests,
        "annotations": st.dictionaries(
            st.sampled_from(["chainloop.material.type", "chainloop.material.name"]),
            json_values,
            max_size=2,
        ),
    },
)
predicates = st.fixed_dictionaries(
    {},
    optional={
        "materials": st.lists(descriptors | json_values, max_size=3),
        "metadata": st.dictionaries(
            st.sampled_from(["name", "workflowName", "project", "projectVersion"]), json_values
        ),
        "buildDefinition": st.fixed_dictionaries(
            {"resolvedDependencies": st.lists(descriptors, max_size=3)}
        ),
    },
)
statements = st.fixed_dictionaries(
    {
        "_type": st.sampled_from([SPECIAL_STRINGS[0], "https://in-toto.io/Statement/v0.1"]),
        "predicateType": st.sampled_from(SPECIAL_STRINGS[4:7]) | st.text(max_size=10),
        "subject": st.lists(descriptors, min_size=1, max_size=3),
    },
    optional={"predicate": predicates},
)
signatures = st.lists(
    st.fixed_dictionaries(
        {
            "sig": st.sampled_from(["", "AAAA", "TUVVQ0lR", "%%"])
            | st.binary(max_size=80).map(lambda b: base64.b64encode(b).decode())
        },
        optional={
            "keyid": st.sampled_from(["", "w", "x"]),
            "cert": st.sampled_from(SPECIAL_STRINGS),
        },
    ),
    max_size=2,
)


def _containers(statement: dict[str, Any]) -> st.SearchStrategy[Any]:
    envelope = signatures.map(
        lambda sigs: {
            "payloadType": "application/vnd.in-toto+json",
            "payload": _b64_json(statement),
            "signatures": sigs,
        }
    )
    material = st.fixed_dictionaries(
        {},
        optional={
            "certificate": st.fixed_dictionaries({"rawBytes": st.sampled_from(["", "MIIB", "%"])}),
            "publicKey": st.fixed_dictionaries({"hint": st.text(max_size=5)}),
            "tlogEntries": st.lists(json_values, max_size=1),
        },
    )
    bundle = st.tuples(envelope, material, st.sampled_from(SPECIAL_STRINGS[2:4])).map(
        lambda t: {"mediaType": t[2], "dsseEnvelope": t[0], "verificationMaterial": t[1]}
    )
    gcloud = st.lists(envelope, min_size=1, max_size=2).map(
        lambda envs: {"provenance_summary": {"provenance": [{"envelope": e} for e in envs]}}
    )
    return st.just(statement) | envelope | bundle | gcloud


def _exercise(data: bytes) -> None:
    try:
        atts = parse(data)
    except InvalidInput:
        return
    for att in atts:
        assert att.digest.startswith("sha256:")
        verify(att, TRUST)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@FUZZ
@given(json_values)
def test_random_json(value: Any) -> None:
    _exercise(json.dumps(value).encode())


@FUZZ_GENERATION_HEAVY
@given(shaped)
def test_attestation_shaped_json(value: dict[str, Any]) -> None:
    _exercise(json.dumps(value).encode())


@FUZZ
@given(statements.flatmap(_containers))
def test_wrapped_statements(value: Any) -> None:
    _exercise(json.dumps(value).encode())


@FUZZ_GENERATION_HEAVY
@given(st.lists(shaped | json_values, min_size=1, max_size=4))
def test_random_json_lines(values: list[Any]) -> None:
    _exercise(b"\n".join(json.dumps(v).encode() for v in values))


@FUZZ
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=8),
)
def test_mutated_corpus_files(sample: bytes, edits: list[tuple[float, int]]) -> None:
    data = bytearray(sample)
    for where, byte in edits:
        data[int(where * len(data))] = byte
    _exercise(bytes(data))


@FUZZ
@given(st.binary(max_size=512) | json_values.map(lambda v: json.dumps(v).encode()))
def test_trust_material_loaders(data: bytes) -> None:
    for loader in (load_public_key, load_trusted_root):
        with contextlib.suppress(InvalidInput):
            loader(data)
