"""Read an inventory document from a byte stream without holding it in memory.

Two document types are accepted, told apart by their content:
- a Kubernetes pod list (`kind: List` or `PodList`, from `kubectl get pods -o json`
  or the API), whose `items` are pods;
- the plain document `{"deployments": [...]}`.

The first megabyte is read ahead. A document that fits in it is parsed whole and
checked whole. A larger one is streamed: its top level is scanned (in Python,
cheap: only until the first array) to learn which of `items` or `deployments`
it holds, then one pass of ijson's C item generator builds the entries of that
array one at a time; each is folded into the inventory and dropped, so memory
stays flat however many pods the list has. (One C generator is several times
faster than feeding the bytes to one ijson coroutine per key.) Of a streamed
pod list, `kind` is checked when it comes before `items` (the API's order);
kubectl writes it after, too far to wait for, and every item is checked to be
a pod anyway.
"""

from __future__ import annotations

import io
import json
from typing import Any, BinaryIO

import ijson

from deploytrace.errors import InvalidInput
from deploytrace.inventory import model
from deploytrace.inventory.plain import PlainBuilder
from deploytrace.inventory.pods import InventoryBuilder, Owners

HEAD = 1024 * 1024
CHUNK = 64 * 1024
POD_LIST_KINDS = ("List", "PodList")
_ARRAYS = ("items", "deployments")
_SCALARS = ("string", "number", "boolean", "null")


def read_document(stream: BinaryIO, owners: Owners | None = None) -> model.Inventory:
    """Read a pod list or a plain document from `stream` (bytes) into an inventory."""
    head = _read_ahead(stream)
    if not head.strip():
        raise InvalidInput("the input is empty: expected a JSON pod list or a deployments document")
    if len(head) < HEAD:
        try:
            document = json.loads(head)
        except ValueError as error:
            raise _not_json(head, error) from None
        return _from_document(document, owners)
    return _from_stream(head, stream, owners)


def _from_document(document: Any, owners: Owners | None) -> model.Inventory:
    if not isinstance(document, dict):
        raise InvalidInput(_not_an_inventory(f"a JSON {_json_type(document)}"))
    kind = document.get("kind")
    if "items" in document and "deployments" in document:
        raise InvalidInput("the document has both pod `items` and `deployments`: give one")
    if "items" in document:
        if kind not in POD_LIST_KINDS:
            raise InvalidInput(_wrong_kind(kind))
        items = document["items"]
        if items is None:
            items = []  # `"items": null`: Go's encoding of an empty list
        if not isinstance(items, list):
            raise InvalidInput(_not_an_inventory("`items` that is not a list"))
        pods = InventoryBuilder(owners)
        for index, item in enumerate(items):
            pods.add_pod(item, f"items[{index}]")
        return pods.result()
    if "deployments" in document:
        entries = document["deployments"]
        if not isinstance(entries, list):
            raise InvalidInput(_not_an_inventory("`deployments` that is not a list"))
        plain = PlainBuilder()
        for index, entry in enumerate(entries):
            plain.add_entry(entry, index)
        return plain.result()
    if kind is not None:
        raise InvalidInput(_wrong_kind(kind))
    keys = ", ".join(sorted(map(str, document))[:8]) or "none"
    raise InvalidInput(_not_an_inventory(f"an object with keys {keys}"))


def _from_stream(head: bytes, stream: BinaryIO, owners: Owners | None) -> model.Inventory:
    array, kind = _sniff(head)
    if array is None:
        raise InvalidInput(_not_an_inventory("no `items` or `deployments` list near its start"))
    if array == "items" and kind is not None and kind not in POD_LIST_KINDS:
        raise InvalidInput(_wrong_kind(kind))
    pods = InventoryBuilder(owners)
    plain = PlainBuilder()
    count = 0
    source = io.BufferedReader(_Replay(head, stream), CHUNK)
    try:
        for item in ijson.items(source, f"{array}.item", use_float=True):
            if array == "items":
                pods.add_pod(item, f"items[{count}]")
            else:
                plain.add_entry(item, count)
            count += 1
    except ijson.JSONError as error:
        raise _not_json(head, error) from None
    if count == 0:
        # Real empty lists are a few hundred bytes, never a megabyte.
        raise InvalidInput(
            f"no {array} entries in a document of more than {HEAD} bytes: "
            "expected a pod list or a deployments document"
        )
    return pods.result() if array == "items" else plain.result()


class _Replay(io.RawIOBase):
    """The bytes read ahead, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _read_ahead(stream: BinaryIO) -> bytes:
    parts: list[bytes] = []
    size = 0
    while size < HEAD:
        chunk = stream.read(HEAD - size)
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _sniff(head: bytes) -> tuple[str | None, Any]:
    """The first top-level array key (`items`/`deployments`), and `kind` if it came before."""
    kind = None
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if prefix == "":
                if event in ("start_map", "map_key"):
                    continue
                return None, kind  # not an object at the top
            if "." in prefix:
                continue
            if prefix in _ARRAYS and event == "start_array":
                return prefix, kind
            if prefix == "kind" and event in _SCALARS:
                kind = value
    except ijson.IncompleteJSONError:
        pass  # cut off at the read-ahead limit before any array began
    except ijson.JSONError as error:
        raise _not_json(head, error) from None
    return None, kind


def _json_type(value: Any) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(type(value), "null")


def _wrong_kind(kind: Any) -> str:
    if kind is None:
        return (
            "the document has `items` but no `kind: List` or `PodList`: "
            "give the output of kubectl get pods -o json"
        )
    if kind == "Pod":
        return (
            "the document is a single Pod, not a pod list: a snapshot is the complete set "
            "(kubectl get pods -o json)"
        )
    return f"the document is a {str(kind)[:60]!r}, not a pod list (kind List or PodList)"


def _not_an_inventory(found: str) -> str:
    return (
        "not a pod list (kind List/PodList with items) nor a deployments document "
        f'({{"deployments": [...]}}): found {found}'
    )


def _not_json(head: bytes, error: Exception) -> InvalidInput:
    first = head.lstrip()[:1]
    if first and first not in b"{[":
        return InvalidInput(
            "the input is not JSON (YAML or text?): give kubectl get pods -o json, "
            'or a {"deployments": [...]} document'
        )
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InvalidInput(f"the input is not valid JSON: {message[:200]}")
