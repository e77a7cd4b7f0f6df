"""Read an inventory document from a byte stream without holding it in memory.

Two document types are accepted, told apart by their content:
- a Kubernetes pod list (`kind: List` or `PodList`, from `kubectl get pods -o json`
  or the API), whose `items` are pods;
- the plain document `{"deployments": [...]}`.

The stream is parsed once, in chunks, by ijson's C backend: pods are built one
at a time and folded into the inventory, so memory stays flat however many
pods the list has. kubectl writes `kind` *after* `items`, so the type is
confirmed at the end; nothing leaves this module before then.
"""

from __future__ import annotations

import json
from typing import Any, BinaryIO

import ijson

from deploytrace.errors import InvalidInput
from deploytrace.inventory import model
from deploytrace.inventory.plain import PlainBuilder
from deploytrace.inventory.pods import InventoryBuilder, Owners

CHUNK = 64 * 1024
# A document in which nothing was found is judged on its full text only when it
# is at most this large; real empty lists are a few hundred bytes.
_SMALL = 1024 * 1024
POD_LIST_KINDS = ("List", "PodList")


def read_document(stream: BinaryIO, owners: Owners | None = None) -> model.Inventory:
    """Read a pod list or a plain document from `stream` (bytes) into an inventory."""
    pods: Any = ijson.sendable_list()
    entries: Any = ijson.sendable_list()
    kinds: Any = ijson.sendable_list()
    parsers = [
        ijson.items_coro(pods, "items.item", use_float=True),
        ijson.items_coro(entries, "deployments.item", use_float=True),
        ijson.items_coro(kinds, "kind"),
    ]
    pod_builder = InventoryBuilder(owners)
    plain = PlainBuilder()
    head = bytearray()
    size = pod_index = entry_index = 0
    try:
        while True:
            chunk = stream.read(CHUNK)
            if not chunk:
                break
            if size < _SMALL:
                head += chunk[: _SMALL + 1 - len(head)]
            size += len(chunk)
            for parser in parsers:
                parser.send(chunk)
            for pod in pods:
                pod_builder.add_pod(pod, f"items[{pod_index}]")
                pod_index += 1
            del pods[:]
            for entry in entries:
                plain.add_entry(entry, entry_index)
                entry_index += 1
            del entries[:]
            if pod_index and entry_index:
                raise InvalidInput("the document has both pod `items` and `deployments`")
        if size == 0:
            raise InvalidInput(
                "the input is empty: expected a JSON pod list or deployments document"
            )
        for parser in parsers:
            parser.close()
    except ijson.JSONError as error:
        raise _not_json(head, error) from None
    # Items completed by the final close().
    for pod in pods:
        pod_builder.add_pod(pod, f"items[{pod_index}]")
        pod_index += 1
    for entry in entries:
        plain.add_entry(entry, entry_index)
        entry_index += 1
    if pod_index and entry_index:
        raise InvalidInput("the document has both pod `items` and `deployments`")
    kind = kinds[0] if kinds else None
    if kind is not None and kind not in POD_LIST_KINDS:
        raise InvalidInput(_wrong_kind(kind))
    if kind in POD_LIST_KINDS:
        if not pod_index:
            _check_empty(head, size, "items")
        return pod_builder.result()
    if pod_index:
        raise InvalidInput(
            "the document has `items` but no `kind: List` or `PodList`: "
            "give the output of kubectl get pods -o json"
        )
    if not entry_index:
        _check_empty(head, size, "deployments")
    return plain.result()


def _check_empty(head: bytes | bytearray, size: int, key: str) -> None:
    """A document in which no item was found must really hold an empty `key` list."""
    if size > _SMALL:
        raise InvalidInput(
            f"no {key} found in a {size}-byte document: "
            "expected a pod list or a {'deployments': [...]} document"
        )
    document = json.loads(head)
    if isinstance(document, dict) and isinstance(document.get(key), list):
        return
    if isinstance(document, dict) and key == "items" and document.get(key) is None:
        return  # `"items": null`: Go's encoding of an empty list
    if not isinstance(document, dict):
        found = f"a JSON {type(document).__name__.replace('dict', 'object')}"
    elif key in document:
        found = f"`{key}` that is not a list"
    else:
        keys = ", ".join(sorted(document)[:8]) or "none"
        found = f"an object with keys {keys}"
    raise InvalidInput(
        f"not a pod list (kind List/PodList with items) nor a deployments document "
        f'({{"deployments": [...]}}): found {found}'
    )


def _wrong_kind(kind: Any) -> str:
    shown = str(kind)[:60]
    if kind == "Pod":
        return (
            "the document is a single Pod, not a pod list: a snapshot is the complete set "
            "(kubectl get pods -o json)"
        )
    return f"the document is a {shown!r}, not a pod list (kind List or PodList)"


def _not_json(head: bytes | bytearray, error: Exception) -> InvalidInput:
    first = head.lstrip()[:1]
    if first and first not in b"{[":
        return InvalidInput(
            "the input is not JSON (YAML or text?): give kubectl get pods -o json, "
            'or a {"deployments": [...]} document'
        )
    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return InvalidInput(f"the input is not valid JSON: {message[:200]}")
