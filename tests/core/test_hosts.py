"""What counts as this machine, for every caller (CLI warning, registries, webhooks)."""

from __future__ import annotations

import pytest

from deploytrace.hosts import is_loopback


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST:8080", True),
        ("localhost.", True),
        ("127.0.0.1", True),
        ("127.1.2.3:5000", True),
        ("::1", True),
        ("[::1]:8080", True),
        ("10.0.0.1", False),
        ("localhost.example.com", False),
        ("registry.example", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
