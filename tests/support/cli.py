"""Run the `deploytrace` CLI in-process and capture what a shell would see."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploytrace.cli.main import main
from tests.support.statements import statement

# `deployment record` into the seed's usual slot, minus kind and artifact.
RECORD = (
    "deployment record --env k8s-east --logical-env production --deployment-name api-server"
).split()


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class CliRunner:
    def __call__(self, *args: str, stdin: str = "") -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            _stdin(stdin),
        ):
            try:
                main(list(args))
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        return Result(code, out.getvalue(), err.getvalue())


def attest(cli: CliRunner, directory: Path, *digests: str) -> None:
    """Push a statement naming `digests`, as a build would before deploying them."""
    path = directory / f"statement-{len(list(directory.glob('statement-*')))}.json"
    path.write_bytes(statement(*digests))
    r = cli("attestation", "push", str(path))
    assert r.code == 0, r.err


@contextlib.contextmanager
def _stdin(text: str) -> Any:
    import sys

    saved = sys.stdin
    sys.stdin = io.StringIO(text)
    try:
        yield
    finally:
        sys.stdin = saved
