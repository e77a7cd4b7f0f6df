"""Spoofing characters, browser and transport hygiene, one settings object (issue 9, security 8)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from deploytrace.cli import http as cli_http
from deploytrace.cli import main as cli_main
from deploytrace.settings import Settings
from tests.support.api import ApiHarness
from tests.support.cli import CliRunner
from tests.support.digests import digest
from tests.support.statements import statement

SRC = Path(__file__).resolve().parents[2] / "src" / "deploytrace"

SPOOFING = {
    "right-to-left override": "prod\u202eevil",
    "left-to-right isolate": "a\u2066b",
    "zero-width space": "k8s\u200beast",
    "zero-width joiner": "a\u200db",
    "byte order mark": "\ufeffname",
    "soft hyphen": "pro\u00adduction",
    "C1 control (NEL)": "line\u0085break",
    "escape": "\x1b[2Jclear",
}


@pytest.mark.parametrize("text", SPOOFING.values(), ids=SPOOFING.keys())
def test_descriptions_and_names_refuse_cc_and_cf(api: ApiHarness, text: str) -> None:
    r = api.post("/v1/environments", {"name": "k8s-east", "description": text})
    assert r.status == 422, r.body
    assert "Cc and Cf" in r.json()["error"]["message"]
    api.env("k8s-west")
    r = api.patch("/v1/environments/k8s-west", {"description": text})
    assert r.status == 422, r.body
    # Artifact names and versions, project and workflow names: the same rule.
    d = digest(1)
    api.attest(d)
    for field in ("artifact_name", "artifact_version"):
        r = api.record(environment="k8s-west", digest=d, **{field: text})
        assert r.status == 422, (field, r.body)
    for param in ("project", "workflow"):
        r = api.push(statement(digest(2)), **{param: text})
        assert r.status == 422, (param, r.body)


def test_ordinary_unicode_is_kept(api: ApiHarness) -> None:
    text = "Café Zürich — 東京 ✓ مرحبا"
    r = api.post("/v1/environments", {"name": "k8s-east", "description": text})
    assert r.status == 201, r.body
    assert api.get("/v1/environments/k8s-east").json()["description"] == text


def test_no_swagger_ui_but_the_document(api: ApiHarness) -> None:
    assert api.get("/docs", token=None).status == 404
    assert api.get("/docs/oauth2-redirect", token=None).status == 404
    assert api.get("/openapi.json", token=None).status == 200


def test_every_api_answer_says_nosniff(api: ApiHarness) -> None:
    api.push(statement(digest(1)))
    with api.db.read() as conn:
        stored = conn.exec_driver_sql("SELECT digest FROM attestations").scalar()
    answers = {
        "200": api.get("/v1/environments"),
        "201": api.post("/v1/environments", {"name": "k8s-east"}),
        "content": api.get(f"/v1/attestations/{stored}/content"),
        "401 before the body": api.get("/v1/environments", token=None),
        "401 unknown token": api.get("/v1/environments", token="dt_" + "0" * 32 + "_" + "A" * 43),
        "404": api.get("/v1/environments/nope"),
        "422 url": api.get("/v1/environments/%00"),
        "422 body": api.post("/v1/environments", {"name": "Bad Name"}),
        "healthz": api.get("/healthz", token=None),
        "openapi": api.get("/openapi.json", token=None),
        "dashboard": api.get("/", token=None),
    }
    for what, reply in answers.items():
        assert reply.headers.get("x-content-type-options") == "nosniff", (what, reply.status)
    assert answers["content"].status == 200


@pytest.fixture
def fresh_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_http, "_warned_plain_http", False)


@pytest.mark.parametrize(
    ("url", "token", "warned"),
    [
        ("http://deploytrace.example.com:8080", "dt_x", True),
        ("HTTP://10.1.2.3", "dt_x", True),
        ("https://deploytrace.example.com", "dt_x", False),
        ("http://127.0.0.1:8080", "dt_x", False),
        ("http://localhost:8080", "dt_x", False),
        ("http://[::1]:8080", "dt_x", False),
        ("http://deploytrace.example.com", None, False),
    ],
)
def test_the_cli_warns_before_a_token_crosses_plain_http(
    fresh_warning: None,
    capsys: pytest.CaptureFixture[str],
    url: str,
    token: str | None,
    warned: bool,
) -> None:
    for _ in range(2):
        cli_http.HttpTransport(url, token, 1.0)
    err = capsys.readouterr().err
    assert err.count("warning: sending the API token") == (1 if warned else 0), err


def test_the_warning_reaches_the_terminal_once_per_command(
    fresh_warning: None, cli: CliRunner
) -> None:
    token = "dt_" + "0" * 32 + "_" + "A" * 43
    r = cli("--server", "http://deploytrace.invalid:1", "--token", token, "environment", "list")
    assert r.code == 6
    assert r.err.count("over plain HTTP") == 1
    assert r.err.splitlines()[0].startswith("warning: sending the API token to deploytrace.invalid")


def test_the_embedded_database_is_owner_only(cli: CliRunner, tmp_path: Path) -> None:
    previous = os.umask(0o022)  # the usual umask: without the fix, 0644
    try:
        assert cli("environment", "create", "--name", "k8s-east").code == 0
    finally:
        os.umask(previous)
    files = sorted((tmp_path / "home").glob("deploytrace.db*"))
    assert files and files[0].name == "deploytrace.db"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_existing_database_file_keeps_its_mode(cli: CliRunner, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "deploytrace.db").touch(mode=0o640)
    os.chmod(home / "deploytrace.db", 0o640)
    assert cli("environment", "list").code == 0
    assert stat.S_IMODE((home / "deploytrace.db").stat().st_mode) == 0o640


# --------------------------------------------------------------------------- one settings object


def test_debug_comes_from_settings(monkeypatch: pytest.MonkeyPatch, cli: CliRunner) -> None:
    assert Settings.from_env({"DEPLOYTRACE_DEBUG": "1"}).debug
    assert not Settings.from_env({"DEPLOYTRACE_DEBUG": "0"}).debug
    assert not Settings.from_env({}).debug

    def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_main.cli, "main", boom)
    r = cli("environment", "list")
    assert (r.code, r.err) == (
        1,
        "error: unexpected RuntimeError: boom (set DEPLOYTRACE_DEBUG=1 for details)\n",
    )
    monkeypatch.setenv("DEPLOYTRACE_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        cli_main.main(["environment", "list"])


_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|environ\.get)\(\s*["'](DEPLOYTRACE_\w+)"""
    r"""|os\.environ\[\s*["'](DEPLOYTRACE_\w+)["']\s*\](?!\s*=[^=])"""
)
# The lead moves these into Settings with the record command (issue 9, design 5).
PENDING = {
    "DEPLOYTRACE_REGISTRY_SERVER",
    "DEPLOYTRACE_REGISTRY_USERNAME",
    "DEPLOYTRACE_REGISTRY_PASSWORD",
}


def test_deploytrace_variables_are_read_only_by_the_settings_object() -> None:
    stray = []
    for path in SRC.rglob("*.py"):
        if path.name == "settings.py" and path.parent == SRC:
            continue
        for match in _READ.finditer(path.read_text()):
            name = match.group(1) or match.group(2)
            if name not in PENDING:
                stray.append(f"{path.relative_to(SRC)}: {name}")
    assert stray == []
