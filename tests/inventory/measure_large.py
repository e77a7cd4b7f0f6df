"""Measure reading a large generated pod list: time and peak RSS (run by hand, not a test).

    python -m tests.inventory.measure_large 100000 [--live]

Writes a kubectl-shaped list (pods as `kubectl get pods -A -o json` prints them:
no managedFields) of N pods in N/20 Deployments of 20 replicas, then reads it in
a fresh process and prints wall time, CPU time and the peak RSS of that process.
With --live, serves the pods from tests/support/kube_api.py (HTTPS, 500 a page)
and reads them through `read_cluster` instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).parents[1] / "data" / "kubernetes" / "troubleshoot-k3s-kube-system.json"

# VmHWM is this process's own peak RSS; ru_maxrss would include the parent's at fork.
_PEAK = """
def peak_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
"""

_READ_FILE = (
    _PEAK
    + """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
from deploytrace.inventory import read_path
base = peak_mib()
inventory = read_path(sys.argv[1])
print(f"pods={inventory.pods} workloads={len(inventory.workloads)} "
      f"wall={time.perf_counter() - t0:.1f}s cpu={time.process_time() - c0:.1f}s "
      f"peak_rss_after_imports={base}MiB peak_rss={peak_mib()}MiB")
"""
)

_READ_LIVE = (
    _PEAK
    + """
import sys, time
t0, c0 = time.perf_counter(), time.process_time()
from deploytrace.inventory import read_cluster
from deploytrace.inventory.cluster import ClusterSource
import deploytrace.inventory.cluster
base = peak_mib()
inventory = read_cluster(ClusterSource(kubeconfig=sys.argv[1], timeout=600))
print(f"pods={inventory.pods} workloads={len(inventory.workloads)} "
      f"wall={time.perf_counter() - t0:.1f}s cpu={time.process_time() - c0:.1f}s "
      f"peak_rss_after_imports={base}MiB peak_rss={peak_mib()}MiB")
"""
)


def pods(n: int) -> list[dict]:
    template = json.loads(TEMPLATE.read_text())["items"][0]
    template["metadata"].pop("managedFields", None)
    out = []
    for i in range(n):
        pod = json.loads(json.dumps(template))
        rs = f"app-{i // 20}-5d4f8c7b9"
        pod["metadata"]["name"] = f"{rs}-{i:06d}"
        pod["metadata"]["labels"]["pod-template-hash"] = "5d4f8c7b9"
        pod["metadata"]["ownerReferences"][0]["name"] = rs
        out.append(pod)
    return out


def write(path: Path, n: int) -> None:
    template = pods(1)[0]
    with path.open("w") as f:
        f.write('{\n    "apiVersion": "v1",\n    "items": [')
        for i in range(n):
            rs = f"app-{i // 20}-5d4f8c7b9"
            template["metadata"]["name"] = f"{rs}-{i:06d}"
            template["metadata"]["ownerReferences"][0]["name"] = rs
            f.write(("," if i else "") + json.dumps(template, indent=4))
        f.write('\n    ],\n    "kind": "List",\n    "metadata": {"resourceVersion": ""}\n}\n')


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        if "--live" in sys.argv:
            from tests.support.kube_api import KubeApi

            with KubeApi(Path(tmp), pods(n)) as api:
                out = subprocess.run(
                    [sys.executable, "-c", _READ_LIVE, str(api.kubeconfig())],
                    capture_output=True,
                    text=True,
                    check=True,
                )
            print(f"live, {n} pods, 500 a page: {out.stdout.strip()}")
            return
        path = Path(tmp) / "pods.json"
        t = time.perf_counter()
        write(path, n)
        size = path.stat().st_size
        print(f"wrote {n} pods, {size / 1e6:.0f} MB in {time.perf_counter() - t:.0f}s")
        out = subprocess.run(
            [sys.executable, "-c", _READ_FILE, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        print(out.stdout.strip())


if __name__ == "__main__":
    main()
