"""Resolve images, indexes and Helm charts on a real anonymous registry."""

from __future__ import annotations

import re

import pytest

from deploytrace.errors import InvalidInput, NotFound, Unavailable
from deploytrace.oci import ResolvedArtifact, resolve
from tests.support.registry import Artifacts, Pushed, Registry, free_port

pytestmark = pytest.mark.registry

IMAGE_KINDS = ["image", "image2", "docker_image", "index"]


def _pushed(artifacts: Artifacts, which: str) -> Pushed:
    pushed: Pushed = getattr(artifacts, which)
    return pushed


@pytest.mark.parametrize("which", [*IMAGE_KINDS, "chart"])
def test_resolve_by_tag(artifacts: Artifacts, which: str) -> None:
    pushed = _pushed(artifacts, which)
    resolved = resolve(pushed.ref, kind=pushed.kind)
    assert resolved == ResolvedArtifact(
        digest=pushed.digest,
        name=pushed.name,
        version=pushed.tag,
        media_type=pushed.media_type,
        kind=pushed.kind,
    )


@pytest.mark.parametrize("which", [*IMAGE_KINDS, "chart"])
def test_resolve_by_digest(artifacts: Artifacts, which: str) -> None:
    pushed = _pushed(artifacts, which)
    resolved = resolve(pushed.digest_ref, kind=pushed.kind)
    assert (resolved.digest, resolved.name, resolved.version) == (pushed.digest, pushed.name, None)


def test_tag_and_digest_keeps_the_tag(artifacts: Artifacts) -> None:
    image = artifacts.image
    resolved = resolve(f"{image.ref}@{image.digest}", kind="CONTAINER_IMAGE")
    assert (resolved.digest, resolved.version) == (image.digest, image.tag)


def test_index_digest_is_the_index_not_a_platform_manifest(artifacts: Artifacts) -> None:
    resolved = resolve(artifacts.index.ref, kind="CONTAINER_IMAGE")
    assert resolved.digest == artifacts.index.digest
    assert resolved.media_type == "application/vnd.oci.image.index.v1+json"


def test_two_images_have_different_digests(artifacts: Artifacts) -> None:
    first = resolve(artifacts.image.ref, kind="CONTAINER_IMAGE")
    second = resolve(artifacts.image2.ref, kind="CONTAINER_IMAGE")
    assert first.digest != second.digest
    assert first.name == second.name


def test_helm_chart_with_oci_prefix_and_lower_case_kind(artifacts: Artifacts) -> None:
    chart = artifacts.chart
    resolved = resolve(f"oci://{chart.ref}", kind="helm_chart")
    assert (resolved.kind, resolved.digest, resolved.version) == (
        "HELM_CHART",
        chart.digest,
        "0.1.0",
    )


@pytest.mark.parametrize("which", IMAGE_KINDS)
def test_image_resolved_as_helm_chart_is_invalid(artifacts: Artifacts, which: str) -> None:
    pushed = _pushed(artifacts, which)
    with pytest.raises(InvalidInput, match="is a container image, not a Helm chart"):
        resolve(pushed.ref, kind="HELM_CHART")


def test_helm_chart_resolved_as_image_is_invalid(artifacts: Artifacts) -> None:
    with pytest.raises(InvalidInput, match="is a Helm chart, not a container image") as caught:
        resolve(artifacts.chart.ref, kind="CONTAINER_IMAGE")
    assert artifacts.chart.ref in str(caught.value)


@pytest.mark.parametrize("kind", ["", "image", "OCI", "container-image"])
def test_unknown_kind_is_invalid_input(anon_registry: Registry, kind: str) -> None:
    with pytest.raises(InvalidInput, match="kind must be CONTAINER_IMAGE or HELM_CHART"):
        resolve(anon_registry.ref("demo/app"), kind=kind)


def test_unknown_repository_is_not_found(anon_registry: Registry) -> None:
    # distribution 2.8 answers MANIFEST_UNKNOWN here (NAME_UNKNOWN: see test_fake_registry).
    expected = re.escape("in repository nope/missing on registry 127.0.0.1")
    with pytest.raises(NotFound, match=expected):
        resolve(anon_registry.ref("nope/missing", "1.0"), kind="CONTAINER_IMAGE")


def test_unknown_tag_is_not_found(artifacts: Artifacts) -> None:
    expected = re.escape("tag 9.9 not found in repository demo/app on registry")
    with pytest.raises(NotFound, match=expected):
        resolve(f"{artifacts.image.name}:9.9", kind="CONTAINER_IMAGE")


def test_unknown_digest_is_not_found(artifacts: Artifacts) -> None:
    missing = "sha256:" + "0" * 64
    with pytest.raises(NotFound, match=f"digest {missing} not found in repository demo/app"):
        resolve(f"{artifacts.image.name}@{missing}", kind="CONTAINER_IMAGE")


def test_malformed_reference_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="invalid OCI reference"):
        resolve("127.0.0.1:5000/Demo/App:1.0", kind="CONTAINER_IMAGE")


def test_closed_port_is_unavailable_naming_the_host() -> None:
    port = free_port()  # nothing listens there any more
    with pytest.raises(Unavailable, match=f"cannot connect to registry 127.0.0.1:{port}"):
        resolve(f"127.0.0.1:{port}/demo/app:1.0", kind="CONTAINER_IMAGE", timeout=2)


def test_unknown_host_is_unavailable_naming_it() -> None:
    with pytest.raises(Unavailable, match=re.escape("registry host no-such-registry.invalid")):
        resolve("no-such-registry.invalid/demo/app:1.0", kind="CONTAINER_IMAGE", timeout=2)


def test_non_positive_timeout_is_invalid_input(anon_registry: Registry) -> None:
    with pytest.raises(InvalidInput, match="timeout must be positive"):
        resolve(anon_registry.ref("demo/app"), kind="CONTAINER_IMAGE", timeout=0)
