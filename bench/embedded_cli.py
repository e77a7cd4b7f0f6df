"""CLI start-up: wall time of one embedded `deploytrace deployment record` heartbeat (SQLite
under $DEPLOYTRACE_HOME, the schema current) and of one client-mode `deployment list`
(DEPLOYTRACE_SERVER set, a local `deploytrace server`) against `python3 -c pass`.
Goals (issue 15): heartbeat <= 40x, client-mode list <= 10x.

    python bench/embedded_cli.py [--source DIR] [--runs 20]

The package is installed non-editable (`pip install SOURCE`) into a venv of its own
(bench/out/embedded-venv): PYTHONDONTWRITEBYTECODE=1 is set on this machine, and an
editable install leaves the project's modules uncompiled. Both commands run with that
venv's interpreter; timing by hyperfine (-N, no shell) when installed, else a loop here.
Also: the editable install (this interpreter) for comparison, a `python -X importtime`
breakdown and a cProfile of one call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pstats
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

from common import REPO, append_results, out_dir, pool_digest, statement, table

DIGEST = pool_digest(42)


def install(source: Path, venv: Path, rebuild: bool) -> Path:
    python = venv / "bin" / "python"
    if rebuild or not python.exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(source)], check=True)
    else:  # dependencies are there: reinstall only the project, from SOURCE as it is now
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                str(source),
            ],
            check=True,
        )
    return python


GOALS = {"deployment record (installed)": 40.0, "deployment list (client mode)": 10.0}


@contextlib.contextmanager
def server(python: Path, home: Path) -> Iterator[dict[str, str]]:
    """A `deploytrace server` of the venv on a free loopback port, over its own SQLite
    database; yields the environment of a client-mode CLI talking to it."""
    cli = str(python.parent / "deploytrace")
    url = f"sqlite:///{home / 'server.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEPLOYTRACE_")}
    env["DEPLOYTRACE_HOME"] = str(home / "client-home")
    done = subprocess.run(
        [cli, "admin", "bootstrap", "--database-url", url, "--org", "bench"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    token = re.search(r"dt_[A-Za-z0-9_-]+", done.stdout + done.stderr)
    assert token, done.stdout
    port = free_port()
    proc = subprocess.Popen(
        [cli, "server", "--port", str(port), "--database-url", url],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the server did not start") from None
                time.sleep(0.2)
        yield {
            **env,
            "DEPLOYTRACE_SERVER": f"http://127.0.0.1:{port}",
            "DEPLOYTRACE_TOKEN": token.group(0),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def record_args(python: Path) -> list[str]:
    return [
        str(python.parent / "deploytrace"),
        "deployment",
        "record",
        "--env",
        "k8s-east",
        "--logical-env",
        "production",
        "--deployment-name",
        "api",
        "--kind",
        "CONTAINER_IMAGE",
        "--digest",
        DIGEST,
    ]


def prepare(python: Path, env: dict[str, str], home: Path) -> None:
    cli = str(python.parent / "deploytrace")
    path = home / "statement.json"
    path.write_bytes(statement([DIGEST]))
    for args in (
        ["environment", "create", "--name", "k8s-east"],
        ["attestation", "push", str(path)],
        record_args(python)[1:],
    ):
        subprocess.run([cli, *args], env=env, check=True, capture_output=True)


def hyperfine(commands: dict[str, list[str]], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall seconds per command."""
    if shutil.which("hyperfine"):
        export = out_dir("embedded") / "hyperfine.json"
        args = [
            "hyperfine",
            "-N",
            "--warmup",
            "3",
            "--runs",
            str(runs),
            "--export-json",
            str(export),
        ]
        for name, cmd in commands.items():
            args += ["-n", name, shlex.join(cmd)]  # -N splits it like a shell
        subprocess.run(args, env=env, check=True)
        results = json.loads(export.read_text())["results"]
        return {r["command"]: float(r["median"]) for r in results}
    found = {}
    for name, cmd in commands.items():
        times = []
        for i in range(runs + 3):
            t0 = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            if i >= 3:
                times.append(time.perf_counter() - t0)
        found[name] = statistics.median(times)
    return found


def importtime(cmd: list[str], env: dict[str, str]) -> str:
    """`-X importtime` of one call: self time summed per top-level package."""
    done = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True, text=True, check=True
    )
    by_package: dict[str, int] = {}
    total = 0
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, _cumulative, name = (p.strip() for p in line.split(":", 1)[1].split("|"))
        package = name.split(".")[0]
        if package == "deploytrace":
            package = ".".join(name.split(".")[:2])
        by_package[package] = by_package.get(package, 0) + int(self_us)
        total += int(self_us)
    rows = [
        (f"`{n}`", f"{us / 1000:.1f}", f"{100 * us / total:.0f}%")
        for n, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:20]
    ]
    return (
        f"`-X importtime`: {total / 1000:.0f} ms importing {len(by_package)} top-level packages "
        "(self time summed per package; deploytrace per sub-package):\n\n"
        + table(["package", "ms", "share"], rows)
    )


