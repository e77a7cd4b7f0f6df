"""`parse`: bytes (one JSON document or JSON Lines) to attestations, all or nothing."""

from __future__ import annotations

import hashlib
from typing import Any

from deploytrace.errors import InvalidInput

from . import chainloop
from .bundle import is_bundle, parse_bundle
from .detect import describe_json, describe_pem
from .dsse import is_envelope, parse_envelope
from .model import BundleMaterial, Envelope, Format, ParsedAttestation
from .refs import build_refs
from .statement import decode_payload, load_json_strict, looks_like_statement, parse_statement


def parse(data: bytes) -> list[ParsedAttestation]:
    """Every attestation in `data`; raises InvalidInput if any part is not one."""
    data = bytes(data)
    if not data.strip():
        raise InvalidInput("empty input: no attestation found")
    pem = describe_pem(data)
    if pem is not None:
        raise InvalidInput(pem)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("input is not UTF-8 text (binary data?), so not JSON") from None
    whole, error = _load(text)
    if error is None:
        return [parse_document(whole, data)]
    return _parse_lines(data, error)


def _parse_lines(data: bytes, whole_error: str) -> list[ParsedAttestation]:
    lines = [(n, line.removesuffix(b"\r")) for n, line in enumerate(data.split(b"\n"), 1)]
    lines = [(n, line) for n, line in lines if line.strip()]
    results: list[ParsedAttestation] = []
    for number, line in lines:
        doc, error = _load(line.decode("utf-8-sig"))
        if error is not None and not results:
            # Most likely one (broken) document: its own error says more.
            raise InvalidInput(f"input is not JSON ({whole_error})")
        if error is not None:
            raise InvalidInput(
                f"line {number} is not JSON ({error}); the input is neither one JSON "
                "document nor JSON Lines"
            )
        try:
            results.append(parse_document(doc, line))
        except InvalidInput as exc:
            raise InvalidInput(f"line {number}: {exc.message}") from None
    return results


def _load(text: str) -> tuple[Any, str | None]:
    """(document, None) or (None, why it is not JSON)."""
    try:
        return load_json_strict(text), None
    except RecursionError:
        return None, "nested too deeply"
    except ValueError as exc:
        return None, str(exc)[:120]


def parse_document(doc: Any, raw: bytes) -> ParsedAttestation:
    """One attestation from one decoded JSON document and its exact bytes."""
    if not isinstance(doc, dict):
        raise InvalidInput(describe_json(doc))
    if is_bundle(doc):
        media_type, envelope, material = parse_bundle(doc)
        return _from_envelopes(raw, "sigstore-bundle", media_type, (envelope,), material)
    if is_envelope(doc):
        envelope = parse_envelope(doc)
        return _from_envelopes(raw, "dsse", envelope.payload_type, (envelope,), None)
    if "provenance_summary" in doc:
        envelopes = _gcloud_envelopes(doc)
        return _from_envelopes(raw, "gcloud-provenance", envelopes[0].payload_type, envelopes, None)
    if looks_like_statement(doc):
        return _build(
            raw, fmt="statement", media_type=None, statement=doc, envelopes=(), material=None
        )
    raise InvalidInput(describe_json(doc))


def _from_envelopes(
    raw: bytes,
    fmt: Format,
    media_type: str | None,
    envelopes: tuple[Envelope, ...],
    material: BundleMaterial | None,
) -> ParsedAttestation:
    statement = decode_payload(envelopes[0].payload, "DSSE")
    return _build(
        raw,
        fmt=fmt,
        media_type=media_type,
        statement=statement,
        envelopes=envelopes,
        material=material,
    )


def _build(
    raw: bytes,
    *,
    fmt: Format,
    media_type: str | None,
    statement: dict[str, Any],
    envelopes: tuple[Envelope, ...],
    material: BundleMaterial | None,
) -> ParsedAttestation:
    info = parse_statement(statement)
    workflow = project = version = None
    if chainloop.is_chainloop(info.predicate_type):
        workflow, project, version = chainloop.metadata(info.predicate)
    refs = build_refs(info)
    _no_nul(
        media_type,
        info.statement_type,
        info.predicate_type,
        workflow,
        project,
        version,
        *(s.name for s in info.subjects),
        *(field for r in refs for field in (r.digest, r.name, r.material_type)),
    )
    _bounded("media type (payloadType)", media_type, MAX_TYPE)
    _bounded("_type", info.statement_type, MAX_TYPE)
    _bounded("predicateType", info.predicate_type, MAX_PREDICATE_TYPE)
    for ref in refs:
        _bounded(f"{ref.role} digest", ref.digest, MAX_DIGEST)
        _bounded("Chainloop material type", ref.material_type, MAX_MATERIAL_TYPE)
    return ParsedAttestation(
        raw=raw,
        digest="sha256:" + hashlib.sha256(raw).hexdigest(),
        format=fmt,
        media_type=media_type,
        statement_type=info.statement_type,
        predicate_type=info.predicate_type,
        subjects=info.subjects,
        refs=refs,
        workflow=workflow,
        project=project,
        project_version=version,
        statement=statement,
        envelopes=envelopes,
        bundle=material,
    )


# What the evidence store keeps of an attestation, and how long each may be. No
# real attestation comes near these; beyond them the database would refuse the
# value (PostgreSQL) or keep an index entry nothing can look up.
MAX_TYPE = 255
MAX_PREDICATE_TYPE = 1024
MAX_DIGEST = 255
MAX_MATERIAL_TYPE = 64


def _bounded(what: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        shown = value[:40] + "..."
        raise InvalidInput(
            f"the attestation's {what} is too long ({len(value)} characters, at most {limit}): "
            f"{shown!r}"
        )


def _no_nul(*values: str | None) -> None:
    """Indexed text never holds NUL: no real attestation has one, and databases refuse it."""
    if any(v is not None and "\x00" in v for v in values):
        raise InvalidInput("the attestation names a subject, material or type with a NUL character")


def _gcloud_envelopes(doc: dict[str, Any]) -> tuple[Envelope, ...]:
    """`gcloud artifacts docker images describe --show-provenance` output.

    Several entries are copies of one statement signed in different regions;
    they are kept together so that `verify` can accept any of them.
    """
    summary = doc.get("provenance_summary")
    entries = summary.get("provenance") if isinstance(summary, dict) else None
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("gcloud output without provenance (use --show-provenance)")
    envelopes = tuple(
        parse_envelope(_get(entry, "envelope"), f"provenance[{i}].envelope")
        for i, entry in enumerate(entries)
    )
    if any(env.payload != envelopes[0].payload for env in envelopes[1:]):
        raise InvalidInput(
            "gcloud provenance entries carry different statements; push each envelope on its own"
        )
    return envelopes


def _get(doc: Any, key: str) -> Any:
    return doc.get(key) if isinstance(doc, dict) else None
