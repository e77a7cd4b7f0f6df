"""VEX (OpenVEX, CycloneDX analysis) suppresses findings per match, for the product it
names by digest (or the VEX attestation's subject), and names the VEX attestation."""

from __future__ import annotations

from typing import Any

from tests.search.helpers import (
    LOG4J,
    LOG4SHELL,
    cosign_vuln,
    cyclonedx,
    fixture,
    log4shell_scan,
    maven,
    openvex,
    trivy_report,
    vex_statement,
    wrap,
)
from tests.search.test_log4shell import digests, push, record, search
from tests.support.api import ApiHarness
from tests.support.digests import digest

APP = digest("app")
OTHER = digest("other app")
OPENVEX = "https://openvex.dev/ns/v0.2.0"


def _oci(d: str) -> dict[str, Any]:
    return {"@id": f"pkg:oci/app@sha256%3A{d.split(':')[1]}?repository_url=ghcr.io/acme/app"}


def test_openvex_not_affected_suppresses_its_product_only(api: ApiHarness) -> None:
    api.env("k8s-east")
    for i, d in enumerate((APP, OTHER)):
        push(api, log4shell_scan(d))
        record(api, d, deployment_name=f"svc-{i}")
    assert sorted(digests(search(api, cve=LOG4SHELL))) == sorted([APP, OTHER])
    # The VEX document names APP by digest; its attestation's subject is the document's
    # own product, which need not be the same image.
    vex = push(
        api,
        wrap(OPENVEX, openvex(vex_statement(LOG4SHELL, "not_affected", _oci(APP))), digest("x")),
    )
    assert digests(search(api, cve=LOG4SHELL)) == [OTHER]
    both = {h["artifact"]["digest"]: h for h in search(api, cve=LOG4SHELL, include_suppressed=True)}
    assert both[APP]["suppressed"] is True and both[OTHER]["suppressed"] is False
    assert both[APP]["matches"][0]["suppression"] == {
        "attestation": vex,
        "verification": "unverified",
        "status": "not_affected",
        "justification": "vulnerable_code_not_in_execute_path",
    }
    assert both[OTHER]["matches"][0]["suppression"] is None
    # only that vulnerability
    assert sorted(digests(search(api, cve="CVE-2021-45046"))) == sorted([APP, OTHER])
    # a later statement saying "affected" wins over the earlier "not_affected"
    push(
        api,
        wrap(
            OPENVEX,
            openvex(
                vex_statement(LOG4SHELL, "affected", _oci(APP)), timestamp="2026-11-03T00:00:00Z"
            ),
            digest("x"),
        ),
    )
    assert sorted(digests(search(api, cve=LOG4SHELL))) == sorted([APP, OTHER])
    # and "fixed", later still, suppresses again
    push(
        api,
        wrap(
            OPENVEX,
            openvex(vex_statement(LOG4SHELL, "fixed", _oci(APP)), timestamp="2026-11-04T00:00:00Z"),
            digest("x"),
        ),
    )
    assert digests(search(api, cve=LOG4SHELL)) == [OTHER]


def test_a_statement_about_another_subcomponent_does_not_suppress(api: ApiHarness) -> None:
    api.env("k8s-east")
    push(api, log4shell_scan(APP))
    record(api, APP)
    product = {
        **_oci(APP),
        "subcomponents": [{"@id": "pkg:maven/org.apache.logging.log4j/log4j-api@2.14.1"}],
    }
    push(api, wrap(OPENVEX, openvex(vex_statement(LOG4SHELL, "not_affected", product)), APP))
    assert digests(search(api, cve=LOG4SHELL)) == [APP]
    product["subcomponents"] = [{"@id": f"{LOG4J}@2.14.1"}]
    push(
        api,
        wrap(
            OPENVEX,
            openvex(
                vex_statement(LOG4SHELL, "not_affected", product), timestamp="2026-11-05T00:00:00Z"
            ),
            APP,
        ),
    )
    assert search(api, cve=LOG4SHELL) == []


def test_real_vexctl_document_applies_to_its_attestations_subject(api: ApiHarness) -> None:
    """vexctl's template names `pkg:oci/vexctl` without a digest: the product is the subject."""
    api.env("k8s-east")
    cve = "CVE-2014-12345678"
    push(api, cosign_vuln(trivy_report((cve, LOG4J, "2.14.1", "HIGH")), APP))
    record(api, APP)
    assert digests(search(api, cve=cve)) == [APP]
    vex = push(api, wrap(OPENVEX, fixture("openvex/vexctl-oci.openvex.json"), APP))
    assert search(api, cve=cve) == []
    [hit] = search(api, cve=cve, include_suppressed=True)
    assert hit["matches"][0]["suppression"]["attestation"] == vex


def test_cyclonedx_analysis_in_the_scan_itself(api: ApiHarness) -> None:
    api.env("k8s-east")
    core = maven("org.apache.logging.log4j", "log4j-core", "2.14.1")
    bom = cyclonedx(
        core,
        vulnerabilities=[
            {
                "id": LOG4SHELL,
                "ratings": [{"severity": "critical"}],
                "affects": [{"ref": core["bom-ref"]}],
                "analysis": {"state": "not_affected", "justification": "code_not_reachable"},
            },
            {"id": "CVE-2021-45046", "affects": [{"ref": core["bom-ref"]}]},
        ],
    )
    sbom = push(api, wrap("https://cyclonedx.org/bom", bom, APP))
    record(api, APP)
    assert search(api, cve=LOG4SHELL) == []
    [hit] = search(api, cve=LOG4SHELL, include_suppressed=True)
    assert hit["matches"][0]["suppression"]["attestation"] == sbom
    assert digests(search(api, cve="CVE-2021-45046")) == [APP]
    assert digests(search(api, purl=LOG4J)) == [APP]  # VEX is about findings, not contents
