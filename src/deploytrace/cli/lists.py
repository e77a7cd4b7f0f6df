"""The one way the CLI lists things: follow every page, honour --limit, print a table or JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deploytrace.cli import output
from deploytrace.cli.main import State

PAGE = 500  # the API's largest page: fewest round trips


def fetch(
    state: State, path: str, params: dict[str, Any] | None = None, limit: int | None = None
) -> list[Any]:
    """Every item of a paged list (the first `limit` when given), newest first."""
    query = {**(params or {}), "limit": min(limit, PAGE) if limit else PAGE}
    items: list[Any] = state.client.pages(path, query, limit)
    return items


def show(
    state: State,
    path: str,
    columns: Sequence[output.Column],
    empty: str,
    *,
    params: dict[str, Any] | None = None,
    limit: int | None = None,
) -> list[Any]:
    """`fetch`, then a table (`empty` on stderr when there is nothing), or a JSON array."""
    items = fetch(state, path, params, limit)
    if state.json:
        output.emit_json(items)
    else:
        output.table(items, columns, empty)
    return items
