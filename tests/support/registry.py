"""Real OCI registries for tests: Debian's `docker-registry` on loopback, no Docker engine.

    with running_registry(tmp_path, auth="token", tls=True) as registry:
        image = registry.push_image("demo/app", "1.0")
        resolve(image.ref, kind="CONTAINER_IMAGE", ca_file=registry.ca_file, credentials=...)

`auth` is "none" (anonymous), "basic" (htpasswd, bcrypt) or "token" (a token
server below, stdlib http.server + PyJWT ES256). `tls=True` serves HTTPS with a
throwaway CA (`registry.ca_file`). Pushing uses plain httpx and deliberately none
of deploytrace's code, so a bug there cannot hide itself in the fixtures.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tarfile
import threading
import time
import uuid
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.ports import listening_port

AuthMode = Literal["none", "basic", "token"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

DEFAULT_USERS = {"alice": "s3cret-Pa55w0rd"}
APT_HINT = "apt-get install -y --no-install-recommends docker-registry apache2-utils"


# --------------------------------------------------------------------------- tools


def require_registry_tools(*, htpasswd: bool = True) -> str:
    """Path of `docker-registry`; skip the test without it, or FAIL it when CI=true."""
    binary = shutil.which("docker-registry") or "/usr/bin/docker-registry"
    missing = [] if os.access(binary, os.X_OK) else ["docker-registry"]
    if htpasswd and shutil.which("htpasswd") is None:
        missing.append("htpasswd (apache2-utils)")
    if missing:
        reason = f"needs {' and '.join(missing)}: {APT_HINT}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must install the registry tools; {reason}", pytrace=False)
        pytest.skip(reason)
    return binary


def free_port() -> int:
    """A port nothing listens on now (for tests of a closed port; servers bind port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --------------------------------------------------------------------------- certificates


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert_builder(subject: str, issuer: str, public_key: Any) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_tls_files(
    directory: Path, names: tuple[str, ...] = (), addresses: tuple[str, ...] = ()
) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost/::1, and for
    `names` and `addresses` as well.

    A proper CA + leaf (not one self-signed leaf), so that strict X.509
    verification (Python 3.13's default flags) accepts it too.
    Returns (ca.crt, tls.crt, tls.key).
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        _cert_builder("deploytrace test CA", "deploytrace test CA", ca_key.public_key())
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    sans: list[x509.GeneralName] = [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
    ]
    sans += [x509.DNSName(name) for name in names]
    sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses if a != "127.0.0.1"]
    cert = (
        _cert_builder("127.0.0.1", "deploytrace test CA", key.public_key())
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.crt", directory / "tls.crt", directory / "tls.key")
    paths[0].write_bytes(_pem(ca_cert))
    paths[1].write_bytes(_pem(cert))
    paths[2].write_bytes(_key_pem(key))
    return paths


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """The `kid` distribution expects: libtrust's fingerprint of the DER public key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode("ascii")
    return ":".join(b32[i : i + 4] for i in range(0, 48, 4))


# --------------------------------------------------------------------------- token server


@dataclass
class TokenRequest:
    """One call the token server received, for assertions."""

    method: str
    user: str | None  # who authenticated (None: anonymous)
    scopes: list[str]
    grant_type: str | None = None


@dataclass
class TokenServer:
    """A distribution token server: GET /token (Basic or anonymous), POST /token (OAuth2)."""

    users: dict[str, str]
    anonymous_pull: bool = True
    service: str = "test-registry"
    issuer: str = "test-issuer"
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # token -> user
    requests: list[TokenRequest] = field(default_factory=list)
    _key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/token"

    def write_root_cert(self, path: Path) -> Path:
        """The certificate of the signing key, for the registry's `rootcertbundle`."""
        public = self._key.public_key()
        cert = _cert_builder(self.issuer, self.issuer, public).sign(self._key, hashes.SHA256())
        path.write_bytes(_pem(cert))
        return path

    def start(self) -> TokenServer:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _token_handler(self))
        # A short poll interval: shutdown() waits for one, and teardown should be quick.
        thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def issue(self, user: str | None, scopes: list[str]) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": self.service,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [self._grant(user, scope) for scope in scopes],
        }
        headers = {"kid": libtrust_key_id(self._key.public_key())}
        return jwt.encode(claims, self._key, algorithm="ES256", headers=headers)

    def _grant(self, user: str | None, scope: str) -> dict[str, Any]:
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        wanted = actions.split(",")
        if user is not None:
            allowed = [a for a in wanted if a in ("pull", "push", "delete")]
        else:
            allowed = ["pull"] if self.anonymous_pull and "pull" in wanted else []
        return {"type": kind, "name": name, "actions": allowed}

    def authenticate_basic(self, header: str | None) -> tuple[bool, str | None]:
        """(ok, user) from an Authorization header; no header is anonymous and ok."""
        if not header:
            return True, None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False, None
        try:
            user, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False, None
        return self.users.get(user) == password, user


