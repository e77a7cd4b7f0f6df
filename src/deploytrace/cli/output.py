"""Rendering: JSON for machines, compact tables for people on an 80-column terminal.

Everything shown comes from the server, and much of it from evidence anyone in the
organization may push: an attestation field can carry terminal escape sequences
(`ESC ] 52` writes the clipboard, `ESC [2J` clears the screen) or bidi overrides
that make text read differently than it is. So data is written as plain text,
never interpreted as markup, with control and format characters shown as visible
escapes (`\\x1b`, `\\u202e`). Colour is ours alone: added around whole cells on a
terminal, never taken from data, and off in pipes, with `-o json` and when
`NO_COLOR` is set.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import sys
import unicodedata
from collections.abc import Callable, Collection, Sequence
from typing import Any, TextIO

# (title, render, priority): when the terminal is too narrow, the columns with
# the lowest priority are dropped whole rather than every column squeezed.
Column = tuple[str, Callable[[dict[str, Any]], str], int]
GAP = 2

# Categories never written raw: controls (C0, DEL, C1), format characters (bidi
# overrides and isolates, zero-width characters, Unicode tags), lone surrogates
# (not even encodable) and the line and paragraph separators.
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_SGR = {"green": "32", "yellow": "33", "red": "31", "dim": "2", "bold": "1"}
# The words tables and fields colour wherever they appear as a whole status cell.
STATUS_STYLES = {
    "deployed": "green",
    "superseded": "dim",
    "decommissioned": "yellow",
    "STALE": "red",
    "verified": "green",
    "unverified": "yellow",
    "INVALID": "red",
    "passed": "green",
    "violated": "red",
    "policy violated": "red",
    "skipped": "dim",
    "refused": "red",
    "unattested": "red",
    "created": "green",
}


def emit_json(data: Any) -> None:
    # ensure_ascii (the default) escapes every control and non-ASCII character.
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def safe(value: object) -> str:
    """`value` as text a terminal shows and never obeys: controls as visible escapes."""
    text = "" if value is None else str(value)
    if text.isprintable():  # the common case, in C
        return text
    return "".join(_escape(c) for c in text)


def _escape(char: str) -> str:
    if unicodedata.category(char) not in _ESCAPED_CATEGORIES:
        return char  # e.g. a no-break space: not "printable" to Python, harmless
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class Styled(str):
    """A cell's text with the colour it gets on a terminal (see `paint`)."""

    style: str | None = None


def paint(text: str, style: str | None) -> str:
    """`text` to be shown in `style` (green, yellow, red, dim, bold) where colour is on."""
    cell = Styled(text)
    cell.style = style
    return cell


def status(text: str) -> str:
    """A status word, painted with its colour from `STATUS_STYLES`."""
    word = text.split(" (", maxsplit=1)[0]  # "decommissioned (absent)" is decommissioned
    return paint(text, STATUS_STYLES.get(text) or STATUS_STYLES.get(word))


def colour_enabled(stream: TextIO | None = None) -> bool:
    """Colour only for a person: a terminal, no NO_COLOR (https://no-color.org), not dumb."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return _isatty(stream or sys.stdout)


def _isatty(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def render(text: str, colour: bool, style: str | None = None) -> str:
    """`text` wrapped in its colour's escape codes when `colour` is on (text must be safe)."""
    style = style or getattr(text, "style", None)
    if not colour or not style:
        return text
    codes = ";".join(_SGR[word] for word in style.split() if word in _SGR)
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


def cell_width(text: str) -> int:
    """Terminal columns `text` takes: wide East Asian characters 2, combining marks 0."""
    if text.isascii():
        return len(text)
    width = 0
    for char in text:
        if unicodedata.combining(char):
            continue
        width += 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
    return width


def _truncate(text: str, width: int) -> str:
    if cell_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        w = cell_width(char)
        if used + w > width - 1:
            break
        out.append(char)
        used += w
    return "".join(out) + "…"