# What each layer costs on its own: `python -c "import M"`, each row including what M imports.
LAYERS = (
    ("sqlite3", "the stdlib driver alone"),
    ("deploytrace.cli.main", "the click CLI, before it dispatches"),
    ("sqlalchemy", "SQLAlchemy (core)"),
    ("deploytrace.services.deployments", "the record service: storage, SQLAlchemy tables"),
    ("deploytrace.api.app", "the FastAPI app factory, with no router yet"),
    ("deploytrace.api.deployments", "the one router a heartbeat includes"),
    ("deploytrace.cli.http", "the client-mode transport (http.client)"),
    ("httpx", "httpx, which the client mode no longer imports"),
)


def layers(python: Path, env: dict[str, str], runs: int) -> dict[str, float]:
    """Median wall seconds of `python -c "import M"` per layer."""
    commands = {m: [str(python), "-c", f"import {m}"] for m, _ in LAYERS}
    return hyperfine(commands, env, runs)


def profile(cmd: list[str], env: dict[str, str]) -> tuple[str, float]:
    """cProfile of one call: the top of it, and the share of its time spent importing."""
    target = out_dir("embedded") / "record.prof"
    subprocess.run(
        [cmd[0], "-m", "cProfile", "-o", str(target), *cmd[1:]],
        env=env,
        check=True,
        capture_output=True,
    )
    text = StringIO()
    stats = pstats.Stats(str(target), stream=text)
    # Imports: the outermost `_find_and_load` calls (pstats counts a recursive
    # function's cumulative time once, at its outermost frames).
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    importing = sum(
        ct for (file, _, name), (_, _, _, ct, _) in raw.items() if name == "_find_and_load"
    )
    share = importing / stats.total_tt  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(30)
    lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if "ncalls" in ln)
    return "\n".join(lines[start - 2 : start + 31]), share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=REPO, help="project to pip install")
    parser.add_argument("--venv", type=Path, default=out_dir("embedded") / "venv")
    parser.add_argument("--rebuild", action="store_true", help="make the venv anew")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--no-results", action="store_true")
    a = parser.parse_args()

    python = install(a.source.resolve(), a.venv.resolve(), a.rebuild)
    with tempfile.TemporaryDirectory(prefix="dt-embedded-") as tmp:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["DEPLOYTRACE_HOME"] = str(home)
        prepare(python, env, home)
        record = record_args(python)
        # the same source, run from its tree (an editable install: nothing compiled)
        editable_env = {**env, "PYTHONPATH": str(a.source.resolve() / "src")}
        commands = {
            "python3 -c pass": [str(python.parent / "python3"), "-c", "pass"],
            "deployment record (installed)": record,
        }
        medians = hyperfine(commands, env, a.runs)
        listing = [str(python.parent / "deploytrace"), "deployment", "list"]
        with server(python, home) as client_env:
            medians.update(
                hyperfine({"deployment list (client mode)": listing}, client_env, a.runs)
            )
            client_imports = importtime([str(python), *listing], client_env)
        editable = hyperfine(
            {"deployment record (editable)": [sys.executable, "-m", "deploytrace", *record[1:]]},
            editable_env,
            max(5, a.runs // 2),
        )
        imports = importtime([str(python), *record], env)
        prof, import_share = profile([str(python), *record], env)
        floors = layers(python, env, max(5, a.runs // 2))

    base = medians["python3 -c pass"]
    verdicts = []
    for name, goal in GOALS.items():
        ratio = medians[name] / base
        mark = "✅" if ratio <= goal else "❌"
        verdicts.append(f"{name}: **{ratio:.1f}x** (goal ≤ {goal:g}x) {mark}")
    rows = [
        (name, f"{seconds * 1000:.1f}", f"{seconds / base:.1f}x")
        for name, seconds in {**medians, **editable}.items()
    ]
    text = "\n".join(
        [
            f"Median of {a.runs} runs (hyperfine -N, 3 warm-ups), the venv's own interpreter for "
            "all; the heartbeat re-records the deployed digest in an existing SQLite database; "
            "the client-mode list asks a local `deploytrace server` (SQLite, nothing deployed). "
            + "; ".join(verdicts)
            + "\n",
            table(["command", "median ms", "vs python3 -c pass"], rows),
            f"\nShare of one heartbeat spent importing (cProfile, outermost `_find_and_load` "
            f"calls): **{100 * import_share:.0f}%**.\n",
            'What the layers cost on their own: `python -c "import M"` (median of '
            f"{max(5, a.runs // 2)} runs; each row includes what M imports):\n",
            table(
                ["import", "what", "median ms", "vs python3 -c pass"],
                [
                    (f"`{m}`", what, f"{floors[m] * 1000:.1f}", f"{floors[m] / base:.1f}x")
                    for m, what in LAYERS
                ],
            ),
            "",
            "Embedded heartbeat, " + imports,
            "",
            "Client-mode `deployment list`, " + client_imports,
            "\n<details><summary>cProfile of one heartbeat (sorted by cumulative time)</summary>"
            f"\n\n```\n{prof}\n```\n</details>",
        ]
    )
    print(text)
    if not a.no_results:
        append_results("CLI start-up (embedded_cli.py)", text)


if __name__ == "__main__":
    main()
