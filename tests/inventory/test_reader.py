"""Reading documents: pod lists and plain documents, bad input, stdin, flat memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from deploytrace.errors import InvalidInput
from deploytrace.inventory import read_document, read_path, reader
from deploytrace.inventory.reader import CHUNK
from tests.inventory.factory import digest, pod, pod_list

SMALL_HEAD = 1024


@pytest.fixture(params=["whole", "streamed"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Parsed whole (a document under the read-ahead) or streamed (a larger one)."""
    if request.param == "streamed":
        monkeypatch.setattr(reader, "HEAD", SMALL_HEAD)
    return str(request.param)


def sized(document: dict[str, Any], mode: str) -> bytes:
    """`document`, made larger than the read-ahead in streamed mode by a trailing key."""
    raw = json.dumps(document).encode()
    if mode == "streamed" and len(raw) <= SMALL_HEAD:
        raw = json.dumps({**document, "zz_padding": "x" * SMALL_HEAD}).encode()
    return raw


def read(document: Any) -> Any:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return read_document(io.BytesIO(raw))


def error_of(document: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        read(document)
    return error.value.message


# -- pod lists ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["List", "PodList"])
def test_pod_list_kinds(kind: str, mode: str) -> None:
    inventory = read(sized(pod_list(pod("web-1"), kind=kind), mode))
    assert [w.deployment_name for w in inventory.workloads] == ["shop.web-1.app"]


def test_api_order_kind_first_and_items_without_kind(mode: str) -> None:
    document = {
        "kind": "PodList",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": "1"},
        "items": [pod("web-1", kind=None)],
    }
    assert len(read(sized(document, mode)).workloads) == 1


@pytest.mark.parametrize("items", ["[]", "null"])
def test_an_empty_pod_list_is_an_empty_snapshot(items: str) -> None:
    inventory = read(
        f'{{"apiVersion": "v1", "items": {items}, "kind": "List", "metadata": {{}}}}'.encode()
    )
    assert (inventory.workloads, inventory.unreported, inventory.pods) == ([], [], 0)


def test_pods_spanning_many_chunks(mode: str) -> None:
    pods = [pod(f"web-{i}", created=f"2026-11-20T10:00:{i % 60:02d}Z") for i in range(400)]
    raw = json.dumps(pod_list(*pods)).encode()
    assert len(raw) > 3 * CHUNK
    inventory = read(raw)
    assert inventory.pods == 400
    assert len(inventory.workloads) == 400


# -- plain documents --------------------------------------------------------------------------


def test_plain_document(mode: str) -> None:
    inventory = read(
        sized(
            {
                "deployments": [
                    {
                        "deployment_name": "billing",
                        "kind": "helm_chart",
                        "digest": digest("B").upper(),
                        "artifact_name": "oci://ghcr.io/acme/charts/billing",
                        "artifact_version": "2.0.0",
                    },
                    {
                        "deployment_name": "api-server",
                        "kind": "CONTAINER_IMAGE",
                        "digest": digest("a"),
                    },
                ]
            },
            mode,
        )
    )
    assert [w.as_json() for w in inventory.workloads] == [
        {"deployment_name": "api-server", "kind": "CONTAINER_IMAGE", "digest": digest("a")},
        {
            "deployment_name": "billing",
            "kind": "HELM_CHART",
            "digest": digest("b"),
            "artifact_name": "oci://ghcr.io/acme/charts/billing",
            "artifact_version": "2.0.0",
        },
    ]


def test_an_empty_plain_document_is_an_empty_snapshot() -> None:
    assert read({"deployments": []}).workloads == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("x", "deployments[1] must be a JSON object"),
        (
            {"deployment_name": "a", "kind": "CONTAINER_IMAGE", "digets": digest("a")},
            "deployments[1] has unknown field(s) 'digets'",
        ),
        (
            {"kind": "CONTAINER_IMAGE", "digest": digest("a")},
            "deployments[1]: deployment_name is required",
        ),
        (
            {"deployment_name": "Api Server", "kind": "CONTAINER_IMAGE", "digest": digest("a")},
            "deployments[1]: deployment_name 'Api Server' is not a DNS-1123 subdomain",
        ),
        (
            {"deployment_name": "a", "kind": "VM", "digest": digest("a")},
            "deployments[1]: kind 'VM' is not one of",
        ),
        (
            {"deployment_name": "a", "kind": "CONTAINER_IMAGE", "digest": "sha256:123"},
            "deployments[1]: digest 'sha256:123' is not sha256:<64 hex>",
        ),
        (
            {
                "deployment_name": "a",
                "kind": "CONTAINER_IMAGE",
                "digest": digest("a"),
                "artifact_version": 3,
            },
            "deployments[1]: artifact_version must be a string",
        ),
        (
            {
                "deployment_name": "a",
                "kind": "CONTAINER_IMAGE",
                "digest": digest("a"),
                "artifact_name": "x\ny",
            },
            "deployments[1]: artifact_name: it contains control characters",
        ),
        (
            {"deployment_name": "ok", "kind": "container_image", "digest": digest("c")},
            "deployments[1]: deployment_name 'ok' (kind CONTAINER_IMAGE) is listed twice, "
            "first at deployments[0]",
        ),
    ],
)
def test_plain_document_entries_are_checked(entry: Any, message: str, mode: str) -> None:
    first = {"deployment_name": "ok", "kind": "CONTAINER_IMAGE", "digest": digest("a")}
    assert message in error_of(sized({"deployments": [first, entry]}, mode))


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "the input is empty"),
        (b"   \n", "the input is empty"),
        (b"apiVersion: v1\nkind: List\nitems: []\n", "not JSON (YAML or text?)"),
        (b'{"kind": "List", "items": [', "not valid JSON"),
        (b'{"kind": "List", "items": [}', "not valid JSON"),
        (b"[1, 2]", "found a JSON array"),
        (b'"pods"', "found a JSON string"),
        (b'{"apiVersion": "v1", "metadata": {}}', "found an object with keys apiVersion, metadata"),
        (b'{"kind": "PodList", "items": {}}', "`items` that is not a list"),
        (b'{"deployments": {}}', "`deployments` that is not a list"),
        (b'{"kind": "Pod", "metadata": {"name": "x"}}', "a single Pod, not a pod list"),
        (b'{"kind": "DeploymentList", "items": []}', "'DeploymentList', not a pod list"),
    ],
)
def test_bad_documents_are_a_clear_error(raw: bytes, message: str) -> None:
    assert message in error_of(raw)


