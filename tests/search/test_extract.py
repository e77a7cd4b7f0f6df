"""The contents library on real documents (tests/data/sbom, the attestation corpus) and
on the odd ones: what it reads, what it skips and counts, never an exception."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from deploytrace.attestations import parse
from deploytrace.contents import Contents, extract, extract_predicate, purls, ranges
from deploytrace.errors import InvalidInput
from tests.search.helpers import LOG4J, cyclonedx, fixture, maven, wrap
from tests.support.digests import digest
from tests.support.statements import corpus


def _purls(found: Contents) -> list[str | None]:
    return [c.package.purl for c in found.components]


def test_trivy_cyclonedx_attestation_from_the_corpus() -> None:
    att = parse(corpus("trivy/centos-7-cyclonedx.intoto.jsonl"))[0]
    found = extract(att)
    assert found.formats == ["cyclonedx"]
    assert {"bash", "openssl-libs"} <= {c.package.name for c in found.components}
    bash = next(c.package for c in found.components if c.package.name == "bash")
    assert (bash.type, bash.namespace, bash.version) == ("rpm", "centos", "4.2.46-31.el7")
    assert found.skipped == 0


def test_witness_collections_carry_their_sbom_inside() -> None:
    cdx = extract(parse(corpus("witness/cdx-att.json"))[0])
    spdx = extract(parse(corpus("witness/spdx-att.json"))[0])
    assert cdx.formats == ["cyclonedx"] and spdx.formats == ["spdx"]
    assert len(cdx.components) == 15 and len(spdx.components) == 14
    # 14 apk packages and the operating system (no purl: indexed by its name)
    assert sorted({c.package.type for c in cdx.components}) == ["", "apk"]


def test_grype_cyclonedx_with_vulnerabilities() -> None:
    found = extract_predicate(
        "https://cyclonedx.org/bom", fixture("cyclonedx/grype-image-vulns.cdx.json")
    )
    assert [(c.package.name, c.package.purl) for c in found.components] == [
        ("package-1", None),
        ("package-2", "pkg:deb/package-2@2.2.2"),
    ]
    by_id = {f.vulnerability: f for f in found.findings}
    assert by_id["CVE-1999-0001"].severity == "low"
    assert by_id["CVE-1999-0001"].package is not None
    assert by_id["CVE-1999-0001"].package.name == "package-1"
    # affects -> bom-ref -> the component's purl
    assert by_id["CVE-1999-0002"].package is not None
    assert by_id["CVE-1999-0002"].package.purl == "pkg:deb/package-2@2.2.2"
    assert by_id["CVE-1999-0002"].severity == "critical"


def test_cyclonedx_vex_example_affects_the_product_itself() -> None:
    found = extract_predicate("", fixture("cyclonedx/bom-examples-vex-affected.json"))
    assert found.components == []  # metadata.component is the product, not its content
    [finding] = found.findings
    assert finding.vulnerability == "CVE-2021-44228" and finding.severity == "critical"
    assert finding.package is not None and finding.package.display_name == "DEF"
    assert found.statements == []  # "exploitable" is no suppression


def test_cyclonedx_nested_components_duplicates_and_malformed_entries() -> None:
    bom = cyclonedx(
        {
            **maven("org.example", "outer", "1.0"),
            "components": [
                maven("org.apache.logging.log4j", "log4j-core", "2.14.1"),
                {
                    "type": "library",
                    "name": "deep",
                    "version": "3",
                    "components": [
                        {"type": "library", "name": "deeper", "purl": "pkg:npm/deeper@1.0.0"}
                    ],
                },
            ],
        },
        maven("org.apache.logging.log4j", "log4j-core", "2.14.1"),  # listed twice
        {"type": "library", "name": "bad", "purl": "not-a-purl"},
        {"type": "library", "version": "1.0"},  # no name, no purl
        "not an object",
    )
    found = extract_predicate("https://cyclonedx.org/bom", bom)
    assert sorted(c.package.name for c in found.components) == [
        "deep",
        "deeper",
        "log4j-core",
        "outer",
    ]
    assert found.skipped == 3


def test_cyclonedx_analysis_states_become_vex_statements() -> None:
    core = maven("org.apache.logging.log4j", "log4j-core", "2.14.1")
    bom = cyclonedx(
        core,
        vulnerabilities=[
            {
                "id": "CVE-2021-44228",
                "ratings": [{"score": 10.0}],
                "affects": [{"ref": core["bom-ref"]}],
                "references": [{"id": "GHSA-jfh8-c2jp-5v3q"}],
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
            },
            {"id": "CVE-2021-45046", "affects": [{"ref": "urn:cdx:other-bom/1#x"}]},
            {"affects": []},
        ],
    )
    found = extract_predicate("https://cyclonedx.org/bom/v1.5", bom)
    first, second = found.findings
    assert first.severity == "critical"  # from the score when no word is given
    assert first.aliases == ("GHSA-jfh8-c2jp-5v3q",)
    assert second.package is None  # a ref into another BOM: the artifact as a whole
    [statement] = found.statements
    assert statement.status == "not_affected" and statement.products == ()
    assert [p.name for p in statement.subcomponents] == ["log4j-core"]
    assert found.skipped == 1


def test_a_bom_is_found_whatever_the_predicate_type_says() -> None:
    bom = cyclonedx(maven("org.apache.logging.log4j", "log4j-core", "2.14.1"))
    assert len(extract_predicate("https://example.com/my-sbom/v1", bom).components) == 1
    # cosign attest --type custom keeps the document as a JSON string
    custom = {"Data": json.dumps(bom), "Timestamp": "2026-01-01T00:00:00Z"}
    assert len(extract_predicate("cosign.sigstore.dev/attestation/v1", custom).components) == 1
    assert not extract_predicate("https://slsa.dev/provenance/v1", {"buildDefinition": {}})


def test_spdx_documents() -> None:
    vexctl = extract_predicate("https://spdx.dev/Document", fixture("spdx/vexctl-sbom.spdx.json"))
    # the described package (the image) is the artifact, not a component
    assert _purls(vexctl) == ["pkg:generic/component1@1.3.4", "pkg:generic/component2@2.39.0-r1"]
    trivy = extract_predicate("https://spdx.dev/Document", fixture("spdx/trivy-conda.spdx.json"))
    assert {(c.package.name, c.package.version) for c in trivy.components} == {
        ("conda-pkg", None),
        ("openssl", "1.1.1q"),
        ("pip", "22.2.2"),
    }
    doc = fixture("spdx/trivy-conda.spdx.json")
    doc["packages"][2]["externalRefs"][0]["referenceCategory"] = "PACKAGE_MANAGER"  # SPDX 2.2
    doc["packages"].append(
        {
            "SPDXID": "x",
            "externalRefs": [
                {
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": "pkg:",
                }
            ],
        }
    )
    found = extract_predicate("https://spdx.dev/Document/v2.3", doc)
    assert "pkg:conda/openssl@1.1.1q" in _purls(found) and found.skipped == 1


def test_cosign_vuln_with_trivy_and_grype_reports() -> None:
    def vuln(report: Any) -> dict[str, Any]:
        return {"scanner": {"uri": "", "version": "", "result": report}, "metadata": {}}

    trivy = extract_predicate(
        "https://cosign.sigstore.dev/attestation/vuln/v1", vuln(fixture("scans/trivy-pom.json"))
    )
    assert trivy.formats == ["cosign-vuln", "trivy"]
    assert [(f.vulnerability, f.severity) for f in trivy.findings] == [
        ("CVE-2020-9548", "critical"),
        ("CVE-2021-20190", "high"),
    ]
    assert trivy.findings[0].package is not None
    assert (
        trivy.findings[0].package.purl
        == "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.9.1"
    )
    grype_report = fixture("scans/grype-image.json")
    grype_report["matches"][0]["relatedVulnerabilities"] = [{"id": "GHSA-aaaa-bbbb-cccc"}]
    grype = extract_predicate("https://cosign.sigstore.dev/attestation/vuln/v1", vuln(grype_report))
    assert [(f.vulnerability, f.severity, f.aliases) for f in grype.findings] == [
        ("CVE-1999-0001", "low", ("GHSA-aaaa-bbbb-cccc",)),
        ("CVE-1999-0002", "critical", ()),
    ]
    # the cosign test fixture: a vuln attestation with no result at all
    empty = extract(parse(corpus("cosign/policy-valid-vuln.dsse.json"))[0])
    assert not empty and empty.skipped == 0


def test_sarif_from_grype_and_trivy() -> None:
    grype = extract_predicate("", fixture("sarif/grype-image.sarif.json"))
    assert [(f.vulnerability, f.severity) for f in grype.findings] == [
        ("CVE-1999-0001", "low"),
        ("CVE-1999-0002", "critical"),
    ]
    assert grype.findings[0].package is not None
    assert (grype.findings[0].package.name, grype.findings[0].package.version) == (
        "package-1",
        "1.1.1",
    )
    # trivy's shape (its golden files): the rule id is the CVE, the package is in the message
    trivy = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "Trivy",
                        "rules": [
                            {
                                "id": "CVE-2021-44228",
                                "properties": {"tags": ["vulnerability", "CRITICAL"]},
                            }
                        ],
                    }
                },
                "results": [
                    {
                        "ruleId": "CVE-2021-44228",
                        "ruleIndex": 0,
                        "level": "error",
                        "message": {
                            "text": "Package: org.apache.logging.log4j:log4j-core\n"
                            "Installed Version: 2.14.1\nVulnerability CVE-2021-44228\n"
                            "Severity: CRITICAL\nFixed Version: 2.15.0"
                        },
                    },
                    {
                        "ruleId": "go.lang.security.audit.net.bind_all",
                        "level": "warning",
                        "message": {"text": "binds to all interfaces"},
                        "locations": [
                            {
                                "logicalLocations": [
                                    {"fullyQualifiedName": "pkg:golang/example.com/app@v1.0.0"}
                                ]
                            }
                        ],
                    },
                    {"message": {"text": "no rule"}},
                ],
            }
        ],
    }
    found = extract_predicate("https://sarif.example/v2.1.0", trivy)
    first, second = found.findings
    assert (first.vulnerability, first.severity) == ("CVE-2021-44228", "critical")
    assert first.package is not None and first.package.name == "org.apache.logging.log4j:log4j-core"
    assert first.package.version == "2.14.1"
    assert (
        second.vulnerability == "go.lang.security.audit.net.bind_all"
        and second.severity == "medium"
    )
    assert second.package is not None and second.package.purl == "pkg:golang/example.com/app@v1.0.0"
    assert found.skipped == 1


def test_openvex_product_identification() -> None:
    image = digest("image")
    hex_value = image.split(":")[1]
    doc = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "author": "a",
        "timestamp": "2026-01-01T00:00:00Z",
        "statements": [
            {
                "vulnerability": {"name": "CVE-1"},
                "status": "not_affected",
                "products": [
                    {"@id": f"pkg:oci/app@sha256%3A{hex_value}?repository_url=ghcr.io/acme"}
                ],
            },
            {
                "vulnerability": {"name": "CVE-2"},
                "status": "fixed",
                "products": [{"@id": f"pkg:oci/app?digest=sha256%3A{hex_value}"}],
            },
            {
                "vulnerability": {"@id": "https://nvd.nist.gov/vuln/detail/CVE-2026-12345"},
                "status": "affected",
                "products": [
                    {"@id": "x", "identifiers": {"purl": f"pkg:oci/app@sha256:{hex_value}"}}
                ],
            },
            {
                "vulnerability": {"name": "CVE-4", "aliases": ["GHSA-xxxx-yyyy-zzzz"]},
                "status": "not_affected",
                "products": [
                    {
                        "@id": "app",
                        "hashes": {"sha-256": hex_value},
                        "subcomponents": [
                            {"@id": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"}
                        ],
                    }
                ],
            },
            {
                "vulnerability": {"name": "CVE-5"},
                "status": "not_affected",
                "products": [{"@id": f"ghcr.io/acme/app@{image}"}, {"@id": "pkg:oci/app"}],
            },
            {"vulnerability": {"name": "CVE-6"}, "status": "unknown-status"},
            {"status": "fixed"},
        ],
    }
    found = extract_predicate("https://openvex.dev/ns/v0.2.0", doc)
    by = {s.vulnerability: s for s in found.statements if s.products}
    assert {v: s.products for v, s in by.items()} == {
        "CVE-1": (image,),
        "CVE-2": (image,),
        "CVE-2026-12345": (image,),
        "CVE-4": (image,),
        "CVE-5": (image,),
    }
    assert by["CVE-4"].ids == ("CVE-4", "GHSA-XXXX-YYYY-ZZZZ")
    assert [p.purl for p in by["CVE-4"].subcomponents] == [
        "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
    ]
    # the second product of CVE-5 names no digest: the attestation's subject
    assert [s.products for s in found.statements if s.vulnerability == "CVE-5"] == [(image,), ()]
    assert found.skipped == 2


def test_openvex_real_examples() -> None:
    old = extract_predicate("https://openvex.dev/ns", fixture("openvex/go-vex-v0.0.1.json"))
    assert [(s.vulnerability, s.status, s.products) for s in old.statements] == [
        ("CVE-2023-12345", "fixed", ())
    ]
    vexctl = extract_predicate(
        "https://openvex.dev/ns/v0.2.0", fixture("openvex/vexctl-oci.openvex.json")
    )
    [statement] = vexctl.statements
    assert statement.status == "not_affected" and statement.products == ()
    assert statement.timestamp == "2023-12-14T17:25:52.227708816-06:00"


def _chainloop(materials: list[dict[str, Any]]) -> dict[str, Any]:
    return {"metadata": {"name": "build"}, "materials": materials}


def _image(name: str, tag: str, label: str) -> dict[str, Any]:
    return {
        "name": name,
        "digest": {"sha256": digest(label).split(":")[1]},
        "annotations": {
            "chainloop.material.type": "CONTAINER_IMAGE",
            "chainloop.material.image.tag": tag,
        },
    }


def _inline(kind: str, document: Any, **notes: str) -> dict[str, Any]:
    content = base64.b64encode(json.dumps(document).encode()).decode()
    return {
        "name": "sbom.json",
        "digest": {"sha256": "0" * 64},
        "content": content,
        "annotations": {"chainloop.material.type": kind, **notes},
    }


def test_chainloop_inline_sbom_belongs_to_its_main_component() -> None:
    bom = cyclonedx(maven("org.apache.logging.log4j", "log4j-core", "2.14.1"))
    predicate = _chainloop(
        [
            _image("ghcr.io/acme/api", "v1", "api"),
            _image("ghcr.io/acme/web", "v1", "web"),
            _inline(
                "SBOM_CYCLONEDX_JSON",
                bom,
                **{
                    "chainloop.material.sbom.main_component.name": "ghcr.io/acme/web",
                    "chainloop.material.sbom.main_component.version": "v1",
                },
            ),
            _inline("SBOM_CYCLONEDX_JSON", bom),  # two images, no main component: whose?
            {
                "name": "x",
                "content": "!!not base64!!",
                "annotations": {"chainloop.material.type": "SARIF"},
            },
        ]
    )
    found = extract_predicate("chainloop.dev/attestation/v0.2", predicate)
    assert [c.artifact for c in found.components] == [digest("web")]
    assert found.skipped == 2
    assert found.formats == ["chainloop", "cyclonedx"]
    single = extract_predicate(
        "chainloop.dev/attestation/v0.2",
        _chainloop(
            [
                _image("ghcr.io/acme/api", "v1", "api"),
                _inline("SBOM_SPDX_JSON", fixture("spdx/vexctl-sbom.spdx.json")),
            ]
        ),
    )
    assert {c.artifact for c in single.components} == {digest("api")}
    # the real inline material of Chainloop's own test data is not an SBOM: counted
    real = extract(parse(corpus("chainloop/valid.envelope.v2.json"))[0])
    assert not real and real.skipped == 1


def test_garbage_never_raises() -> None:
    for predicate in [
        {"bomFormat": "CycloneDX", "components": {"a": 1}, "vulnerabilities": "x"},
        {"bomFormat": "CycloneDX", "components": [{"purl": 7, "name": ["x"]}], "metadata": []},
        {
            "spdxVersion": "SPDX-2.3",
            "packages": [None, {"externalRefs": "x"}],
            "documentDescribes": "a",
        },
        {"runs": [None, {"results": [None, {"ruleId": 5}]}], "version": "2.1.0"},
        {"scanner": {"result": {"Results": [{"Vulnerabilities": [None, {}]}], "SchemaVersion": 2}}},
        {"scanner": {"result": {"matches": [None, {"vulnerability": {}, "artifact": {}}]}}},
        {
            "@context": "https://openvex.dev/ns",
            "statements": [{"vulnerability": 3, "products": [5]}],
        },
        {"attestations": [{"type": 1, "attestation": {"Data": "{"}}]},
    ]:
        found = extract_predicate("", predicate)
        assert isinstance(found, Contents)


def test_query_purls_and_ranges_carry_the_parsers_message() -> None:
    q = purls.query(f"{LOG4J}@2.14.1")
    assert (q.type, q.namespace, q.name, q.version) == (
        "maven",
        "org.apache.logging.log4j",
        "log4j-core",
        "2.14.1",
    )
    assert purls.query("pkg:PyPI/Django_Rest").name == "django-rest"
    with pytest.raises(InvalidInput, match="missing the required type component"):
        purls.query("pkg:maven")
    with pytest.raises(InvalidInput, match=r"invalid purl 'log4j'"):
        purls.query("log4j")
    r = ranges.parse("vers:maven/>=2.0.0|<2.15.0")
    assert r.matching(["2.14.1", "2.15.0", "2.0.0", "1.2.17", "not a version"]) == [
        "2.14.1",
        "2.0.0",
    ]
    with pytest.raises(InvalidInput, match="must start with the 'vers:' URI scheme"):
        ranges.parse(">=2.0.0")
    with pytest.raises(InvalidInput, match="unknown versioning scheme"):
        ranges.parse("vers:nope/>=1")
    with pytest.raises(InvalidInput, match="npm scheme, but the purl's type is maven"):
        ranges.parse("vers:npm/>=1.0.0").check_type("maven")


def test_statement_wrapping_reaches_the_library() -> None:
    data = wrap("https://cyclonedx.org/bom", cyclonedx(maven("a", "b", "1")), digest(1))
    assert len(extract(parse(data)[0]).components) == 1
