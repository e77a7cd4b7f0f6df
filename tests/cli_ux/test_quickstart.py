"""The README's Quick start works as written, offline, and examples/ is what it says it is."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.postgres import free_port
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
BEGIN = "# --- README.md Quick start, verbatim ---\n"
END = "# --- end of the README.md Quick start ---\n"


def readme_quick_start() -> str:
    """The first sh code block after the Quick start heading."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quick start") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None
    return match.group(1)


def _environ(home: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)  # the venv's `deploytrace`
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith("DEPLOYTRACE_") and k != "COLUMNS"
    }
    environ.update(
        {"PATH": bin_dir + os.pathsep + environ.get("PATH", ""), "PYTHON": sys.executable}
    )
    environ["DEPLOYTRACE_HOME"] = str(home)
    return environ


def _json(home: Path, *args: str) -> Any:
    run = subprocess.run(
        [sys.executable, "-m", "deploytrace", *args, "-o", "json"],
        env=_environ(home),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout)


def test_the_script_holds_the_readme_block_verbatim() -> None:
    script = (EXAMPLES / "quickstart.sh").read_text()
    assert script.count(BEGIN) == script.count(END) == 1
    between = script[script.index(BEGIN) + len(BEGIN) : script.index(END)]
    assert between == readme_quick_start()


def test_examples_are_reproducible(tmp_path: Path) -> None:
    """make_examples.py is how the example files were made: it makes them again, exactly."""
    subprocess.run([sys.executable, str(EXAMPLES / "make_examples.py"), str(tmp_path)], check=True)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made
    for path in made:
        assert (tmp_path / path).read_bytes() == (EXAMPLES / path).read_bytes(), path
    committed = sorted(p.relative_to(EXAMPLES) for p in (EXAMPLES / "api-server").rglob("*"))
    assert [p for p in committed if (EXAMPLES / p).is_file()] == [
        p for p in made if p.parts[0] == "api-server"
    ]
    # The digests the README uses are those of the example manifests.
    block = readme_quick_start()
    index = json.loads((EXAMPLES / "api-server" / "index.json").read_bytes())
    for entry, variable in zip(index["manifests"], ("V1", "V2"), strict=True):
        assert f"{variable}={entry['digest']}" in block


def test_quick_start_runs_offline_as_written(tmp_path: Path) -> None:
    """Runs examples/quickstart.sh: the README's block (checked identical above), then the
    --oci-ref variant against a real registry on loopback."""
    has_registry = shutil.which("docker-registry") is not None
    if not has_registry and os.environ.get("CI", "").lower() == "true":
        pytest.fail("CI must install docker-registry: apt-get install docker-registry")
    home = tmp_path / "home"
    run = subprocess.run(
        ["bash", str(EXAMPLES / "quickstart.sh"), str(home)],
        cwd=tmp_path,  # the script finds the repository itself
        env=_environ(home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "api-server: v1.0.0 → v1.1.0 in k8s-east/production" in run.stdout
    assert "api-server: v1.0.0 decommissioned from k8s-east/staging" in run.stdout

    block = readme_quick_start()
    v1, v2 = (_variable(block, name) for name in ("V1", "V2"))
    production = _json(
        home, "deployment", "list", "--env", "k8s-east", "--logical-env", "production"
    )
    assert [(r["artifact"]["digest"], r["artifact"]["version"]) for r in production] == [
        (v2, "v1.1.0")
    ]
    assert production[0]["artifact"]["name"] == "ghcr.io/my-org/api-server"
    history = _json(
        home, "deployment", "list", "--env", "k8s-east", "--logical-env", "production", "--history"
    )
    assert [(r["artifact"]["version"], r["status"]) for r in history] == [
        ("v1.1.0", "deployed"),
        ("v1.0.0", "superseded"),
    ]
    assert history[1]["superseded_by"] == history[0]["id"]
    staging = _json(home, "deployment", "list", "--logical-env", "staging", "--history")
    assert [(r["artifact"]["digest"], r["status"]) for r in staging] == [(v1, "decommissioned")]

    west = _json(home, "deployment", "list", "--env", "k8s-west")
    if has_registry:
        assert [r["artifact"]["digest"] for r in west] == [v2]
        assert re.fullmatch(r"127\.0\.0\.1:\d+/my-org/api-server", west[0]["artifact"]["name"])
        assert west[0]["artifact"]["version"] == "v1.1.0"
    else:
        assert west == []
        assert "docker-registry is not installed" in run.stderr

    _server_serves_the_embedded_file(home, len(history))


def _variable(block: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)", block, re.MULTILINE)
    assert match is not None, name
    return match.group(1)


def _server_serves_the_embedded_file(home: Path, records: int) -> None:
    """README: `deploytrace server` without --database-url serves $DEPLOYTRACE_HOME's file;
    `admin bootstrap --org default` gives a token for the embedded CLI's organization."""
    token = _json(home, "admin", "bootstrap", "--org", "default")["token"]
    port = free_port()
    log = home / "server.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "deploytrace",
            "server",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=_environ(home),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = ServerProcess(f"http://127.0.0.1:{port}", process, log)
    try:
        server.wait_ready()
        answer = httpx.get(
            f"{server.url}/v1/deployments",
            params={
                "environment": "k8s-east",
                "logical_environment": "production",
                "history": True,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()["items"]) == records
    finally:
        server.stop()
