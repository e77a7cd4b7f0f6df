"""Rendering: JSON for machines, compact tables for people on an 80-column terminal."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

# (title, render, priority): when the terminal is too narrow, the columns with
# the lowest priority are dropped whole rather than every column squeezed.
Column = tuple[str, Callable[[dict[str, Any]], str], int]
GAP = 2


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


def relative(timestamp: str | None, now: dt.datetime | None = None) -> str:
    if not timestamp:
        return "-"
    try:
        then = dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return timestamp
    seconds = int(((now or dt.datetime.now(dt.UTC)) - then).total_seconds())
    if seconds < 5:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            if unit == "d" and seconds >= 30 * 86400:
                return then.strftime("%Y-%m-%d")
            return f"{seconds // size}{unit} ago"
    return then.strftime("%Y-%m-%d %H:%M")  # in the future: clock skew


def table(rows: Sequence[dict[str, Any]], columns: Sequence[Column], empty: str) -> None:
    if not rows:
        sys.stderr.write(empty + "\n")
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=False)
    cells = [[render(row) for _, render, _ in columns] for row in rows]
    keep = fit([c[0] for c in columns], [c[2] for c in columns], cells, console.width)
    grid = Table(
        box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False, expand=False, padding=(0, 1, 0, 0)
    )
    for i in keep:
        grid.add_column(columns[i][0], no_wrap=True, overflow="ellipsis")
    for line in cells:
        grid.add_row(*(line[i] for i in keep))
    console.print(grid)


def fit(
    titles: Sequence[str], priorities: Sequence[int], cells: Sequence[Sequence[str]], width: int
) -> list[int]:
    """Indexes of the columns to show: drop the least important until the rest fit."""
    widths = [max([len(t), *(len(line[i]) for line in cells)]) for i, t in enumerate(titles)]
    keep = list(range(len(titles)))
    while len(keep) > 1 and sum(widths[i] for i in keep) + GAP * (len(keep) - 1) > width:
        keep.remove(min(keep, key=lambda i: (priorities[i], -i)))
    return keep


def fields(pairs: Sequence[tuple[str, str]]) -> None:
    """One object as aligned `key  value` lines (cheap: no Rich import)."""
    width = max(len(k) for k, _ in pairs)
    for key, value in pairs:
        sys.stdout.write(f"{key.ljust(width)}  {value}\n")
