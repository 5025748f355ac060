"""A small JSON app on the standard library's ``ThreadingHTTPServer``: its lifecycle, the
callback route, the test switches and the body and answer plumbing every route needs.

An app subclasses :class:`ExampleApp` (its objects, :meth:`ExampleApp.parse_callback` and
:meth:`ExampleApp.apply_callback_locked`) and :class:`JsonHandler` (its routes, in
``route_get`` and ``route_post``)."""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Generic, Self, TypeVar, cast
from urllib.parse import SplitResult, urlsplit

from examples.kit.callbacks import CallbackInbox

Json = dict[str, Any]

MAX_BODY_BYTES = 64 * 1024
CALLBACK_PATH = "/webhooks/payments"


class BadRequestError(Exception):
    """The client sent something we cannot use: answered 400, nothing changes."""


def error(code: str, message: str) -> Json:
    return {"error": {"code": code, "message": message}}


def json_object(body: bytes) -> Json:
    try:
        value = json.loads(body)
    except ValueError:
        raise BadRequestError("the body must be JSON") from None
    if not isinstance(value, dict):
        raise BadRequestError("the body must be a JSON object")
    return value


class ExampleApp:
    """An HTTP server on ``host:port`` with a callback endpoint at ``/webhooks/payments``."""

    name: ClassVar[str] = "example"  # "the <name> app is already running", the thread's name

    def __init__(
        self,
        api_base: str,
        api_key: str,
        webhook_secrets: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        test_switches: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.base_url = ""
        self.test_switches = test_switches
        self._lock = threading.Lock()  # guards the app's objects and the inbox
        self.inbox = CallbackInbox(webhook_secrets, self._lock)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.setup(api_base, api_key)

    def setup(self, api_base: str, api_key: str) -> None:
        """The app's own state and its API client (guarded by ``self._lock``)."""

    def handler_class(self) -> type[JsonHandler[Any]]:
        """The app's routes: a JsonHandler subclass."""
        raise NotImplementedError

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError(f"the {self.name} app is already running")
        self._server = _Server((self.host, self.port), self)
        self.base_url = f"http://{self.host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-app",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.close()

    def close(self) -> None:
        """Release what the app holds besides its server (its API session)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def callback_url(self) -> str:
        """The URL to register with ``POST /v1/callbacks/endpoints``."""
        return f"{self.base_url}{CALLBACK_PATH}"

    # ----------------------------------------------------------------- callbacks

    def receive_callback(self, body: bytes, headers: Mapping[str, str]) -> int:
        """Handle one delivery to ``/webhooks/payments``; returns the HTTP status to answer."""
        return self.inbox.receive(body, headers, self.parse_callback, self.apply_callback_locked)

    def parse_callback(self, payload: Json) -> tuple[str, Json | None]:
        raise NotImplementedError

    def apply_callback_locked(self, event_type: str, subject: Json | None) -> str:
        raise NotImplementedError

    # ----------------------------------------------------------------- test switches

    def set_fail_next(self, count: int, status: int = 500) -> None:
        self.inbox.set_fail_next(count, status)

    def set_gone(self, gone: bool = True) -> None:
        self.inbox.set_gone(gone)

    def deliveries(self) -> list[Json]:
        return self.inbox.deliveries()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 resets a burst of concurrent callbacks

    def __init__(self, address: tuple[str, int], app: ExampleApp) -> None:
        self.app = app
        super().__init__(address, app.handler_class())


AppT = TypeVar("AppT", bound=ExampleApp)


class JsonHandler(BaseHTTPRequestHandler, Generic[AppT]):
    """The callback route and the test switches; an app's routes go in ``route_get`` and
    ``route_post`` (which may raise BadRequestError: 400). ``self.app`` is the app serving."""

    protocol_version = "HTTP/1.1"
    server_version = "Example/1.0"
    timeout = 60

    def route_get(self, target: SplitResult) -> None:
        self._json(404, error("not_found", "no such route"))

    def route_post(self, path: str, body: bytes) -> None:
        self._json(404, error("not_found", "no such route"))

    def do_GET(self) -> None:
        target = urlsplit(self.path)
        if target.path == "/_test/deliveries" and self.app.test_switches:
            self._json(200, {"data": self.app.deliveries()})
        else:
            self.route_get(target)

    def do_POST(self) -> None:
        app, path = self.app, urlsplit(self.path).path
        body = self._body()
        if body is None:
            return
        if path == CALLBACK_PATH:
            # Verify the exact bytes received: re-serialised JSON would not match the signature.
            self._empty(app.receive_callback(body, dict(self.headers.items())))
            return
        try:
            if path == "/_test/fail_next" and app.test_switches:
                params = json_object(body)
                count, status = params.get("count", 1), params.get("status", 500)
                if not isinstance(count, int) or count < 0:
                    raise BadRequestError("count must be a non-negative integer")
                if not isinstance(status, int) or not 200 <= status <= 599:
                    raise BadRequestError("status must be an HTTP status code")
                app.set_fail_next(count, status)
                self._json(200, {"count": count, "status": status})
            elif path == "/_test/gone" and app.test_switches:
                gone = json_object(body).get("gone", True) if body else True
                app.set_gone(bool(gone))
                self._json(200, {"gone": bool(gone)})
            else:
                self.route_post(path, body)
        except BadRequestError as failure:
            self._json(400, error("invalid_request", str(failure)))

    @property
    def app(self) -> AppT:
        return cast(AppT, cast(_Server, self.server).app)

    def _found(self, found: Json | None, code: str, message: str) -> None:
        """200 with ``found``, or 404 ``code`` when it is None."""
        if found is None:
            self._json(404, error(code, message))
        else:
            self._json(200, found)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            self._json(413 if length > 0 else 400, error("invalid_body", "bad Content-Length"))
            return None
        return self.rfile.read(length)

    def _json(self, status: int, body: Json, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _empty(self, status: int) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logging.getLogger(self.app.name).debug("%s %s", self.address_string(), format % args)


# --------------------------------------------------------------------------- command line


def command_line(prog: str, description: str | None, default_port: int) -> argparse.ArgumentParser:
    """The options every example takes: the API, its key, the callback secrets, where to
    listen, and whether the test switches are on."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--api-base", required=True, help="e.g. http://127.0.0.1:3000/dev")
    parser.add_argument("--api-key", required=True, help="the tenant's API key (pk_...)")
    parser.add_argument(
        "--webhook-secret",
        "--secret",
        dest="webhook_secret",
        action="append",
        required=True,
        help="the callback endpoint's secret (whsec_...); repeat it during a rotation",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument(
        "--no-test-switches", action="store_true", help="turn off the /_test/ endpoints"
    )
    return parser


def run(
    make_app: type[ExampleApp],
    argv: list[str] | None,
    *,
    prog: str,
    description: str | None,
    default_port: int,
    title: str,
) -> None:
    """An example's ``main``: parse :func:`command_line`, start the app, serve until Ctrl-C;
    the first line printed names its URLs."""
    args = command_line(prog, description, default_port).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = make_app(
        args.api_base,
        args.api_key,
        args.webhook_secret,
        args.host,
        args.port,
        test_switches=not args.no_test_switches,
    ).start()
    print(f"{title} app on {app.base_url}; callback URL {app.callback_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        app.stop()
