"""A sandbox for the policy tests: small limits so that safety tests finish quickly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deploytrace.policies import sandbox

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "policies"
CHAINLOOP = ROOT / "tests" / "data" / "policies" / "chainloop"


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[sandbox.Sandbox]:
    """The sandbox the services use during the tests (one per test process)."""
    box = sandbox.Sandbox(workers=2, time_limit=5.0)
    previous = sandbox.use(box)
    yield box
    sandbox.use(previous)
    box.close()


@pytest.fixture(autouse=True)
def _policies_use_the_test_sandbox(shared_sandbox: sandbox.Sandbox) -> None:
    """Every policy test goes through the session's sandbox."""


def policy_yaml(name: str, rego: str, *, kind: str | None = None, description: str = "") -> bytes:
    """A policy document with one entry; `rego` is the module (indented here)."""
    body = "\n".join("        " + line if line else "" for line in rego.strip("\n").splitlines())
    kind_line = f"      kind: {kind}\n" if kind else ""
    return (
        "apiVersion: workflowcontract.chainloop.dev/v1\n"
        "kind: Policy\n"
        "metadata:\n"
        f"  name: {name}\n"
        f"  description: {description or name}\n"
        "spec:\n"
        "  policies:\n"
        f"    - embedded: |\n{body}\n{kind_line}"
    ).encode()


HEAD = (
    "package main\n\nimport rego.v1\n\n"
    'result := {"skipped": false, "violations": violations, "skip_reason": ""}\n'
)


def rego(rules: str = "violations := set()", head: str = HEAD) -> str:
    """A module in package main whose `result` reports the `violations` that `rules` define."""
    return f"{head}\n{rules.strip()}\n"
