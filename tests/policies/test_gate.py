"""The gate the record path calls: check, check_many, the record's "policy", the refusal.

Runs the shipped examples and Chainloop's own published policies, unchanged,
against real attestations, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from deploytrace.api.errors import status_of
from deploytrace.cli.main import exit_code
from deploytrace.errors import PolicyViolation
from deploytrace.services import policies, tenancy
from deploytrace.services.context import Actor
from deploytrace.services.policies import Target
from deploytrace.storage.db import Database
from tests.policies.conftest import CHAINLOOP, EXAMPLES, policy_yaml, rego
from tests.support.api import ApiHarness
from tests.support.digests import digest
from tests.support.statements import corpus, statement

# Subjects of real attestations in tests/data/attestations.
RULES_LINT = "sha256:1636f443b01c9ee310ee5834956d0dce374c3d3bf8d4cebc9f6b86f8304b4982"
SIGSTORE_JS = (
    "sha512:90f223f992e4c88dd068cd2a5fc57f9d2b30798343dd6e38f29c240e04ba090e"
    "f831f84490847c4e82b9232c78e8a258463b1e55c0f7469f730265008fa6633f"
)
CENTOS = "sha256:be65f488b7764ad3638f236b7b515b3678369a5124c47b8d32916d6487418ea4"
DEMO_SBOM = "sha256:ea9c657ca44371fadd027510f2a1a68b799003294bf6a4827827971cc4390ad4"
CHAINLOOP_HELM = "sha256:7cbbda1e5ab71fef561c0f123f5f584c8e0de523d4da80379599ce7a05c04c1f"


@pytest.fixture
def gate(api: ApiHarness) -> ApiHarness:
    api.env("k8s-east")
    return api


def _actor(api: ApiHarness) -> Actor:
    return tenancy.authenticate(api.db, f"Bearer {api.token}")


def _add(
    api: ApiHarness, content: bytes, *, mode: str = "enforce", lenv: str = "production"
) -> str:
    r = api.request(
        "POST", "/v1/policies", content=content, headers={"content-type": "application/yaml"}
    )
    assert r.status in (200, 201), r.body
    name = str(r.json()["name"])
    a = api.post(f"/v1/policies/{name}/attachments", {"logical_environment": lenv, "mode": mode})
    assert a.status in (200, 201), a.body
    return name


def _target(d: str, lenv: str = "production", kind: str = "CONTAINER_IMAGE", **kw: Any) -> Target:
    return Target(
        digest=d,
        kind=kind,
        environment="k8s-east",
        logical_environment=lenv,
        deployment_name=kw.pop("deployment_name", "api-server"),
        **kw,
    )


def _check(api: ApiHarness, d: str, **kw: Any) -> policies.Decision:
    return policies.check(api.db, _actor(api), _target(d, **kw))


# The decision and what a record stores ----------------------------------------------


def test_nothing_attached_is_none(gate: ApiHarness) -> None:
    decision = _check(gate, digest("x"))
    assert (decision.status, decision.enforced, decision.results) == ("none", False, ())
    assert policies.record_policy(decision) == {"status": "none"}


def test_an_enforce_violation_refuses_with_policy_and_message(gate: ApiHarness) -> None:
    _add(gate, policy_yaml("first", rego('violations := {"needs a review"}')))
    _add(gate, policy_yaml("second", rego('violations := {"needs an SBOM", "needs a signature"}')))
    _add(gate, policy_yaml("fine", rego()))
    decision = _check(gate, digest("x"))
    assert decision.status == "violated"
    assert decision.enforced
    assert [(v.policy, v.version, v.message, v.mode) for v in decision.violations] == [
        ("first", 1, "needs a review", "enforce"),
        ("second", 1, "needs a signature", "enforce"),
        ("second", 1, "needs an SBOM", "enforce"),
    ]
    error = decision.refusal()
    assert isinstance(error, PolicyViolation)
    assert error.code == "policy_violation"
    assert status_of(error) == 422
    assert exit_code(error) == 8
    assert error.message == (
        "refused by policy: first v1: needs a review; second v1: needs a signature; "
        "second v1: needs an SBOM"
    )
    with pytest.raises(PolicyViolation):
        decision.raise_if_enforced()
    assert policies.record_policy(decision, ("alice", "hotfix for incident 42")) == {
        "status": "violated",
        "violations": [
            {"policy": "first", "version": 1, "message": "needs a review"},
            {"policy": "second", "version": 1, "message": "needs a signature"},
            {"policy": "second", "version": 1, "message": "needs an SBOM"},
        ],
        "override": {"by": "alice", "reason": "hotfix for incident 42"},
    }


def test_an_advisory_violation_is_recorded_not_refused(gate: ApiHarness) -> None:
    _add(gate, policy_yaml("advice", rego('violations := {"consider an SBOM"}')), mode="advisory")
    decision = _check(gate, digest("x"))
    assert (decision.status, decision.enforced) == ("violated", False)
    decision.raise_if_enforced()
    assert policies.record_policy(decision) == {
        "status": "violated",
        "violations": [{"policy": "advice", "version": 1, "message": "consider an SBOM"}],
    }


def test_passed_and_skipped(gate: ApiHarness) -> None:
    skipping = rego().replace('"skipped": false', '"skipped": true')
    _add(gate, policy_yaml("skips", skipping))
    assert _check(gate, digest("x")).status == "skipped"
    _add(gate, policy_yaml("passes", rego()))
    decision = _check(gate, digest("x"))
    assert decision.status == "passed"
    assert policies.record_policy(decision) == {"status": "passed"}


@pytest.mark.parametrize(
    ("module", "why"),
    [
        ("package main\nimport rego.v1\nresult := 1\n", "`result` must be an object"),
        ('package main\nimport rego.v1\nresult := {"violations": "no"}\n', "must be a list"),
        ('package main\nimport rego.v1\nresult := {"violations": [1]}\n', "holds a number"),
        ('package main\nimport rego.v1\nresult := {"skipped": "yes"}\n', "must be a boolean"),
        (
            'package main\nimport rego.v1\nresult := {"violations": []} if input.nothing\n',
            "`result` is undefined",
        ),
        (
            'package main\nimport rego.v1\nresult := {"violations": []} if '
            'time.parse_rfc3339_ns("soon") > 0\n',
            "Unable to parse time",
        ),
    ],
)
def test_a_malformed_result_or_an_engine_error_is_a_violation(
    gate: ApiHarness, module: str, why: str
) -> None:
    _add(gate, policy_yaml("broken", module))
    decision = _check(gate, digest("x"))
    assert decision.enforced
    assert why in decision.violations[0].message


def test_an_environment_attachment_applies_there_only(gate: ApiHarness) -> None:
    gate.env("k8s-west")
    gate.request(
        "POST",
        "/v1/policies",
        content=policy_yaml("west-only", rego('violations := {"no"}')),
        headers={"content-type": "application/yaml"},
    )
    gate.post(
        "/v1/policies/west-only/attachments",
        {"logical_environment": "production", "environment": "k8s-west"},
    )
    assert _check(gate, digest("x")).status == "none"
    west = policies.check(
        gate.db,
        _actor(gate),
        Target(digest("x"), "CONTAINER_IMAGE", "k8s-west", "production", "api-server"),
    )
    assert west.enforced


def test_check_many_reads_in_few_queries_and_decides_per_workload(gate: ApiHarness) -> None:
    module = rego(
        'violations contains "no SBOM" if not has_sbom\n'
        "has_sbom if {\n    some a in input.attestations\n"
        '    a.predicate_type == "https://cyclonedx.org/bom"\n}'
    )
    _add(gate, policy_yaml("sbom-required", module))
    targets = []
    for i in range(12):
        d = digest(f"workload {i}")
        kind = "https://cyclonedx.org/bom" if i % 3 == 0 else "https://slsa.dev/provenance/v1"
        gate.push(statement(d, predicate_type=kind))
        targets.append(_target(d, deployment_name=f"app-{i}"))
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    event.listen(gate.db.engine, "before_cursor_execute", count)
    try:
        decisions = policies.check_many(gate.db, _actor(gate), "k8s-east", "production", targets)
    finally:
        event.remove(gate.db.engine, "before_cursor_execute", count)
    assert [d.status for d in decisions] == [
        "passed" if i % 3 == 0 else "violated" for i in range(12)
    ]
    # Policies, attestations, deployments: the same few queries for 1 or 1,000 workloads.
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(reads) <= 4, reads


def test_check_many_without_policies_is_one_query_and_no_evaluation(gate: ApiHarness) -> None:
    targets = [_target(digest(i), deployment_name=f"app-{i}") for i in range(5)]
    decisions = policies.check_many(gate.db, _actor(gate), "k8s-east", "production", targets)
    assert [d.status for d in decisions] == ["none"] * 5


def test_check_many_refuses_mixed_places(gate: ApiHarness) -> None:
    from deploytrace.errors import InvalidInput

    with pytest.raises(InvalidInput):
        policies.check_many(
            gate.db, _actor(gate), "k8s-east", "production", [_target(digest(1), "staging")]
        )


# The shipped examples -----------------------------------------------------------------


def _example(name: str) -> bytes:
    return (EXAMPLES / f"{name}.yaml").read_bytes()


def test_example_slsa_signed(gate: ApiHarness) -> None:
    # Real Sigstore bundles: rules_lint's provenance verifies (bazel-contrib's release
    # workflow); sigstore-js's does not verify against the public-good root here.
    gate.push(corpus("slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl"))
    gate.push(corpus("gh-cli/sigstore-js-2.1.0-bundle.json"))
    _add(gate, _example("slsa-signed"))
    assert _check(gate, RULES_LINT).status == "passed"
    refused = _check(gate, SIGSTORE_JS)
    assert refused.enforced
    assert "no SLSA provenance is signed by an identity matching" in refused.violations[0].message
    assert "unverified" in refused.violations[0].message
    unattested = _check(gate, digest("nothing"))
    assert [v.message for v in unattested.violations] == [
        "no SLSA provenance attests this artifact"
    ]
    # Another organization's workflow identity: the same signed provenance is refused.
    other = _example("slsa-signed").replace(b"bazel-contrib/", b"my-org/")
    _add(gate, other)
    assert _check(gate, RULES_LINT).enforced


def test_example_sbom_present(gate: ApiHarness) -> None:
    gate.push(corpus("trivy/sigstore-bundle.json"))
    gate.push(corpus("slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl"))
    _add(gate, _example("sbom-present"))
    assert _check(gate, DEMO_SBOM).status == "passed"
    assert [v.message for v in _check(gate, RULES_LINT).violations] == [
        "no CycloneDX SBOM is attested for this artifact"
    ]


def test_example_promotion(gate: ApiHarness) -> None:
    _add(gate, _example("promotion"), lenv="production")
    _add(gate, _example("promotion"), lenv="staging")
    _add(gate, _example("promotion"), lenv="development")
    promoted, skipped_staging = digest("promoted"), digest("straight to production")
    # Staging is gated too: the digest runs in development (the first stage) first.
    refused_staging = gate.record(digest=promoted, logical_environment="staging")
    assert refused_staging.status == 422 and refused_staging.error_code == "policy_violation"
    assert gate.record(digest=promoted, logical_environment="development").status == 201
    assert gate.record(digest=promoted, logical_environment="staging").status == 201
    gate.attest(skipped_staging)
    assert _check(gate, promoted).status == "passed"
    refused = _check(gate, skipped_staging)
    assert [v.message for v in refused.violations] == ["not deployed in staging before production"]
    first = _check(gate, skipped_staging, lenv="development")
    assert first.status == "skipped"
    assert first.results[0].skip_reasons == ("development is the first logical environment",)


def test_example_promotion_is_skipped_outside_the_order(gate: ApiHarness) -> None:
    r = gate.post("/v1/logical-environments", {"name": "qa"})
    assert r.status == 201
    _add(gate, _example("promotion"), lenv="qa")
    decision = _check(gate, digest("x"), lenv="qa")
    assert decision.status == "skipped"
    assert decision.results[0].skip_reasons == ("qa is not in the promotion order",)


def test_deployed_in_lists_every_earlier_place_once(gate: ApiHarness) -> None:
    gate.env("k8s-west")
    d = digest("seen")
    gate.record(digest=d, logical_environment="staging")
    gate.record(digest=d, logical_environment="staging", environment="k8s-west")
    gate.record(digest=d, logical_environment="staging", deployment_name="second-slot")
    echo = rego(
        'violations := {sprintf("%s/%s", [p.environment, p.logical_environment]) |'
        " some p in input.deployed_in}"
    )
    _add(gate, policy_yaml("echo", echo))
    assert sorted(v.message for v in _check(gate, d).violations) == [
        "k8s-east/staging",
        "k8s-west/staging",
    ]


def test_the_input_document_has_the_fields_of_the_spec(gate: ApiHarness) -> None:
    gate.push(corpus("slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl"))
    echo = rego(
        "violations := {json.marshal([object.keys(input), object.keys(input.artifact),"
        " object.keys(input.deployment), object.keys(input.attestations[0]),"
        " object.keys(input.attestations[0].verification),"
        " input.attestations[0].statement.predicateType, input.artifact.name])}"
    )
    _add(gate, policy_yaml("echo", echo))
    decision = _check(gate, RULES_LINT, artifact_name="rules_lint", artifact_version="v1.3.1")
    import json

    keys = json.loads(decision.violations[0].message)
    assert keys == [
        ["artifact", "attestations", "deployed_in", "deployment"],
        ["digest", "kind", "name", "version"],
        ["deployment_name", "environment", "logical_environment"],
        [
            "created_at",
            "digest",
            "predicate_type",
            "project",
            "project_version",
            "statement",
            "verification",
            "workflow",
        ],
        ["identity", "method", "status"],
        "https://slsa.dev/provenance/v1",
        "rules_lint",
    ]


def test_times_written_with_z_parse(gate: ApiHarness) -> None:
    # rego-cpp alone cannot parse "…Z"; created_at is written so, as RFC 3339 allows.
    gate.attest(d := digest("x"))
    module = rego(
        'violations := {sprintf("%d", [count([a | some a in input.attestations;'
        " time.parse_rfc3339_ns(a.created_at) > 0])])}"
    )
    _add(gate, policy_yaml("times", module))
    assert [v.message for v in _check(gate, d).violations] == ["1"]


# Chainloop's own policies, unchanged ------------------------------------------------


def _chainloop(name: str) -> bytes:
    return (CHAINLOOP / f"{name}.yaml").read_bytes()


def test_chainloop_attestation_policies_run_unchanged(gate: ApiHarness) -> None:
    gate.push(corpus("chainloop/statement.json"))
    gate.push(corpus("trivy/centos-7-cyclonedx.intoto.jsonl"))
    _add(gate, _chainloop("chainloop-commit"))
    _add(gate, _chainloop("sbom-present"))
    # Chainloop's attestation has a git.head subject and SBOM materials.
    passed = _check(gate, CHAINLOOP_HELM, kind="HELM_CHART")
    assert passed.status == "passed", passed.violations
    assert [r.runs[0].kind for r in passed.results] == ["ATTESTATION", "ATTESTATION"]
    # trivy's CycloneDX attestation has neither.
    refused = _check(gate, CENTOS)
    assert [(v.policy, v.message) for v in refused.violations] == [
        ("chainloop-commit", "missing commit in attestation material"),
        ("sbom-present", "missing SBOM material"),
    ]


def test_chainloop_sbom_policies_run_unchanged_on_cyclonedx_predicates(gate: ApiHarness) -> None:
    gate.push(corpus("trivy/centos-7-cyclonedx.intoto.jsonl"))
    gate.push(corpus("trivy/sigstore-bundle.json"))
    _add(gate, _chainloop("sbom-freshness"))
    _add(gate, _chainloop("cyclonedx-banned-packages"))
    _add(gate, _chainloop("cyclonedx-licenses"))
    decision = _check(gate, CENTOS)
    by_policy = {r.policy: r for r in decision.results}
    # time.parse_rfc3339_ns on the SBOM's timestamp, spec.inputs passed as input.args.
    freshness = by_policy["sbom-freshness"]
    assert freshness.status == "violated"
    assert freshness.violations[0].startswith("SBOM created at 2022-")
    assert freshness.violations[0].endswith("is too old (age limit: 30 days)")
    # No log4j in CentOS 7's SBOM (semver.compare is only reached on a name match).
    assert by_policy["cyclonedx-banned-packages"].status == "passed"
    # The OS component ("centos") has neither licenses nor a purl. (OPA would print
    # "for " + nothing; rego-cpp prints the empty concat() result quoted.)
    licenses = by_policy["cyclonedx-licenses"]
    assert licenses.status == "violated"
    assert licenses.violations[0].startswith("Missing licenses for")
    assert all(run.kind == "SBOM_CYCLONEDX_JSON" for r in decision.results for run in r.runs)


def test_a_chainloop_kind_with_no_such_content_is_skipped(gate: ApiHarness) -> None:
    gate.push(corpus("slsa-verifier/rules_lint-v1.3.1.tar.gz.intoto.jsonl"))
    _add(gate, _chainloop("cyclonedx-licenses"))
    decision = _check(gate, RULES_LINT)
    assert decision.status == "skipped"
    assert decision.results[0].skip_reasons == ("no SBOM_CYCLONEDX_JSON content for this artifact",)


def test_the_published_files_are_stored_unchanged() -> None:
    sources = (CHAINLOOP.parent / "SOURCES.md").read_text()
    for path in sorted(Path(CHAINLOOP).glob("*.yaml")):
        assert path.name in sources


def test_check_is_org_scoped(gate: ApiHarness, db: Database) -> None:
    _add(gate, policy_yaml("acme-only", rego('violations := {"acme"}')))
    org, _ = tenancy.bootstrap(db, "globex")
    other = Actor(org_id=org.id, org_name=org.name, name="ci", role=tenancy.Role.WRITER)
    decision = policies.check(db, other, _target(digest("x")))
    assert decision.status == "none"
