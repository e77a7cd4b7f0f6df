"""in-toto Statements (v0.1 and v1, JSON or protobuf field names)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deploytrace.errors import InvalidInput

from .model import Subject

STATEMENT_TYPE_MARK = "in-toto.io/statement/"


@dataclass(frozen=True)
class StatementInfo:
    statement_type: str | None
    predicate_type: str
    subjects: tuple[Subject, ...]
    predicate: dict[str, Any]
    raw_subjects: tuple[dict[str, Any], ...]  # with annotations, which `Subject` drops


def looks_like_statement(doc: dict[str, Any]) -> bool:
    if any(key in doc for key in ("_type", "predicateType", "predicate_type")):
        return True
    kind = doc.get("type")
    return isinstance(kind, str) and STATEMENT_TYPE_MARK in kind.lower()


def load_json_strict(text: str | bytes) -> Any:
    """`json.loads` that refuses NaN/Infinity; raises ValueError or RecursionError."""
    return json.loads(text, parse_constant=_refuse_constant)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def decode_payload(payload: bytes, where: str) -> dict[str, Any]:
    try:
        doc = load_json_strict(payload)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(f"{where} payload is not JSON ({_short(exc)})") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where} payload is not an in-toto statement (not a JSON object)")
    return doc


def parse_statement(doc: dict[str, Any], where: str = "in-toto statement") -> StatementInfo:
    statement_type = _statement_type(doc, where)
    predicate_type = doc.get("predicateType", doc.get("predicate_type"))
    if not isinstance(predicate_type, str) or not predicate_type.strip():
        raise InvalidInput(f"{where} has no predicateType")
    subjects = doc.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise InvalidInput(f"{where} has no subject list")
    predicate = doc.get("predicate")
    return StatementInfo(
        statement_type=statement_type,
        predicate_type=predicate_type,
        subjects=tuple(_subject(s, f"{where}: subject[{i}]") for i, s in enumerate(subjects)),
        predicate=predicate if isinstance(predicate, dict) else {},
        raw_subjects=tuple(subjects),
    )


def _statement_type(doc: dict[str, Any], where: str) -> str | None:
    kind = doc.get("_type", doc.get("type"))
    if kind is None:
        return None
    if not isinstance(kind, str):
        raise InvalidInput(f"{where}: _type is not a string")
    if STATEMENT_TYPE_MARK not in kind.lower():
        # e.g. legacy in-toto links and layouts, which name no subjects
        raise InvalidInput(f"found an in-toto document of _type {kind!r}, not a Statement")
    return kind


def _subject(doc: Any, where: str) -> Subject:
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where} is not a JSON object")
    name = doc.get("name")
    uri = doc.get("uri")
    digest = doc.get("digest")
    if digest is None:
        digest = {}
    if name is not None and not isinstance(name, str):
        raise InvalidInput(f"{where}: name is not a string")
    if uri is not None and not isinstance(uri, str):
        raise InvalidInput(f"{where}: uri is not a string")
    if not isinstance(digest, dict) or not all(isinstance(v, str) for v in digest.values()):
        raise InvalidInput(f"{where}: digest is not a map of strings")
    return Subject(name=name, digest=dict(digest), uri=uri)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
