"""Fixtures for the attestation library tests: the corpus copy and trust stores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from deploytrace.attestations import TrustStore

CORPUS = Path(__file__).resolve().parents[1] / "data" / "attestations"


def corpus_bytes(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


@pytest.fixture(scope="session")
def default_trust() -> TrustStore:
    return TrustStore()


@pytest.fixture(scope="session")
def trust_with() -> Callable[..., TrustStore]:
    """Build a TrustStore from corpus file names: keys={name: path}, roots={name: path}."""

    def build(
        keys: dict[str, str] | None = None,
        roots: dict[str, str] | None = None,
        include_public_good: bool = True,
    ) -> TrustStore:
        return TrustStore(
            keys=[(name, corpus_bytes(path)) for name, path in (keys or {}).items()],
            roots=[(name, corpus_bytes(path)) for name, path in (roots or {}).items()],
            include_public_good=include_public_good,
        )

    return build
