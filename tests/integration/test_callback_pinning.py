"""A callback connects to the very address the URL guard approved, never to a second DNS answer.

The merchant's host name is served by a resolver this test controls: the first lookup answers a
public address, every later one a private address (127.0.0.1 or 10.0.0.5). Two local TLS
servers stand in for the two: the *approved* one, reached through the public address, and the
*private* one, which is what a second lookup would lead to. Only the approved one may ever see
a request, with the merchant's host name in the Host header, the TLS SNI and the certificate.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devstack.template import LocalStack
from payments.services import callbacks

HOST = "merchant.example"
PUBLIC = "93.184.216.34"
LATER_ANSWERS = ["127.0.0.1", "10.0.0.5"]


# --- a test CA and TLS servers -----------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    directory: Path
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_file(self) -> Path:
        return self.directory / "ca.pem"

    def issue(self, name: str) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert_file, key_file = self.directory / f"{name}.pem", self.directory / f"{name}.key"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_file, key_file


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    directory = tmp_path_factory.mktemp("ca")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "callback test CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(directory, key, cert)


@dataclass
class TlsMerchant:
    """An HTTPS endpoint on 127.0.0.1 that records every request and every SNI it is sent."""

    name: str
    status: int = 204
    location: str | None = None
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self, cert_file: Path, key_file: Path) -> TlsMerchant:
        merchant = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                merchant.requests.append((self.path, headers, body))
                self.send_response(merchant.status)
                if merchant.location:
                    self.send_header("Location", merchant.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda _sock, name, _ctx: merchant.server_names.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def merchants(ca: CertificateAuthority) -> Iterator[Callable[..., TlsMerchant]]:
    started: list[TlsMerchant] = []

    def start(name: str, *, cert_for: str = HOST, **options: Any) -> TlsMerchant:
        merchant = TlsMerchant(name, **options).start(*ca.issue(cert_for))
        started.append(merchant)
        return merchant

    yield start
    for merchant in started:
        merchant.stop()


# --- the resolver and the network this test controls ------------------------------------------


@dataclass
class ControlledNetwork:
    """DNS for HOST (public first, then ``later``) and a routing table from addresses to the
    local servers. The resolver is the process's own ``socket.getaddrinfo``, so any lookup,
    ours or a library's, goes through it."""

    later: str
    routes: dict[str, int] = field(default_factory=dict)  # address -> local port
    lookups: list[str] = field(default_factory=list)
    connects: list[tuple[str, int]] = field(default_factory=list)

    def getaddrinfo(self, host: str, port: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(host)
            address = host  # a literal resolves to itself: not a DNS lookup
        except ValueError:
            if host != HOST:
                raise socket.gaierror(socket.EAI_NONAME, "unknown host") from None
            address = PUBLIC if not self.lookups else self.later
            self.lookups.append(address)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, int(port or 0)))]


@pytest.fixture(params=LATER_ANSWERS)
def network(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, ca: CertificateAuthority
) -> ControlledNetwork:
    controlled = ControlledNetwork(later=request.param)
    monkeypatch.setattr(socket, "getaddrinfo", controlled.getaddrinfo)
    real_open = callbacks._open_socket

    def open_socket(address: Any, port: int, timeout: float | None) -> socket.socket:
        controlled.connects.append((str(address), port))
        local_port = controlled.routes.get(str(address), port)
        return real_open(ipaddress.ip_address("127.0.0.1"), local_port, timeout)

    monkeypatch.setattr(callbacks, "_open_socket", open_socket)
    trusting = ssl.create_default_context(cafile=str(ca.cert_file))
    monkeypatch.setattr(callbacks, "_tls_context", lambda: trusting)
    return controlled


def _route_private_answer(network: ControlledNetwork, private: TlsMerchant) -> str:
    """The URL, on the private server's port: a connection made from a second lookup's answer
    (127.0.0.1:port, or 10.0.0.5 routed there) reaches the private server."""
    network.routes[network.later] = private.port
    return f"https://{HOST}:{private.port}/hooks/payments?shop=7"


def test_the_post_goes_to_the_approved_address_only(
    aws: LocalStack, network: ControlledNetwork, merchants: Callable[..., TlsMerchant]
) -> None:
    approved, private = merchants("approved"), merchants("private")
    url = _route_private_answer(network, private)
    network.routes[PUBLIC] = approved.port

    result = callbacks._post(url, {"webhook-id": "evt_1"}, b'{"type":"payment.succeeded"}')

    assert (result.status_code, result.error) == (204, None)
    assert network.lookups == [PUBLIC]  # one lookup: the one the guard checked
    assert network.connects == [(PUBLIC, private.port)]  # TCP to the approved address
    [(path, headers, body)] = approved.requests
    assert (path, body) == ("/hooks/payments?shop=7", b'{"type":"payment.succeeded"}')
    assert headers["host"] == f"{HOST}:{private.port}"
    assert headers["webhook-id"] == "evt_1"
    assert approved.server_names == [HOST]  # SNI is the URL's host, not the address
    assert private.requests == []
    assert private.server_names == []


def test_a_certificate_for_another_name_fails_although_the_address_was_approved(
    aws: LocalStack, network: ControlledNetwork, merchants: Callable[..., TlsMerchant]
) -> None:
    impostor, private = merchants("impostor", cert_for="other.example"), merchants("private")
    url = _route_private_answer(network, private)
    network.routes[PUBLIC] = impostor.port

    result = callbacks._post(url, {}, b"{}")

    assert result.status_code is None
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert impostor.requests == []
    assert private.requests == []


def test_a_redirect_is_an_answer_and_is_not_followed(
    aws: LocalStack, network: ControlledNetwork, merchants: Callable[..., TlsMerchant]
) -> None:
    private = merchants("private")
    url = _route_private_answer(network, private)
    redirecting = merchants("redirecting", status=307, location=url)
    network.routes[PUBLIC] = redirecting.port

    result = callbacks._post(url, {}, b"{}")

    assert (result.status_code, result.error) == (307, None)
    assert len(redirecting.requests) == 1
    assert private.requests == []
    assert network.lookups == [PUBLIC]


def test_an_endpoint_whose_dns_turned_private_after_registration_is_never_reached(
    aws: LocalStack, network: ControlledNetwork, merchants: Callable[..., TlsMerchant]
) -> None:
    private = merchants("private")
    url = _route_private_answer(network, private)
    endpoint = callbacks.register_endpoint("ten_pinning", url, [])  # the public answer
    assert endpoint["url"] == url

    result = callbacks._post(url, {}, b"{}")  # the next lookup answers the private address

    assert result.status_code is None
    assert result.error == f"{HOST} resolves to a non-public address"
    assert network.lookups == [PUBLIC, network.later]
    assert network.connects == []
    assert private.requests == []
