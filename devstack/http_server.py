"""The HTTP plumbing the devstack's servers share (the local API Gateway, function URLs and the
sandboxes): a threaded server on 127.0.0.1 that reads each request, with a body-size limit, and
writes back whatever its responder's ``respond`` returns."""

from __future__ import annotations

import logging
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# socketserver listens with a backlog of 5: a burst of connections (a provider delivering 32
# webhooks at once) overflowed it and the kernel reset the extra ones. The kernel caps this at
# net.core.somaxconn.
LISTEN_BACKLOG = 1024
# Written by the server itself; a responder's own copies are dropped.
_HOP_HEADERS = frozenset({"content-length", "connection"})


@dataclass
class Response:
    status: int
    body: bytes
    # None: the responder sets Content-Type among its headers (or sends none).
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Responder(Protocol):
    max_body_bytes: int

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        """Answer one request. ``target`` is the raw path with its query string; ``headers``
        keep the case the client sent."""
        ...

    def refuse_body(self, status: int) -> Response:
        """The answer to a missing/invalid (400) or oversized (413) body, in the API's shape."""
        ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], responder: Responder, version: str) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.responder = responder
        self.version = version
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections do not pin a thread forever

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def __getattr__(self, name: str) -> Any:
        # Every other method (HEAD, OPTIONS, TRACE, QUERY...) reaches the responder too, which
        # answers it the way its AWS counterpart does (API Gateway: no such route), instead of
        # http.server's HTML 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def version_string(self) -> str:
        return cast(_Server, self.server).version

    def _serve(self) -> None:
        responder = cast(_Server, self.server).responder
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > responder.max_body_bytes:
            self.close_connection = True
            response = responder.refuse_body(400 if length < 0 else 413)
        else:
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            response = responder.respond(
                self.command, self.path, headers, body, self.client_address[0]
            )
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in _HOP_HEADERS:
                self.send_header(name, value)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has headers only
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logger.debug("%s %s", self.address_string(), format % args)


class LocalServer:
    """One responder served on a daemon thread; ``start`` returns the base URL."""

    def __init__(self, responder: Responder, host: str, port: int, *, name: str) -> None:
        self._responder = responder
        self._address = (host, port)
        self._name = name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        if self._server is not None:
            raise RuntimeError(f"the {self._name} is already running")
        self._server = _Server(self._address, self._responder, self._name)
        host, port = self._address[0], self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() returns promptly
            name=self._name,
            daemon=True,
        )
        self._thread.start()
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
