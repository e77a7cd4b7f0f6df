"""Policy documents: structure, size, YAML safety, and what the compiler refuses at `add`."""

from __future__ import annotations

import pytest

from deploytrace.errors import InvalidInput
from deploytrace.policies import document
from deploytrace.policies.sandbox import Sandbox
from tests.policies.conftest import CHAINLOOP, HEAD, policy_yaml, rego


def test_a_minimal_document_parses() -> None:
    doc = document.parse(policy_yaml("sbom-required", rego(), description="needs an SBOM"))
    assert doc.name == "sbom-required"
    assert doc.description == "needs an SBOM"
    assert [(e.index, e.kind, e.package) for e in doc.entries] == [(0, None, "main")]
    assert doc.digest.startswith("sha256:")


def test_both_chainloop_api_versions_are_accepted() -> None:
    text = policy_yaml("p", rego()).replace(
        b"workflowcontract.chainloop.dev/v1", b"chainloop.dev/v1"
    )
    assert document.parse(text).name == "p"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"apiVersion: v1\nkind: Policy\n", "apiVersion must be"),
        (b"- a\n- b\n", "must be a YAML mapping"),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Contract\nmetadata: {name: x}\nspec: {}\n",
            "kind must be Policy",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: Bad_Name}\nspec: {}\n",
            "metadata.name must be a DNS-1123 label",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec: {policies: []}\n",
            "spec.policies must be a non-empty list",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec: {policies: [{path: policy.rego}]}\n",
            "uses `path`",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec: {policies: [{ref: 'chainloop://sbom'}]}\n",
            "uses `ref`",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec: {policies: [{kind: NOPE, embedded: 'package main'}]}\n",
            "is not a Chainloop material type",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec: {policies: [{embedded: 'import rego.v1'}]}\n",
            "must start with a `package` clause",
        ),
        (
            b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
            b"spec:\n  inputs: [{name: limit, required: true}]\n"
            b"  policies: [{embedded: 'package main'}]\n",
            "is required and has no default",
        ),
        (b"a: [1, 2\n", "not valid YAML at line"),
        (b"\xff\xfe", "not UTF-8"),
        (b"a: 1\n---\nb: 2\n", "one YAML document"),
    ],
)
def test_malformed_documents_are_refused_with_the_rule_named(text: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        document.parse(text)


def test_a_policy_over_256_kib_is_refused() -> None:
    padding = "# " + "x" * 200 + "\n"
    big = rego() + padding * (300 * 1024 // len(padding))
    content = policy_yaml("big", big)
    assert len(content) > 256 * 1024
    with pytest.raises(InvalidInput, match="the limit is 262144 bytes"):
        document.parse(content)


def test_yaml_aliases_are_refused() -> None:
    bomb = (
        b"apiVersion: chainloop.dev/v1\nkind: Policy\nmetadata: {name: x}\n"
        b"a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
        b"spec: {policies: [{embedded: 'package main'}]}\n"
    )
    with pytest.raises(InvalidInput, match="aliases"):
        document.parse(bomb)


@pytest.mark.parametrize(
    ("source", "package"),
    [
        ("package main\n", "main"),
        (
            "# a comment\n\n  # another\npackage chainloop.policies.sbom\n",
            "chainloop.policies.sbom",
        ),
        ('package deploytrace["sbom-required"]\n', 'deploytrace["sbom-required"]'),
    ],
)
def test_the_package_is_read_after_comments(source: str, package: str) -> None:
    assert document.package_of(source) == package
    assert document.segments('a.b["c-d"]') == ["a", "b", "c-d"]


def test_legacy_single_module_spec_is_read() -> None:
    text = (
        b"apiVersion: workflowcontract.chainloop.dev/v1\nkind: Policy\nmetadata: {name: old}\n"
        b"spec:\n  type: SBOM_CYCLONEDX_JSON\n  embedded: |\n    package main\n"
    )
    doc = document.parse(text)
    assert [(e.kind, e.package) for e in doc.entries] == [("SBOM_CYCLONEDX_JSON", "main")]


# What the compiler refuses -----------------------------------------------------------


def _load(sandbox: Sandbox, module: str, **kw: str) -> document.PolicyDocument:
    return document.load(policy_yaml("p", module, **kw), sandbox)


def test_a_parse_error_names_the_engine_message_and_line(shared_sandbox: Sandbox) -> None:
    broken = HEAD + '\nviolations contains msg if {\n    msg := "x" +\n}\n'
    with pytest.raises(InvalidInput) as caught:
        _load(shared_sandbox, broken)
    message = caught.value.message
    assert message.startswith("spec.policies[0]: Rego does not compile at line 8, column 16")
    assert "Invalid arithmetic operator" in message


def test_an_unclosed_brace_is_located(shared_sandbox: Sandbox) -> None:
    with pytest.raises(InvalidInput, match=r"at line 4, column 11: this is unclosed"):
        _load(shared_sandbox, 'package main\nimport rego.v1\n\nresult := {\n  "a": \n')


def test_a_module_without_result_is_refused(shared_sandbox: Sandbox) -> None:
    with pytest.raises(InvalidInput, match="defines no `result` rule"):
        _load(shared_sandbox, "package main\n\nimport rego.v1\n\nallow := true\n")


@pytest.mark.parametrize(
    ("rules", "refused"),
    [
        ('violations contains "x" if http.send({"method": "get", "url": "http://a"})', "http.send"),
        ("violations contains x if { x := opa.runtime().env.HOME }", "opa.runtime"),
        (
            'violations contains "x" if net.cidr_contains("10.0.0.0/8", "10.0.0.1")',
            "net.cidr_contains",
        ),
        ('violations contains "x" if net.lookup_ip_addr("example.com")', "net.lookup_ip_addr"),
        ('violations contains "x" if chainloop.evaluate("x", {})', "chainloop.evaluate"),
        # In a rule `result` never reaches, and in a function nobody calls.
        ("violations := set()\nunused if http.send({})", "http.send"),
        ("violations := set()\nenv(x) := opa.runtime()", "opa.runtime"),
        # As the value a `with` puts in place of another built-in.
        ("violations := {x | x := count([1]) with count as http.send}", "http.send"),
        # Inside a comprehension of a default.
        (
            'default violations := set()\nviolations := {sprintf("%v", [r]) | '
            'r := net.lookup_ip_addr("a")}',
            "net.lookup_ip_addr",
        ),
    ],
)
def test_network_environment_and_chainloop_builtins_are_refused(
    shared_sandbox: Sandbox, rules: str, refused: str
) -> None:
    with pytest.raises(InvalidInput, match=rf"calls {refused}.*not allowed"):
        _load(shared_sandbox, rego(rules))


@pytest.mark.parametrize(
    "rules",
    [
        # The names as text: in strings, raw strings and comments.
        'violations := {"http.send(x)", `opa.runtime()`}  # net.lookup_ip_addr("a")',
        # A rule of the policy's own called like a built-in prefix.
        "violations := {x | some x in network}\nnetwork := []",
        # A `with` that replaces the network call by something harmless.
        'violations := {x | x := http_send_like(1) }\nhttp_send_like(v) := sprintf("%d", [v])',
        # time.now_ns and friends are fine (Chainloop's own policies use them).
        'violations := {x | time.now_ns() < 0; x := "never"}',
    ],
)
def test_names_that_only_look_like_forbidden_builtins_are_accepted(
    shared_sandbox: Sandbox, rules: str
) -> None:
    _load(shared_sandbox, rego(rules))


def test_a_function_the_engine_does_not_have_is_refused(shared_sandbox: Sandbox) -> None:
    with pytest.raises(InvalidInput, match=r"calls made_up\.check, which the Rego engine does not"):
        _load(shared_sandbox, rego('violations contains "x" if made_up.check(1)'))


def test_chainloops_network_policy_is_refused_at_add(shared_sandbox: Sandbox) -> None:
    content = (CHAINLOOP / "http-hostname-validation.yaml").read_bytes()
    with pytest.raises(InvalidInput, match=r"calls http\.send"):
        document.load(content, shared_sandbox)