def _token_handler(server: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            scopes = query.get("scope", [])
            ok, user = server.authenticate_basic(self.headers.get("Authorization"))
            server.requests.append(TokenRequest("GET", user if ok else None, scopes))
            if not ok:
                self._answer(401, {"details": "incorrect username or password"})
                return
            token = server.issue(user, scopes)
            self._answer(200, {"token": token, "access_token": token, "expires_in": 300})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            scopes = form.get("scope", "").split()
            user = self._oauth_user(form)
            server.requests.append(TokenRequest("POST", user, scopes, form.get("grant_type")))
            if user is None or not form.get("client_id"):
                self._answer(401, {"error": "invalid_grant"})
                return
            # OAuth2 answers carry only `access_token`: exercises that spelling.
            self._answer(200, {"access_token": server.issue(user, scopes), "expires_in": 300})

        def _oauth_user(self, form: dict[str, str]) -> str | None:
            if form.get("grant_type") == "refresh_token":
                return server.refresh_tokens.get(form.get("refresh_token", ""))
            if form.get("grant_type") == "password":
                user = form.get("username", "")
                return user if server.users.get(user) == form.get("password") else None
            return None

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


# --------------------------------------------------------------------------- artifacts


@dataclass(frozen=True)
class Pushed:
    """An artifact now in a registry, with the digest a correct resolver must report."""

    registry: str  # host:port
    repository: str
    tag: str | None
    digest: str
    media_type: str
    manifest: bytes
    kind: Literal["CONTAINER_IMAGE", "HELM_CHART"]

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def ref(self) -> str:
        """`host:port/repo:tag` (or `@digest` when pushed without a tag)."""
        return f"{self.name}:{self.tag}" if self.tag else self.digest_ref

    @property
    def digest_ref(self) -> str:
        return f"{self.name}@{self.digest}"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def deterministic_tar_gz(files: dict[str, bytes]) -> tuple[bytes, bytes]:
    """(tar, tar.gz) with fixed mtimes and owners: the same digest on every run."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for path, content in files.items():
            info = tarfile.TarInfo(path)
            info.size, info.mtime, info.mode = len(content), 0, 0o644
            tar.addfile(info, io.BytesIO(content))
    tar_bytes = buffer.getvalue()
    return tar_bytes, gzip.compress(tar_bytes, mtime=0)


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def _json_bytes(document: dict[str, Any]) -> bytes:
    # Serialized once; these exact bytes are pushed and hashed.
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class Pusher:
    """Blob and manifest upload over plain httpx (distribution API v2)."""

    def __init__(self, client: httpx.Client, registry: str) -> None:
        self.client = client
        self.registry = registry

    def blob(self, repository: str, data: bytes) -> str:
        digest = sha256_digest(data)
        if self.client.head(f"/v2/{repository}/blobs/{digest}").status_code == 200:
            return digest
        started = self.client.post(f"/v2/{repository}/blobs/uploads/")
        assert started.status_code == 202, started.text
        # Keep Location's own query (`_state`): httpx's params= would replace it.
        location = self.client.base_url.join(started.headers["location"])
        done = self.client.put(
            location.copy_add_param("digest", digest),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def manifest(self, repository: str, reference: str, media_type: str, body: bytes) -> str:
        response = self.client.put(
            f"/v2/{repository}/manifests/{reference}",
            content=body,
            headers={"Content-Type": media_type},
        )
        assert response.status_code == 201, response.text
        digest = sha256_digest(body)
        assert response.headers["docker-content-digest"] == digest
        return digest

    def image(
        self,
        repository: str,
        tag: str | None,
        *,
        variant: str = "a",
        arch: str = "amd64",
        docker: bool = False,
    ) -> Pushed:
        """A minimal image: a config and one layer holding `/hello.txt` (differs per variant)."""
        tar, layer = deterministic_tar_gz({"hello.txt": f"hello from {variant}\n".encode()})
        config = _json_bytes(
            {
                "architecture": arch,
                "os": "linux",
                "config": {"Env": [f"VARIANT={variant}"]},
                "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
            }
        )
        types = (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER) if docker else None
        manifest_type, config_type, layer_type = types or (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
        self.blob(repository, config)
        self.blob(repository, layer)
        body = _json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": manifest_type,
                "config": _descriptor(config_type, config),
                "layers": [_descriptor(layer_type, layer)],
            }
        )
        return self._push(repository, tag, manifest_type, body, "CONTAINER_IMAGE")

    def index(self, repository: str, tag: str) -> Pushed:
        """A multi-platform OCI index of two images (linux/amd64, linux/arm64) pushed by digest."""
        entries = []
        for arch in ("amd64", "arm64"):
            child = self.image(repository, None, variant=f"index-{arch}", arch=arch)
            platform = {"architecture": arch, "os": "linux"}
            entries.append(_descriptor(OCI_MANIFEST, child.manifest, platform=platform))
        body = _json_bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        return self._push(repository, tag, OCI_INDEX, body, "CONTAINER_IMAGE")

    def helm_chart(self, repository: str, version: str = "0.1.0", name: str = "mychart") -> Pushed:
        """A Helm 3 OCI chart: Chart.yaml as JSON config, the packaged chart .tgz as layer."""
        chart_yaml = f"apiVersion: v2\nname: {name}\nversion: {version}\ntype: application\n"
        _, chart_tgz = deterministic_tar_gz(
            {
                f"{name}/Chart.yaml": chart_yaml.encode(),
                f"{name}/values.yaml": b"replicaCount: 1\n",
                f"{name}/templates/configmap.yaml": (
                    b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n"
                    b"data:\n  replicas: '{{ .Values.replicaCount }}'\n"
                ),
            }
        )
        config = _json_bytes(
            {"apiVersion": "v2", "name": name, "version": version, "type": "application"}
        )
        self.blob(repository, config)
        self.blob(repository, chart_tgz)
        annotations = {
            "org.opencontainers.image.title": name,
            "org.opencontainers.image.version": version,
        }
        body = _json_bytes(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": _descriptor(HELM_CONFIG, config),
                "layers": [_descriptor(HELM_LAYER, chart_tgz)],
                "annotations": annotations,
            }
        )
        # Helm's tag is the chart version with "+" (not allowed in tags) as "_".
        return self._push(repository, version.replace("+", "_"), OCI_MANIFEST, body, "HELM_CHART")

    def _push(
        self,
        repository: str,
        tag: str | None,
        media_type: str,
        body: bytes,
        kind: Literal["CONTAINER_IMAGE", "HELM_CHART"],
    ) -> Pushed:
        digest = self.manifest(repository, tag or sha256_digest(body), media_type, body)
        return Pushed(self.registry, repository, tag, digest, media_type, body, kind)


class _TokenPushAuth(httpx.Auth):
    """Bearer flow for the pusher: a token per challenged scope, as the given user."""

    def __init__(self, username: str, password: str, verify: Any) -> None:
        self._basic = httpx.BasicAuth(username, password)
        self._verify = verify
        self._tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        response = yield request
        challenge = response.headers.get("www-authenticate", "")
        if response.status_code != 401 or not challenge.lower().startswith("bearer "):
            return
        # Scope values hold commas ("pull,push"): split on quoted pairs, not on commas.
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        scope = params.get("scope", "")
        if scope not in self._tokens:
            answer = httpx.get(
                params["realm"],
                params={"service": params.get("service", ""), "scope": scope},
                auth=self._basic,
                verify=self._verify,
            )
            answer.raise_for_status()
            self._tokens[scope] = answer.json()["token"]
        request.headers["Authorization"] = f"Bearer {self._tokens[scope]}"
        yield request


# --------------------------------------------------------------------------- registries


@dataclass
class Registry:
    """A running `docker-registry serve` on 127.0.0.1 (or another local address)."""

    host: str  # "127.0.0.1:PORT", or "NAME:PORT" for a registry reached by name
    scheme: Literal["http", "https"]
    auth: AuthMode
    users: dict[str, str]
    ca_file: str | None
    token_server: TokenServer | None
    workdir: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}"

    @property
    def username(self) -> str:
        return next(iter(self.users))

    @property
    def password(self) -> str:
        return self.users[self.username]

    def ref(self, repository: str, tag: str = "latest") -> str:
        return f"{self.host}/{repository}:{tag}"

    @contextmanager
    def pusher(self) -> Iterator[Pusher]:
        verify = _verify(self.ca_file)
        auth: httpx.Auth | None = None
        if self.auth == "basic":
            auth = httpx.BasicAuth(self.username, self.password)
        elif self.auth == "token":
            auth = _TokenPushAuth(self.username, self.password, verify)
        with httpx.Client(base_url=self.url, auth=auth, verify=verify, timeout=10) as client:
            yield Pusher(client, self.host)

    def push_image(self, repository: str, tag: str | None = "1.0", **options: Any) -> Pushed:
        with self.pusher() as pusher:
            return pusher.image(repository, tag, **options)

    def push_index(self, repository: str, tag: str = "1.0") -> Pushed:
        with self.pusher() as pusher:
            return pusher.index(repository, tag)

    def push_helm_chart(self, repository: str, version: str = "0.1.0", **options: Any) -> Pushed:
        with self.pusher() as pusher:
            return pusher.helm_chart(repository, version, **options)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _verify(ca_file: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=ca_file) if ca_file else True


def _htpasswd(users: dict[str, str], path: Path) -> Path:
    lines = []
    for user, password in users.items():
        line = subprocess.run(
            ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True
        ).stdout.strip()
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(
    workdir: Path,
    auth: AuthMode,
    tls: bool,
    users: dict[str, str],
    token: Any,
    bind: str,
    name: str | None,
) -> dict[str, Any]:
    # Port 0: the kernel picks one nobody else holds (found again in /proc).
    http: dict[str, Any] = {"addr": f"{bind}:0", "secret": "test-only"}
    if tls:
        _, cert, key = make_tls_files(workdir, (name,) if name else (), (bind,))
        http["tls"] = {"certificate": str(cert), "key": str(key)}
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(workdir / "data")}},
        "http": http,
    }
    if auth == "basic":
        htpasswd = _htpasswd(users, workdir / "htpasswd")
        config["auth"] = {"htpasswd": {"realm": "test-realm", "path": str(htpasswd)}}
    elif auth == "token":
        config["auth"] = {
            "token": {
                "realm": token.url,
                "service": token.service,
                "issuer": token.issuer,
                "rootcertbundle": str(token.write_root_cert(workdir / "token.crt")),
            }
        }
    return config


def _wait_until_ready(registry: Registry, log_path: Path, deadline: float = 15.0) -> None:
    stop_at = time.monotonic() + deadline
    with httpx.Client(verify=_verify(registry.ca_file), timeout=1) as client:
        while time.monotonic() < stop_at:
            if registry.process.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {log_path.read_text()[-2000:]}")
            try:
                if client.get(f"{registry.url}/v2/").status_code in (200, 401):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    raise RuntimeError(f"docker-registry not ready after {deadline} s: {log_path.read_text()}")


def _start(binary: str, workdir: Path, config: dict[str, Any]) -> subprocess.Popen[bytes]:
    config_path = workdir / "config.yml"
    # JSON is valid YAML, so the config needs no YAML library.
    config_path.write_text(json.dumps(config, indent=2))
    with (workdir / "registry.log").open("wb") as log:
        return subprocess.Popen(
            [binary, "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT
        )


@contextmanager
def running_registry(
    workdir: Path,
    *,
    auth: AuthMode = "none",
    tls: bool = False,
    users: dict[str, str] | None = None,
    anonymous_pull: bool = True,
    bind: str = "127.0.0.1",
    name: str | None = None,
) -> Iterator[Registry]:
    """Start a registry in `workdir` on a free port; stop it (and its token server) after.

    `bind` is the local address it listens on; `name` the host name clients reach
    it by (then in its certificate and in `registry.host`).
    """
    binary = require_registry_tools(htpasswd=auth == "basic")
    users = dict(users or DEFAULT_USERS)
    workdir.mkdir(parents=True, exist_ok=True)
    token = TokenServer(users, anonymous_pull).start() if auth == "token" else None
    process: subprocess.Popen[bytes] | None = None
    try:
        config = _config(workdir, auth, tls, users, token, bind, name)
        process = _start(binary, workdir, config)
        port = listening_port(process, timeout=15)
        if port is None:
            log = (workdir / "registry.log").read_text()
            raise RuntimeError(f"docker-registry did not listen: {log[-2000:]}")
        registry = Registry(
            host=f"{name or bind}:{port}",
            scheme="https" if tls else "http",
            auth=auth,
            users=users,
            ca_file=str(workdir / "ca.crt") if tls else None,
            token_server=token,
            workdir=workdir,
            process=process,
        )
        _wait_until_ready(registry, workdir / "registry.log")
        yield registry
    finally:
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if token is not None:
            token.stop()


# --------------------------------------------------------------------------- by name

# Used when this machine's own host name does not resolve to a local address.
FALLBACK_NAME = "registry.deploytrace.test"


@contextmanager
def non_loopback_name() -> Iterator[tuple[str, str, str]]:
    """(name, local address, how): a host name that reaches a local address but that
    deploytrace does not take for loopback, so it goes the way of a real registry
    (HTTPS only, no plain-HTTP probe, the name checked against the certificate).

    This machine's host name, when it resolves (through /etc/hosts or DNS) to an
    address we can listen on. Otherwise FALLBACK_NAME, resolved to 127.0.0.1 by
    wrapping socket.getaddrinfo in this process while the context lasts.
    """
    name = socket.gethostname()
    address = _local_address(name) if name and name.lower() != "localhost" else None
    if address is not None:
        yield name, address, f"this machine's host name, which resolves to {address}"
        return
    original = socket.getaddrinfo

    def resolving(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".") == FALLBACK_NAME:
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = resolving
    try:
        yield FALLBACK_NAME, "127.0.0.1", "a test name resolved to 127.0.0.1 in-process"
    finally:
        socket.getaddrinfo = original


def _local_address(name: str) -> str | None:
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        return None
    for *_, sockaddr in infos:
        address = str(sockaddr[0])
        try:
            with socket.socket() as probe:
                probe.bind((address, 0))
        except OSError:
            continue
        return address
    return None


# --------------------------------------------------------------------------- a standard set


@dataclass(frozen=True)
class Artifacts:
    """What `seed()` pushed; each knows its ref, digest and kind."""

    image: Pushed  # demo/app:1.0, OCI image
    image2: Pushed  # demo/app:2.0, a different OCI image
    docker_image: Pushed  # demo/docker-app:1.0, Docker v2 schema 2 media types
    index: Pushed  # demo/multi:1.0, OCI index of two platform images
    chart: Pushed  # charts/mychart:0.1.0, Helm chart


def seed(registry: Registry) -> Artifacts:
    """Push the standard artifacts every registry test can rely on."""
    with registry.pusher() as pusher:
        return Artifacts(
            image=pusher.image("demo/app", "1.0", variant="a"),
            image2=pusher.image("demo/app", "2.0", variant="b"),
            docker_image=pusher.image("demo/docker-app", "1.0", variant="d", docker=True),
            index=pusher.index("demo/multi", "1.0"),
            chart=pusher.helm_chart("charts/mychart", "0.1.0"),
        )
