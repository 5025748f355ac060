"""The core of the NEO Bank sandbox: the bank's key, clients, the error shape, and the checks
every signed ``/v1`` request goes through before its route is even looked up.

A ``/v1`` request carries ``X-Neo-Client-Id``, ``X-Neo-Timestamp``, ``X-Neo-Request-Id`` and
``X-Neo-Signature`` (base64 RSASSA-PKCS1-v1_5 / SHA-256 by the client's registered key over
``METHOD "\\n" PATH "\\n" TIMESTAMP "\\n" REQUEST_ID "\\n" BODY``, ``PATH`` with its query string
as sent). The checks, in this order, and the refusal of each:

1. the client id names a client: else 401 ``unknown_client``;
2. the timestamp is an integer (ASCII digits, optionally ``-``): else 401 ``stale_timestamp``;
3. the signature is there, strict base64, and the registered key's signature of the message
   (the request id must be there too, being part of it): else 401 ``invalid_signature``;
4. the timestamp is within ``Settings.timestamp_window_seconds`` (300) of the bank's clock,
   either way: else 401 ``stale_timestamp``;
5. the request id is ``req_`` + 32 hex digits (else 422 ``invalid_request``) and one this client
   has not sent before: else 409 ``duplicate_request_id``. Ids are remembered for two windows
   (a request older than that is stale anyway).

Every ``/v1`` request is recorded with its outcome (``GET /_sandbox/requests``).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devstack.http_server import Response
from devstack.sandboxes.kit import Request, Router, Sandbox, SandboxError, SwitchError
from devstack.sandboxes.kit.routing import NoRouteError
from devstack.sandboxes.neobank.errors import (
    DUPLICATE_REQUEST_ID,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    INVALID_SIGNATURE,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    REQUEST_TOO_LARGE,
    STALE_TIMESTAMP,
    UNKNOWN_CLIENT,
    NeoBankError,
    not_found,
)
from devstack.sandboxes.neobank.objects import (
    ChaosSettings,
    Client,
    ClientSettings,
    Payment,
    Registration,
    RequestRecord,
    Settings,
    check_webhook_url,
    client_id,
    now,
)
from devstack.sandboxes.neobank.signing import (
    load_public_key,
    new_private_key,
    public_pem,
    request_message,
    sign,
    verifies,
    webhook_message,
)

CLIENT_ID_HEADER = "x-neo-client-id"
TIMESTAMP_HEADER = "x-neo-timestamp"
REQUEST_ID_HEADER = "x-neo-request-id"
SIGNATURE_HEADER = "x-neo-signature"
REQUEST_ID = re.compile(r"req_[0-9a-fA-F]{32}")
_INTEGER = re.compile(r"-?[0-9]{1,19}")  # ASCII digits only (str.isdigit takes others)
MAX_REQUESTS_KEPT = 10_000
MAX_NAME = 200

# A /v1 route's handler: the request and the client whose signature it carries.
ApiHandler = Callable[[Request, Client], Response]


def signed_target(request: Request) -> str:
    """The PATH of the signed message: the path with its query string, as sent."""
    return f"{request.path}?{request.query}" if request.query else request.path


class NeoBankCore(Sandbox):
    """The bank's key, clients, and the signed-request checks of every ``/v1`` route."""

    server_name = "NeoBankSandbox/1.0"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.settings = Settings()
        self._lock = threading.RLock()
        self._bank_key = new_private_key()
        self.bank_public_key_pem = public_pem(self._bank_key)
        self._clients: dict[str, Client] = {}
        self._registrations: dict[str, Registration] = {}  # by CPRN
        self._registration_refs: dict[tuple[str, str], str] = {}  # (client, reference) -> CPRN
        self._payments: dict[str, Payment] = {}  # by tx_id
        self._payment_refs: dict[tuple[str, str], str] = {}  # (client, reference) -> tx_id
        self._requests: deque[RequestRecord] = deque(maxlen=MAX_REQUESTS_KEPT)
        self.api: Router[ApiHandler] = Router()
        self.router.add("*", "/v1/{rest:path}", self._serve_signed)

    # ----------------------------------------------------------------- the provider's shape

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        text = f"{field} {message}" if field and field not in message else message
        if status == 400:
            return NeoBankError(422, INVALID_REQUEST, text)
        if status == 404:
            return NeoBankError(404, NOT_FOUND, text)
        if status == 413:
            return NeoBankError(413, REQUEST_TOO_LARGE, text)
        if status >= 500:
            return NeoBankError(status, INTERNAL_ERROR, text)
        return NeoBankError(status, f"http_{status}", text)

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        if allowed:
            error = NeoBankError(
                405, METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.path}"
            )
            error.headers["Allow"] = ", ".join(allowed)
            return error
        return not_found(f"no such route: {request.method} {request.path}")

    # ----------------------------------------------------------------- clients

    def create_client(
        self,
        public_key_pem: str,
        webhook_url: str = "",
        name: str = "",
        *,
        settings: Mapping[str, Any] | None = None,
        chaos: Mapping[str, Any] | None = None,
    ) -> Client:
        """A client whose requests are verified with ``public_key_pem`` (RSA, >= 2048 bits) and
        whose webhooks go to ``webhook_url`` (loopback only; empty: none are sent).
        ``SwitchError`` (a ``ValueError`` naming the field) for anything wrong."""
        key = _public_key("public_key_pem", public_key_pem)
        check_webhook_url("webhook_url", webhook_url)
        if not isinstance(name, str) or len(name) > MAX_NAME:
            raise SwitchError("name", f"name must be a string of at most {MAX_NAME} characters")
        client_settings, client_chaos = ClientSettings(), ChaosSettings()
        client_settings.update(settings or {})
        client_chaos.update(chaos or {})
        created = client_id()
        client = Client(
            client_id=created,
            name=name or f"Sandbox client {created[-6:]}",
            public_key_pem=public_key_pem,
            public_key=key,
            webhook_url=webhook_url,
            bank_public_key_pem=self.bank_public_key_pem,
            created_at=now(),
            settings=client_settings,
            chaos=client_chaos,
        )
        with self._lock:
            self._clients[client.client_id] = client
        return client

    def clients(self) -> list[Client]:
        with self._lock:
            return list(self._clients.values())

    def client(self, client_id: str) -> Client:
        """The client (404 ``not_found`` in NEO Bank's shape if there is none)."""
        with self._lock:
            found = self._clients.get(client_id)
        if found is None:
            raise not_found(f"no such client: {client_id}")
        return found

    def set_public_key(self, client_id: str, public_key_pem: str) -> Client:
        """Register another key for the client (a rotation: the old one stops verifying)."""
        key = _public_key("public_key_pem", public_key_pem)
        with self._lock:
            client = self.client(client_id)
            client.public_key_pem, client.public_key = public_key_pem, key
            return client

    def set_webhook_url(self, client_id: str, webhook_url: str) -> Client:
        check_webhook_url("webhook_url", webhook_url)
        with self._lock:
            client = self.client(client_id)
            client.webhook_url = webhook_url
            return client

    # ----------------------------------------------------------------- signed requests

    def requests(self, client_id: str | None = None) -> list[RequestRecord]:
        """The ``/v1`` requests seen (the last 10 000), oldest first."""
        with self._lock:
            return [r for r in self._requests if client_id is None or r.client_id == client_id]

    def authenticate(self, request: Request, record: RequestRecord) -> Client:
        """The client whose signature ``request`` carries, after every check (module doc)."""
        headers = request.headers
        with self._lock:
            client = self._clients.get(headers.get(CLIENT_ID_HEADER, "").strip())
        if client is None:
            raise _refused(record, 401, UNKNOWN_CLIENT, "X-Neo-Client-Id names no client")
        timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
        if _INTEGER.fullmatch(timestamp) is None:
            raise _refused(
                record, 401, STALE_TIMESTAMP, "X-Neo-Timestamp must be unix seconds (an integer)"
            )
        request_id = headers.get(REQUEST_ID_HEADER, "").strip()
        signature = headers.get(SIGNATURE_HEADER, "").strip()
        if not signature:
            raise _refused(record, 401, INVALID_SIGNATURE, "X-Neo-Signature is missing")
        if not request_id:
            raise _refused(
                record, 401, INVALID_SIGNATURE, "X-Neo-Request-Id is missing (it is signed)"
            )
        message = request_message(
            request.method, signed_target(request), timestamp, request_id, request.body
        )
        if not verifies(client.public_key, signature, message):
            raise _refused(
                record,
                401,
                INVALID_SIGNATURE,
                "X-Neo-Signature is not the registered key's signature of this request",
            )
        record.signature_valid = True
        window = self.settings.timestamp_window_seconds
        moment = now()
        if abs(int(moment) - int(timestamp)) > window:
            raise _refused(
                record,
                401,
                STALE_TIMESTAMP,
                f"X-Neo-Timestamp is more than {window} s from the bank's clock",
            )
        if REQUEST_ID.fullmatch(request_id) is None:
            raise _refused(
                record,
                422,
                INVALID_REQUEST,
                "X-Neo-Request-Id must be req_ followed by 32 hex digits",
            )
        with self._lock:
            seen = client.request_ids
            for old in [rid for rid, at in seen.items() if moment - at > 2 * window]:
                del seen[old]
            if request_id in seen:
                raise _refused(
                    record,
                    409,
                    DUPLICATE_REQUEST_ID,
                    f"request id {request_id} was already used by this client",
                )
            seen[request_id] = moment
            record.verified = True
        return client

    def _serve_signed(self, request: Request) -> Response:
        """Every ``/v1`` answer, errors included, signed with the bank's key over
        ``X-Neo-Timestamp + "." + body`` (headers ``X-Neo-Timestamp``, ``X-Neo-Signature``), as
        its webhooks are: the client can tell the bank's answer from anyone else's."""
        try:
            response = self._serve_api(request)
        except NoRouteError as missing:
            response = self.error_response(self.no_route(missing.request, missing.allowed))
        except SandboxError as error:
            response = self.error_response(error)
        timestamp = str(int(time.time()))
        signature = sign(self._bank_key, webhook_message(timestamp, response.body))
        response.headers.update({"X-Neo-Timestamp": timestamp, "X-Neo-Signature": signature})
        return response

    def _serve_api(self, request: Request) -> Response:
        headers = request.headers
        record = RequestRecord(
            method=request.method,
            path=signed_target(request),
            client_id=headers.get(CLIENT_ID_HEADER),
            request_id=headers.get(REQUEST_ID_HEADER),
            timestamp=headers.get(TIMESTAMP_HEADER),
            at=now(),
        )
        with self._lock:
            self._requests.append(record)
        try:
            client = self.authenticate(request, record)
            handler, routed = self.api.match(request)
            response = handler(routed, client)
        except NeoBankError as error:
            record.status, record.error = error.status, error.code
            raise
        except NoRouteError as missing:
            record.status = 405 if missing.allowed else 404
            record.error = METHOD_NOT_ALLOWED if missing.allowed else NOT_FOUND
            raise
        except Exception:
            record.status, record.error = 500, INTERNAL_ERROR
            raise
        record.status = response.status
        return response


def _public_key(name: str, pem: object) -> Any:
    if not isinstance(pem, str) or not pem.strip():
        raise SwitchError(name, f"{name} is required (a PEM-encoded RSA public key)")
    try:
        return load_public_key(pem)
    except ValueError as exc:
        raise SwitchError(name, f"{name} {exc}") from None


def _refused(record: RequestRecord, status: int, code: str, message: str) -> NeoBankError:
    record.refusal = code
    return NeoBankError(status, code, message)
