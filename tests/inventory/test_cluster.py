"""The live-cluster path against a recorded Kubernetes API (tests/support/kube_api.py).

No API server can run here; this one speaks the list calls with the API's paging,
HTTPS and credential checks, so the client library's real code runs end to end.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from deploytrace import errors
from deploytrace.inventory import read_cluster
from deploytrace.inventory.cluster import ClusterSource, load_config
from tests.inventory.factory import pod
from tests.support.kube_api import CLIENT_CN, TOKEN, KubeApi

DATA = Path(__file__).parents[1] / "data" / "kubernetes"


def k3s_pods() -> list[dict[str, Any]]:
    pods: list[dict[str, Any]] = []
    for name in ("troubleshoot-k3s-kube-system.json", "troubleshoot-k3s-default.json"):
        pods += json.loads((DATA / name).read_text())["items"]
    return pods


@pytest.fixture
def api(tmp_path: Path) -> Any:
    with KubeApi(tmp_path, k3s_pods()) as server:
        yield server


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Neither the user's kubeconfig nor an in-cluster environment leak into a test."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def names(inventory: Any) -> list[str]:
    return [w.deployment_name for w in inventory.workloads]


K3S = [
    "default.cpu-intensive-app.cpu-burner",
    "default.memory-hungry-app.memory-hog",
    "kube-system.coredns.coredns",
    "kube-system.local-path-provisioner.local-path-provisioner",
    "kube-system.metrics-server.metrics-server",
    "kube-system.svclb-traefik-9ce4920b.lb-tcp-443",
    "kube-system.svclb-traefik-9ce4920b.lb-tcp-80",
    "kube-system.traefik.traefik",
]


def test_bearer_token_from_kubeconfig_reads_all_pods_in_pages(
    api: KubeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig()))
    inventory = read_cluster(ClusterSource(page_size=2))
    assert names(inventory) == K3S
    assert inventory.pods == 13
    pod_calls = [r for r in api.requests if r.path == "/api/v1/pods"]
    assert len(pod_calls) == 7  # 13 pods, 2 a page
    assert all(r.query["limit"] == "2" for r in pod_calls)
    assert "continue" not in pod_calls[0].query
    assert all("continue" in r.query for r in pod_calls[1:])
    assert {r.authorization for r in api.requests} == {f"Bearer {TOKEN}"}


def test_a_server_may_answer_fewer_than_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with KubeApi(tmp_path, k3s_pods(), max_limit=3) as api:
        monkeypatch.setenv("KUBECONFIG", str(api.kubeconfig()))
        assert names(read_cluster(ClusterSource())) == K3S
        assert len([r for r in api.requests if r.path == "/api/v1/pods"]) == 5


def test_client_certificate(api: KubeApi) -> None:
    inventory = read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig(user="cert"))))
    assert names(inventory) == K3S
    assert {(r.authorization, r.client_cn) for r in api.requests} == {(None, CLIENT_CN)}


def test_namespaces_are_listed_one_by_one(api: KubeApi) -> None:
    source = ClusterSource(kubeconfig=str(api.kubeconfig()), namespaces=("default",))
    assert names(read_cluster(source)) == K3S[:2]
    assert {r.path for r in api.requests} == {
        "/api/v1/namespaces/default/pods",
        "/apis/apps/v1/namespaces/default/replicasets",
        "/apis/batch/v1/namespaces/default/jobs",
    }


def test_context_is_chosen_from_the_kubeconfig(api: KubeApi) -> None:
    path = api.kubeconfig(context="east", extra_contexts=["west"])
    assert load_config(ClusterSource(kubeconfig=str(path))).context_name == "east"
    assert load_config(ClusterSource(kubeconfig=str(path), context="west")).context_name == "west"
    with pytest.raises(errors.InvalidInput, match="Context 'north' not found"):
        load_config(ClusterSource(kubeconfig=str(path), context="north"))


def test_kubeconfig_list_is_merged_like_kubectl(
    api: KubeApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KUBECONFIG=a:b — the first file defining a name wins; relative paths follow their file."""
    certs = tmp_path / "elsewhere"
    certs.mkdir()
    (certs / "client.crt").write_bytes(api.pki.client_cert.read_bytes())
    (certs / "client.key").write_bytes(api.pki.client_key.read_bytes())
    cluster_file = tmp_path / "clusters.yaml"
    cluster_file.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "prod",
                "clusters": [
                    {
                        "name": "prod",
                        "cluster": {"server": api.url, "certificate-authority": str(api.pki.ca)},
                    }
                ],
                "contexts": [{"name": "prod", "context": {"cluster": "prod", "user": "me"}}],
            }
        )
    )
    user_file = certs / "users.yaml"
    user_file.write_text(
        "users:\n- name: me\n  user:\n    client-certificate: client.crt\n"
        "    client-key: client.key\n"
        "- name: prod\n  user:\n    token: shadowed\n"
        "contexts:\n- name: prod\n  context: {cluster: nowhere, user: nobody}\n"
    )
    monkeypatch.setenv("KUBECONFIG", f"{cluster_file}:{tmp_path / 'missing.yaml'}:{user_file}")
    assert names(read_cluster(ClusterSource())) == K3S
    assert api.requests[-1].client_cn == CLIENT_CN


def test_default_kubeconfig_in_home(api: KubeApi, tmp_path: Path) -> None:
    home = tmp_path / "home" / ".kube"
    home.mkdir(parents=True)
    api.kubeconfig(home / "config")
    assert names(read_cluster(ClusterSource())) == K3S


