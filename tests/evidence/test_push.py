"""Pushing attestations: every corpus format, content addressing, refusals, verification."""

from __future__ import annotations

import hashlib
import json

import pytest

from deploytrace.api.app import create_app
from deploytrace.api.runtime import Runtime
from deploytrace.settings import Settings
from deploytrace.storage.db import Database
from tests.support.api import ApiHarness
from tests.support.statements import CORPUS, corpus, statement

ATTESTATIONS = sorted(
    str(p.relative_to(CORPUS))
    for p in CORPUS.rglob("*")
    if p.is_file()
    and p.name != "SOURCES.md"
    and p.suffix not in (".pem", ".pub")
    and "trusted_root" not in p.name
    and "cosign-att-manifest" not in p.name
)
NOT_ATTESTATIONS = [
    "chainloop/release-cosign.pub",
    "chainloop/verifier-testdata-ca.crt.pem",
    "slsa-verifier/gcb-us-west2.pub.pem",
    "witness/testpub.pem",
    "sigstore-python/trusted_root.public-good.json",
    "sigstore-python/trusted_root.staging.json",
    "slsa-verifier/container_workflow_dispatch.cosign-att-manifest.sha256-31cc4fb6.json",
]


def _count(api: ApiHarness) -> int:
    return len(api.get("/v1/attestations", params={"limit": 500}).json()["items"])


def test_the_corpus_has_what_sources_md_lists() -> None:
    assert len(ATTESTATIONS) == 32
    assert len(NOT_ATTESTATIONS) == 7


def test_every_corpus_attestation_ingests(api: ApiHarness) -> None:
    for path in ATTESTATIONS:
        data = corpus(path)
        r = api.push(data)
        assert r.status == 201, (path, r.body)
        items = r.json()["items"]
        assert items, path
        lines = [line for line in data.splitlines() if line.strip()]
        if len(items) == 1:
            assert items[0]["digest"] == "sha256:" + hashlib.sha256(data).hexdigest(), path
        else:
            assert [i["digest"] for i in items] == [
                "sha256:" + hashlib.sha256(line).hexdigest() for line in lines
            ]
        for item in items:
            assert item["verification"]["status"] in ("verified", "unverified"), (path, item)
            assert item["predicate_type"]
    # The JSONL file with two identical lines stored one attestation.
    assert _count(api) == len(ATTESTATIONS)


def test_stored_bytes_are_byte_exact(api: ApiHarness) -> None:
    data = corpus("witness/cdx-att.json")
    digest = api.push(data).json()["items"][0]["digest"]
    r = api.get(f"/v1/attestations/{digest}/content")
    assert r.status == 200
    assert r.body == data


def test_pushing_the_same_bytes_again_stores_nothing(api: ApiHarness) -> None:
    data = corpus("chainloop/statement.json")
    first = api.push(data)
    second = api.push(data)
    assert first.status == 201 and second.status == 200
    assert first.json() == second.json()
    assert _count(api) == 1


def test_jsonl_with_identical_lines_answers_each_line(api: ApiHarness) -> None:
    r = api.push(corpus("gh-cli/sigstore-js-2.1.0_with_2_bundles.jsonl"))
    items = r.json()["items"]
    assert len(items) == 2 and items[0] == items[1]
    assert _count(api) == 1


@pytest.mark.parametrize("path", NOT_ATTESTATIONS)
def test_non_attestations_are_refused_and_nothing_stored(api: ApiHarness, path: str) -> None:
    r = api.push(corpus(path))
    assert r.status == 422, r.body
    message = r.json()["error"]["message"]
    assert "found" in message or "not" in message
    assert _count(api) == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"not json at all", b'{"hello": "world"}', b"[1, 2, 3]", b"\xff\xfe\x00"],
)
def test_junk_is_refused(api: ApiHarness, data: bytes) -> None:
    r = api.push(data)
    assert r.status == 422
    assert r.error_code == "invalid"
    assert _count(api) == 0


def test_a_bad_line_refuses_the_whole_file(api: ApiHarness) -> None:
    good = statement("sha256:" + "a" * 64)
    r = api.push(good + b"\n" + b'{"not": "an attestation"}\n')
    assert r.status == 422
    assert "line 2" in r.json()["error"]["message"]
    assert _count(api) == 0


def test_size_limit_is_413(db: Database) -> None:
    settings = Settings(max_body_bytes=2048)
    harness = ApiHarness(create_app(Runtime(db=db, settings=settings)), token=None, db=db)
    r = harness.push(corpus("witness/cdx-att.json"))
    assert r.status == 413
    assert r.error_code == "payload_too_large"


def test_attestation_json_shape(api: ApiHarness) -> None:
    item = api.push(corpus("chainloop/wasm-policy-sdk-release-attestation.json")).json()["items"][0]
    assert {
        "digest",
        "format",
        "predicate_type",
        "subjects",
        "subjects_count",
        "workflow",
        "project",
        "project_version",
        "verification",
        "created_at",
    } <= set(item)
    assert item["format"] == "sigstore-bundle"
    assert item["predicate_type"] == "chainloop.dev/attestation/v0.2"
    assert item["workflow"] == "release"
    assert item["project"] == "chainloop"
    assert item["project_version"] == "v1.59.0+next"
    assert item["subjects"][0]["digest"].startswith("sha256:")
    assert set(item["verification"]) == {
        "status",
        "method",
        "identity",
        "key_fingerprint",
        "reason",
    }
    assert item["created_at"].endswith("Z")


