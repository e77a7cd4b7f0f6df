"""Attestations built by the tests: minimal in-toto statements naming chosen digests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent.parent / "data" / "attestations"
DEFAULT_SUBJECT_NAME = "ghcr.io/my-org/api-server"


def statement(
    *digests: str,
    predicate_type: str = "https://slsa.dev/provenance/v1",
    name: str = DEFAULT_SUBJECT_NAME,
    materials: list[tuple[str, str]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> bytes:
    """A bare in-toto Statement v1 with `digests` as subjects.

    `materials` (digest, Chainloop material type) and `metadata` make it a
    Chainloop attestation instead.
    """
    subjects = [{"name": name, "digest": {d.split(":")[0]: d.split(":")[1]}} for d in digests]
    predicate: dict[str, Any] = {}
    if materials is not None or metadata is not None:
        predicate_type = "chainloop.dev/attestation/v0.2"
        predicate = {
            "metadata": metadata or {},
            "materials": [
                {
                    "name": f"material-{i}",
                    "digest": {d.split(":")[0]: d.split(":")[1]},
                    "annotations": {"chainloop.material.type": kind},
                }
                for i, (d, kind) in enumerate(materials or [])
            ],
        }
    return json.dumps(
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": subjects,
            "predicateType": predicate_type,
            "predicate": predicate,
        }
    ).encode()


def corpus(path: str) -> bytes:
    return (CORPUS / path).read_bytes()
