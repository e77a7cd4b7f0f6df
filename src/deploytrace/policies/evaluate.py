"""From attached policies and facts to a `Decision`: run, read `result`, fail closed.

A policy's `result` must be `{"violations": [...], "skipped": bool,
"skip_reason": str}`. Like Chainloop, a missing `skipped` is false, a missing
`skip_reason` is empty, missing `violations` means none, and a violation may
be a string or an object with a `message` (Chainloop's structured violations,
also under `findings`). Anything else, an undefined `result`, an engine error,
a timeout or a crashed worker is a violation, never a pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deploytrace.errors import PolicyViolation
from deploytrace.policies import inputs

if TYPE_CHECKING:  # the engine's modules load only when a policy is evaluated
    from deploytrace.policies.document import PolicyDocument
    from deploytrace.policies.sandbox import Outcome, Sandbox, Task

PASSED = "passed"
SKIPPED = "skipped"
VIOLATED = "violated"
NONE = "none"
ENFORCE = "enforce"
ADVISORY = "advisory"
MODES = (ENFORCE, ADVISORY)
MAX_MESSAGE = 1024  # characters of one violation message
MAX_VIOLATIONS = 100  # per policy; the rest are counted
MAX_IN_ERROR = 10  # violations spelled out in a refusal's one-line message


@dataclass(frozen=True)
class Attached:
    """One policy version attached where the target deploys, and how strictly."""

    name: str
    version: int
    mode: str
    document: PolicyDocument


@dataclass(frozen=True)
class Run:
    """One evaluation of one entry against one input."""

    entry: int
    kind: str | None
    subject: str | None  # for a Chainloop kind: which content it ran on
    status: str
    violations: tuple[str, ...] = ()
    skip_reason: str = ""
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status,
            "violations": list(self.violations),
            "skip_reason": self.skip_reason,
            "error": self.error,
        }


@dataclass(frozen=True)
class PolicyResult:
    policy: str
    version: int
    mode: str
    status: str  # passed | skipped | violated
    violations: tuple[str, ...]
    skip_reasons: tuple[str, ...]
    runs: tuple[Run, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "version": self.version,
            "mode": self.mode,
            "status": self.status,
            "violations": list(self.violations),
            "skip_reasons": list(self.skip_reasons),
            "runs": [r.to_json() for r in self.runs],
        }


@dataclass(frozen=True)
class Violation:
    policy: str
    version: int
    message: str
    mode: str


@dataclass(frozen=True)
class Decision:
    """The verdict of every policy attached where a target deploys.

    `status`: `none` (nothing attached), `violated` (any policy, either mode),
    `skipped` (every policy skipped), else `passed`. `enforced` is True when an
    `enforce` policy is violated: the deployment must be refused.
    """

    status: str
    results: tuple[PolicyResult, ...] = field(default=())

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(
            Violation(r.policy, r.version, message, r.mode)
            for r in self.results
            for message in r.violations
        )

    @property
    def enforced(self) -> bool:
        return any(r.status == VIOLATED and r.mode == ENFORCE for r in self.results)

    def refusal(self) -> PolicyViolation:
        """The error that refuses the deployment: names each enforce policy and violation."""
        enforced = [v for v in self.violations if v.mode == ENFORCE]
        parts = [f"{v.policy} v{v.version}: {v.message}" for v in enforced[:MAX_IN_ERROR]]
        if len(enforced) > MAX_IN_ERROR:
            parts.append(f"and {len(enforced) - MAX_IN_ERROR} more")
        return PolicyViolation("refused by policy: " + "; ".join(parts), enforced)

    def raise_if_enforced(self) -> None:
        if self.enforced:
            raise self.refusal()

    def to_json(self) -> dict[str, Any]:
        """Every policy's result (the answer of `policy evaluate`)."""
        return {
            "status": self.status,
            "enforced": self.enforced,
            "results": [r.to_json() for r in self.results],
        }


NO_POLICY = Decision(NONE)


def record_policy(decision: Decision, override: tuple[str, str] | None = None) -> dict[str, Any]:
    """What a deployment record stores under `"policy"` (SPEC §9).

    `{"status": "passed" | "skipped" | "none"}`, or `{"status": "violated",
    "violations": [{policy, version, message}]}`; with `override = (by, reason)`
    (an admin recorded despite an enforce violation) also `"override": {by, reason}`.
    """
    value: dict[str, Any] = {"status": decision.status}
    if decision.status == VIOLATED:
        value["violations"] = [
            {"policy": v.policy, "version": v.version, "message": v.message}
            for v in decision.violations
        ]
    if override is not None:
        value["override"] = {"by": override[0], "reason": override[1]}
    return value


