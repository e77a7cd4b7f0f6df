"""A small recorded Kubernetes API server for the live-cluster path (no real one runs here).

It serves the list calls `deployment sync --kubernetes` makes — pods, ReplicaSets and
Jobs, cluster-wide or per namespace — from recorded objects, with the API's paging
(`limit` / `continue`, a consistent snapshot, 410 `Expired` for a stale token), over
HTTPS with a throwaway CA, and checks credentials: a bearer token or a client
certificate signed by that CA. It records every request so tests can assert on
paging and headers.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import ssl
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "dt-test-token-0123456789"
CLIENT_CN = "deploytrace-reporter"

_LISTS = {
    ("api", "v1", "pods"): "PodList",
    ("apis", "apps/v1", "replicasets"): "ReplicaSetList",
    ("apis", "batch/v1", "jobs"): "JobList",
}


@dataclass
class Request:
    path: str
    query: dict[str, str]
    authorization: str | None
    client_cn: str | None


@dataclass
class Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""

    directory: Path
    ca: Path = field(init=False)
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)
    client_cert: Path = field(init=False)
    client_key: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-api test CA")])
        ca_cert = (
            _builder(ca_name, ca_name, ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca = self._write("ca.crt", ca_cert.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self._leaf(
            "server", "127.0.0.1", ca_key, ca_cert, server=True
        )
        self.client_cert, self.client_key = self._leaf(
            "client", CLIENT_CN, ca_key, ca_cert, server=False
        )

    def _leaf(
        self,
        stem: str,
        common_name: str,
        ca_key: ec.EllipticCurvePrivateKey,
        ca_cert: x509.Certificate,
        *,
        server: bool,
    ) -> tuple[Path, Path]:
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        builder = _builder(name, ca_cert.subject, key.public_key())
        if server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return (
            self._write(f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM)),
            self._write(f"{stem}.key", key_pem),
        )

    def _write(self, name: str, data: bytes) -> Path:
        path = self.directory / name
        path.write_bytes(data)
        return path


def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )


class KubeApi:
    """Recorded objects behind the list endpoints of the Kubernetes API."""

    def __init__(
        self,
        directory: Path,
        pods: Iterable[dict[str, Any]] = (),
        replicasets: Iterable[dict[str, Any]] = (),
        jobs: Iterable[dict[str, Any]] = (),
        *,
        token: str = TOKEN,
        forbidden: Iterable[str] = (),
        max_limit: int | None = None,
    ) -> None:
        self.pki = Pki(directory / "pki")
        self.directory = directory
        self.token = token
        self.objects = {
            "pods": [_strip(p) for p in pods],
            "replicasets": [_strip(r) for r in replicasets],
            "jobs": [_strip(j) for j in jobs],
        }
        self.forbidden = set(forbidden)  # resources this identity may not list (RBAC)
        self.max_limit = max_limit  # the server may return fewer than asked
        self.expire_after: int | None = None  # answer 410 for continue tokens past this page
        self.resource_version = 1000
        self.requests: list[Request] = []
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> KubeApi:
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                api._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        context.load_verify_locations(self.pki.ca)
        context.verify_mode = ssl.CERT_OPTIONAL  # a client certificate is one way in
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> KubeApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- kubeconfig -----------------------------------------------------------------

    def kubeconfig(
        self,
        path: Path | None = None,
        *,
        user: str = "token",
        context: str = "test",
        token: str | None = None,
        extra_contexts: Iterable[str] = (),
    ) -> Path:
        """A kubeconfig for this server; `user` is "token" or "cert" (client certificate)."""
        path = path or self.directory / f"kubeconfig-{user}-{context}"
        ca = base64.b64encode(self.pki.ca.read_bytes()).decode()
        if user == "token":
            credentials: dict[str, Any] = {"token": token or self.token}
        else:
            credentials = {
                "client-certificate": str(self.pki.client_cert),
                "client-key": str(self.pki.client_key),
            }
        names = [context, *extra_contexts]
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": context,
            "clusters": [
                {"name": "test", "cluster": {"server": self.url, "certificate-authority-data": ca}}
            ],
            "users": [{"name": "reporter", "user": credentials}],
            "contexts": [
                {"name": name, "context": {"cluster": "test", "user": "reporter"}} for name in names
            ],
        }
        # JSON is YAML: the client library reads it as its kubeconfig.
        path.write_text(json.dumps(document, indent=2))
        return path

    def service_account(self, token: str | None = None) -> Path:
        """A directory shaped like /var/run/secrets/kubernetes.io/serviceaccount."""
        directory = self.directory / "serviceaccount"
        directory.mkdir(exist_ok=True)
        (directory / "token").write_text(token or self.token)
        (directory / "ca.crt").write_bytes(self.pki.ca.read_bytes())
        (directory / "namespace").write_text("deploytrace")
        return directory

    # -- serving ----------------------------------------------------------------------

    def _handle(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        peer = (
            handler.connection.getpeercert() if hasattr(handler.connection, "getpeercert") else None
        )
        cn = None
        if peer:
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        cn = value
        auth = handler.headers.get("Authorization")
        self.requests.append(Request(url.path, query, auth, cn))
        if auth != f"Bearer {self.token}" and cn != CLIENT_CN:
            return _status(handler, 401, "Unauthorized", "Unauthorized")
        route = _route(url.path)
        if route is None:
            return _status(handler, 404, "NotFound", f"the server could not find {url.path}")
        resource, namespace, list_kind, api_version = route
        if resource in self.forbidden:
            scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            return _status(
                handler,
                403,
                "Forbidden",
                f'{resource} is forbidden: User "system:serviceaccount:deploytrace:reporter" '
                f'cannot list resource "{resource}" {scope}',
            )
        items = [
            o
            for o in self.objects[resource]
            if namespace is None or o["metadata"].get("namespace") == namespace
        ]
        offset, version = 0, self.resource_version
        if "continue" in query:
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                offset, version, page = int(token["offset"]), int(token["rv"]), int(token["page"])
            except (ValueError, KeyError, TypeError):
                return _status(handler, 400, "BadRequest", "continue key is not valid")
            if self.expire_after is not None and page >= self.expire_after:
                return _status(
                    handler,
                    410,
                    "Expired",
                    "The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter.",
                )
        else:
            page = 0
        limit = int(query["limit"]) if query.get("limit", "").isdigit() else 0
        if self.max_limit and (not limit or limit > self.max_limit):
            limit = self.max_limit
        end = offset + limit if limit else len(items)
        metadata: dict[str, Any] = {"resourceVersion": str(version)}
        if end < len(items):
            metadata["continue"] = base64.urlsafe_b64encode(
                json.dumps({"offset": end, "rv": version, "page": page + 1}).encode()
            ).decode()
            metadata["remainingItemCount"] = len(items) - end
        body = {
            "kind": list_kind,
            "apiVersion": api_version,
            "metadata": metadata,
            "items": items[offset:end],
        }
        _send(handler, 200, body)


def _route(path: str) -> tuple[str, str | None, str, str] | None:
    parts = path.strip("/").split("/")
    for (prefix, group, resource), list_kind in _LISTS.items():
        base = [prefix, *group.split("/")]
        if parts == [*base, resource]:
            return resource, None, list_kind, group
        if (
            len(parts) == len(base) + 3
            and parts[: len(base)] == base
            and parts[len(base)] == "namespaces"
            and parts[-1] == resource
        ):
            return resource, parts[len(base) + 1], list_kind, group
    return None


def _strip(obj: dict[str, Any]) -> dict[str, Any]:
    """Items of an API list carry no kind/apiVersion of their own."""
    return {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")}


def _status(
    handler: http.server.BaseHTTPRequestHandler, code: int, reason: str, message: str
) -> None:
    _send(
        handler,
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def _send(handler: http.server.BaseHTTPRequestHandler, code: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(code)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
