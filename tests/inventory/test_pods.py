"""Pods → workloads by the mapping rules of SPEC §7, on built pods and on real pod lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploytrace.errors import InvalidInput
from deploytrace.inventory import (
    CONTAINER_NOT_RUNNING,
    INVALID_NAME,
    NO_REPOSITORY_DIGEST,
    POD_NOT_RUNNING,
    Inventory,
    InventoryBuilder,
    Owners,
    read_path,
)
from tests.inventory.factory import REPO, digest, pod, running, waiting

DATA = Path(__file__).parents[1] / "data" / "kubernetes"


def build(*pods: dict[str, Any], owners: Owners | None = None) -> Inventory:
    builder = InventoryBuilder(owners)
    for i, p in enumerate(pods):
        builder.add_pod(p, f"items[{i}]")
    return builder.result()


def names(inventory: Inventory) -> list[str]:
    return [w.deployment_name for w in inventory.workloads]


# -- owners -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "labels", "workload"),
    [
        # ReplicaSet → Deployment: the pod-template-hash label names the suffix
        (("ReplicaSet", "web-7d9c6b5f4d"), {"pod-template-hash": "7d9c6b5f4d"}, "web"),
        (
            ("ReplicaSet", "my-web-app-7d9c6b5f4d"),
            {"pod-template-hash": "7d9c6b5f4d"},
            "my-web-app",
        ),
        # no label: a bare ReplicaSet (no Deployment sets none) is the workload itself
        (("ReplicaSet", "web-7d9c6b5f4d"), {}, "web-7d9c6b5f4d"),
        # a label that is not the suffix is not trusted to cut the name
        (("ReplicaSet", "web-7d9c6b5f4d"), {"pod-template-hash": "other"}, "web-7d9c6b5f4d"),
        (("StatefulSet", "db"), {}, "db"),
        (("DaemonSet", "node-exporter"), {}, "node-exporter"),
        # Job → CronJob by the CronJob controller's naming: <name>-<8+ digits>
        (("Job", "backup-28307520"), {}, "backup"),
        (("Job", "nightly-report-123456789"), {}, "nightly-report"),
        (("Job", "report-1234567"), {}, "report-1234567"),  # 7 digits: a plain Job
        (("Job", "db-migrate"), {}, "db-migrate"),
        (("ReplicationController", "legacy"), {}, "legacy"),
        (("Rollout", "canary"), {}, "canary"),  # another controller: its name
    ],
)
def test_owner_resolution(owner: tuple[str, str], labels: dict[str, str], workload: str) -> None:
    inventory = build(pod(f"{owner[1]}-x1y2z", owner=owner, labels=labels))
    assert names(inventory) == [f"shop.{workload}.app"]


def test_a_bare_pod_is_its_own_workload() -> None:
    assert names(build(pod("debug-shell"))) == ["shop.debug-shell.app"]


def test_a_static_pod_owned_by_its_node_is_named_after_the_pod() -> None:
    inventory = build(
        pod("kube-apiserver-node-a", owner=("Node", "node-a"), namespace="kube-system")
    )
    assert names(inventory) == ["kube-system.kube-apiserver-node-a.app"]


def test_the_controller_reference_wins_over_other_owners() -> None:
    p = pod("web-abc12-x", labels={"pod-template-hash": "abc12"})
    p["metadata"]["ownerReferences"] = [
        {"kind": "ConfigMap", "name": "not-a-controller"},
        {"kind": "ReplicaSet", "name": "web-abc12", "controller": True},
    ]
    assert names(build(p)) == ["shop.web.app"]


def test_owners_read_from_the_cluster_win_over_names() -> None:
    owners = Owners(
        replicasets={("shop", "web-7d9c6b5f4d"): "storefront"},
        jobs={("ops", "backup-manual"): "backup"},
    )
    inventory = build(
        pod(
            "web-7d9c6b5f4d-a",
            owner=("ReplicaSet", "web-7d9c6b5f4d"),
            labels={"pod-template-hash": "7d9c6b5f4d"},
        ),
        pod("backup-manual-b", owner=("Job", "backup-manual"), namespace="ops"),
        # not in the lists (created after they were read): the naming rules apply
        pod(
            "api-5f5f5f5f5-c",
            owner=("ReplicaSet", "api-5f5f5f5f5"),
            labels={"pod-template-hash": "5f5f5f5f5"},
        ),
        owners=owners,
    )
    assert names(inventory) == ["ops.backup.app", "shop.api.app", "shop.storefront.app"]


# -- containers and phases ----------------------------------------------------------------


def test_only_running_containers_of_running_pods_count() -> None:
    inventory = build(
        pod("pending", phase="Pending", statuses=[waiting("app", REPO + "web:1.0")]),
        pod("done", phase="Succeeded"),
        pod("failed", phase="Failed"),
        pod("crashing", statuses=[waiting("app", REPO + "web:1.0", f"{REPO}web@{digest('a')}")]),
    )
    assert inventory.workloads == []
    assert inventory.unreported == []
    assert inventory.skipped == {POD_NOT_RUNNING: 3, CONTAINER_NOT_RUNNING: 1}
    assert inventory.pods == 4


def test_init_and_ephemeral_containers_never_count() -> None:
    p = pod("web-1")
    p["spec"]["initContainers"] = [{"name": "migrate", "image": REPO + "migrate:1"}]
    p["spec"]["ephemeralContainers"] = [{"name": "debug", "image": "busybox"}]
    p["status"]["initContainerStatuses"] = [
        running("migrate", REPO + "migrate:1", f"{REPO}m@{digest('b')}")
    ]
    p["status"]["ephemeralContainerStatuses"] = [
        running("debug", "busybox", f"busybox@{digest('c')}")
    ]
    assert names(build(p)) == ["shop.web-1.app"]


def test_a_container_without_status_yet_is_counted_as_skipped() -> None:
    p = pod("web-1", containers=[("app", REPO + "web:1.0"), ("sidecar", "envoy:1")])
    p["status"]["containerStatuses"] = p["status"]["containerStatuses"][:1]
    inventory = build(p)
    assert names(inventory) == ["shop.web-1.app"]
    assert inventory.skipped["container_without_status"] == 1


def test_multi_container_pod_gives_one_workload_per_running_container() -> None:
    p = pod(
        "worker-1",
        containers=[("worker", REPO + "worker:3"), ("shipper", "fluent/fluent-bit:3.1")],
        statuses=[
            running("worker", REPO + "worker:3", f"{REPO}worker@{digest('e')}"),
            running(
                "shipper",
                "docker.io/fluent/fluent-bit:3.1",
                f"docker.io/fluent/fluent-bit@{digest('f')}",
            ),
        ],
    )
    inventory = build(p)
    assert [
        (w.deployment_name, w.digest, w.artifact_name, w.artifact_version)
        for w in inventory.workloads
    ] == [
        ("shop.worker-1.shipper", digest("f"), "index.docker.io/fluent/fluent-bit", "3.1"),
        ("shop.worker-1.worker", digest("e"), "ghcr.io/acme/worker", "3"),
    ]
    assert {w.kind for w in inventory.workloads} == {"CONTAINER_IMAGE"}


# -- digests --------------------------------------------------------------------------------


def test_local_image_id_uses_the_digest_pinned_in_the_image() -> None:
    image = f"registry.example.com/cache/redis:7.2@{digest('2')}"
    p = pod(
        "cache-0",
        containers=[("redis", image)],
        statuses=[running("redis", image, "sha256:" + "9" * 64)],
    )
    (workload,) = build(p).workloads
    assert (workload.digest, workload.artifact_name, workload.artifact_version) == (
        digest("2"),
        "registry.example.com/cache/redis",
        "7.2",
    )


@pytest.mark.parametrize(
    "image_id", ["docker://sha256:" + "8" * 64, "sha256:" + "8" * 64, "", "legacy:dev"]
)
def test_no_repository_digest_is_reported_unattested_not_dropped(image_id: str) -> None:
    p = pod(
        "legacy-1",
        containers=[("app", "legacy:dev")],
        statuses=[running("app", "legacy:dev", image_id)],
    )
    inventory = build(p)
    assert inventory.workloads == []
    (unreported,) = inventory.unreported
    assert unreported.reason == NO_REPOSITORY_DIGEST
    assert unreported.deployment_name == "shop.legacy-1.app"
    assert unreported.where == "pod shop/legacy-1 container app"
    assert unreported.artifact_name == "index.docker.io/library/legacy"
    assert unreported.as_json()["digest"] is None
    assert inventory.reportable_unattested() == [unreported]


def test_pod_without_image_id_field_is_unattested() -> None:
    status = running("app", REPO + "web:1.0", "")
    del status["imageID"]
    (unreported,) = build(pod("web-1", statuses=[status])).unreported
    assert unreported.reason == NO_REPOSITORY_DIGEST


# -- replicas and rollouts ------------------------------------------------------------------


def _replica(name: str, char: str, created: str, version: str = "1.0") -> dict[str, Any]:
    image = f"{REPO}web:{version}"
    return pod(
        f"web-{name}",
        containers=[("app", image)],
        statuses=[running("app", image, f"{REPO}web@{digest(char)}")],
        owner=("ReplicaSet", f"web-{name[:5]}"),
        labels={"pod-template-hash": name[:5]},
        created=created,
    )


def test_replicas_make_one_entry() -> None:
    inventory = build(*(_replica(f"aaaaa-{i}", "a", "2026-11-20T10:00:00Z") for i in range(5)))
    assert [(w.deployment_name, w.digest) for w in inventory.workloads] == [
        ("shop.web.app", digest("a"))
    ]


def test_rollout_the_digest_of_the_most_running_pods_wins() -> None:
    inventory = build(
        _replica("aaaaa-1", "a", "2026-11-20T09:00:00Z", "1.4"),
        _replica("aaaaa-2", "a", "2026-11-20T09:00:00Z", "1.4"),
        _replica("bbbbb-1", "b", "2026-11-20T11:00:00Z", "1.5"),  # newer, but fewer
    )
    (workload,) = inventory.workloads
    assert (workload.digest, workload.artifact_version) == (digest("a"), "1.4")


def test_rollout_tie_goes_to_the_newest_pod() -> None:
    for order in (1, -1):
        pods = [
            _replica("aaaaa-1", "a", "2026-11-20T09:00:00Z", "1.4"),
            _replica("bbbbb-1", "b", "2026-11-20T11:00:00+00:00", "1.5"),
        ][::order]
        (workload,) = build(*pods).workloads
        assert (workload.digest, workload.artifact_version) == (digest("b"), "1.5")


def test_unattested_only_when_most_pods_have_no_repository_digest() -> None:
    local = pod(
        "web-ccccc-1",
        statuses=[running("app", REPO + "web:1.0", "sha256:" + "9" * 64)],
        owner=("ReplicaSet", "web-ccccc"),
        labels={"pod-template-hash": "ccccc"},
        created="2026-11-20T12:00:00Z",
    )
    inventory = build(
        local,
        _replica("aaaaa-1", "a", "2026-11-20T09:00:00Z"),
        _replica("aaaaa-2", "a", "2026-11-20T09:00:00Z"),
    )
    assert [w.digest for w in inventory.workloads] == [digest("a")]
    assert inventory.unreported == []


# -- the annotation and names -----------------------------------------------------------------


def test_annotation_names_the_deployment() -> None:
    p = pod("payments-1", annotations={"deploytrace.dev/deployment-name": "payments-api"})
    assert names(build(p)) == ["payments-api"]


def test_annotation_with_two_containers_appends_the_container() -> None:
    p = pod(
        "checkout-1",
        containers=[("app", REPO + "checkout:1"), ("envoy", "envoyproxy/envoy:v1.31.0")],
        annotations={"deploytrace.dev/deployment-name": "checkout"},
    )
    assert names(build(p)) == ["checkout.app", "checkout.envoy"]


def test_annotation_name_shape_stays_when_a_sidecar_crashes() -> None:
    p = pod(
        "checkout-1",
        containers=[("app", REPO + "checkout:1"), ("envoy", "envoyproxy/envoy:v1.31.0")],
        statuses=[
            running("app", REPO + "checkout:1", f"{REPO}checkout@{digest('e')}"),
            waiting("envoy", "envoy"),
        ],
        annotations={"deploytrace.dev/deployment-name": "checkout"},
    )
    assert names(build(p)) == ["checkout.app"]


def test_names_are_lower_cased_when_that_is_all_they_lack() -> None:
    p = pod("payments-1", annotations={"deploytrace.dev/deployment-name": " Payments-API "})
    assert names(build(p)) == ["payments-api"]


@pytest.mark.parametrize(
    ("annotation", "why"),
    [
        ("ledger service", "'ledger service'"),
        ("", "empty"),
        ("-ledger", "'-ledger'"),
        ("a" * 254, "more than 253"),
        ("ledger_v2", "'ledger_v2'"),
    ],
)
def test_names_that_are_no_dns_subdomain_are_reported_with_the_reason(
    annotation: str, why: str
) -> None:
    p = pod("ledger-0", annotations={"deploytrace.dev/deployment-name": annotation})
    inventory = build(p, pod("web-1"))
    assert names(inventory) == ["shop.web-1.app"]  # the rest still reports
    (unreported,) = inventory.unreported
    assert unreported.reason == INVALID_NAME
    assert unreported.where == "pod shop/ledger-0 container app"
    assert why in unreported.detail
    assert "deploytrace.dev/deployment-name" in unreported.detail
    assert inventory.reportable_unattested() == []


def test_a_generated_name_longer_than_253_is_reported() -> None:
    p = pod("x" * 200, namespace="n" * 60, containers=[("c" * 60, REPO + "web:1.0")])
    inventory = build(p)
    (unreported,) = inventory.unreported
    assert unreported.reason == INVALID_NAME
    assert "more than 253" in unreported.detail
    assert "workload" in unreported.detail


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: "not a pod", "items[0]: a pod must be a JSON object"),
        (lambda p: {**p, "kind": "Deployment"}, "items[0] is a 'Deployment', not a Pod"),
        (lambda p: {**p, "metadata": []}, "items[0]: metadata must be a JSON object"),
        (lambda p: {**p, "metadata": {"namespace": "shop"}}, "items[0]: metadata.name is missing"),
        (lambda p: {**p, "metadata": {"name": "web-1"}}, "items[0]: metadata.namespace is missing"),
        (
            lambda p: {**p, "status": {"phase": "Running", "containerStatuses": {}}},
            "pod shop/web-1: status.containerStatuses must be a JSON array",
        ),
        (
            lambda p: {**p, "status": {"phase": "Running", "containerStatuses": [{"state": {}}]}},
            "pod shop/web-1: status.containerStatuses[0].name is missing",
        ),
        (
            lambda p: {
                **p,
                "status": {
                    "phase": "Running",
                    "containerStatuses": [{"name": "app", "state": {"running": {}}, "imageID": 5}],
                },
            },
            "pod shop/web-1: status.containerStatuses[0].imageID must be a string",
        ),
        (
            lambda p: {**p, "spec": {"containers": [{"image": "x"}]}},
            "pod shop/web-1: spec.containers[0].name is missing",
        ),
    ],
)
def test_malformed_pods_are_a_clear_error_naming_the_pod(mutate: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as error:
        build(mutate(pod("web-1")))
    assert message in error.value.message


# -- real pod lists -----------------------------------------------------------------------------


def test_real_k3s_kube_system() -> None:
    """troubleshoot's k3s support bundle: containerd imageIDs, Deployments, a DaemonSet, Jobs."""
    inventory = read_path(str(DATA / "troubleshoot-k3s-kube-system.json"))
    assert inventory.pods == 7
    by_name = {w.deployment_name: w for w in inventory.workloads}
    assert sorted(by_name) == [
        "kube-system.coredns.coredns",
        "kube-system.local-path-provisioner.local-path-provisioner",
        "kube-system.metrics-server.metrics-server",
        "kube-system.svclb-traefik-9ce4920b.lb-tcp-443",
        "kube-system.svclb-traefik-9ce4920b.lb-tcp-80",
        "kube-system.traefik.traefik",
    ]
    coredns = by_name["kube-system.coredns.coredns"]
    assert (
        coredns.digest == "sha256:1391544c978029fcddc65068f6ad67f396e55585b664ecccd7fefba029b9b706"
    )
    assert (coredns.artifact_name, coredns.artifact_version) == (
        "index.docker.io/rancher/mirrored-coredns-coredns",
        "1.12.3",
    )
    # the helm-install Jobs have completed: phase Succeeded counts for nothing
    assert inventory.skipped == {POD_NOT_RUNNING: 2}


