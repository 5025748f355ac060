"""A local Omnisend: ``POST /v5/events`` as the product uses it, with Omnisend's checks and limits.

The server speaks the wire format in the provider reference (``X-API-KEY`` per brand, JSON bodies,
202 with ``{}`` on success, RFC 9457 problem+json errors), dedupes events on ``eventID`` per brand
the way Omnisend does, and enforces the per-brand rate limit (400 requests a minute by default,
configurable so tests need not send 400 requests). ``fail_next`` makes the next requests fail with
any status, with or without ``Retry-After``, to exercise a client's backoff.

Admin endpoints (no authentication, loopback only):

- ``POST /_sandbox/brands`` ``{"api_key": "..."}`` (optional) -> 201 ``{"brand_id", "api_key"}``;
- ``GET /_sandbox/events[?api_key=...]`` -> 200 ``{"data": [<event>...]}``;
- ``POST /_sandbox/fail_next`` ``{"count": N, "status": 429, "retry_after": 1}`` -> 200.

API keys are never echoed in responses and are masked in recorded headers.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import logging
import math
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TypeGuard

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Request, Sandbox, SandboxError
from devstack.sandboxes.kit.routing import parse_json_object

logger = logging.getLogger(__name__)

RATE_LIMIT_PER_MINUTE = 400  # Omnisend's limit per brand
RATE_LIMIT_WINDOW_SECONDS = 60.0
API_KEY_HEADER = "x-api-key"
EVENT_FIELDS = frozenset({"eventName", "origin", "contact", "properties", "eventID", "eventTime"})

_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})",
)


def _now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mask(key: str) -> str:
    """What may be shown of a key: the last four characters of a long one, never the rest."""
    return "****" + (key[-4:] if len(key) >= 16 else "")


def is_rfc3339(value: str) -> bool:
    """A full RFC 3339 date-time with an offset (``Z`` or ``+hh:mm``) that names a real instant."""
    if not _RFC3339.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


class ProblemError(SandboxError):
    """An RFC 9457 problem: ``type`` is ``about:blank``, so ``title`` is the status phrase."""

    content_type = "application/problem+json"

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field_name: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(status, detail)
        self.detail = detail
        self.field_name = field_name
        self.retry_after = retry_after
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)

    def body(self) -> Json:
        try:
            title = HTTPStatus(self.status).phrase
        except ValueError:
            title = "Error"
        problem: Json = {
            "type": "about:blank",
            "title": title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.field_name is not None:
            problem["field"] = self.field_name
        return problem


@dataclass
class _Brand:
    brand_id: str
    api_key: str
    events: list[Json] = field(default_factory=list)
    by_event_id: dict[str, Json] = field(default_factory=dict)
    recent: deque[float] = field(default_factory=deque)  # monotonic times inside the window


@dataclass
class _FailNext:
    count: int = 0
    status: int = 429
    retry_after: int | None = 1


class OmnisendSandbox(Sandbox):
    """An Omnisend on 127.0.0.1: brands with API keys, ``POST /v5/events``, limits and failures."""

    server_name = "OmnisendSandbox/1.0"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
        rate_window_seconds: float = RATE_LIMIT_WINDOW_SECONDS,
    ) -> None:
        if rate_limit < 1 or rate_window_seconds <= 0:
            raise ValueError("rate_limit and rate_window_seconds must be positive")
        super().__init__(host, port)
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self._lock = threading.Lock()
        self._brands: dict[str, _Brand] = {}  # by API key
        self._fail_next = _FailNext()
        self.router.add("POST", "/v5/events", self._post_event)
        self.admin("POST", "/_sandbox/brands", self._admin_brands, status=201)
        self.admin("GET", "/_sandbox/events", self._admin_events)
        self.admin("POST", "/_sandbox/fail_next", self._admin_fail_next)

    # ----------------------------------------------------------------- Python API

    def register_brand(self, api_key: str | None = None) -> str:
        """Register a brand and return its API key (generated when None; idempotent per key)."""
        key = api_key if api_key is not None else _new_api_key()
        if not key or len(key) > 256 or any(ord(ch) < 33 or ord(ch) > 126 for ch in key):
            raise ValueError("an API key is 1-256 printable ASCII characters without spaces")
        with self._lock:
            if key not in self._brands:
                self._brands[key] = _Brand(brand_id=secrets.token_hex(12), api_key=key)
        return key

    def brand_id(self, api_key: str) -> str:
        with self._lock:
            return self._brands[api_key].brand_id

    def events(self, api_key: str | None = None) -> list[Json]:
        """Accepted events (duplicates recorded once), oldest first; one brand's, or everyone's.

        Each is ``{"brand_id", "event_id", "body", "headers", "received_at", "times_received"}``:
        the parsed body and request headers (lower-case names, the API key masked) of the first
        delivery, its RFC 3339 arrival time, and how often this ``eventID`` was accepted.
        """
        with self._lock:
            if api_key is not None:
                brand = self._brands.get(api_key)
                found = list(brand.events) if brand else []
            else:
                found = [event for brand in self._brands.values() for event in brand.events]
                found.sort(key=lambda event: event["_seq"])
            return [
                {name: copy.deepcopy(value) for name, value in event.items() if name != "_seq"}
                for event in found
            ]

    def fail_next(self, count: int, status: int = 429, retry_after: int | None = 1) -> None:
        """The next ``count`` API requests (any brand) answer ``status`` as problem+json.

        ``Retry-After`` is sent when ``retry_after`` is not None. Failed requests are neither
        recorded nor counted against the rate limit.
        """
        if count < 0 or not 400 <= status <= 599:
            raise ValueError("count must be >= 0 and status a 4xx or 5xx code")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must be >= 0")
        with self._lock:
            self._fail_next = _FailNext(count, status, retry_after)

    # ----------------------------------------------------------------- HTTP

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        return ProblemError(status, message, field_name=field)

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        if request.path.startswith("/_sandbox/"):
            return ProblemError(404, "no such sandbox route")
        if not allowed:
            return ProblemError(404, "no such route")
        problem = ProblemError(405, f"only {', '.join(allowed)} is allowed on {request.path}")
        problem.headers["Allow"] = ", ".join(allowed)
        return problem

    def _post_event(self, request: Request) -> Response:
        headers = request.headers
        received_at = _now_rfc3339()
        with self._lock:
            self._consume_forced_failure()
            brand = self._brands.get(headers.get(API_KEY_HEADER, ""))
            if brand is None:
                raise ProblemError(401, "missing or invalid API key (X-API-KEY)")
            self._count_request(brand)
        if request.media_type != "application/json":
            raise ProblemError(415, "Content-Type must be application/json")
        event = _validated_event(request.body)
        recorded_headers = dict(headers)
        recorded_headers[API_KEY_HEADER] = _mask(brand.api_key)
        with self._lock:
            known = brand.by_event_id.get(event["eventID"])
            if known is not None:  # Omnisend dedupes on eventID: accepted, recorded once
                known["times_received"] += 1
            else:
                record: Json = {
                    "_seq": next(_SEQUENCE),
                    "brand_id": brand.brand_id,
                    "event_id": event["eventID"],
                    "body": event,
                    "headers": recorded_headers,
                    "received_at": received_at,
                    "times_received": 1,
                }
                brand.by_event_id[event["eventID"]] = record
                brand.events.append(record)
        return self.json(202, {})

    def _consume_forced_failure(self) -> None:
        failing = self._fail_next
        if failing.count > 0:
            failing.count -= 1
            detail = (
                "rate limit exceeded, retry later"
                if failing.status == 429
                else "forced failure (sandbox fail_next)"
            )
            raise ProblemError(failing.status, detail, retry_after=failing.retry_after)

    def _count_request(self, brand: _Brand) -> None:
        now = time.monotonic()
        recent = brand.recent
        while recent and recent[0] <= now - self.rate_window_seconds:
            recent.popleft()
        if len(recent) >= self.rate_limit:
            wait = recent[0] + self.rate_window_seconds - now
            raise ProblemError(
                429,
                f"rate limit of {self.rate_limit} requests per "
                f"{self.rate_window_seconds:g} s exceeded for this brand",
                retry_after=max(1, math.ceil(wait)),
            )
        recent.append(now)

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_brands(self, _request: Request, params: Json) -> Json:
        api_key = params.get("api_key")
        if api_key is not None and not isinstance(api_key, str):
            raise ProblemError(400, "api_key must be a string", field_name="api_key")
        try:
            key = self.register_brand(api_key)
        except ValueError as error:
            raise ProblemError(400, str(error), field_name="api_key") from None
        return {"brand_id": self.brand_id(key), "api_key": key}

    def _admin_events(self, request: Request, _params: Json) -> Json:
        wanted = request.query_value("api_key") or request.headers.get(API_KEY_HEADER)
        return {"data": self.events(wanted)}

    def _admin_fail_next(self, _request: Request, params: Json) -> Json:
        count, status = params.get("count"), params.get("status", 429)
        retry_after = params.get("retry_after", 1)
        if not _is_int(count) or not _is_int(status):
            raise ProblemError(400, "count and status must be integers")
        if retry_after is not None and not _is_int(retry_after):
            raise ProblemError(400, "retry_after must be an integer or null")
        try:
            self.fail_next(count, status, retry_after)
        except ValueError as error:
            raise ProblemError(400, str(error)) from None
        return {"count": count, "status": status, "retry_after": retry_after}


_SEQUENCE = itertools.count(1)  # global arrival order; advanced under the sandbox's lock


def _new_api_key() -> str:
    return f"{secrets.token_hex(12)}-{secrets.token_urlsafe(48)}"


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _validated_event(body: bytes) -> Json:
    """The event if it is well-formed; otherwise a 400 problem naming the first bad field."""
    try:
        event = parse_json_object(body)
    except ValueError as error:
        raise ProblemError(400, str(error)) from None
    name = event.get("eventName")
    if not isinstance(name, str) or not name.strip():
        raise ProblemError(400, "eventName must be a non-empty string", field_name="eventName")
    if event.get("origin") != "api":
        raise ProblemError(400, 'origin must be "api"', field_name="origin")
    contact = event.get("contact")
    if not isinstance(contact, dict):
        raise ProblemError(400, "contact must be an object", field_name="contact")
    email = contact.get("email")
    if not isinstance(email, str) or len(email) > 254 or not _EMAIL.fullmatch(email):
        raise ProblemError(
            400, "contact.email must be a valid e-mail address", field_name="contact.email"
        )
    if "properties" in event and not isinstance(event["properties"], dict):
        raise ProblemError(400, "properties must be an object", field_name="properties")
    event_id = event.get("eventID")
    if not isinstance(event_id, str) or not _UUID.fullmatch(event_id):
        raise ProblemError(400, "eventID must be a UUID string", field_name="eventID")
    event_time = event.get("eventTime")
    if not isinstance(event_time, str) or not is_rfc3339(event_time):
        raise ProblemError(
            400, "eventTime must be an RFC 3339 date-time with an offset", field_name="eventTime"
        )
    for name in sorted(event):
        if name not in EVENT_FIELDS:
            raise ProblemError(400, f"unknown field '{name}'", field_name=name)
    return event


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.omnisend``: run a sandbox with one brand until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12112)
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--rate-limit", type=int, default=RATE_LIMIT_PER_MINUTE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = OmnisendSandbox(args.host, args.port, rate_limit=args.rate_limit).start()
    key = sandbox.register_brand(args.api_key)
    sandbox.run_until_interrupted({"brand_id": sandbox.brand_id(key), "api_key": key})


if __name__ == "__main__":
    main()
