"""Push the example image layout to a registry, both tags, byte for byte.

    python3 examples/push_image.py 127.0.0.1:5000/my-org/api-server

Plain HTTP, no credentials: meant for a throwaway registry on loopback (see
quickstart.sh). Uses httpx, which deploytrace installs. Blobs go up with the
distribution API's monolithic upload (POST, then PUT with the digest); manifests
are PUT with exactly the bytes of the layout, so the registry serves the digests
the example attestation names.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

LAYOUT = Path(__file__).resolve().parent / "api-server"


def push(reference: str) -> None:
    host, _, repository = reference.partition("/")
    blobs = LAYOUT / "blobs" / "sha256"
    index = json.loads((LAYOUT / "index.json").read_bytes())
    with httpx.Client(base_url=f"http://{host}", timeout=10) as client:
        for entry in index["manifests"]:
            body = (blobs / entry["digest"].removeprefix("sha256:")).read_bytes()
            manifest = json.loads(body)
            for blob in [manifest["config"], *manifest["layers"]]:
                digest = blob["digest"]
                if client.head(f"/v2/{repository}/blobs/{digest}").status_code == 200:
                    continue
                started = client.post(f"/v2/{repository}/blobs/uploads/")
                started.raise_for_status()
                # Add the digest to the upload URL's own query (it carries the upload state).
                url = httpx.URL(started.headers["location"]).copy_add_param("digest", digest)
                data = (blobs / digest.removeprefix("sha256:")).read_bytes()
                client.put(
                    url, content=data, headers={"content-type": "application/octet-stream"}
                ).raise_for_status()
            tag = entry["annotations"]["org.opencontainers.image.ref.name"]
            answer = client.put(
                f"/v2/{repository}/manifests/{tag}",
                content=body,
                headers={"content-type": entry["mediaType"]},
            )
            answer.raise_for_status()
            assert answer.headers["docker-content-digest"] == entry["digest"]
            print(f"pushed {host}/{repository}:{tag}  {entry['digest']}")  # noqa: T201


if __name__ == "__main__":
    if len(sys.argv) != 2 or "/" not in sys.argv[1]:
        sys.exit("usage: push_image.py HOST:PORT/REPOSITORY")
    push(sys.argv[1])