def test_non_hash_subject_digests_are_kept(api: ApiHarness) -> None:
    item = api.push(corpus("slsa-verifier/gke-gce-pre.bcid-vsa.jsonl")).json()["items"][0]
    assert item["subjects"][0]["digest"] == "gce_image_id:8970095005306000053"
    listed = api.get(
        "/v1/attestations", params={"subject": "gce_image_id:8970095005306000053"}
    ).json()["items"]
    assert [i["digest"] for i in listed] == [item["digest"]]


def test_flags_fill_in_project_workflow_and_version(api: ApiHarness) -> None:
    r = api.push(
        statement("sha256:" + "b" * 64),
        workflow="build",
        project="api",
        project_version="v1.2.0",
    )
    item = r.json()["items"][0]
    assert (item["workflow"], item["project"], item["project_version"]) == (
        "build",
        "api",
        "v1.2.0",
    )


def test_flags_that_contradict_the_attestation_are_refused(api: ApiHarness) -> None:
    r = api.push(corpus("chainloop/statement.json"), project="another")
    assert r.status == 422
    assert "another" in r.json()["error"]["message"]
    assert _count(api) == 0


def test_version_without_project_is_refused(api: ApiHarness) -> None:
    r = api.push(statement("sha256:" + "c" * 64), project_version="v1")
    assert r.status == 422


def test_list_filters_by_project_and_workflow(api: ApiHarness) -> None:
    api.push(corpus("chainloop/statement.json"))
    api.push(corpus("chainloop/bundle_valid.json"))
    api.push(corpus("guac/certify-vuln-v02.json"))
    chainloop = api.get("/v1/attestations", params={"project": "chainloop"}).json()["items"]
    assert [i["workflow"] for i in chainloop] == ["chainloop-vault-release"]
    mywf = api.get("/v1/attestations", params={"workflow": "mywf"}).json()["items"]
    assert [i["project"] for i in mywf] == ["myproject"]
    assert len(api.get("/v1/attestations").json()["items"]) == 3


def test_describe_lists_references(api: ApiHarness) -> None:
    digest = api.push(corpus("chainloop/statement.json")).json()["items"][0]["digest"]
    found = api.get(f"/v1/attestations/{digest}").json()
    materials = {
        (r["digest"], r["material_type"]) for r in found["references"] if r["role"] == "material"
    }
    assert (
        "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f",
        "HELM_CHART",
    ) in materials
    assert sum(1 for _, t in materials if t == "CONTAINER_IMAGE") == 3
    assert api.get("/v1/attestations/sha256:" + "0" * 64).status == 404
    assert api.get("/v1/attestations/nonsense").status == 404


def _refs(api: ApiHarness, path: str) -> list[dict[str, str]]:
    digest = api.push(corpus(path)).json()["items"][0]["digest"]
    return list(api.get(f"/v1/attestations/{digest}").json()["references"])


def test_slsa_build_inputs_are_indexed_as_inputs(api: ApiHarness) -> None:
    # SLSA v0.2 materials
    refs = _refs(
        api, "slsa-verifier/container_workflow_dispatch.buildkit-provenance.sha256-c1944d47.json"
    )
    inputs = {r["digest"] for r in refs if r["role"] == "input"}
    assert "sha256:c82d4ad02c062cf2b393bf0374df26638c6fed3dfe52cdbd3635d4a7befab86e" in inputs
    # SLSA v1 resolvedDependencies
    refs = _refs(api, "slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl")
    assert ("gitcommit:8f70009fde0c94ade6ce2a054b94718c819126ec", "input") in {
        (r["digest"], r["role"]) for r in refs
    }


def test_statement_keys_in_protobuf_style(api: ApiHarness) -> None:
    item = api.push(corpus("chainloop/with-git-subject.json")).json()["items"][0]
    assert item["predicate_type"] == "chainloop.dev/attestation/v0.2"
    assert len(item["subjects"]) == 3


def test_dry_run_stores_nothing(api: ApiHarness) -> None:
    r = api.push(corpus("chainloop/statement.json"), dry_run=True)
    assert r.status == 200 and r.json()["items"] == []
    assert _count(api) == 0
    assert api.push(b"junk", dry_run=True).status == 422


def test_push_needs_write_rights_and_a_token(api: ApiHarness) -> None:
    r = api.push(statement("sha256:" + "d" * 64), token=None)
    assert r.status == 401


def test_unicode_and_big_documents(api: ApiHarness) -> None:
    data = json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "ünïcødé ✓", "digest": {"sha256": "e" * 64}}],
            "predicateType": "https://example.com/π",
            "predicate": {"blob": "x" * 200_000},
        },
        ensure_ascii=False,
    ).encode()
    item = api.push(data).json()["items"][0]
    assert item["subjects"][0]["name"] == "ünïcødé ✓"
    assert api.get(f"/v1/attestations/{item['digest']}/content").body == data


@pytest.mark.parametrize("where", ["subject name", "predicate type", "material type"])
def test_nul_characters_in_indexed_fields_are_refused(api: ApiHarness, where: str) -> None:
    st: dict[str, object] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": "a\u0000b" if where == "subject name" else "x", "digest": {"sha256": "a" * 64}}
        ],
        "predicateType": "https://x/\u0000" if where == "predicate type" else "https://x/y",
        "predicate": {},
    }
    if where == "material type":
        st["predicateType"] = "chainloop.dev/attestation/v0.2"
        st["predicate"] = {
            "metadata": {"name": "w"},
            "materials": [
                {
                    "name": "m",
                    "digest": {"sha256": "b" * 64},
                    "annotations": {"chainloop.material.type": "CONTAINER\u0000"},
                }
            ],
        }
    r = api.push(json.dumps(st).encode())
    assert r.status == 422, r.body
    assert "NUL" in r.json()["error"]["message"]
    assert _count(api) == 0
