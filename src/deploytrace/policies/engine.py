"""The Rego engine itself: regopy (Microsoft's rego-cpp) behind three calls.

Only the sandbox's worker processes import this module: rego-cpp runs in C++
and cannot be interrupted, so it never runs in a process that serves requests
(see `sandbox`). `compile` builds a module once into a bundle (rego-cpp's
compiled plan) and reports what the compiler saw; `set_input` and `query` run
a bundle against one input.
"""

from __future__ import annotations

import ctypes
import json
import math
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regopy
from regopy import rego_shared as rs

# regopy does not declare this one; undeclared, ctypes would truncate the pointer.
rs.rego.regoOutputSize.restype = ctypes.c_uint32
rs.rego.regoOutputSize.argtypes = [ctypes.c_void_p]

MODULE_FILE = "policy.rego"

# rego-cpp 1.5 cannot parse RFC 3339 times written with "Z" (it takes "+00:00"),
# the form nearly every attestation and SBOM uses. Every evaluation replaces the
# built-in with this function, which reads both forms, fractions included.
COMPAT_PACKAGE = "deploytrace_compat__"
COMPAT_MODULE = f"""package {COMPAT_PACKAGE}

import rego.v1

layout := "2006-01-02T15:04:05.999999999Z07:00"

parse_rfc3339_ns(value) := time.parse_ns(layout, _offset(upper(value)))

_offset(v) := concat("", [trim_suffix(v, "Z"), "+00:00"]) if endswith(v, "Z")

_offset(v) := v if not endswith(v, "Z")
"""
COMPAT_WITH = f" with time.parse_rfc3339_ns as data.{COMPAT_PACKAGE}.parse_rfc3339_ns"
_INT64 = (-(2**63), 2**63 - 1)


