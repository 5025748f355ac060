"""Requests, routes and errors of a sandbox: method + path pattern -> handler.

A pattern is a path with ``{name}`` parts (one segment) and at most one ``{name:path}`` part
(the rest of the path, slashes included); the matched parts reach the handler, URL-decoded, as
``request.params``. A method of ``*`` matches any method.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl, unquote

from devstack.http_server import Response

Json = dict[str, Any]

_PLACEHOLDER = re.compile(r"\{([a-z_]+)(:path)?\}")


class SandboxError(Exception):
    """An answer in the provider's own error shape; each sandbox subclasses it."""

    content_type = "application/json"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers: dict[str, str] = {}

    def body(self) -> Json:
        return {"error": {"message": self.message}}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_ip: str = ""
    params: dict[str, str] = field(default_factory=dict)  # from the route's pattern

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def query_pairs(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def query_value(self, name: str) -> str | None:
        return next((value for key, value in self.query_pairs() if key == name), None)

    def form_pairs(self) -> list[tuple[str, str]]:
        """The pairs of a form-encoded body; ``UnicodeDecodeError`` if it is not UTF-8."""
        return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)

    def json_object(self, *, empty: Json | None = None) -> Json:
        """The body as a JSON object; ``ValueError`` (with a message for the client) otherwise.
        An empty body is ``empty`` when that is given."""
        return parse_json_object(self.body, empty=empty)


def parse_json_object(body: bytes, *, empty: Json | None = None) -> Json:
    if not body and empty is not None:
        return dict(empty)
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


Handler = Callable[[Request], Response]
H = TypeVar("H")  # what a route leads to: a Handler, or a sandbox's own kind of handler


@dataclass(frozen=True)
class Route(Generic[H]):
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: H


class NoRouteError(LookupError):
    """No route for the request; ``allowed`` names the methods the path has (empty: none)."""

    def __init__(self, request: Request, allowed: list[str]) -> None:
        super().__init__(f"{request.method} {request.path}")
        self.request = request
        self.allowed = allowed


class Router(Generic[H]):
    """Routes in the order they were added; the first whose method and pattern match wins."""

    def __init__(self) -> None:
        self.routes: list[Route[H]] = []

    def add(self, method: str, template: str, handler: H) -> None:
        self.routes.append(Route(method.upper(), template, _compile(template), handler))

    def match(self, request: Request) -> tuple[H, Request]:
        """The handler and the request with its path parameters; ``NoRouteError`` if none."""
        allowed: list[str] = []
        for route in self.routes:
            found = route.pattern.fullmatch(request.path)
            if found is None:
                continue
            if route.method in ("*", request.method):
                params = {name: unquote(value) for name, value in found.groupdict().items()}
                return route.handler, replace(request, params={**request.params, **params})
            if route.method not in allowed:
                allowed.append(route.method)
        raise NoRouteError(request, allowed)


def _compile(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for placeholder in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position : placeholder.start()]))
        name, rest = placeholder.groups()
        parts.append(f"(?P<{name}>.*)" if rest else f"(?P<{name}>[^/]+)")
        position = placeholder.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts))


def json_response(
    status: int,
    payload: Json,
    headers: Mapping[str, str] | None = None,
    *,
    indent: int | None = None,
    content_type: str = "application/json",
) -> Response:
    body = json.dumps(payload, indent=indent, ensure_ascii=False).encode("utf-8")
    return Response(status, body, content_type, dict(headers or {}))
