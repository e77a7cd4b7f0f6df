"""Data never drives the terminal: escapes, bidi overrides and markup are shown, not obeyed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploytrace.cli import output
from tests.cli_ux.conftest import RECORD, V1, V2, Seeded
from tests.cli_ux.hostile import RAW, hostile_server
from tests.support.cli import CliRunner, Result

EVIL_TYPE = "https://evil.example/\x1b[2J\x1b]0;pwned\x07[/]\u202eabc\x9b31m"
EVIL_NAME = "ghcr.io/evil\x1b]52;c;aGVsbG8=\x07[bold]"
EVIL_DIGEST = "sha256:" + "e" * 64


def _clean(result: Result) -> None:
    for text in (result.out, result.err):
        for char in RAW:
            assert char not in text, (char, text)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"),
        ("a\x00b\x7f", "a\\x00b\\x7f"),
        ("\x9b31m", "\\x9b31m"),  # C1 CSI: a whole escape in one byte
        ("line\nnext\r\ttab", "line\\nnext\\r\\ttab"),
        ("\u202eexe.txt", "\\u202eexe.txt"),  # right-to-left override
        ("\u2066x\u2069", "\\u2066x\\u2069"),  # bidi isolates
        ("a\u200bb\ufeff", "a\\u200bb\\ufeff"),  # zero width
        ("\u2028", "\\u2028"),
        ("\U000e0041", "\\U000e0041"),  # a Unicode tag: invisible ASCII smuggling
        ("\ud800", "\\ud800"),  # a lone surrogate cannot even be written as UTF-8
        # Kept: ordinary text in any script, a no-break space, emoji, markup-like brackets.
        ("café 日本 ü\u00a0🙂", "café 日本 ü\u00a0🙂"),
        ("[bold]x[/]", "[bold]x[/]"),
    ],
)
def test_safe_shows_controls_as_escapes(raw: str, shown: str) -> None:
    assert output.safe(raw) == shown


def _push_evil(cli: CliRunner, tmp_path: Path) -> str:
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": EVIL_NAME, "digest": {"sha256": EVIL_DIGEST[7:]}}],
        "predicateType": EVIL_TYPE,
        "predicate": {},
    }
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(statement))
    pushed = cli("attestation", "push", str(path), "-o", "json")
    assert pushed.code == 0, pushed.err
    return str(pushed.json()[0]["digest"])


def test_attestation_fields_reach_the_terminal_escaped(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review's finding: an attestation field carrying OSC 52 or `ESC [2J` was printed
    as is, and `[/]` made `attestation list` fail for the whole organization."""
    monkeypatch.setenv("COLUMNS", "200")
    digest = _push_evil(cli, tmp_path)
    listed = cli("attestation", "list")
    assert listed.code == 0, listed.err
    _clean(listed)
    assert "evil.example/\\x1b[2J\\x1b]0;pwned\\x07[/]\\u202eabc\\x9b31m" in listed.out
    described = cli("attestation", "describe", digest)
    assert described.code == 0, described.err
    _clean(described)
    assert "ghcr.io/evil\\x1b]52;c;aGVsbG8=\\x07[bold]" in described.out
    # JSON keeps the exact value, escaped the JSON way.
    assert cli("attestation", "list", "-o", "json").json()[0]["predicate_type"] == EVIL_TYPE


def test_evil_artifact_name_in_deployment_tables(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert cli("environment", "create", "--name", "k8s-east").code == 0
    _push_evil(cli, tmp_path)
    r = cli(*RECORD, "--logical-env", "staging", "--digest", EVIL_DIGEST)
    assert r.code == 0, r.err
    _clean(r)
    for args in (["deployment", "list"], ["artifact", "describe", EVIL_DIGEST]):
        shown = cli(*args)
        assert shown.code == 0, shown.err
        _clean(shown)


# Every command that shows server data, in table form, against a hostile server.
COMMANDS = [
    ["deployment", "list"],
    ["deployment", "list", "--history"],
    ["deployment", "list", "--unattested"],
    ["environment", "list"],
    ["environment", "describe", "k8s-east"],
    ["logical-environment", "list"],
    ["logical-environment", "describe", "production"],
    ["attestation", "list"],
    ["artifact", "describe", V1],
    ["trust", "list"],
    ["policy", "list"],
    ["policy", "describe", "sbom-present"],
    [
        "policy",
        "evaluate",
        "--digest",
        V2,
        "--kind",
        "CONTAINER_IMAGE",
        "--env",
        "k8s-east",
        "--logical-env",
        "staging",
    ],
    ["token", "list"],
    ["audit", "list"],
    [*RECORD, "--logical-env", "production", "--digest", V2],
    ["environment", "describe", "no-such-env"],  # the error message comes from the server
]


def test_a_hostile_server_cannot_drive_the_terminal(
    seeded: Seeded, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = seeded.cli
    monkeypatch.setenv("COLUMNS", "250")
    policy = Path(__file__).parents[2] / "examples" / "policies" / "sbom-present.yaml"
    assert cli("policy", "add", str(policy)).code == 0
    assert cli("policy", "attach", "sbom-present", "--logical-env", "staging").code == 0
    assert cli("token", "create", "--name", "ci", "--role", "writer").code == 0
    inventory = tmp_path / "inventory.json"
    unattested = {"deployment_name": "worker", "kind": "CONTAINER_IMAGE", "digest": V1[:-1] + "0"}
    inventory.write_text(json.dumps({"deployments": [unattested]}))
    sync = ["deployment", "sync", "--env", "k8s-east", "--logical-env", "staging"]
    assert cli(*sync, "--from", str(inventory), "--scope", "jobs").code == 0
    with hostile_server() as url:
        for args in [*COMMANDS, [*sync, "--from", str(inventory), "--scope", "jobs"]]:
            r = cli("--server", url, *args)
            assert "unexpected" not in r.err, (args, r.err)
            _clean(r)
            if args[-1] != "no-such-env":
                # Something was shown, and the payload in it is visible.
                assert "\\x1b]52;c;aGVsbG8=\\x07" in r.out + r.err, (args, r.out, r.err)
