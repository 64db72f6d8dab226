"""Where a rehearsed task's Google API calls go: per identity, a recording front per service
and a TLS relay for the clients that only speak ``https://*.googleapis.com``.

A task runs as one identity (the model's service account, or the runner's). Its clients
reach the emulators through that identity's :class:`Gateway`: plain-HTTP fronts for the
clients that take an emulator address (``STORAGE_EMULATOR_HOST``, Beam's BigQuery
``BASE_URL``), and an ``HTTPS_PROXY`` relay with the rehearsal's own CA for the rest
(TensorFlow's ``gs://``, the aiplatform SDK over REST, Resource Manager). Every request a
front forwards is recorded with its identity, service, method and resource.
"""

from __future__ import annotations

import datetime as dt
import http.client
import http.server
import json
import re
import socket
import socketserver
import ssl
import threading
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

# The hosts each service answers on Google (the relay routes by the CONNECT host).
HOSTS = {"storage": ("www.googleapis.com", "storage.googleapis.com"),
         "bigquery": ("bigquery.googleapis.com",),
         "aiplatform": ("-aiplatform.googleapis.com", "cloudresourcemanager.googleapis.com")}
_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "content-length",
        "host"}


def make_ca(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a ``*.googleapis.com`` leaf it signed: (ca.pem, leaf.pem, leaf.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)

    def cert(subject, issuer, key, signer, ca: bool, names=()):
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(hours=1))
                   .not_valid_after(now + dt.timedelta(days=2))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fullcycle rehearsal CA")])
    ca_cert = cert(ca_name, ca_name, ca_key, ca_key, True)
    leaf = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "*.googleapis.com")]),
                ca_name, leaf_key, ca_key, False, ("*.googleapis.com", "googleapis.com"))
    pem = serialization.Encoding.PEM
    paths = folder / "ca.pem", folder / "leaf.pem", folder / "leaf.key"
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
    return paths


class CallLog:
    """Every Google API request the rehearsal sees, appended to ``calls.jsonl``."""

    def __init__(self, path: Path):
        self.path, self._lock = path, threading.Lock()
        self.calls: list[dict] = []
        self.job = ""  # the pipeline job the calls belong to (set by the rehearsal per run)

    def record(self, identity: str, service: str, method: str, host: str, path: str,
               status: int, body: bytes = b"") -> None:
        url = urlparse(path)
        call = {"job": self.job, "identity": identity, "service": service, "method": method,
                "host": host, "resource": unquote(url.path), "status": status}
        if service == "storage" and url.path.startswith("/upload/"):
            call["object"] = uploaded_object(url.query, body)
        with self._lock:
            self.calls.append(call)
            with self.path.open("a") as f:
                f.write(json.dumps(call) + "\n")


def uploaded_object(query: str, body: bytes) -> str:
    """The object a Cloud Storage upload creates: ``name=`` in the query (media and resumable
    uploads), else the ``name`` of the multipart body's JSON metadata part."""
    names = parse_qs(query).get("name")
    if names:
        return names[0]
    match = re.search(rb'\{[^{}]*"name"\s*:\s*"((?:[^"\\]|\\.)*)"', body[:65536])
    return json.loads(b'"' + match.group(1) + b'"') if match else ""


def _read_body(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _front(identity: str, service: str, upstream: tuple[str, int], log: CallLog) -> _Server:
    class Front(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # the call log is the record
            pass

        def _forward(self):
            body = _read_body(self)
            host = self.headers.get("X-Original-Host") or self.headers.get("Host", "")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
            headers["X-Original-Host"], headers["X-Rehearsal-Identity"] = host, identity
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            connection = http.client.HTTPConnection(*upstream, timeout=600)
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                data = response.read()
                status, reason, answer = response.status, response.reason, response.getheaders()
            except OSError as err:
                status, reason, answer = 502, "Bad Gateway", [("Content-Type", "text/plain")]
                data = f"rehearsal front: {service} emulator unreachable: {err}".encode()
            finally:
                connection.close()
            log.record(identity, _api(host, service), self.command, host, self.path, status,
                       body)
            self.send_response(status, reason)
            for key, value in answer:
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward  # noqa: N815

    return _Server(("127.0.0.1", 0), Front)


def _api(host: str, service: str) -> str:
    """The API a call is to, as IAM names it (Resource Manager is served by the Vertex fake)."""
    return "cloudresourcemanager" if host.startswith("cloudresourcemanager.") else service


def _service_of(host: str) -> str | None:
    return next((s for s, hosts in HOSTS.items()
                 if any(host == h or (h.startswith("-") and host.endswith(h)) for h in hosts)),
                None)


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _relay(context: ssl.SSLContext, ports: dict[str, int]) -> _Relay:
    class Relay(socketserver.StreamRequestHandler):
        def handle(self):
            line = self.rfile.readline().decode("latin-1").split()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            host = line[1].rsplit(":", 1)[0] if len(line) > 1 and line[0] == "CONNECT" else ""
            service = _service_of(host)
            if service is None:
                self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
                                 b"")
                return
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            tls = context.wrap_socket(self.connection, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", ports[service]))
            thread = threading.Thread(target=_pump, args=(upstream, tls), daemon=True)
            thread.start()
            _pump(tls, upstream)
            thread.join(timeout=5)

    return _Relay(("127.0.0.1", 0), Relay)


class Gateway:
    """One identity's way to the emulators: a front per service and the TLS relay."""

    def __init__(self, identity: str, upstreams: dict[str, tuple[str, int]], log: CallLog,
                 certs: tuple[Path, Path, Path]):
        self.identity = identity
        self.ca = certs[0]
        self._servers = {s: _front(identity, s, upstream, log) for s, upstream in
                         upstreams.items()}
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs[1], certs[2])
        self.ports = {s: server.server_address[1] for s, server in self._servers.items()}
        self._relay = _relay(context, self.ports)
        for server in (*self._servers.values(), self._relay):
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self._relay.server_address[1]}"

    def environment(self) -> dict[str, str]:
        """What a process running as this identity needs to reach the emulators."""
        emulated = {}
        if "storage" in self.ports:
            emulated["STORAGE_EMULATOR_HOST"] = self.url("storage")
        if "bigquery" in self.ports:
            emulated["BIGQUERY_EMULATOR_HOST"] = self.url("bigquery")
            emulated["REHEARSAL_BIGQUERY_URL"] = f"{self.url('bigquery')}/bigquery/v2/"
        return {**emulated, "HTTPS_PROXY": self.proxy, "https_proxy": self.proxy,
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
                "CURL_CA_BUNDLE": str(self.ca), "REQUESTS_CA_BUNDLE": str(self.ca),
                "GOOGLE_AUTH_TOKEN_FOR_TESTING": "rehearsal", "NO_GCE_CHECK": "True",
                "REHEARSAL_IDENTITY": self.identity}

    def close(self) -> None:
        for server in (*self._servers.values(), self._relay):
            server.shutdown()
            server.server_close()
