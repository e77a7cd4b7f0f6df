"""Parsing rules: JSON vs JSON Lines, statement variants, the digest index, Chainloop."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from deploytrace.attestations import ArtifactRef, ParsedAttestation, Subject, parse
from deploytrace.errors import InvalidInput

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"
HEX64 = "ab" * 32


def _one(name: str) -> ParsedAttestation:
    (att,) = parse((CORPUS / name).read_bytes())
    return att


def _statement(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": HEX64}}],
        "predicateType": "https://example.com/p/v1",
        "predicate": {},
    }
    doc.update(overrides)
    return doc


def _dumps(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _envelope(
    statement: dict[str, Any], payload_type: str = "application/vnd.in-toto+json"
) -> bytes:
    payload = base64.b64encode(_dumps(statement)).decode()
    return _dumps({"payloadType": payload_type, "payload": payload, "signatures": []})


# --- Chainloop and the artifact index -------------------------------------------------


def test_chainloop_statement_materials() -> None:
    att = _one("chainloop/statement.json")
    helm = [r for r in att.refs if r.material_type == "HELM_CHART"]
    assert helm == [
        ArtifactRef(
            digest="sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f",
            role="material",
            name="chainloop-0.93.7.tar.gz",
            material_type="HELM_CHART",
        )
    ]
    images = {r.name: r.digest for r in att.refs if r.material_type == "CONTAINER_IMAGE"}
    assert images == {
        "ghcr.io/chainloop-dev/chainloop/control-plane": "sha256:4a8eb6f9ae76460b682e7e9eb5504df9"
        "f7f2b2250d9c5cb63204442e265e2c5a",
        "ghcr.io/chainloop-dev/chainloop/artifact-cas": "sha256:4d329b2aee79b35ec5e6c462be5d8000"
        "565d5ccd13602427cd889fc91c187fc8",
        "ghcr.io/chainloop-dev/chainloop/cli": "sha256:571a5543151d651cbc62679c3f50c2e6cadfd2ff"
        "20279374c6d6106b3f70560f",
    }
    # Subjects are indexed too: the workflow subject and the git.head commit (sha1).
    subjects = {r.digest for r in att.refs if r.role == "subject"}
    assert "sha1:53f95f066b620172301e2a3879e7d593da05727e" in subjects


def test_wasm_policy_sdk_has_twelve_container_images() -> None:
    att = _one("chainloop/wasm-policy-sdk-release-attestation.json")
    images = [r for r in att.refs if r.material_type == "CONTAINER_IMAGE"]
    assert len(images) == 12
    assert all(r.role == "material" and r.digest.startswith("sha256:") for r in images)
    assert {r.name for r in images} == {
        f"ghcr.io/chainloop-dev/chainloop/{n}"
        for n in ("artifact-cas", "cli", "control-plane", "control-plane-migrations")
    }


def test_chainloop_subject_annotation_gives_material_type() -> None:
    att = _one("chainloop/with-git-subject.json")
    nginx = "sha256:fbd9335f55d83d8aaf9ab1a539b0f2a87b444e8c54f34c9a1ca9d7df15605db4"
    assert ArtifactRef(nginx, "subject", "index.docker.io/bitnami/nginx", "CONTAINER_IMAGE") in (
        att.refs
    )
    assert ArtifactRef(nginx, "material", "index.docker.io/bitnami/nginx", "CONTAINER_IMAGE") in (
        att.refs
    )
    assert att.statement_type == "https://in-toto.io/Statement/v1"  # protobuf `type`


def test_chainloop_material_without_digest_is_skipped_and_duplicates_merge() -> None:
    att = _one("chainloop/valid.envelope.v2.json")
    materials = [r for r in att.refs if r.role == "material"]
    # 5 materials: a STRING without digest, and two SBOMs with the same digest.
    assert len(materials) == 3
    assert "STRING" not in {r.material_type for r in materials}


def test_chainloop_metadata_prefers_workflow_name() -> None:
    predicate = {
        "metadata": {"name": "n", "workflowName": "wf", "project": "p", "projectVersion": ""}
    }
    doc = _statement(predicateType="chainloop.dev/attestation/v0.2", predicate=predicate)
    (att,) = parse(_dumps(doc))
    assert (att.workflow, att.project, att.project_version) == ("wf", "p", None)


def test_same_digest_subjects_give_one_ref_but_stay_subjects() -> None:
    att = _one("slsa-verifier/container_workflow_dispatch.buildkit-provenance.sha256-c1944d47.json")
    assert len(att.subjects) == 2
    assert len([r for r in att.refs if r.role == "subject"]) == 1


def test_non_hash_digest_is_kept_as_is() -> None:
    att = _one("slsa-verifier/gke-gce-pre.bcid-vsa.jsonl")
    assert att.subjects[0] == Subject(name="_", digest={"gce_image_id": "8970095005306000053"})
    assert [r.digest for r in att.refs] == ["gce_image_id:8970095005306000053"]


def test_uri_only_subject() -> None:
    att = _one("guac/certify-vuln-v02.json")
    assert att.subjects == (
        Subject(name=None, digest={}, uri="pkg:maven/org.apache.logging.log4j/log4j-core@2.8.1"),
    )
    assert att.refs == ()


def test_malformed_known_hash_is_skipped() -> None:
    # guac's kubectl provenance lists a 40-hex "sha256" material: not indexable.
    att = _one("guac/oci-kubectl-linux-amd64-in-toto.json")
    assert not [r for r in att.refs if r.role == "input"]
    assert len(att.subjects) == 75


def test_digest_normalisation() -> None:
    subject = {
        "name": "x",
        "digest": {"SHA256": HEX64.upper(), "sha512": "zz", "sha1": "A" * 40, "custom": "AbC"},
    }
    (att,) = parse(_dumps(_statement(subject=[subject])))
    assert att.subjects[0].digest == subject["digest"]  # the subject is kept as written
    assert [r.digest for r in att.refs] == [f"sha256:{HEX64}", "sha1:" + "a" * 40, "custom:AbC"]


def test_slsa_inputs_versus_chainloop_materials() -> None:
    deps = [{"uri": "git+https://x", "digest": {"gitCommit": "c" * 40}}, {"name": "n"}]
    v1 = _statement(
        predicateType="https://slsa.dev/provenance/v1",
        predicate={"buildDefinition": {"resolvedDependencies": deps}},
    )
    (att,) = parse(_dumps(v1))
    assert [r for r in att.refs if r.role == "input"] == [
        ArtifactRef("gitcommit:" + "c" * 40, "input", "git+https://x", None)
    ]
    chainloop = _statement(
        predicateType="chainloop.dev/attestation/v0.2",
        predicate={"materials": [{"name": "m", "digest": {"sha256": HEX64}}]},
    )
    (att,) = parse(_dumps(chainloop))
    assert [r.role for r in att.refs if r.digest == f"sha256:{HEX64}"] == ["subject", "material"]


# --- Statement variants and refusals --------------------------------------------------


def test_protobuf_field_names_and_v01() -> None:
    doc = {
        "type": "https://in-toto.io/Statement/v0.1",
        "predicate_type": "p",
        "subject": [{"name": "a", "digest": {"sha256": HEX64}}],
    }
    (att,) = parse(_dumps(doc))
    assert (att.statement_type, att.predicate_type, att.format) == (
        "https://in-toto.io/Statement/v0.1",
        "p",
        "statement",
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_statement(predicateType=None), "no predicateType"),
        (_statement(predicateType=""), "no predicateType"),
        (_statement(subject=[]), "no subject list"),
        (_statement(subject={"name": "a"}), "no subject list"),
        ({"_type": "https://in-toto.io/Statement/v1", "predicateType": "p"}, "no subject list"),
        (_statement(subject=[{"name": 3}]), "name is not a string"),
        (_statement(subject=[{"digest": {"sha256": 1}}]), "digest is not a map of strings"),
        (_statement(_type="link"), "_type 'link', not a Statement"),
    ],
)
def test_bad_statements_are_refused(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse(_dumps(doc))


def test_dsse_payload_must_be_in_toto() -> None:
    with pytest.raises(InvalidInput, match="payloadType 'text/plain' does not carry"):
        parse(_envelope(_statement(), payload_type="text/plain"))
    bad = _dumps(
        {"payloadType": "application/vnd.in-toto+json", "payload": "%%%", "signatures": []}
    )
    with pytest.raises(InvalidInput, match="payload is not base64"):
        parse(bad)
    not_json = base64.b64encode(b"hello").decode()
    with pytest.raises(InvalidInput, match="payload is not JSON"):
        parse(_dumps({"payloadType": "application/vnd.in-toto+json", "payload": not_json}))


def test_dsse_accepts_url_safe_unpadded_payload() -> None:
    payload = base64.urlsafe_b64encode(_dumps(_statement())).decode().rstrip("=")
    (att,) = parse(_dumps({"payloadType": "application/vnd.in-toto+json", "payload": payload}))
    assert att.format == "dsse"
    assert att.envelopes[0].signatures == ()


def test_message_signature_bundle_is_refused() -> None:
    bundle = {
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {},
        "messageSignature": {"messageDigest": {}, "signature": "AA=="},
    }
    with pytest.raises(InvalidInput, match="message signature"):
        parse(_dumps(bundle))


# --- JSON versus JSON Lines -----------------------------------------------------------


def test_single_json_document_keeps_trailing_newline() -> None:
    data = json.dumps(_statement(), indent=2).encode() + b"\n"
    (att,) = parse(data)
    assert att.raw == data
    assert att.digest == "sha256:" + hashlib.sha256(data).hexdigest()


def test_json_lines_identical_lines_give_identical_digests() -> None:
    line = (CORPUS / "trivy/attestation.json").read_bytes().strip()
    atts = parse(line + b"\n" + line + b"\n")
    assert len(atts) == 2
    assert atts[0].digest == atts[1].digest == "sha256:" + hashlib.sha256(line).hexdigest()


def test_json_lines_crlf_blank_lines_and_order() -> None:
    first, second = _dumps(_statement()), _dumps(_statement(predicateType="q"))
    atts = parse(b"\r\n" + first + b"\r\n\r\n  \n" + second + b"\r\n")
    assert [a.raw for a in atts] == [first, second]
    assert [a.predicate_type for a in atts] == ["https://example.com/p/v1", "q"]


def test_json_lines_are_all_or_nothing_with_line_numbers() -> None:
    good = _dumps(_statement())
    with pytest.raises(InvalidInput, match=r"^line 3 is not JSON"):
        parse(good + b"\n\n{oops\n" + good)
    with pytest.raises(InvalidInput, match=r"^line 2: JSON object with keys a, b is not"):
        parse(good + b"\n" + _dumps({"a": 1, "b": 2}))


def test_gcloud_wrapper_with_disagreeing_entries_is_refused() -> None:
    doc = json.loads((CORPUS / "slsa-verifier/gcloud-container-github.json").read_bytes())
    entry = doc["provenance_summary"]["provenance"][0]
    other = json.loads(json.dumps(entry))
    other["envelope"]["payload"] = json.loads(_envelope(_statement()))["payload"]
    doc["provenance_summary"]["provenance"] = [entry, other]
    with pytest.raises(InvalidInput, match="different statements"):
        parse(_dumps(doc))
    doc["provenance_summary"]["provenance"] = [entry, entry]
    (att,) = parse(_dumps(doc))
    assert len(att.envelopes) == 2
