"""imageID and image forms (SPEC §7): which digest is the artifact, and its name and version."""

from __future__ import annotations

import pytest

from deploytrace.inventory.images import artifact, pinned_digest, repository_digest

A = "a" * 64


@pytest.mark.parametrize(
    ("image_id", "expected"),
    [
        # dockershim / cri-dockerd
        (f"docker-pullable://nginx@sha256:{A}", f"sha256:{A}"),
        (f"docker-pullable://registry.example.com:5000/team/app@sha256:{A}", f"sha256:{A}"),
        # containerd and CRI-O
        (f"docker.io/library/nginx@sha256:{A}", f"sha256:{A}"),
        (f"ghcr.io/acme/web@sha256:{A.upper()}", f"sha256:{A}"),  # stored lower case
        (f"quay.io/x/y@sha512:{'b' * 128}", f"sha512:{'b' * 128}"),
        # local image ids: not a manifest digest
        (f"sha256:{A}", None),
        (f"docker://sha256:{A}", None),
        # no digest at all, or one deploytrace cannot store
        ("", None),
        ("docker-pullable://nginx", None),
        ("nginx:1.27", None),
        ("docker.io/library/nginx@sha256:abc", None),
        (f"docker.io/library/nginx@md5:{A[:32]}", None),
    ],
)
def test_repository_digest(image_id: str, expected: str | None) -> None:
    assert repository_digest(image_id) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"registry.example.com/cache/redis:7.2@sha256:{A}", f"sha256:{A}"),
        (f"redis@sha256:{A}", f"sha256:{A}"),
        ("redis:7.2", None),
        (None, None),
        ("redis@sha256:short", None),
    ],
)
def test_pinned_digest(image: str | None, expected: str | None) -> None:
    assert pinned_digest(image) == expected


@pytest.mark.parametrize(
    ("image", "name", "version"),
    [
        # normalized like `deployment record --oci-ref`, so both name one artifact alike
        ("nginx", "index.docker.io/library/nginx", "latest"),
        ("nginx:1.27", "index.docker.io/library/nginx", "1.27"),
        ("docker.io/library/nginx:1.27", "index.docker.io/library/nginx", "1.27"),
        ("ghcr.io/acme/web:1.4.0", "ghcr.io/acme/web", "1.4.0"),
        ("localhost:5000/web:dev", "localhost:5000/web", "dev"),
        (f"ghcr.io/acme/web:1.4.0@sha256:{A}", "ghcr.io/acme/web", "1.4.0"),
        (f"ghcr.io/acme/web@sha256:{A}", "ghcr.io/acme/web", None),
        # an image id as image, or an unreadable reference: no name rather than a wrong one
        (f"sha256:{A}", None, None),
        ("Not A Reference", None, None),
        (None, None, None),
    ],
)
def test_artifact(image: str | None, name: str | None, version: str | None) -> None:
    assert artifact(image) == (name, version)
