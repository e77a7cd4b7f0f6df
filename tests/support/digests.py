"""Deterministic artifact digests for tests."""

from __future__ import annotations

import hashlib


def digest(label: str | int, algorithm: str = "sha256") -> str:
    return f"{algorithm}:" + hashlib.new(algorithm, str(label).encode()).hexdigest()
