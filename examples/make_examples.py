"""Make the quick start's example image and its attestation, byte for byte.

    python3 examples/make_examples.py [DIRECTORY]     # default: the directory of this file

Writes, under DIRECTORY:

- `api-server/`: an OCI image layout (https://github.com/opencontainers/image-spec,
  layout.md) holding two tiny images, tagged `v1.0.0` and `v1.1.0`. Each is a config
  and one uncompressed layer with a single file, `/VERSION`. Nothing in them varies
  (tar entries with mtime 0 and uid 0, JSON with sorted keys), so their manifest
  digests are fixed: they are the `V1`/`V2` of the README's quick start.
- `api-server.intoto.json`: an in-toto Statement v1 whose subjects are those two
  manifest digests, named `ghcr.io/my-org/api-server`, with a small SLSA provenance v1
  predicate saying this script built them. It is unsigned (`unverified` when pushed),
  as a local build's provenance would be.

Only the standard library is used; the test suite runs this into a temporary
directory and compares every file with the committed ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

NAME = "ghcr.io/my-org/api-server"
VERSIONS = ("v1.0.0", "v1.1.0")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _descriptor(media_type: str, data: bytes, **extra: object) -> dict[str, object]:
    return {"mediaType": media_type, "digest": _sha256(data), "size": len(data), **extra}


def _layer(version: str) -> bytes:
    content = f"{version}\n".encode()
    info = tarfile.TarInfo("VERSION")
    info.size, info.mode, info.mtime, info.uid, info.gid = len(content), 0o644, 0, 0, 0
    info.uname = info.gname = ""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def image(version: str) -> tuple[bytes, dict[str, bytes]]:
    """(manifest, every blob by digest) of the example image of `version`."""
    layer = _layer(version)
    config = _json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"org.opencontainers.image.version": version}},
            "rootfs": {"type": "layers", "diff_ids": [_sha256(layer)]},
        }
    )
    manifest = _json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": _descriptor(OCI_CONFIG, config),
            "layers": [_descriptor(OCI_LAYER, layer)],
        }
    )
    blobs = {_sha256(b): b for b in (layer, config, manifest)}
    return manifest, blobs


def statement(digests: dict[str, str]) -> bytes:
    """The build's provenance: one statement naming both images as subjects."""
    value = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [
            {"name": NAME, "digest": {"sha256": digest.removeprefix("sha256:")}}
            for digest in digests.values()
        ],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://deploytrace.example/buildtypes/make-examples@v1",
                "externalParameters": {"versions": list(digests)},
            },
            "runDetails": {
                "builder": {"id": "https://deploytrace.example/examples/make_examples.py"}
            },
        },
    }
    return (json.dumps(value, indent=2) + "\n").encode()


def make(directory: Path) -> dict[str, str]:
    """Write the layout and the statement under `directory`; the manifest digest per version."""
    layout = directory / "api-server"
    (layout / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (layout / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    digests, entries = {}, []
    for version in VERSIONS:
        manifest, blobs = image(version)
        for digest, data in blobs.items():
            (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).write_bytes(data)
        digests[version] = _sha256(manifest)
        annotations = {"org.opencontainers.image.ref.name": version}
        entries.append(_descriptor(OCI_MANIFEST, manifest, annotations=annotations))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    (layout / "index.json").write_bytes(_json(index))
    (directory / "api-server.intoto.json").write_bytes(statement(digests))
    return digests


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for version, digest in make(target).items():
        print(f"{version}  {digest}")  # noqa: T201