def test_in_cluster_service_account(api: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", api.url.rsplit(":", 1)[1])
    inventory = read_cluster(ClusterSource(service_account=api.service_account()))
    assert names(inventory) == K3S
    assert api.requests[-1].authorization == f"Bearer {TOKEN}"


def test_no_configuration_at_all_is_a_clear_error() -> None:
    with pytest.raises(errors.InvalidInput, match="no Kubernetes configuration: set KUBECONFIG"):
        read_cluster(ClusterSource(service_account=Path("/nonexistent")))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[1, 2]", "is not a mapping"),
        ("{{{", "cannot read kubeconfig"),
        ('{"clusters": [], "contexts": [], "current-context": "x"}', "Context 'x' not found"),
    ],
)
def test_broken_kubeconfig_is_invalid_input(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(errors.InvalidInput, match=message):
        read_cluster(ClusterSource(kubeconfig=str(path)))


def test_unloadable_client_certificate_is_invalid_input(api: KubeApi, tmp_path: Path) -> None:
    document = json.loads(api.kubeconfig(user="cert").read_text())
    document["users"][0]["user"]["client-key"] = str(tmp_path / "gone.key")
    path = tmp_path / "config"
    path.write_text(json.dumps(document))
    with pytest.raises(
        errors.InvalidInput, match=r"context 'test': cannot set up the client: No such file"
    ):
        read_cluster(ClusterSource(kubeconfig=str(path)))
    (tmp_path / "gone.key").write_text("not a key")
    with pytest.raises(errors.InvalidInput, match="cannot set up the client"):
        read_cluster(ClusterSource(kubeconfig=str(path)))


def test_wrong_token_is_unauthenticated(api: KubeApi) -> None:
    with pytest.raises(errors.Unauthenticated, match="answered 401"):
        read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig(token="wrong"))))


def test_no_right_to_list_pods_is_forbidden_and_names_the_rbac(tmp_path: Path) -> None:
    with (
        KubeApi(tmp_path, k3s_pods(), forbidden=["pods"]) as api,
        pytest.raises(errors.Forbidden, match="needs get/list on pods, replicasets and jobs"),
    ):
        read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig())))


def test_without_rights_on_owners_names_are_inferred(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        KubeApi(tmp_path, k3s_pods(), forbidden=["replicasets", "jobs"]) as api,
        caplog.at_level(logging.WARNING),
    ):
        assert names(read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig())))) == K3S
    assert "may not list replicasets" in caplog.text
    assert "may not list jobs" in caplog.text


def test_owners_come_from_the_cluster_when_names_would_mislead(tmp_path: Path) -> None:
    """A ReplicaSet of Deployment `storefront` and a manual Job of CronJob `backup`."""
    rs_pod = pod(
        "web-7d9c6b5f4d-a1",
        owner=("ReplicaSet", "web-7d9c6b5f4d"),
        labels={"pod-template-hash": "7d9c6b5f4d"},
        kind=None,
    )
    job_pod = pod("backup-manual-x1", owner=("Job", "backup-manual"), namespace="ops", kind=None)
    replicaset = {
        "metadata": {
            "name": "web-7d9c6b5f4d",
            "namespace": "shop",
            "ownerReferences": [{"kind": "Deployment", "name": "storefront", "controller": True}],
        }
    }
    job = {
        "metadata": {
            "name": "backup-manual",
            "namespace": "ops",
            "ownerReferences": [{"kind": "CronJob", "name": "backup", "controller": True}],
        }
    }
    with KubeApi(tmp_path, [rs_pod, job_pod], [replicaset], [job]) as api:
        assert names(read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig())))) == [
            "ops.backup.app",
            "shop.storefront.app",
        ]


def test_an_expired_continue_token_is_unavailable(tmp_path: Path) -> None:
    with KubeApi(tmp_path, k3s_pods()) as api:
        api.expire_after = 2
        with pytest.raises(errors.Unavailable, match="410"):
            read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig()), page_size=2))


def test_an_unreachable_api_is_unavailable(api: KubeApi) -> None:
    path = api.kubeconfig()
    api.stop()
    with pytest.raises(
        errors.Unavailable, match=r"cannot reach the Kubernetes API https://127\.0\.0\.1"
    ):
        read_cluster(ClusterSource(kubeconfig=str(path), timeout=2))


def test_an_untrusted_server_certificate_is_refused(api: KubeApi, tmp_path: Path) -> None:
    document = json.loads(api.kubeconfig().read_text())
    del document["clusters"][0]["cluster"]["certificate-authority-data"]
    path = tmp_path / "untrusted"
    path.write_text(json.dumps(document))
    with pytest.raises(errors.Unavailable, match="CERTIFICATE_VERIFY_FAILED"):
        read_cluster(ClusterSource(kubeconfig=str(path)))
    assert api.requests == []


def test_pod_shapes_from_the_api_are_checked_like_files(tmp_path: Path) -> None:
    bad = pod("web-1", kind=None)
    bad["status"]["containerStatuses"] = "running"
    ok = pod("web-2", kind=None, statuses=None)
    with (
        KubeApi(tmp_path, [ok, bad]) as api,
        pytest.raises(
            errors.InvalidInput,
            match=r"pod shop/web-1: status\.containerStatuses must be a JSON array",
        ),
    ):
        read_cluster(ClusterSource(kubeconfig=str(api.kubeconfig())))