def terminal_width() -> int | None:
    """The width tables must fit: $COLUMNS, else the terminal's; None in a pipe (no limit)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if not _isatty(sys.stdout):
        return None
    try:  # os, not shutil: shutil imports the compression modules (start-up time)
        return os.get_terminal_size(sys.stdout.fileno()).columns or 80
    except (OSError, ValueError, AttributeError):
        return 80


def short_digest(digest: str | None) -> str:
    if not digest:
        return "-"
    algorithm, _, value = digest.partition(":")
    return f"{algorithm}:{value[:12]}" if value else digest


def short_ids(ids: Sequence[str], minimum: int = 8) -> dict[str, str]:
    """Each id's shortest prefix (≥ `minimum` hex digits) that no other id shares.

    Record ids are UUIDv7, whose first 12 hex digits are the creation time in
    milliseconds: ids made within a minute share 8 digits, so a fixed-width
    prefix would show the same short form for different records.
    """
    hexes = sorted({i.replace("-", "").lower() for i in ids})
    shortest: dict[str, int] = {}
    for a, b in itertools.pairwise(hexes):
        common = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), 32)
        shortest[a] = max(shortest.get(a, minimum), common + 1)
        shortest[b] = max(shortest.get(b, minimum), common + 1)
    out = {}
    for full in ids:
        length = min(32, shortest.get(full.replace("-", "").lower(), minimum))
        # Cut the canonical form so that it keeps `length` hex digits (dashes included).
        cut, seen = 0, 0
        while seen < length and cut < len(full):
            seen += full[cut] != "-"
            cut += 1
        out[full] = full[:cut]
    return out


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


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    empty: str,
    *,
    given: Collection[str] = (),
) -> None:
    """Rows as an aligned plain-text table on stdout (`empty` on stderr when there are none).

    `given` names the columns whose value the command line fixed (a list filtered by
    `--env` needs no ENV column): on a narrow terminal they are dropped first.
    """
    if not rows:
        sys.stderr.write(safe(empty) + "\n")
        return
    titles = [c[0] for c in columns]
    cells: list[list[tuple[str, str | None]]] = []
    for row in rows:
        line = []
        for _, cell, _ in columns:
            value = cell(row)
            line.append((safe(value), getattr(value, "style", None)))
        cells.append(line)
    texts = [[text for text, _ in line] for line in cells]
    width = terminal_width()
    keep = fit(titles, [c[2] for c in columns], texts, width, given=given)
    widths = _shrink(
        [max([len(titles[i]), *(cell_width(line[i]) for line in texts)]) for i in keep],
        [len(titles[i]) for i in keep],
        width,
    )
    colour = colour_enabled()
    out = [_line([(titles[i], "bold") for i in keep], widths, colour)]
    out.append("─" * (sum(widths) + GAP * (len(widths) - 1)))
    out += [_line([line[i] for i in keep], widths, colour) for line in cells]
    sys.stdout.write("\n".join(out) + "\n")


def _line(cells: Sequence[tuple[str, str | None]], widths: Sequence[int], colour: bool) -> str:
    parts = []
    for (text, style), width in zip(cells, widths, strict=True):
        shown = _truncate(text, width)
        padding = " " * (width - cell_width(shown))
        parts.append(render(shown, colour, style) + padding)
    return (" " * GAP).join(parts).rstrip()


def _shrink(widths: list[int], minimums: list[int], limit: int | None) -> list[int]:
    """Narrow the widest columns (their cells end in …) until the line fits `limit`."""
    if limit is None:
        return widths
    widths = list(widths)
    while sum(widths) + GAP * (len(widths) - 1) > limit:
        widest = max(range(len(widths)), key=lambda i: widths[i] - minimums[i])
        if widths[widest] <= max(minimums[widest], 1):
            break
        widths[widest] -= 1
    return widths


def fit(
    titles: Sequence[str],
    priorities: Sequence[int],
    cells: Sequence[Sequence[str]],
    width: int | None,
    *,
    given: Collection[str] = (),
) -> list[int]:
    """Indexes of the columns to show: drop the least useful until the rest fit.

    Columns that say nothing here go first: every cell `-`, or fixed by the command
    line (`given`); then the lowest priority, rightmost first.
    """
    widths = [max([len(t), *(cell_width(line[i]) for line in cells)]) for i, t in enumerate(titles)]
    keep = list(range(len(titles)))
    if width is None:
        return keep
    silent = {i for i in keep if titles[i] in given or {line[i] for line in cells} <= {"-", ""}}
    while len(keep) > 1 and sum(widths[i] for i in keep) + GAP * (len(keep) - 1) > width:
        keep.remove(min(keep, key=lambda i: (i not in silent, priorities[i], -i)))
    return keep


def fields(pairs: Sequence[tuple[str, str]]) -> None:
    """One object as aligned `key  value` lines."""
    colour = colour_enabled()
    width = max(cell_width(safe(k)) for k, _ in pairs)
    for key, value in pairs:
        label = safe(key)
        text = render(safe(value), colour, getattr(value, "style", None))
        sys.stdout.write(f"{label}{' ' * (width - cell_width(label))}  {text}\n")


def line(text: str) -> None:
    """One line of data-bearing text on stdout, made safe for the terminal."""
    sys.stdout.write(safe(text) + "\n")
