"""Chainloop policy documents: parse, check, and refuse what must not run.

A document is YAML (`apiVersion: workflowcontract.chainloop.dev/v1` or
Chainloop's newer `chainloop.dev/v1`, `kind: Policy`, `metadata.name`,
`spec.policies[]`), each entry holding `embedded` Rego and an optional
Chainloop `kind`. `parse` checks the structure; `check` compiles every entry
in the sandbox and refuses parse errors (with the engine's message and line),
modules without a `result` rule, and calls to network, environment or
Chainloop-only built-ins, as the compiler sees them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import yaml

from deploytrace.errors import InvalidInput
from deploytrace.policies.sandbox import CompileError, Module, Sandbox

MAX_BYTES = 256 * 1024
API_VERSIONS = ("workflowcontract.chainloop.dev/v1", "chainloop.dev/v1")
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_NAME = 63
MAX_DESCRIPTION = 4096

# Chainloop's material types (workflowcontract/v1 CraftingSchema.Material.MaterialType).
CHAINLOOP_KINDS = frozenset(
    (
        "STRING",
        "CONTAINER_IMAGE",
        "ARTIFACT",
        "SBOM_CYCLONEDX_JSON",
        "SBOM_SPDX_JSON",
        "JUNIT_XML",
        "OPENVEX",
        "HELM_CHART",
        "SARIF",
        "EVIDENCE",
        "ATTESTATION",
        "CSAF_VEX",
        "CSAF_INFORMATIONAL_ADVISORY",
        "CSAF_SECURITY_ADVISORY",
        "CSAF_SECURITY_INCIDENT_RESPONSE",
        "GITLAB_SECURITY_REPORT",
        "ZAP_DAST_ZIP",
        "BLACKDUCK_SCA_JSON",
        "TWISTCLI_SCAN_JSON",
        "GHAS_CODE_SCAN",
        "GHAS_SECRET_SCAN",
        "GHAS_DEPENDENCY_SCAN",
        "JACOCO_XML",
        "SLSA_PROVENANCE",
        "CHAINLOOP_RUNNER_CONTEXT",
        "CHAINLOOP_PR_INFO",
        "GITLEAKS_JSON",
        "CHAINLOOP_AI_AGENT_CONFIG",
        "CHAINLOOP_AI_CODING_SESSION",
        "OPENAPI_SPEC",
        "ASYNCAPI_SPEC",
        "GRAPHQL_SPEC",
        "YELP_DETECT_SECRETS_BASELINE",
        "SYSINTERNALS_SIGCHECK",
        "SYSINTERNALS_ACCESSCHK",
        "CERTCC_DRANZER",
        "OSSF_SCORECARD_JSON",
        "RADAMSA_REPORT",
        "RADAMSA_CRASHES",
        "TRUFFLEHOG_JSON",
        "COBERTURA_XML",
        "CHECKMARX_JSON",
    )
)

# Built-ins a policy may not call: they reach the network or read the process's
# environment (opa.runtime returns every environment variable), or exist only
# inside Chainloop. rego-cpp lacks http.send and net.*, so a call would fail
# anyway; refusing at `add` says so when it can still be fixed.
FORBIDDEN_BUILTINS = frozenset({"http.send", "opa.runtime"})
FORBIDDEN_PREFIXES = ("net.", "chainloop.")


@dataclass(frozen=True)
class Entry:
    """One `spec.policies[]` item."""

    index: int
    kind: str | None  # a Chainloop material type, or None: deploytrace's input document
    source: str
    package: str

    @property
    def module(self) -> Module:
        return Module(self.source, self.package)


@dataclass(frozen=True)
class PolicyDocument:
    name: str
    description: str
    entries: tuple[Entry, ...]
    args: dict[str, str]  # `spec.inputs` defaults, passed as `input.args` like Chainloop
    content: bytes
    digest: str  # "sha256:<hex>" of `content`


def parse(content: bytes) -> PolicyDocument:
    """The document in `content`, structure checked; the Rego is not compiled yet."""
    if len(content) > MAX_BYTES:
        raise InvalidInput(
            f"policy is {len(content)} bytes; the limit is {MAX_BYTES} bytes (256 KiB)"
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("policy is not UTF-8 text") from None
    doc = _load_yaml(text)
    if not isinstance(doc, dict):
        raise InvalidInput("policy must be a YAML mapping with apiVersion, kind, metadata, spec")
    api_version = doc.get("apiVersion")
    if api_version not in API_VERSIONS:
        raise InvalidInput(
            f"apiVersion must be {' or '.join(API_VERSIONS)}, got {_show(api_version)}"
        )
    if doc.get("kind") != "Policy":
        raise InvalidInput(f"kind must be Policy, got {_show(doc.get('kind'))}")
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        raise InvalidInput("metadata must be a mapping with a name")
    name = metadata.get("name")
    if not isinstance(name, str) or len(name) > MAX_NAME or not NAME.match(name):
        raise InvalidInput(
            f"metadata.name must be a DNS-1123 label (lowercase letters, digits and '-', "
            f"1-{MAX_NAME} characters), got {_show(name)}"
        )
    description = metadata.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"metadata.description must be text of at most {MAX_DESCRIPTION} chars")
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise InvalidInput("spec must be a mapping with policies")
    entries = tuple(_entries(spec))
    return PolicyDocument(
        name=name,
        description=description,
        entries=entries,
        args=_args(spec.get("inputs")),
        content=content,
        digest="sha256:" + hashlib.sha256(content).hexdigest(),
    )


def check(document: PolicyDocument, sandbox: Sandbox) -> None:
    """Compile every entry; InvalidInput naming the entry and the rule it breaks."""
    for entry in document.entries:
        where = f"spec.policies[{entry.index}]"
        try:
            found = sandbox.inspect(entry.module)
        except CompileError as error:
            at = f" at line {error.line}, column {error.column}" if error.line else ""
            raise InvalidInput(f"{where}: Rego does not compile{at}: {error.message}") from None
        bad = sorted(n for n in found.builtins if forbidden(n))
        if bad:
            raise InvalidInput(
                f"{where} calls {', '.join(bad)}: network, environment and Chainloop-only "
                "built-ins are not allowed in deploytrace policies"
            )
        if found.unknown:
            raise InvalidInput(
                f"{where} calls {', '.join(found.unknown)}, which the Rego engine does not have"
            )
        wanted = (*segments(entry.package), "result")
        if wanted not in found.rules:
            raise InvalidInput(
                f"{where}: package {entry.package} defines no `result` rule "
                "(the policy's answer: {violations, skipped, skip_reason})"
            )


def load(content: bytes, sandbox: Sandbox) -> PolicyDocument:
    document = parse(content)
    check(document, sandbox)
    return document


def forbidden(builtin: str) -> bool:
    return builtin in FORBIDDEN_BUILTINS or builtin.startswith(FORBIDDEN_PREFIXES)


class _NoAliases(yaml.SafeLoader):
    """YAML aliases can multiply a small file into a huge document: a policy needs none."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("aliases (*name) are not allowed in a policy")
        return super().compose_node(parent, index)


