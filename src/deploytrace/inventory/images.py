"""Digests and artifact names from a container's `image` and `imageID` (SPEC §7).

`imageID` is what the container runtime reports it runs:
- `docker-pullable://REPO@sha256:…` (dockershim, cri-dockerd) and `REPO@sha256:…`
  (containerd, CRI-O) carry the repository (manifest) digest: that is the artifact;
- `sha256:…` (containerd, an image imported locally) and `docker://sha256:…`
  (Docker, an image built on the node) are local image ids (the config digest), which
  no registry or attestation names: then only a digest pinned in `image` can stand in.
"""

from __future__ import annotations

import re

from deploytrace.errors import InvalidInput
from deploytrace.inventory.rules import normal_digest
from deploytrace.oci.reference import Reference

# An `image` that is itself an image id (`sha256:<hex>`), as some runtimes report in status.
_IMAGE_ID = re.compile(r"(sha256|sha512):[0-9a-fA-F]+", re.ASCII)


def repository_digest(image_id: str) -> str | None:
    """The manifest digest an `imageID` names, or None for a local image id or no digest."""
    _, scheme, rest = image_id.strip().partition("://")
    text = rest if scheme else image_id.strip()
    if "@" not in text:
        return None
    return normal_digest(text.rpartition("@")[2])


def pinned_digest(image: str | None) -> str | None:
    """The digest pinned in an `image` reference (`REPO[:TAG]@sha256:…`), if any."""
    if not image or "@" not in image:
        return None
    return normal_digest(image.rpartition("@")[2])


def artifact(image: str | None) -> tuple[str | None, str | None]:
    """Artifact name and version (repository and tag) of an `image` reference.

    Normalized like `deployment record --oci-ref` (`nginx:1.25` →
    `index.docker.io/library/nginx`, `1.25`) so a workload reported by a sync and
    one recorded by a pipeline name the same artifact the same way.
    """
    if not image or _IMAGE_ID.fullmatch(image.strip()):
        return None, None
    try:
        ref = Reference.parse(image)
    except InvalidInput:
        # The kubelet ran it, so it was a usable reference to the runtime; keep
        # the digest, drop a name we cannot read rather than refuse the workload.
        return None, None
    return ref.name, ref.tag