def evaluate(
    attached: Sequence[Attached], facts: Sequence[inputs.Facts], sandbox: Sandbox
) -> list[Decision]:
    """One Decision per element of `facts`, every attached policy evaluated for each."""
    if not attached:
        return [NO_POLICY for _ in facts]
    plan = _Plan()
    # planned[target][policy] = list of (entry, kind, subject, task position or skip reason)
    planned: list[list[list[tuple[int, str | None, str | None, int | str]]]] = []
    for fact in facts:
        own_inputs: dict[tuple[tuple[str, str], ...], int] = {}  # by args
        per_policy = []
        for policy in attached:
            steps: list[tuple[int, str | None, str | None, int | str]] = []
            for entry in policy.document.entries:
                if entry.kind is None:
                    args = policy.document.args
                    key = tuple(sorted(args.items()))
                    if key not in own_inputs:
                        own_inputs[key] = plan.add_input(inputs.document(fact, args))
                    steps.append((entry.index, None, None, plan.add_task(entry, own_inputs[key])))
                    continue
                found = inputs.contents(entry.kind, fact, policy.document.args)
                if not found:
                    reason = f"no {entry.kind} content for this artifact"
                    steps.append((entry.index, entry.kind, None, reason))
                for content in found:
                    position = plan.add_task(entry, plan.add_input(content.value))
                    steps.append((entry.index, entry.kind, content.source, position))
            per_policy.append(steps)
        planned.append(per_policy)

    outcomes = sandbox.run(plan.inputs, plan.tasks) if plan.tasks else []
    decisions = []
    for per_policy in planned:
        results = []
        for policy, steps in zip(attached, per_policy, strict=True):
            several = _several(steps)
            runs = [_run(step, outcomes, label=several.get(step[0], False)) for step in steps]
            results.append(_policy_result(policy, runs))
        decisions.append(_decide(results))
    return decisions


class _Plan:
    def __init__(self) -> None:
        self.inputs: list[bytes] = []
        self.tasks: list[Task] = []
        self._seen: dict[bytes, int] = {}

    def add_input(self, value: Any) -> int:
        encoded = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
        data = encoded.encode("utf-8")
        index = self._seen.get(data)
        if index is None:
            index = self._seen[data] = len(self.inputs)
            self.inputs.append(data)
        return index

    def add_task(self, entry: Any, input_index: int) -> int:
        from deploytrace.policies.sandbox import Task

        self.tasks.append(Task(entry.module, input_index))
        return len(self.tasks) - 1


def _several(steps: Sequence[tuple[int, str | None, str | None, int | str]]) -> dict[int, bool]:
    """Entries that ran on more than one piece of content: their messages say which."""
    counts: dict[int, int] = {}
    for entry, _, _, _ in steps:
        counts[entry] = counts.get(entry, 0) + 1
    return {entry: n > 1 for entry, n in counts.items()}


def _run(
    step: tuple[int, str | None, str | None, int | str],
    outcomes: Sequence[Outcome],
    *,
    label: bool,
) -> Run:
    entry, kind, subject, what = step
    if isinstance(what, str):
        return Run(entry, kind, subject, SKIPPED, skip_reason=what)
    outcome = outcomes[what]
    prefix = f"[{subject}] " if label and subject else ""
    if outcome.error is not None:
        message = _clip(f"{prefix}evaluation failed: {outcome.error}")
        return Run(entry, kind, subject, VIOLATED, (message,), error=outcome.error)
    try:
        status, violations, reason = interpret(outcome.value)
    except ValueError as error:
        message = _clip(f"{prefix}malformed result: {error}")
        return Run(entry, kind, subject, VIOLATED, (message,), error=str(error))
    return Run(entry, kind, subject, status, tuple(_clip(prefix + v) for v in violations), reason)


def interpret(value: Any) -> tuple[str, list[str], str]:
    """(status, violations, skip_reason) of a `result` value; ValueError if malformed."""
    if value is None:
        raise ValueError("`result` is undefined")
    if not isinstance(value, dict):
        raise ValueError(f"`result` must be an object, got {_type(value)}")
    skipped = value.get("skipped", False)
    if not isinstance(skipped, bool):
        raise ValueError(f"`skipped` must be a boolean, got {_type(skipped)}")
    reason = value.get("skip_reason", "")
    if not isinstance(reason, str):
        raise ValueError(f"`skip_reason` must be a string, got {_type(reason)}")
    findings = value.get("findings")
    if isinstance(findings, list) and findings:
        raw, field_name = findings, "findings"
    else:
        raw, field_name = value.get("violations", []), "violations"
    if not isinstance(raw, list):
        raise ValueError(f"`{field_name}` must be a list of strings, got {_type(raw)}")
    messages = []
    for item in raw:
        if isinstance(item, str):
            messages.append(item)
        elif isinstance(item, dict) and isinstance(item.get("message"), str):
            messages.append(item["message"])
        else:
            raise ValueError(f"`{field_name}` holds {_type(item)}, not a string")
    if skipped:
        return SKIPPED, [], reason
    # `violations` is a set in most policies, and engines order sets differently:
    # sorted, a record's violations do not depend on the engine.
    return (VIOLATED if messages else PASSED), sorted(messages), reason


def _policy_result(policy: Attached, runs: list[Run]) -> PolicyResult:
    violations = [v for run in runs for v in run.violations]
    if len(violations) > MAX_VIOLATIONS:
        extra = len(violations) - MAX_VIOLATIONS
        violations = [*violations[:MAX_VIOLATIONS], f"and {extra} more violations"]
    if any(run.status == VIOLATED for run in runs):
        status = VIOLATED
    elif runs and all(run.status == SKIPPED for run in runs):
        status = SKIPPED
    else:
        status = PASSED
    reasons = tuple(dict.fromkeys(r.skip_reason for r in runs if r.skip_reason))
    return PolicyResult(
        policy.name, policy.version, policy.mode, status, tuple(violations), reasons, tuple(runs)
    )


def _decide(results: list[PolicyResult]) -> Decision:
    if not results:
        return NO_POLICY
    if any(r.status == VIOLATED for r in results):
        status = VIOLATED
    elif all(r.status == SKIPPED for r in results):
        status = SKIPPED
    else:
        status = PASSED
    return Decision(status, tuple(results))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _type(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number"
    )
