"""Every list goes through one helper: it follows every page and honours --limit."""

from __future__ import annotations

import pytest

from deploytrace.cli import lists
from tests.cli_ux.conftest import Seeded


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists, "PAGE", 2)


@pytest.mark.usefixtures("small_pages")
def test_lists_follow_every_page(seeded: Seeded) -> None:
    cli = seeded.cli
    for name in ("k8s-west", "vm-fleet", "edge"):
        assert cli("environment", "create", name).code == 0
    for args, count in (
        (["environment", "list"], 4),
        (["logical-environment", "list"], 3),
        (["deployment", "list", "--history"], 3),
        (["attestation", "list"], 1),
    ):
        items = cli(*args, "-o", "json").json()
        assert len(items) == count, (args, items)
        table = cli(*args).out.splitlines()
        assert len(table) == 2 + count, (args, table)


@pytest.mark.usefixtures("small_pages")
def test_limit_stops_after_enough_items(seeded: Seeded) -> None:
    cli = seeded.cli
    newest = cli("deployment", "list", "--history", "-o", "json").json()
    for limit in (1, 2, 3, 5):
        items = cli("deployment", "list", "--history", "--limit", str(limit), "-o", "json").json()
        assert items == newest[:limit]
    audit = cli("audit", "list", "-o", "json").json()
    # Every entry from the newest down to the first, across pages of 2.
    assert [e["position"] for e in audit] == list(range(len(audit), 0, -1))
    audit = cli("audit", "list", "--limit", "3", "-o", "json").json()
    assert len(audit) == 3
