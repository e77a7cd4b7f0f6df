"""Every attestation of the real-world corpus (tests/data/attestations/SOURCES.md), one row each."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploytrace.attestations import ParsedAttestation, TrustStore, parse, verify

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"

SLSA02 = "https://slsa.dev/provenance/v0.2"
SLSA1 = "https://slsa.dev/provenance/v1"
CHAINLOOP = "chainloop.dev/attestation/v0.2"
WITNESS = "https://witness.testifysec.com/attestation-collection/v0.1"
BUNDLE01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
BUNDLE03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE03_ALT = "application/vnd.dev.sigstore.bundle+json;version=0.3"
IN_TOTO = "application/vnd.in-toto+json"

A_TXT = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
NPM_130 = (
    "sha512:76176ffa33808b54602c7c35de5c6e9a4deb96066dba6533f50ac234f4f1f4c6"
    "b3527515dc17c06fbe2860030f410eee69ea20079bd3a2c6f3dcf3b329b10751"
)
NPM_210 = (
    "sha512:90f223f992e4c88dd068cd2a5fc57f9d2b30798343dd6e38f29c240e04ba090e"
    "f831f84490847c4e82b9232c78e8a258463b1e55c0f7469f730265008fa6633f"
)
NPM_PUBLISH = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
RULES_LINT_SIGNER = (
    "https://github.com/bazel-contrib/.github/.github/workflows/release_ruleset.yaml"
    "@refs/tags/v7.1.0 (issuer https://token.actions.githubusercontent.com)"
)
CONFORMANCE_SIGNER = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main "
    "(issuer https://token.actions.githubusercontent.com)"
)

# Trust added for the rows whose SOURCES.md entry names a key or root.
CHAINLOOP_KEY = {"chainloop-release": "chainloop/release-cosign.pub"}
WITNESS_KEY = {"witness-test": "witness/testpub.pem"}
VSA_KEY = {"google-vsa": "slsa-verifier/vsa_signing_public_key.pem"}
GCB_KEY = {"gcb-us-west2": "slsa-verifier/gcb-us-west2.pub.pem"}
STAGING_ROOT = {"staging": "sigstore-python/trusted_root.staging.json"}

# Reasons (substrings) of the `unverified` results.
UNSIGNED = "unsigned statement"
NO_KEY = "signed, but by no key this organization trusts"
UNTRUSTED_CA = "certificate not issued by a trusted root"
INTOTO_002 = "Rekor intoto 0.0.2"
NO_PROOF = "no usable inclusion proof"


@dataclass(frozen=True)
class Trusted:
    """An expected result once `keys`/`roots` are trusted too."""

    status: str
    identity: str | None = None
    keys: dict[str, str] = field(default_factory=dict)
    roots: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    path: str
    fmt: str
    media_type: str | None
    predicate_type: str
    subjects: int
    first_digest: str | None  # "alg:value" of the first subject's first digest entry
    default: tuple[str, str | None]  # (status, identity or reason substring) with public-good
    trusted: Trusted | None = None
    lines: int = 1
    chainloop: tuple[str | None, str | None, str | None] | None = None
    inputs: tuple[str, ...] = ()  # expected `input` ref digests (all of them)
    materials: dict[str, int] = field(default_factory=dict)  # material_type -> count


# fmt: off
ROWS = [
    Row(
        "sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        A_TXT,
        ("unverified", UNTRUSTED_CA),
        trusted=Trusted("verified", CONFORMANCE_SIGNER, roots=STAGING_ROOT),
    ),
    Row(
        "sigstore-go/bundle-provenance.json",
        "sigstore-bundle", BUNDLE01, SLSA02, 1,
        NPM_130,
        ("unverified", NO_PROOF),
        inputs=("sha1:dae8bd8eb433a4147b4655c00fe73e0f22bc0fb1",),
    ),
    Row(
        "sigstore-go/bundle-publish.json",
        "sigstore-bundle", BUNDLE01, NPM_PUBLISH, 1,
        NPM_130,
        ("unverified", "public key hint SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"),
    ),
    Row(
        "sigstore-go/dsse-2sigs.sigstore.json",
        "sigstore-bundle", BUNDLE01, SLSA02, 1,
        "sha512:bbfd372fc9beeb777fe35d05bb10c0c70a9733d366a75fed7dd18866c739"
        "1de3ee7e88ba74dd47abf3e15c845e547fcf0e5c3da80854c751554224d3a6d4e55f",
        ("unverified", NO_PROOF),
        inputs=("sha1:29cff3dd65f780c3601bd457acb6fe4e5931c825",),
    ),
    Row(
        "gh-cli/sigstore-js-2.1.0-bundle.json",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        NPM_210,
        ("unverified", INTOTO_002),
        inputs=("gitcommit:26d16513386ffaa790b1c32f927544f1322e4194",),
    ),
    Row(
        "gh-cli/github_provenance_demo-0.0.12-py3-none-any-bundle.jsonl",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        "sha256:ae57936def59bc4c75edd3a837d8"
        "9bcefc6d3a5e31d55a6fa7a71624f92c3c3b",
        ("unverified", UNTRUSTED_CA),
        inputs=("gitcommit:a6c23b9806c593664f68637c8f9d45dfcf98b2db",),
    ),
    Row(
        "gh-cli/sigstore-js-2.1.0_with_2_bundles.jsonl",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        NPM_210,
        ("unverified", INTOTO_002),
        lines=2,
        inputs=("gitcommit:26d16513386ffaa790b1c32f927544f1322e4194",),
    ),
    Row(
        "sigstore-conformance/happy-path-intoto-in-dsse-v3.bundle.sigstore.json",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        A_TXT,
        ("verified", CONFORMANCE_SIGNER),
        inputs=("gitcommit:ebff8dfbd609b7b22237c7719ce07f2dc7934f5f",),
    ),
    Row(
        "sigstore-conformance/statement.json",
        "statement", None, SLSA1, 1,
        A_TXT,
        ("unverified", UNSIGNED),
        inputs=("gitcommit:a9cd7bf0bbfd5732800b8196ce893ae9915b1e87",),
    ),
    Row(
        "slsa-verifier/container_workflow_dispatch.cosign-att-layer.sha256-20b16d58.dsse.json",
        "dsse", IN_TOTO, SLSA02, 1,
        "sha256:e0a0a765d690a5104331cfbac88e"
        "bbbf01736c1f87aaa3cd455c516a5ea586a5",
        ("unverified", NO_KEY),
        inputs=("sha1:d37a7f740ee7404914456f24dcd90e865a0509e8",),
    ),
    Row(
        "slsa-verifier/container_workflow_dispatch.buildkit-provenance.sha256-c1944d47.json",
        "statement", None, SLSA02, 2,
        "sha256:ae01bed04d3f41efa80182824a50"
        "345cd1430f4d1a9308eda4369122bd94c85e",
        ("unverified", UNSIGNED),
        inputs=(
            "sha256:c82d4ad02c062cf2b393bf0374df"
        "26638c6fed3dfe52cdbd3635d4a7befab86e",
            "sha256:072d78bc452a2998929a9579464e"
        "55067db4bf6d2c5f9cde582e33c10a415bd1",
            "sha1:d37a7f740ee7404914456f24dcd90e865a0509e8",
        ),
    ),
    Row(
        "slsa-verifier/gcloud-container-github.json",
        "gcloud-provenance", IN_TOTO, "https://slsa.dev/provenance/v0.1", 1,
        "sha256:f472ca4b68898c951ac3b476cba9"
        "19d0d56fca4ced631fabcead51e4b2b690e7",
        ("unverified", NO_KEY),
        trusted=Trusted("verified", "key:gcb-us-west2", keys=GCB_KEY),
        inputs=("sha1:01ce393d04eb6df2a7b2b3e95d4126e687afb7ae",),
    ),
    Row(
        "slsa-verifier/gke-gce-pre.bcid-vsa.jsonl",
        "dsse", IN_TOTO, "https://slsa.dev/verification_summary/v1", 1,
        "gce_image_id:8970095005306000053",
        ("unverified", NO_KEY),
        trusted=Trusted("verified", "key:google-vsa", keys=VSA_KEY),
    ),
    Row(
        "slsa-verifier/binary-linux-amd64-workflow_dispatch.intoto.jsonl",
        "dsse", IN_TOTO, SLSA02, 1,
        "sha256:2892146b063a94cb4a4318c0e98d"
        "38af12dcf2b1e29237486b58463b59607bbd",
        ("unverified", "embedded certificate for https://github.com/slsa-framework/"),
        inputs=("sha1:d37a7f740ee7404914456f24dcd90e865a0509e8",),
    ),
    Row(
        "slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl",
        "sigstore-bundle", BUNDLE03, SLSA1, 1,
        "sha256:1636f443b01c9ee310ee5834956d"
        "0dce374c3d3bf8d4cebc9f6b86f8304b4982",
        ("verified", RULES_LINT_SIGNER),
        inputs=("gitcommit:8f70009fde0c94ade6ce2a054b94718c819126ec",),
    ),
    Row(
        "slsa-verifier/gha_container-based-v2.1.0-binary-linux-amd64-push-v14.sigstore.json",
        "sigstore-bundle", "application/vnd.dev.sigstore.bundle+json;version=0.2", SLSA1, 1,
        "sha256:e3b0c44298fc1c149afbf4c8996f"
        "b92427ae41e4649b934ca495991b7852b855",
        ("unverified", INTOTO_002),
        inputs=(
            "sha1:4d329c75e7ec1725f7c9ce917a8799d408d06be3",
            "sha256:31c5f5580e11db3c0119ec4c772c"
        "f2663eda944df12da5ac309a90de207fd4c1",
        ),
    ),
    Row(
        "cosign/oci-attestation.sigstore.json",
        "sigstore-bundle", BUNDLE03, "https://cosign.sigstore.dev/attestation/v1", 1,
        "sha256:732112270d7e59418a8c080b134b"
        "24cabd67d250d0d0147a97ed95ba5c280aa4",
        ("verified", "cody@soyland.com (issuer https://github.com/login/oauth)"),
    ),
    Row(
        "cosign/policy-valid-vuln.dsse.json",
        "dsse", IN_TOTO, "https://cosign.sigstore.dev/attestation/vuln/v1", 1,
        "sha256:3c19aa980a9c5709a2c96c2d0779"
        "febf6e5e453b92b172ce84cb85fdaf695373",
        ("unverified", NO_KEY),
    ),
    Row(
        "trivy/sigstore-bundle.json",
        "sigstore-bundle", BUNDLE03, "https://cyclonedx.org/bom", 1,
        "sha256:ea9c657ca44371fadd027510f2a1"
        "a68b799003294bf6a4827827971cc4390ad4",
        ("verified", "thomas.grininger@ringodev.com (issuer https://github.com/login/oauth)"),
    ),
    Row(
        "trivy/centos-7-cyclonedx.intoto.jsonl",
        "dsse", IN_TOTO, "https://cyclonedx.org/bom", 1,
        "sha256:be65f488b7764ad3638f236b7b51"
        "5b3678369a5124c47b8d32916d6487418ea4",
        ("unverified", NO_KEY),
    ),
    Row(
        "trivy/attestation.json",
        "dsse", IN_TOTO, "cosign.sigstore.dev/attestation/v1", 1,
        "sha256:72c42ed48c3a2db31b7dafe17d27"
        "5b634664a708d901ec9fd57b1529280f01fb",
        ("unverified", NO_KEY),
    ),
    Row(
        "chainloop/wasm-policy-sdk-release-attestation.json",
        "sigstore-bundle", BUNDLE03_ALT, CHAINLOOP, 2,
        "sha256:f3af11d14ea951f07632f2d69868"
        "afb67d8bc22c69a7ad35f191adb34e856c18",
        ("unverified", UNTRUSTED_CA),
        chainloop=("release", "chainloop", "v1.59.0+next"),
        materials={"CONTAINER_IMAGE": 12, "SBOM_CYCLONEDX_JSON": 12, "ARTIFACT": 5},
    ),
    Row(
        "chainloop/bundle_valid.json",
        "sigstore-bundle", BUNDLE03_ALT, CHAINLOOP, 2,
        "sha256:263c9350310b9c0b3e48b0cf5d84"
        "d38401d0de013313da971da65eb9dbc5b845",
        ("unverified", UNTRUSTED_CA),
        chainloop=("mywf", "myproject", "v0.162.0"),
    ),
    Row(
        "chainloop/slsa_provenance.sigstore.json",
        "sigstore-bundle", BUNDLE03, SLSA1, 41,
        "sha256:023540d907a6abc3cc83ecf78d1c"
        "01529b0517c80a72a28f8ec00a6bc0418814",
        ("unverified", UNTRUSTED_CA),
        inputs=("gitcommit:437ebdc3d6275e9c60a6f0f836ab7daa4fd8aaa1",),
    ),
    Row(
        "chainloop/valid.envelope.v2.json",
        "dsse", IN_TOTO, CHAINLOOP, 2,
        "sha256:0407a2b01fbd898bcc11065f7610"
        "8d16998620630ffc453d2162cf579b42de03",
        ("unverified", NO_KEY),
        chainloop=("old", "old", None),
        materials={"ARTIFACT": 1, "CONTAINER_IMAGE": 1, "SBOM_CYCLONEDX_JSON": 1},
    ),
    Row(
        "chainloop/with-git-subject.json",
        "dsse", IN_TOTO, CHAINLOOP, 3,
        "sha256:bdc8d3103339a32e480358487088"
        "013f1eb3974a866aedf5e42402de0271c97b",
        ("unverified", NO_KEY),
        chainloop=("test-new-types", "test", None),
        materials={
            "CONTAINER_IMAGE": 1, "ARTIFACT": 1, "SARIF": 1, "SBOM_CYCLONEDX_JSON": 1, "OPENVEX": 1,
        },
    ),
    Row(
        "chainloop/statement.json",
        "statement", None, CHAINLOOP, 2,
        "sha256:9ae495a85891eb1130fefc17bc89"
        "940c9aa96acb8355c26a3e0d73a5097d41d4",
        ("unverified", UNSIGNED),
        chainloop=("chainloop-vault-release", "chainloop", None),
        materials={"ARTIFACT": 11, "CONTAINER_IMAGE": 3, "SBOM_CYCLONEDX_JSON": 2, "HELM_CHART": 1},
    ),
    Row(
        "chainloop/attestation-dsse.json",
        "dsse", IN_TOTO, CHAINLOOP, 3,
        "sha256:bcf79a48011b512e9bb2efc99e94"
        "da8e480f5ec5c088643a7bfd2e85a2ff15e1",
        ("unverified", NO_KEY),
        trusted=Trusted("verified", "key:chainloop-release", keys=CHAINLOOP_KEY),
        chainloop=("chainloop-codeql", "chainloop", None),
        materials={"SARIF": 1},
    ),
    Row(
        "witness/cdx-att.json",
        "dsse", IN_TOTO, WITNESS, 4,
        "sha256:23b078b208f617fbf117bcedcae3"
        "a2b6a454085f8c8c3b73cc74fe9750f34bd3",
        ("unverified", NO_KEY),
        trusted=Trusted("verified", "key:witness-test", keys=WITNESS_KEY),
    ),
    Row(
        "witness/spdx-att.json",
        "dsse", IN_TOTO, WITNESS, 3,
        "sha256:35b97f352c102b21ed6678172bcc"
        "102ab69aad034af3ff42064856f11ef2f106",
        ("unverified", NO_KEY),
        trusted=Trusted("verified", "key:witness-test", keys=WITNESS_KEY),
    ),
    Row(
        "guac/oci-kubectl-linux-amd64-in-toto.json",
        "statement", None, SLSA02, 75,
        "sha256:8202add66a93bcb7219ed7bb1643"
        "8caf82a80c60348cace2381c678b99d65638",
        ("unverified", UNSIGNED),
    ),
    Row(
        "guac/certify-vuln-v02.json",
        "statement", None, "https://in-toto.io/attestation/vulns/v0.2", 1,
        None,
        ("unverified", UNSIGNED),
    ),
]
# fmt: on

IDS = [row.path.rsplit("/", 1)[-1] for row in ROWS]


def _parsed(row: Row) -> list[ParsedAttestation]:
    return parse((CORPUS / row.path).read_bytes())


def _first_digest(att: ParsedAttestation) -> str | None:
    digest = att.subjects[0].digest
    if not digest:
        return None
    alg, value = next(iter(digest.items()))
    return f"{alg}:{value}"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_parse_corpus_file(row: Row) -> None:
    atts = _parsed(row)
    assert len(atts) == row.lines
    for att in atts:
        assert att.format == row.fmt
        assert att.media_type == row.media_type
        assert att.predicate_type == row.predicate_type
        assert len(att.subjects) == row.subjects
        assert _first_digest(att) == row.first_digest
        assert att.statement_type in {
            "https://in-toto.io/Statement/v0.1",
            "https://in-toto.io/Statement/v1",
        }
        if row.chainloop is not None:
            assert (att.workflow, att.project, att.project_version) == row.chainloop
        else:
            assert (att.workflow, att.project, att.project_version) == (None, None, None)


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_raw_is_byte_exact(row: Row) -> None:
    data = (CORPUS / row.path).read_bytes()
    atts = _parsed(row)
    if row.lines == 1:
        assert atts[0].raw == data
    else:
        assert [a.raw for a in atts] == data.splitlines()
    for att in atts:
        assert att.digest == "sha256:" + hashlib.sha256(att.raw).hexdigest()


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_index_refs(row: Row) -> None:
    att = _parsed(row)[0]
    subject_digests = {ref.digest for ref in att.refs if ref.role == "subject"}
    if row.first_digest is not None:
        assert row.first_digest in subject_digests
    assert tuple(ref.digest for ref in att.refs if ref.role == "input") == row.inputs
    materials = Counter(ref.material_type for ref in att.refs if ref.role == "material")
    assert dict(materials) == row.materials
    keys = [(ref.digest, ref.role, ref.material_type) for ref in att.refs]
    assert len(keys) == len(set(keys)), "refs are deduplicated"


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_verify_with_default_trust(row: Row, default_trust: TrustStore) -> None:
    status, detail = row.default
    for att in _parsed(row):
        result = verify(att, default_trust)
        assert result.status == status, result.reason
        if status == "verified":
            assert result.method == "sigstore"
            assert result.identity == detail
            assert result.reason is None
        else:
            assert result.identity is None
            assert detail is not None and detail in (result.reason or "")


TRUSTED_ROWS = [row for row in ROWS if row.trusted is not None]


@pytest.mark.parametrize("row", TRUSTED_ROWS, ids=[r.path.rsplit("/", 1)[-1] for r in TRUSTED_ROWS])
def test_verify_with_named_key_or_root(row: Row, trust_with: Callable[..., TrustStore]) -> None:
    assert row.trusted is not None
    trust = trust_with(keys=row.trusted.keys, roots=row.trusted.roots)
    for att in _parsed(row):
        result = verify(att, trust)
        assert result.status == row.trusted.status, result.reason
        assert result.identity == row.trusted.identity
        assert result.method == ("sigstore" if row.trusted.roots else "public-key")


def test_staging_bundle_needs_the_staging_root_alone(trust_with: Callable[..., TrustStore]) -> None:
    att = parse((CORPUS / ROWS[0].path).read_bytes())[0]
    only_staging = trust_with(roots=STAGING_ROOT, include_public_good=False)
    assert verify(att, only_staging).status == "verified"
    nothing = trust_with(include_public_good=False)
    assert verify(att, nothing).status == "unverified"


def test_every_corpus_attestation_is_in_the_table() -> None:
    refused = {
        "sigstore-python/trusted_root.public-good.json",
        "sigstore-python/trusted_root.staging.json",
        "slsa-verifier/container_workflow_dispatch.cosign-att-manifest.sha256-31cc4fb6.json",
        "slsa-verifier/gcb-us-west2.pub.pem",
        "slsa-verifier/vsa_signing_public_key.pem",
        "chainloop/release-cosign.pub",
        "chainloop/verifier-testdata-ca.crt.pem",
        "witness/testpub.pem",
    }
    files = {
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name != "SOURCES.md"
    }
    assert len(files) == 40
    assert files == {row.path for row in ROWS} | refused