def _load_yaml(text: str) -> Any:
    try:
        documents = list(yaml.load_all(text, Loader=_NoAliases))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise InvalidInput(f"policy is not valid YAML{at}: {problem}") from None
    except RecursionError:
        raise InvalidInput("policy is not valid YAML: nested too deeply") from None
    documents = [d for d in documents if d is not None]
    if len(documents) != 1:
        raise InvalidInput(f"a policy file holds one YAML document, found {len(documents)}")
    return documents[0]


def _entries(spec: dict[str, Any]) -> list[Entry]:
    raw = spec.get("policies")
    if raw is None and ("embedded" in spec or "path" in spec):
        # Chainloop's first format: one module in spec.embedded, its kind in spec.type.
        raw = [{"embedded": spec.get("embedded"), "path": spec.get("path")}]
        raw[0]["kind"] = spec.get("type")
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("spec.policies must be a non-empty list of {kind?, embedded}")
    entries = []
    for index, item in enumerate(raw):
        where = f"spec.policies[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where} must be a mapping with `embedded` Rego")
        source = item.get("embedded")
        if source is None:
            other = "path" if item.get("path") else "ref" if item.get("ref") else None
            if other:
                raise InvalidInput(
                    f"{where} uses `{other}`: deploytrace stores self-contained policies, "
                    "put the Rego in `embedded`"
                )
            raise InvalidInput(f"{where} has no `embedded` Rego")
        if not isinstance(source, str) or not source.strip():
            raise InvalidInput(f"{where}.embedded must be Rego source text")
        kind = item.get("kind")
        if kind is not None:
            if not isinstance(kind, str) or kind.upper() not in CHAINLOOP_KINDS:
                raise InvalidInput(
                    f"{where}.kind {_show(kind)} is not a Chainloop material type "
                    "(e.g. ATTESTATION, SBOM_CYCLONEDX_JSON, SBOM_SPDX_JSON)"
                )
            kind = kind.upper()
        entries.append(Entry(index, kind, source, package_of(source, where)))
    return entries


def _args(raw: Any) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise InvalidInput("spec.inputs must be a list of {name, default?}")
    args = {}
    for index, item in enumerate(raw):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not re.match(r"^[a-zA-Z][a-zA-Z0-9_]*$", name):
            raise InvalidInput(f"spec.inputs[{index}].name must be an identifier")
        default = item.get("default")
        if default is not None:
            args[name] = str(default)
        elif item.get("required"):
            raise InvalidInput(
                f"spec.inputs[{index}] ({name}) is required and has no default: deploytrace "
                "passes no arguments to policies, give it a default"
            )
    return args


# A package clause: `package a.b` or `package a["b-c"]`, after comments and blank lines.
_COMMENT_OR_SPACE = re.compile(r"(?:\s+|#[^\n]*)*")
_PACKAGE = re.compile(
    r'package[ \t]+([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\["[^"\\\n]*"\])*)'
)


def package_of(source: str, where: str = "module") -> str:
    """The module's package path as written (`main`, `chainloop.policies.x`)."""
    start = _COMMENT_OR_SPACE.match(source)
    match = _PACKAGE.match(source, start.end() if start else 0)
    if match is None:
        raise InvalidInput(f"{where}: Rego must start with a `package` clause")
    return match.group(1)


def segments(package: str) -> list[str]:
    """`a.b["c-d"]` -> ["a", "b", "c-d"]."""
    return [m.group(1) or m.group(2) for m in _SEGMENT.finditer(package)]


_SEGMENT = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)|\["([^"\\\n]*)"\]')


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
