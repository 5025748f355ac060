"""The base of every sandbox: lifecycle, request dispatch, errors, admin routes and pages.

A sandbox subclasses :class:`Sandbox`, names its server, says how an error of the kit looks in
the provider's shape (:meth:`Sandbox.error`, and :meth:`Sandbox.no_route` when it differs) and
adds its routes to ``self.router``: the provider's API with ``router.add``, admin endpoints with
:meth:`Sandbox.admin`, :meth:`Sandbox.admin_switches` and :meth:`Sandbox.admin_wait`, pages
with :meth:`Sandbox.hosted_page`.
It is served by the devstack's one HTTP server (:class:`devstack.http_server.LocalServer`).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Self
from urllib.parse import urlsplit

from devstack.http_server import MAX_BODY_BYTES, LocalServer, Response
from devstack.sandboxes.kit.routing import (
    Handler,
    Json,
    NoRouteError,
    Request,
    Router,
    SandboxError,
    json_response,
)
from devstack.sandboxes.kit.switches import SwitchError, Switches

logger = logging.getLogger(__name__)

AdminHandler = Callable[[Request, Json], Json]


class Sandbox:
    """A provider on 127.0.0.1; ``start`` serves it and sets ``base_url``."""

    server_name = "Sandbox/1.0"
    json_indent: int | None = None  # how the provider prints its JSON
    max_body_bytes = MAX_BODY_BYTES

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.base_url = ""
        self.router: Router[Handler] = Router()
        self._http = LocalServer(self, host, port, name=self.server_name)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self.base_url = self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        self.on_stop()

    def on_stop(self) -> None:
        """What else stops with the server (timers, delivery workers)."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run_until_interrupted(self, announce: Json) -> None:
        """For ``python -m``: print ``announce`` (URL, keys) as one JSON line, serve till Ctrl-C."""
        print(json.dumps({"base_url": self.base_url, **announce}), flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    # ----------------------------------------------------------------- the provider's shape

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        """The provider's error for a failure the kit finds (bad body, bad admin field: ``field``
        names it, crash: 500)."""
        raise NotImplementedError

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        """The provider's answer to a path it does not have (``allowed``: the methods it does
        have for this path, if any)."""
        return self.error(404, f"no such route: {request.method} {request.path}")

    def json(
        self, status: int, payload: Json, headers: Mapping[str, str] | None = None
    ) -> Response:
        return json_response(status, payload, headers, indent=self.json_indent)

    def error_response(self, error: SandboxError) -> Response:
        return json_response(
            error.status,
            error.body(),
            error.headers,
            indent=self.json_indent,
            content_type=error.content_type,
        )

    # ----------------------------------------------------------------- requests

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Response:
        parts = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        return self.handle(Request(method, parts.path, parts.query, lowered, body, client_ip))

    def refuse_body(self, status: int) -> Response:
        return self.error_response(self.error(status, "Invalid or oversized request body"))

    def handle(self, request: Request) -> Response:
        try:
            handler, routed = self.router.match(request)
            return handler(routed)
        except NoRouteError as missing:
            return self.error_response(self.no_route(missing.request, missing.allowed))
        except SandboxError as error:
            return self.error_response(error)
        except Exception:
            logger.exception("%s failed on %s %s", self.server_name, request.method, request.path)
            return self.error_response(self.error(500, "The sandbox failed; see its log."))

    # ----------------------------------------------------------------- admin and pages

    def admin(
        self, method: str, template: str, handler: AdminHandler, *, status: int = 200
    ) -> None:
        """An admin endpoint: a JSON object in (an empty body is ``{}``), a JSON object out."""

        def serve(request: Request) -> Response:
            try:
                payload = request.json_object(empty={})
            except ValueError as exc:
                raise self.error(400, str(exc)) from None
            return self.json(status, handler(request, payload))

        self.router.add(method, template, serve)

    def admin_switches(self, template: str, switches: Callable[[], Switches]) -> None:
        """``GET`` shows the chaos switches, ``POST`` changes some, ``POST .../reset`` resets."""
        self.admin_switches_of(template, lambda _request: switches())

    def admin_switches_of(self, template: str, switches: Callable[[Request], Switches]) -> None:
        """:meth:`admin_switches` for switches the request picks (one account's, by a path
        parameter of ``template``); ``switches`` raises the provider's 404 for an unknown one."""

        def change(request: Request, payload: Json) -> Json:
            current = switches(request)
            try:
                current.update(payload)
            except SwitchError as exc:
                raise self.error(400, exc.message, field=exc.name) from None
            return current.as_dict()

        def reset(request: Request, _payload: Json) -> Json:
            current = switches(request)
            current.reset()
            return current.as_dict()

        self.admin("GET", template, lambda request, _payload: switches(request).as_dict())
        self.admin("POST", template, change)
        self.admin("POST", f"{template}/reset", reset)

    def admin_wait(
        self, template: str, wait: Callable[[float], bool], *, max_timeout: float = 60.0
    ) -> None:
        """``POST template`` ``{"timeout": 10}`` -> ``{"idle": true|false}``: blocks until
        ``wait(timeout)`` (the outbox is idle, say) answers, at most ``max_timeout`` seconds."""

        def serve(_request: Request, payload: Json) -> Json:
            timeout = payload.get("timeout", 10)
            if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
                raise self.error(400, "must be a number >= 0", field="timeout")
            return {"idle": wait(min(float(timeout), max_timeout))}

        self.admin("POST", template, serve)

    def hosted_page(
        self,
        prefix: str,
        show: Callable[[str], Response],
        act: Callable[[str, str], Response],
        actions: Iterable[str],
    ) -> None:
        """``GET {prefix}/{id}`` shows the page of object ``id``; ``POST {prefix}/{id}/{action}``
        is a button on it (see :func:`devstack.sandboxes.kit.pages.action_forms`)."""
        self.router.add("GET", f"{prefix}/{{id}}", lambda request: show(request.params["id"]))
        for action in actions:
            self.router.add("POST", f"{prefix}/{{id}}/{action}", _acting(act, action))


def _acting(act: Callable[[str, str], Response], action: str) -> Callable[[Request], Response]:
    return lambda request: act(request.params["id"], action)