def test_real_k3s_default_pending_and_waiting() -> None:
    inventory = read_path(str(DATA / "troubleshoot-k3s-default.json"))
    # backend-api waits (Running phase, container not running); two replicas of
    # cpu-intensive-app are Pending; memory-hungry-app's two replicas make one entry.
    assert names(inventory) == [
        "default.cpu-intensive-app.cpu-burner",
        "default.memory-hungry-app.memory-hog",
    ]
    assert inventory.skipped == {POD_NOT_RUNNING: 2, CONTAINER_NOT_RUNNING: 1}


def test_real_docker_daemonset_replicas_make_one_entry() -> None:
    """skipper's recorded kube-system PodList: nine DaemonSet pods, docker-pullable imageIDs."""
    inventory = read_path(str(DATA / "skipper-kube-system-daemonset.json"))
    assert inventory.pods == 9
    (workload,) = inventory.workloads
    assert workload.deployment_name == "kube-system.skipper-ingress.skipper-ingress"
    assert (
        workload.digest == "sha256:65e409ae5b2d553181bd086cc59aaaaa19c9b5b6e9aadd3c7b8122606f03744a"
    )
    assert workload.artifact_name == "registry.opensource.zalan.do/pathfinder/skipper"
    assert workload.artifact_version == "v0.9.120"


