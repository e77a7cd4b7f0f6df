"""Hypothesis runs are reproducible in CI (issue 9, test gaps)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import tests.conftest\n"
    "from hypothesis import settings\n"
    "own = settings(max_examples=5)  # as test modules build theirs\n"
    "print(settings.default.derandomize, own.derandomize, own.print_blob)\n"
)


def _defaults(ci: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    ).stdout.strip()


def test_the_ci_profile_is_derandomized_and_prints_the_failing_example() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.print_blob and ci.database is None


def test_ci_loads_it_and_settings_built_by_test_modules_inherit_it() -> None:
    assert _defaults("true") == "True True True"
    assert _defaults(None) == "False False True"
    assert _defaults("") == "False False True"