def test_a_list_of_deployments_is_not_a_pod_list() -> None:
    document = pod_list(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}}
    )
    assert "items[0] is a 'Deployment', not a Pod" in error_of(document)


def test_items_without_a_pod_list_kind_are_refused() -> None:
    assert "no `kind: List` or `PodList`" in error_of({"items": [pod("web-1")]})


def test_pods_and_deployments_together_are_refused() -> None:
    document = {
        "items": [pod("web-1")],
        "deployments": [{"deployment_name": "a", "kind": "CONTAINER_IMAGE", "digest": digest("a")}],
    }
    assert "both pod `items` and `deployments`" in error_of(document)


def test_read_path_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"cannot read .*missing.json: No such file"):
        read_path(str(tmp_path / "missing.json"))
    with pytest.raises(InvalidInput, match="Is a directory"):
        read_path(str(tmp_path))


def test_read_path_dash_reads_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = json.dumps(pod_list(pod("web-1"))).encode()

    class Stdin:
        buffer = io.BytesIO(raw)

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert [w.deployment_name for w in read_path("-").workloads] == ["shop.web-1.app"]


# -- memory stays flat --------------------------------------------------------------------------

_MEASURE = """
import sys
from deploytrace.inventory import read_path

def peak_kib():
    # VmHWM: this process's own peak. ru_maxrss would include the parent's RSS at fork.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

before = peak_kib()
inventory = read_path(sys.argv[1])
print(peak_kib() - before, len(inventory.workloads), inventory.pods)
"""


def write_big_list(path: Path, pods: int) -> int:
    """A kubectl-shaped list of `pods` pods in 50 Deployments, written without holding it."""
    template = json.loads(
        (
            Path(__file__).parents[1] / "data" / "kubernetes" / "troubleshoot-k3s-kube-system.json"
        ).read_text()
    )["items"][0]
    with path.open("w") as out:
        out.write('{"apiVersion": "v1", "items": [')
        for i in range(pods):
            template["metadata"]["name"] = f"app-{i % 50}-5d4f8c7b9-{i:06d}"
            template["metadata"]["labels"]["pod-template-hash"] = "5d4f8c7b9"
            template["metadata"]["ownerReferences"][0]["name"] = f"app-{i % 50}-5d4f8c7b9"
            out.write(("," if i else "") + json.dumps(template))
        out.write('], "kind": "List", "metadata": {"resourceVersion": ""}}')
    return path.stat().st_size


def test_memory_stays_flat_for_a_large_pod_list(tmp_path: Path) -> None:
    """Peak RSS grows by a small fraction of the file: pods are streamed, not loaded."""
    path = tmp_path / "pods.json"
    size = write_big_list(path, 1500)  # about 14 MB
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True, check=True
    )
    grown_kib, workloads, pods = (int(x) for x in out.stdout.split())
    assert (workloads, pods) == (50, 1500)
    assert grown_kib * 1024 < size / 3, f"RSS grew {grown_kib} KiB reading {size} bytes"
