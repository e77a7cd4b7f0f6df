"""The sandbox: real Rego in worker processes that a looping or allocating policy cannot hold."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from deploytrace.policies.sandbox import Module, Sandbox, Task
from tests.policies.conftest import rego

INPUT = json.dumps({"v": ["a", "b"], "n": 3}).encode()


@pytest.fixture
def tight() -> Iterator[Sandbox]:
    """A sandbox of its own: these tests kill its workers."""
    box = Sandbox(workers=1, time_limit=1.0, memory_limit=192 * 1024 * 1024)
    yield box
    box.close()


def _module(rules: str) -> Module:
    return Module(rego(rules), "main")


def _one(box: Sandbox, module: Module, data: bytes = INPUT) -> object:
    outcome = box.run([data], [Task(module, 0)])[0]
    return outcome.error if outcome.error is not None else outcome.value


def test_rego_v1_and_the_builtins_policies_use(shared_sandbox: Sandbox) -> None:
    module = _module(
        """
violations contains msg if {
    some x in input.v
    startswith(x, "a")
    msg := sprintf("%s of %d", [x, count(input.v)])
}
violations contains "old" if {
    time.parse_rfc3339_ns("2020-01-01T00:00:00Z") < time.now_ns()
    count([y | some y in input.v; y != "a"]) == 1
    {k: v | some k, v in {"a": 1}}["a"] == 1
}
"""
    )
    value = _one(shared_sandbox, module)
    assert value == {"skipped": False, "violations": ["a of 2", "old"], "skip_reason": ""}


def test_the_result_of_any_package_is_queried(shared_sandbox: Sandbox) -> None:
    source = rego().replace("package main", "package chainloop.policies.custom")
    box = shared_sandbox
    outcome = box.run([INPUT], [Task(Module(source, "chainloop.policies.custom"), 0)])[0]
    assert outcome.value == {"skipped": False, "violations": [], "skip_reason": ""}


def test_an_error_inside_a_builtin_is_an_error_not_undefined(shared_sandbox: Sandbox) -> None:
    # Without strict built-in errors the rule would be undefined and the policy pass.
    module = _module('violations contains "bad date" if time.parse_rfc3339_ns("yesterday") > 0')
    assert _one(shared_sandbox, module) == "Unable to parse time"


def test_an_unknown_function_is_an_error(shared_sandbox: Sandbox) -> None:
    module = _module('violations contains "x" if made_up.function(1)')
    assert "unknown function" in str(_one(shared_sandbox, module))


def test_a_looping_policy_is_stopped_at_the_time_limit(tight: Sandbox) -> None:
    # 10^10 iterations that allocate nothing: only the clock can stop it (a comprehension
    # would collect its results and, on a fast machine, meet the memory limit first).
    loop = _module(
        "numbers_ := numbers.range(1, 100000)\n"
        'violations contains "never" if {\n'
        "    some a in numbers_\n"
        "    some b in numbers_\n"
        "    a + b < 0\n"
        "}"
    )
    started = time.monotonic()
    outcomes = tight.run([INPUT], [Task(loop, 0), Task(_module("violations := set()"), 0)])
    elapsed = time.monotonic() - started
    assert outcomes[0].error == "timed out after 1 s"
    # The worker was killed and replaced: the next policy still ran, on the same input.
    assert outcomes[1].value == {"skipped": False, "violations": [], "skip_reason": ""}
    assert tight.spawned == 2
    assert elapsed < 10


def test_a_policy_that_allocates_without_bound_kills_only_its_worker(tight: Sandbox) -> None:
    hog = _module(
        's := concat("", ["x" | some _ in numbers.range(1, 1000)])\n'
        'violations contains "never" if\n'
        '    count(concat("", [s | some _ in numbers.range(1, 100000000)])) < 0'
    )
    tight.time_limit = 30.0  # so that the memory limit, not the clock, is what stops it
    outcome = tight.run([INPUT], [Task(hog, 0)])[0]
    assert outcome.error is not None
    assert "memory" in outcome.error
    assert _one(tight, _module("violations := set()")) == {
        "skipped": False,
        "violations": [],
        "skip_reason": "",
    }


def test_a_network_builtin_that_reaches_evaluation_fails_closed(shared_sandbox: Sandbox) -> None:
    # `add` refuses it; should one be stored anyway, the engine has no http.send.
    module = _module(
        'violations := set() if {\n    r := http.send({"method": "get", "url": "http://127.0.0.1:9"})\n'
        "    r.status_code == 200\n}"
    )
    outcome = shared_sandbox.run([INPUT], [Task(module, 0)])[0]
    assert outcome.error is not None or outcome.value is None


def test_a_new_version_is_never_served_from_an_old_compilation(shared_sandbox: Sandbox) -> None:
    first = _module('violations := {"version one"}')
    second = _module('violations := {"version two"}')
    assert first.key != second.key
    outcomes = shared_sandbox.run([INPUT], [Task(first, 0), Task(second, 0), Task(first, 0)])
    assert [o.value["violations"] for o in outcomes] == [  # type: ignore[index]
        ["version one"],
        ["version two"],
        ["version one"],
    ]


def test_integers_beyond_64_bits_are_not_truncated(shared_sandbox: Sandbox) -> None:
    module = _module('violations := {sprintf("%v", [input.n > 1000])}')
    assert _one(shared_sandbox, module, json.dumps({"n": 2**70}).encode()) == {
        "skipped": False,
        "violations": ["true"],
        "skip_reason": "",
    }


def test_strings_with_quotes_come_back_whole(shared_sandbox: Sandbox) -> None:
    # rego-cpp writes such strings into its JSON text unescaped; the sandbox reads nodes.
    module = _module("violations := {input.s}")
    data = json.dumps({"s": 'say "hi"\tnow \\ then'}).encode()
    assert _one(shared_sandbox, module, data)["violations"] == [  # type: ignore[index]
        'say "hi"\tnow \\ then'
    ]


def test_an_input_that_is_not_json_is_an_error_for_every_task(shared_sandbox: Sandbox) -> None:
    outcomes = shared_sandbox.run([b"{not json"], [Task(_module("violations := set()"), 0)] * 2)
    assert all(o.error and "input was refused" in o.error for o in outcomes)


def test_prints_do_not_reach_the_callers_output(
    shared_sandbox: Sandbox, capfd: pytest.CaptureFixture[str]
) -> None:
    module = _module('violations := set() if print("leaked to stdout")')
    shared_sandbox.run([INPUT], [Task(module, 0)])
    out, err = capfd.readouterr()
    assert "leaked" not in out + err


def test_the_worker_sees_no_environment_of_the_server(
    shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `add` refuses opa.runtime; the worker's environment is empty besides PYTHONPATH anyway.
    monkeypatch.setenv("DEPLOYTRACE_TOKEN", "secret-token")
    box = Sandbox(workers=1, time_limit=5.0)
    try:
        module = _module('violations := {sprintf("%v", [opa.runtime().env])}')
        value = _one(box, module)
        assert "secret-token" not in json.dumps(value)
    finally:
        box.close()


def test_many_inputs_spread_over_the_pool(shared_sandbox: Sandbox) -> None:
    module = _module('violations := {sprintf("%d", [input.n])}')
    inputs = [json.dumps({"n": i}).encode() for i in range(6)]
    outcomes = shared_sandbox.run(inputs, [Task(module, i) for i in range(6)])
    assert [o.value["violations"] for o in outcomes] == [[str(i)] for i in range(6)]  # type: ignore[index]