@pytest.mark.parametrize(
    ("fixture", "skipped"),
    [
        ("troubleshoot-message-pod-crashloop-backoff.json", {CONTAINER_NOT_RUNNING: 1}),
        ("troubleshoot-message-pod-init-crashloop-backoff.json", {POD_NOT_RUNNING: 1}),
        ("troubleshoot-message-image-pull-fail.json", {POD_NOT_RUNNING: 1}),
        ("troubleshoot-message-oomkill-pod.json", {POD_NOT_RUNNING: 1}),
        ("troubleshoot-default-unhealthy.json", {POD_NOT_RUNNING: 1}),
    ],
)
def test_real_unhealthy_pods_count_for_nothing(fixture: str, skipped: dict[str, int]) -> None:
    inventory = read_path(str(DATA / fixture))
    assert (inventory.workloads, inventory.unreported, dict(inventory.skipped)) == ([], [], skipped)


def test_written_edge_cases() -> None:
    """tests/data/kubernetes/edge-cases-list.json: every rule of §7 in one kubectl List."""
    inventory = read_path(str(DATA / "edge-cases-list.json"))
    got = {
        w.deployment_name: (w.digest[7:12], w.artifact_name, w.artifact_version)
        for w in inventory.workloads
    }
    assert got == {
        "checkout.app": ("eeeee", "ghcr.io/acme/checkout", "1.1.0"),
        "checkout.envoy": ("fffff", "index.docker.io/envoyproxy/envoy", "v1.31.0"),
        "kube-system.kube-apiserver-node-a.kube-apiserver": (
            "ccccc",
            "registry.k8s.io/kube-apiserver",
            "v1.31.2",
        ),
        "monitoring.node-exporter.node-exporter": (
            "33333",
            "quay.io/prometheus/node-exporter",
            "v1.8.2",
        ),
        "ops.backup.backup": ("44444", "ghcr.io/acme/backup", "1.0.0"),
        "ops.db-migrate.migrate": ("00000", "ghcr.io/acme/migrate", "3.2.1"),
        "ops.debug-shell.shell": ("66666", "index.docker.io/library/busybox", "latest"),
        "ops.report-1234567.report": ("55555", "ghcr.io/acme/report", "0.3"),
        "ops.static-rs.nginx": ("77777", "index.docker.io/library/nginx", "1.27"),
        "payments-api": ("ddddd", "ghcr.io/acme/payments", "4.0.0"),
        "shop.api.api": ("ddddd", "ghcr.io/acme/api", "2.1.0"),  # 1:1 rollout, newest pod
        "shop.cache.redis": ("22222", "registry.example.com:5000/cache/redis", "7.2"),
        "shop.web.web": ("aaaaa", "ghcr.io/acme/web", "1.4.0"),  # 3:2 rollout, most pods
        "shop.worker.worker": ("eeeee", "ghcr.io/acme/worker", "3.2.1"),
    }
    assert [(u.deployment_name, u.reason) for u in inventory.unreported] == [
        ("shop.legacy.legacy", NO_REPOSITORY_DIGEST),
        ("ledger service", INVALID_NAME),
    ]
    assert dict(inventory.skipped) == {POD_NOT_RUNNING: 2, CONTAINER_NOT_RUNNING: 1}