class EngineError(Exception):
    """The engine refused a module, an input or a query; the message says why."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


@dataclass
class Compiled:
    """One module, compiled for the query `data.<package>.result`."""

    bundle: regopy.Bundle
    builder: regopy.Interpreter  # owns memory the bundle points into: keep it alive


@dataclass
class Inspection:
    """What the compiler found in a module: built-ins it calls (and those of them the
    engine does not have) and rules it defines."""

    builtins: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    rules: list[list[str]] = field(default_factory=list)


def _interpreter() -> regopy.Interpreter:
    rego = regopy.Interpreter()
    # rego-cpp prints parse errors to stdout unless told not to.
    rego.log_level = regopy.LogLevel.NONE
    return rego


def _with_module(source: str) -> regopy.Interpreter:
    rego = _interpreter()
    try:
        rego.add_module(MODULE_FILE, source)
    except regopy.RegoError as error:
        raise _located(str(error), source) from None
    return rego


def compile(source: str, package: str) -> Compiled:
    """Build `source` into a bundle answering `data.<package>.result`."""
    rego = _with_module(source)
    rego.add_module("deploytrace_compat.rego", COMPAT_MODULE)
    try:
        bundle = rego.build(f"x = data.{package}.result{COMPAT_WITH}")
    except regopy.RegoError as error:
        raise _located(str(error), source) from None
    if not bundle.ok():
        raise EngineError("the module does not compile (does it call an unknown function?)")
    return Compiled(bundle, rego)


def inspect(source: str, package: str) -> Inspection:
    """Every built-in the module calls and every rule it defines, from the compiled plan.

    The whole package is compiled (not only `result`), so a built-in in a rule
    that `result` does not reach is seen too. The plan is the compiler's own
    output: strings, comments, `with` replacements and unused helpers are
    already resolved there, which no scan of the source text can promise.
    """
    rego = _with_module(source)
    try:
        bundle = rego.build(f"x = data.{package}")
    except regopy.RegoError as error:
        raise _located(str(error), source) from None
    with tempfile.TemporaryDirectory(prefix="deploytrace-rego-") as tmp:
        target = Path(tmp) / "bundle"
        try:
            rego.save_bundle(str(target), bundle)
        except regopy.RegoError as error:
            raise EngineError(f"cannot read the compiled plan: {error}") from None
        plan = json.loads((target / "plan.json").read_text(encoding="utf-8"))
    called = {b.get("name") for b in plan.get("static", {}).get("builtin_funcs", [])}
    # A function the engine does not know (chainloop.*, net.*) is not declared as
    # a built-in, but it is still called by name; user functions are all "g0.".
    called.update(
        func for func in _calls(plan) if isinstance(func, str) and not func.startswith("g0.")
    )
    rules = [
        list(f["path"][1:])
        for f in plan.get("funcs", {}).get("funcs", [])
        if isinstance(f.get("path"), list) and f["path"][:1] == ["g0"]
    ]
    names = sorted(n for n in called if isinstance(n, str))
    return Inspection(names, [n for n in names if not rego.is_builtin(n)], rules)


def _calls(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") in ("CallStmt", "CallDynamicStmt"):
                stmt = item.get("stmt") or {}
                yield stmt.get("func")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class Runner:
    """One interpreter that queries bundles against the input last set."""

    def __init__(self) -> None:
        self._rego = _interpreter()
        # An error inside a built-in is an evaluation error, never "undefined".
        self._rego.strict_built_in_errors = True

    def set_input(self, value: Any) -> None:
        handle = _build_input(value)
        try:
            code = rs.rego.regoSetInput(self._rego._impl, handle)
            if code != rs.Code.OK:
                raise EngineError(f"the input was refused: {rs.rego_get_error(self._rego._impl)}")
        finally:
            rs.rego_free_input(handle)

    def query(self, compiled: Compiled) -> Any:
        """The value of `result`, or None when it is undefined; EngineError on any error."""
        try:
            output = rs.rego_bundle_query(self._rego._impl, compiled.bundle._impl)
        except regopy.RegoError as error:
            raise EngineError(_message(str(error))) from None
        try:
            if not rs.rego_output_ok(output):
                raise EngineError(_error_of(rs.rego_output_node(output)))
            # Asking an empty output for a binding throws in C++ (and aborts the process).
            if rs.rego.regoOutputSize(output) == 0:
                text = rs.rego_output_string(output)
                if text == "undefined":
                    return None
                raise EngineError(_message(text))
            node = rs.rego.regoOutputBindingAtIndex(output, 0, b"x")
            if not node:
                text = rs.rego_output_string(output)
                if text == "undefined":
                    return None
                # Some runtime errors (an unknown function) come back as an "ok" error node.
                raise EngineError(_message(text))
            return _value(node)
        finally:
            rs.rego_free_output(output)


def _value(root: Any) -> Any:
    """A result node as Python values, read node by node.

    Not through rego-cpp's JSON text: it writes strings that came from the input
    or from built-ins without escaping them (`"a"b"`), so the text is not JSON.
    """
    kinds = rs.NodeKind
    lib = rs.rego

    def convert(node: Any, depth: int) -> Any:
        if depth > 200:
            raise EngineError("the result is nested too deeply")
        kind = lib.regoNodeType(node)
        size = lib.regoNodeSize(node)
        if kind in (kinds.Term, kinds.Scalar) and size:
            return convert(rs.rego_node_get(node, 0), depth + 1)
        if kind == kinds.Object:
            found = {}
            for i in range(size):
                item = rs.rego_node_get(node, i)
                key = convert(rs.rego_node_get(item, 0), depth + 1)
                value = convert(rs.rego_node_get(item, 1), depth + 1)
                found[key if isinstance(key, str) else json.dumps(key)] = value
            return found
        if kind in (kinds.Array, kinds.Set):
            return [convert(rs.rego_node_get(node, i), depth + 1) for i in range(size)]
        if kind == kinds.String:
            return _string(rs.rego_node_value(node))
        if kind == kinds.Int:
            return int(rs.rego_node_value(node))
        if kind == kinds.Float:
            return float(rs.rego_node_value(node))
        if kind in (kinds.True_, kinds.False_, kinds.Boolean):
            return rs.rego_node_value(node) == "true"
        if kind == kinds.Null:
            return None
        if kind in (kinds.Error, kinds.ErrorSeq):
            raise EngineError(_error_of(node))
        raise EngineError(f"the result holds an engine value of kind {kind}")

    return convert(root, 0)


def _string(held: str) -> str:
    """A string as rego-cpp holds it: raw (from the input, from most built-ins) or,
    for some values written in the policy, still as its JSON literal with quotes."""
    if len(held) >= 2 and held[0] == held[-1] == '"':
        try:
            decoded = json.loads(held)
        except ValueError:
            return held[1:-1]
        if isinstance(decoded, str):
            return decoded
    return held


def _build_input(value: Any) -> Any:
    """An input handle for `value`, built with rego-cpp's own input API.

    regopy's `Input` truncates integers beyond 64 bits silently (2**70 became 0),
    and recurses in Python; this builder is iterative and turns big integers
    into floats, as a JSON number they are.
    """
    handle = rs.rego_new_input()
    # ("v", value) pushes a value; ("item",) / ("object", n) / ("array", n) fold what
    # is on rego-cpp's stack, in the order regopy's own builder uses.
    work: list[tuple[Any, ...]] = [("v", value)]
    try:
        while work:
            step = work.pop()
            if step[0] != "v":
                _fold(handle, step)
                continue
            val = step[1]
            if isinstance(val, dict):
                work.append(("object", len(val)))
                for key, item in reversed(list(val.items())):
                    work.extend((("item",), ("v", item), ("v", str(key))))
            elif isinstance(val, list | tuple):
                work.append(("array", len(val)))
                work.extend(("v", item) for item in reversed(val))
            else:
                _leaf(handle, val)
    except BaseException:
        rs.rego_free_input(handle)
        raise
    return handle


def _fold(handle: Any, step: tuple[Any, ...]) -> None:
    lib = rs.rego
    if step[0] == "item":
        code = lib.regoInputObjectItem(handle)
    elif step[0] == "object":
        code = lib.regoInputObject(handle, step[1])
    else:
        code = lib.regoInputArray(handle, step[1])
    if code != rs.Code.OK:
        raise EngineError("the input could not be converted")


def _leaf(handle: Any, val: Any) -> None:
    lib = rs.rego
    if val is True or val is False:
        code = lib.regoInputBoolean(handle, val)
    elif isinstance(val, int):
        if _INT64[0] <= val <= _INT64[1]:
            code = lib.regoInputInt(handle, val)
        else:
            code = lib.regoInputFloat(handle, float(val))
    elif isinstance(val, float):
        if not math.isfinite(val):
            raise EngineError("the input holds a number JSON cannot carry")
        code = lib.regoInputFloat(handle, val)
    elif isinstance(val, str):
        code = lib.regoInputString(handle, val.encode("utf-8"))
    elif val is None:
        code = lib.regoInputNull(handle)
    else:
        raise EngineError(f"the input holds a {type(val).__name__}, which is not JSON")
    if code != rs.Code.OK:
        raise EngineError("the input could not be converted")


def _error_of(node: Any) -> str:
    """The messages of an error node tree (ErrorSeq > Error > ErrorMessage)."""
    messages: list[str] = []
    stack = [node]
    while stack and len(messages) < 5:
        item = stack.pop()
        if not item:
            continue
        kind = rs.rego.regoNodeType(item)
        if kind == rs.NodeKind.ErrorMessage:
            messages.append(rs.rego_node_value(item))
            continue
        if kind == rs.NodeKind.ErrorAst:
            continue
        size = rs.rego.regoNodeSize(item)
        stack.extend(rs.rego_node_get(item, i) for i in reversed(range(size)))
    return "; ".join(dict.fromkeys(messages)) or "evaluation failed"


# rego-cpp's errors are S-expressions: `(error 11:policy.rego|39|2 (errormsg 16:this is unclosed)`;
# `N:` prefixes a string of N bytes, `file|offset|length` locates it in the source.
_LOCATION = re.compile(r"\(error \d+:[^|\s]*\|(\d+)\|(\d+)")
_MESSAGE = re.compile(r"\(errormsg (\d+):")


def _message(text: str) -> str:
    found = []
    for match in _MESSAGE.finditer(text):
        start = match.end()
        found.append(_take(text, start, int(match.group(1))))
        if len(found) == 3:
            break
    return "; ".join(dict.fromkeys(found)) or text.strip().splitlines()[0][:200] or "engine error"


def _take(text: str, start: int, size: int) -> str:
    """`size` UTF-8 bytes of `text` from character `start`."""
    raw = text[start:].encode("utf-8")[:size]
    return raw.decode("utf-8", errors="replace")


def _located(text: str, source: str) -> EngineError:
    """The first error of an engine answer, with its line and column in `source`."""
    message = _message(text)
    match = _LOCATION.search(text)
    if match is None:
        return EngineError(message)
    offset = int(match.group(1))
    before = source.encode("utf-8")[:offset]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return EngineError(message, line, column)


def version() -> str:
    return str(regopy.rego_version())
