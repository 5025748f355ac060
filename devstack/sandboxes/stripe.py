"""A local Stripe: the API subset the backbone uses, the hosted Checkout page and signed webhooks.

The server speaks Stripe's wire format (form-encoded requests with bracket nesting, JSON objects,
Stripe's error shape and status codes, idempotency keys, ``Stripe-Signature`` webhooks) well enough
that the official SDK works against it unchanged through
``stripe.StripeClient(key, base_addresses={"api": sandbox.base_url})``, and it checks what it
receives the way Stripe does (unknown parameters, limits on metadata, amounts and expiry, one
account's objects invisible to another). Webhooks go only to loopback URLs: nothing leaves the
machine. ``ChaosSettings`` makes delivery as unfriendly as Stripe is allowed to be.
"""

from __future__ import annotations

import argparse
import base64
import copy
import fnmatch
import hashlib
import heapq
import hmac
import html
import http.client
import ipaddress
import itertools
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from typing import IO, Any, NoReturn, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from devstack.http_server import MAX_BODY_BYTES, LocalServer
from devstack.http_server import Response as _Response

logger = logging.getLogger(__name__)

Json = dict[str, Any]

API_VERSION = "2025-06-30.basil"  # the account's default version, stamped on every event
WEBHOOK_RETRY_BACKOFF = (0.2, 0.5, 1.0, 2.0)  # seconds before each retry; then the delivery fails
WEBHOOK_TIMEOUT_SECONDS = 10.0
WEBHOOK_USER_AGENT = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
STALE_SIGNATURE_AGE_SECONDS = 600
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 3600
SESSION_MIN_LIFETIME_SECONDS = 30 * 60
SESSION_MAX_LIFETIME_SECONDS = 24 * 3600
EXPIRES_AT_GRACE_SECONDS = 5  # the client computed expires_at a moment before we received it
MAX_AMOUNT = 99_999_999  # Stripe's ceiling for one amount in minor units
METADATA_MAX_KEYS = 50
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga"}
    | {"pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
# Stripe refuses Checkout totals below its minimum charge; only the currencies we are sure of.
MINIMUM_CHARGE = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "cad": 50,
    "aud": 50,
    "chf": 50,
    "jpy": 50,
    "sgd": 50,
    "nzd": 50,
    "hkd": 400,
    "mxn": 1000,
}
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
DISPUTE_REASONS = frozenset(
    {
        "bank_cannot_process",
        "check_returned",
        "credit_not_processed",
        "customer_initiated",
        "debit_not_authorized",
        "duplicate",
        "fraudulent",
        "general",
        "incorrect_account_details",
        "insufficient_funds",
        "product_not_received",
        "product_unacceptable",
        "subscription_canceled",
        "unrecognized",
    }
)

# Real Stripe parameters that change nothing the sandbox models: accepted and ignored.
_SESSION_IGNORED_PARAMS = frozenset(
    {
        "adaptive_pricing",
        "after_expiration",
        "allow_promotion_codes",
        "allowed_payment_method_types",
        "automatic_tax",
        "billing_address_collection",
        "branding_settings",
        "consent_collection",
        "custom_fields",
        "custom_text",
        "customer_creation",
        "customer_update",
        "discounts",
        "excluded_payment_method_types",
        "integration_identifier",
        "invoice_creation",
        "locale",
        "name_collection",
        "origin_context",
        "payment_method_collection",
        "payment_method_configuration",
        "payment_method_options",
        "payment_method_types",
        "phone_number_collection",
        "saved_payment_method_options",
        "shipping_address_collection",
        "shipping_options",
        "submit_type",
        "tax_id_collection",
        "wallet_options",
    }
)
_CUSTOMER_IGNORED_PARAMS = frozenset(
    {
        "address",
        "balance",
        "invoice_prefix",
        "invoice_settings",
        "preferred_locales",
        "shipping",
        "tax",
        "tax_exempt",
        "validate",
    }
)

_ID_ALPHABET = string.ascii_letters + string.digits
_RANDOM = secrets.SystemRandom()
_OBJECT_PREFIXES = {
    "checkout.session": "cs_test_",
    "customer": "cus_",
    "payment_intent": "pi_",
    "charge": "ch_",
    "refund": "re_",
    "dispute": "dp_",
    "event": "evt_",
    "webhook_endpoint": "we_",
}
_EVENT_TYPE = re.compile(r"\*|[a-z0-9_]+(\.[a-z0-9_]+)+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PARAM_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PARAM_SUBSCRIPT = re.compile(r"\[([^\[\]]*)\]")
_KEY_PREFIX = re.compile(r"(?:sk|rk|pk)_(?:test|live)_")


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def format_amount(amount: int, currency: str) -> str:
    """``1234, "usd"`` -> ``"12.34 USD"``, with the currency's own number of decimals."""
    code = currency.lower()
    decimals = (
        0 if code in ZERO_DECIMAL_CURRENCIES else 3 if code in THREE_DECIMAL_CURRENCIES else 2
    )
    major = Decimal(amount).scaleb(-decimals)
    return f"{major:,.{decimals}f} {code.upper()}"


def stripe_signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` for a payload: v1 is HMAC-SHA256 keyed with the whole ``whsec_`` string.

    Test mode also carries a ``v0`` signature under another key, as Stripe's does: receivers must
    pick the ``v1`` entries rather than the first one.
    """
    signed = f"{timestamp}.".encode() + payload
    v1 = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    v0 = hmac.new(f"v0:{secret}".encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={v1},v0={v0}"


def _mask_key(key: str) -> str:
    """What Stripe shows of a rejected key: its kind and last four characters, never the rest."""
    match = _KEY_PREFIX.match(key)
    prefix = match.group(0) if match else ""
    tail = key[-4:] if len(key) - len(prefix) >= 12 else ""
    return f"{prefix}****{tail}"


class StripeApiError(Exception):
    """An error in Stripe's shape; the Python helpers raise it too (``status`` is the HTTP one)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.code = code
        self.param = param

    def body(self) -> Json:
        error: Json = {"type": self.error_type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def _missing(param: str) -> StripeApiError:
    return StripeApiError(
        400, f"Missing required param: {param}.", code="parameter_missing", param=param
    )


def _invalid(param: str, message: str, code: str = "parameter_invalid") -> StripeApiError:
    return StripeApiError(400, message, code=code, param=param)


def _no_such(object_type: str, object_id: str, *, param: str = "id", status: int = 404) -> NoReturn:
    raise StripeApiError(
        status, f"No such {object_type}: '{object_id}'", code="resource_missing", param=param
    )


@dataclass
class ChaosSettings:
    """Knobs that make webhook delivery as unfriendly as Stripe is allowed to be. Mutable live."""

    duplicate_deliveries: int = 0  # send every event this many extra times
    shuffle: bool = False  # deliver the events of one action in random order, duplicates mixed in
    reverse: bool = False  # deliver the events of one action newest first
    refund_delay_seconds: float = 0  # > 0: refunds are "pending" this long before they succeed
    stale_signature: bool = False  # sign with a timestamp 10 minutes old

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update (e.g. a JSON body), checking names and types first."""
        known = {item.name for item in fields(self)}
        checked: Json = {}
        for name, value in changes.items():
            if name not in known:
                raise _invalid(name, f"Unknown chaos setting: {name}")
            if name in {"shuffle", "reverse", "stale_signature"}:
                if not isinstance(value, bool):
                    raise _invalid(name, f"{name} must be a boolean")
            elif name == "duplicate_deliveries":
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise _invalid(name, "duplicate_deliveries must be an integer >= 0")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise _invalid(name, f"{name} must be a number >= 0")
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)

    def as_dict(self) -> Json:
        return asdict(self)


@dataclass(frozen=True)
class Account:
    """A Stripe account of the sandbox; its secret key authenticates API calls."""

    id: str
    secret_key: str


# --------------------------------------------------------------------------- request parameters


def decode_form(pairs: Iterable[tuple[str, str]]) -> Json:
    """Stripe's bracket notation -> nested dicts: ``a[b][0][c]=1`` -> ``{"a": {"b": {"0": ...}}}``.

    Numeric subscripts stay dict keys (``metadata[1]`` is a key); the endpoint that expects an
    array converts them. ``a[]=x`` appends to a list.
    """
    root: Json = {}
    for raw_key, value in pairs:
        match = _PARAM_KEY.fullmatch(raw_key)
        if match is None:
            raise _invalid(raw_key, f"Invalid parameter name: {raw_key}")
        path = [match.group(1), *_PARAM_SUBSCRIPT.findall(match.group(2))]
        node: Any = root
        for depth, part in enumerate(path[:-1]):
            wanted: type = list if path[depth + 1] == "" else dict
            if part == "" or not isinstance(node, dict):
                raise _invalid(raw_key, f"Invalid parameter name: {raw_key}")
            child = node.setdefault(part, wanted())
            if not isinstance(child, wanted):
                raise _invalid(raw_key, f"Conflicting values for parameter {raw_key}")
            node = child
        leaf = path[-1]
        if leaf == "":
            cast(list[Any], node).append(value)
        elif isinstance(node.get(leaf), dict | list):
            raise _invalid(raw_key, f"Conflicting values for parameter {raw_key}")
        else:
            node[leaf] = value
    return root


def _as_list(value: Any, param: str) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and all(key.isdigit() for key in value):
        return [value[key] for key in sorted(value, key=int)]
    raise _invalid(param, f"Invalid array for {param}")


class _Params:
    """A decoded request hash, and its name in bracket notation for the ``param`` of errors."""

    def __init__(self, data: Json, prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}[{key}]" if self.prefix else key

    def reject_unknown(self, supported: Collection[str], ignored: Collection[str] = ()) -> None:
        for key in self.data:
            if key not in supported and key not in ignored:
                raise StripeApiError(
                    400,
                    f"Received unknown parameter: {self.name(key)}",
                    code="parameter_unknown",
                    param=self.name(key),
                )

    def given(self, key: str) -> bool:
        return self.data.get(key) not in (None, "")

    def _raw(self, key: str) -> Any:
        value = self.data.get(key)
        return None if value == "" else value  # an empty string unsets, as in Stripe

    def string(
        self, key: str, *, required: bool = False, max_length: int | None = None
    ) -> str | None:
        value = self._raw(key)
        if value is None:
            if required:
                raise _missing(self.name(key))
            return None
        if not isinstance(value, str):
            raise _invalid(self.name(key), f"Invalid string: {self.name(key)} must be a string")
        if max_length is not None and len(value) > max_length:
            raise _invalid(
                self.name(key),
                f"Invalid string: {self.name(key)} must be at most {max_length} characters",
            )
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> int | None:
        text = self.string(key, required=required)
        if text is None:
            return None
        if re.fullmatch(r"-?[0-9]+", text) is None:
            raise _invalid(self.name(key), f"Invalid integer: {text}", "parameter_invalid_integer")
        value = int(text)
        if minimum is not None and value < minimum:
            raise _invalid(
                self.name(key), f"This value must be greater than or equal to {minimum}."
            )
        if maximum is not None and value > maximum:
            raise _invalid(self.name(key), f"This value must be less than or equal to {maximum}.")
        return value

    def boolean(self, key: str) -> bool | None:
        text = self.string(key)
        if text is None:
            return None
        if text not in ("true", "false"):
            raise _invalid(self.name(key), f"Invalid boolean: {text}")
        return text == "true"

    def choice(self, key: str, choices: Collection[str], *, required: bool = False) -> str | None:
        value = self.string(key, required=required)
        if value is not None and value not in choices:
            raise _invalid(
                self.name(key),
                f"Invalid {self.name(key)}: must be one of {', '.join(sorted(choices))}",
            )
        return value

    def nested(self, key: str) -> _Params:
        value = self._raw(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise _invalid(self.name(key), f"Invalid object: {self.name(key)} must be a hash")
        return _Params(value, self.name(key))

    def hashes(self, key: str) -> list[_Params] | None:
        value = self._raw(key)
        if value is None:
            return None
        result = []
        for index, item in enumerate(_as_list(value, self.name(key))):
            item_name = f"{self.name(key)}[{index}]"
            if not isinstance(item, dict):
                raise _invalid(item_name, f"Invalid object: {item_name} must be a hash")
            result.append(_Params(item, item_name))
        return result

    def strings(self, key: str) -> list[str] | None:
        value = self._raw(key)
        if value is None:
            return None
        result = []
        for index, item in enumerate(_as_list(value, self.name(key))):
            if not isinstance(item, str):
                raise _invalid(f"{self.name(key)}[{index}]", "Invalid string")
            result.append(item)
        return result

    def metadata(self, key: str = "metadata") -> dict[str, str]:
        value = self._raw(key)
        if value is None:
            return {}
        name = self.name(key)
        if not isinstance(value, dict):
            raise _invalid(name, f"Invalid object: {name} must be a hash of strings")
        if len(value) > METADATA_MAX_KEYS:
            raise _invalid(
                name,
                f"Invalid metadata: metadata can have up to {METADATA_MAX_KEYS} keys, "
                f"but you passed in {len(value)} keys.",
            )
        for meta_key, meta_value in value.items():
            meta_name = f"{name}[{meta_key}]"
            if len(meta_key) > METADATA_KEY_MAX_LENGTH:
                raise _invalid(
                    meta_name,
                    f"Metadata key length can't exceed {METADATA_KEY_MAX_LENGTH} characters.",
                )
            if not isinstance(meta_value, str):
                raise _invalid(meta_name, "Invalid string: metadata values must be strings")
            if len(meta_value) > METADATA_VALUE_MAX_LENGTH:
                raise _invalid(
                    meta_name,
                    f"Metadata values can have up to {METADATA_VALUE_MAX_LENGTH} characters, but "
                    f"you passed in a value that is {len(meta_value)} characters.",
                )
        return {meta_key: meta_value for meta_key, meta_value in value.items() if meta_value}

    def url(self, key: str, *, required: bool = False) -> str | None:
        value = self.string(key, required=required, max_length=5000)
        if value is not None:
            _check_url(value, self.name(key))
        return value

    def email(self, key: str) -> str | None:
        value = self.string(key, max_length=512)
        if value is not None and _EMAIL.fullmatch(value) is None:
            raise _invalid(self.name(key), f"Invalid email address: {value}", "email_invalid")
        return value


def _check_url(value: str, param: str) -> None:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(char.isspace() or ord(char) < 0x20 for char in value)
    ):
        raise _invalid(param, f"Not a valid URL: {param}", "url_invalid")


def _is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _RequestContext:
    """What an event's ``request`` says: the API request that caused it (None: automatic)."""

    request_id: str | None
    idempotency_key: str | None


@dataclass
class _SessionExtras:
    """What a Checkout Session knows but does not show: its items and the PaymentIntent recipe."""

    line_items: list[Json]
    payment_intent_data: Json
    payment_intent_id: str | None = None


@dataclass
class _EndpointDelivery:
    outstanding: int = 0
    succeeded: bool = False
    failed: bool = False


@dataclass
class _StoredResponse:
    fingerprint: tuple[str, str, tuple[tuple[str, str], ...]]
    response: _Response
    request_id: str
    stored_at: float


@dataclass
class _AccountState:
    account: Account
    objects: dict[str, dict[str, Json]] = field(
        default_factory=lambda: {object_type: {} for object_type in _OBJECT_PREFIXES}
    )
    webhook_secrets: dict[str, str] = field(default_factory=dict)
    session_extras: dict[str, _SessionExtras] = field(default_factory=dict)
    charge_refunds: dict[str, list[str]] = field(default_factory=dict)
    deliveries: dict[str, dict[str, _EndpointDelivery]] = field(default_factory=dict)
    idempotency: dict[str, _StoredResponse] = field(default_factory=dict)
    idempotency_locks: dict[str, threading.Lock] = field(default_factory=dict)

    def lookup(self, object_id: str) -> Json | None:
        for object_type, prefix in _OBJECT_PREFIXES.items():
            if object_id.startswith(prefix):
                return self.objects[object_type].get(object_id)
        return None

    def get(
        self, object_type: str, object_id: str, *, param: str = "id", status: int = 404
    ) -> Json:
        found = self.objects[object_type].get(object_id)
        if found is None:
            _no_such(object_type, object_id, param=param, status=status)
        return found


@dataclass
class _ApiCall:
    state: _AccountState
    params: _Params
    context: _RequestContext
    path_id: str
    expand: list[str]


# --------------------------------------------------------------------------- webhook delivery


@dataclass
class _Delivery:
    account_id: str
    endpoint_id: str
    event_id: str
    url: str
    secret: str
    body: bytes
    attempts: int = 0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stripe does not follow redirects from a webhook endpoint: a 3xx is a failed delivery."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


# No proxies from the environment: deliveries go straight to the loopback receiver.
_WEBHOOK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class _Outbox:
    """One FIFO queue and worker thread per webhook endpoint; failures are retried with backoff.

    ``outstanding`` counts deliveries queued, in flight or waiting to be retried, plus any work
    held with ``hold`` (a pending refund that will emit events later).
    """

    def __init__(
        self, send: Callable[[_Delivery], bool], finished: Callable[[_Delivery, bool], None]
    ) -> None:
        self._send = send
        self._finished = finished
        self._cond = threading.Condition()
        self._queues: dict[str, list[tuple[float, int, _Delivery]]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._sequence = itertools.count()
        self._outstanding = 0
        self._stopped = False

    def submit(self, delivery: _Delivery) -> None:
        with self._cond:
            if self._stopped:
                return
            self._outstanding += 1
            self._push(delivery, 0.0)

    def hold(self) -> None:
        with self._cond:
            self._outstanding += 1

    def release(self) -> None:
        with self._cond:
            self._outstanding -= 1
            self._cond.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._outstanding <= 0, timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
            workers = list(self._workers.values())
        for worker in workers:
            worker.join(timeout=2)

    def _push(self, delivery: _Delivery, delay: float) -> None:
        queue = self._queues.setdefault(delivery.endpoint_id, [])
        heapq.heappush(queue, (time.monotonic() + delay, next(self._sequence), delivery))
        if delivery.endpoint_id not in self._workers:
            worker = threading.Thread(
                target=self._drain,
                args=(delivery.endpoint_id,),
                name=f"stripe-sandbox-webhooks-{delivery.endpoint_id}",
                daemon=True,
            )
            self._workers[delivery.endpoint_id] = worker
            worker.start()
        self._cond.notify_all()

    def _next(self, endpoint_id: str) -> _Delivery | None:
        with self._cond:
            while not self._stopped:
                queue = self._queues[endpoint_id]
                now = time.monotonic()
                if queue and queue[0][0] <= now:
                    return heapq.heappop(queue)[2]
                self._cond.wait(queue[0][0] - now if queue else None)
            return None

    def _drain(self, endpoint_id: str) -> None:
        while (delivery := self._next(endpoint_id)) is not None:
            try:
                delivered = self._send(delivery)
            except Exception:
                logger.exception("webhook delivery of %s crashed", delivery.event_id)
                delivered = False
            delivery.attempts += 1
            with self._cond:
                if not delivered and delivery.attempts <= len(WEBHOOK_RETRY_BACKOFF):
                    self._push(delivery, WEBHOOK_RETRY_BACKOFF[delivery.attempts - 1])
                    continue
            self._finished(delivery, delivered)
            self.release()


# --------------------------------------------------------------------------- HTTP plumbing


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


def _json_response(status: int, payload: Json, headers: dict[str, str] | None = None) -> _Response:
    body = json.dumps(payload, indent=2, ensure_ascii=False).encode("utf-8")
    return _Response(status, body, headers=dict(headers or {}))


def _html_response(status: int, page: str) -> _Response:
    return _Response(
        status,
        page.encode("utf-8"),
        "text/html; charset=utf-8",
        {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


def _route(template: str) -> re.Pattern[str]:
    return re.compile(template.replace("{id}", "(?P<id>[^/]+)"))


_ApiHandler = Callable[[_ApiCall], Json]
_AdminHandler = Callable[[Json, str], Json]
_PageHandler = Callable[[str], _Response]


# --------------------------------------------------------------------------- the sandbox


class StripeSandbox:
    """A Stripe on 127.0.0.1 for the official SDK, the hosted Checkout page and signed webhooks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.base_url = ""
        self.chaos = ChaosSettings()
        self._lock = threading.RLock()
        self._accounts: dict[str, _AccountState] = {}  # by account id
        self._accounts_by_key: dict[str, _AccountState] = {}
        self._owners: dict[str, _AccountState] = {}  # object id -> its account, for page/admin
        self._clock_offset = 0.0
        self._timers: list[threading.Timer] = []
        self._outbox = _Outbox(self._send_webhook, self._delivery_finished)
        self._http = LocalServer(self, host, port, name="StripeSandbox/1.0")
        self._api_routes: list[tuple[str, re.Pattern[str], _ApiHandler]] = [
            ("POST", _route("/v1/customers"), self._api_create_customer),
            ("GET", _route("/v1/customers"), self._api_list_customers),
            ("GET", _route("/v1/customers/{id}"), self._retriever("customer")),
            ("POST", _route("/v1/customers/{id}"), self._api_update_customer),
            ("POST", _route("/v1/checkout/sessions"), self._api_create_session),
            ("GET", _route("/v1/checkout/sessions"), self._api_list_sessions),
            ("GET", _route("/v1/checkout/sessions/{id}"), self._api_retrieve_session),
            ("POST", _route("/v1/checkout/sessions/{id}/expire"), self._api_expire_session),
            ("GET", _route("/v1/checkout/sessions/{id}/line_items"), self._api_line_items),
            ("GET", _route("/v1/payment_intents/{id}"), self._retriever("payment_intent")),
            ("GET", _route("/v1/charges/{id}"), self._retriever("charge")),
            ("GET", _route("/v1/disputes/{id}"), self._retriever("dispute")),
            ("POST", _route("/v1/refunds"), self._api_create_refund),
            ("GET", _route("/v1/refunds"), self._api_list_refunds),
            ("GET", _route("/v1/refunds/{id}"), self._retriever("refund")),
            ("GET", _route("/v1/events"), self._api_list_events),
            ("GET", _route("/v1/events/{id}"), self._retriever("event")),
            ("POST", _route("/v1/webhook_endpoints"), self._api_create_webhook_endpoint),
            ("GET", _route("/v1/webhook_endpoints"), self._api_list_webhook_endpoints),
            ("GET", _route("/v1/webhook_endpoints/{id}"), self._retriever("webhook_endpoint")),
            ("DELETE", _route("/v1/webhook_endpoints/{id}"), self._api_delete_webhook_endpoint),
        ]
        self._admin_routes: list[tuple[str, re.Pattern[str], _AdminHandler]] = [
            ("POST", _route("/_sandbox/accounts"), self._admin_create_account),
            ("POST", _route("/_sandbox/webhook_endpoints"), self._admin_add_webhook_endpoint),
            ("GET", _route("/_sandbox/chaos"), self._admin_chaos),
            ("POST", _route("/_sandbox/chaos"), self._admin_chaos),
            ("POST", _route("/_sandbox/clock"), self._admin_clock),
            ("POST", _route("/_sandbox/wait_for_deliveries"), self._admin_wait),
            ("POST", _route("/_sandbox/charges/{id}/refund"), self._admin_refund),
            ("POST", _route("/_sandbox/charges/{id}/dispute"), self._admin_dispute),
            (
                "POST",
                _route("/_sandbox/checkout/sessions/{id}/async_succeed"),
                self._admin_async_ok,
            ),
            ("POST", _route("/_sandbox/checkout/sessions/{id}/async_fail"), self._admin_async_fail),
        ]
        self._page_routes: list[tuple[str, re.Pattern[str], _PageHandler]] = [
            ("GET", _route("/pay/{id}"), self._page_show),
            ("POST", _route("/pay/{id}/pay"), self._page_pay),
            ("POST", _route("/pay/{id}/pay_delayed"), self._page_pay_delayed),
            ("POST", _route("/pay/{id}/decline"), self._page_decline),
        ]

    # ----------------------------------------------------------------- lifecycle and Python API

    def start(self) -> StripeSandbox:
        self.base_url = self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        self._outbox.stop()

    def __enter__(self) -> StripeSandbox:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def create_account(self, secret_key: str | None = None) -> Account:
        """Register an account (or return the one that already has this key)."""
        key = secret_key or _random_id("sk_test_51", 48)
        if not key.startswith("sk_test_") or len(key) < 16:
            raise StripeApiError(
                400, "The sandbox accepts only test secret keys (sk_test_..., 16+ characters)"
            )
        with self._lock:
            existing = self._accounts_by_key.get(key)
            if existing is not None:
                return existing.account
            account = Account(id=_random_id("acct_1", 15), secret_key=key)
            state = _AccountState(account)
            self._accounts[account.id] = state
            self._accounts_by_key[key] = state
            return account

    def add_webhook_endpoint(
        self, secret_key: str, url: str, enabled_events: list[str] | None = None
    ) -> Json:
        """Like ``POST /v1/webhook_endpoints``: the endpoint with its ``secret`` (whsec_...)."""
        with self._lock:
            state = self._accounts_by_key.get(secret_key)
            if state is None:
                raise StripeApiError(401, f"Invalid API Key provided: {_mask_key(secret_key)}")
            return self._create_webhook_endpoint(
                state, url, enabled_events or ["*"], description=None, metadata={}, api_version=None
            )

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        """True once no webhook is queued, in flight or awaiting a retry (or a pending refund)."""
        return self._outbox.wait_idle(timeout)

    def advance_clock(self, seconds: float) -> None:
        """Move the sandbox's clock (``created``, expiry) forward; signatures keep real time."""
        with self._lock:
            self._clock_offset += seconds

    def dashboard_refund(
        self, charge_id: str, amount: int | None = None, reason: str | None = None
    ) -> Json:
        """A refund made in the Stripe Dashboard: no API call from the backbone, only webhooks."""
        if reason is not None and reason not in REFUND_REASONS:
            raise _invalid("reason", f"Invalid reason: must be one of {sorted(REFUND_REASONS)}")
        if amount is not None and amount < 1:
            raise _invalid("amount", "This value must be greater than or equal to 1.")
        with self._lock:
            state = self._owner_of(charge_id, "charge")
            charge = state.get("charge", charge_id)
            batch: list[Json] = []
            context = _RequestContext(_random_id("req_", 14), None)
            refund = self._refund_charge(state, charge, amount, reason, {}, context, batch)
            self._dispatch(state, batch)
            return copy.deepcopy(refund)

    def dispute_charge(self, charge_id: str, reason: str = "fraudulent") -> Json:
        """The cardholder disputes the charge: ``charge.dispute.created`` with a Dispute object."""
        if reason not in DISPUTE_REASONS:
            raise _invalid("reason", f"Invalid reason: must be one of {sorted(DISPUTE_REASONS)}")
        with self._lock:
            state = self._owner_of(charge_id, "charge")
            charge = state.get("charge", charge_id)
            if charge["disputed"]:
                raise StripeApiError(400, f"Charge {charge_id} is already disputed.")
            now = self._now()
            dispute: Json = {
                "id": _random_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"],
                "balance_transactions": [],
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"],
                "evidence": {},
                "evidence_details": {
                    "due_by": now + 7 * 24 * 3600,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            }
            state.objects["dispute"][dispute["id"]] = dispute
            charge["disputed"] = True
            batch: list[Json] = []
            self._emit(state, batch, "charge.dispute.created", dispute, None)
            self._dispatch(state, batch)
            return copy.deepcopy(dispute)

    def complete_delayed_payment(self, session_id: str, *, succeeded: bool) -> Json:
        """The delayed payment method of a completed-but-unpaid session settles or fails."""
        with self._lock:
            state = self._owner_of(session_id, "checkout.session")
            session = state.get("checkout.session", session_id)
            extras = state.session_extras[session_id]
            intent = (
                state.objects["payment_intent"].get(extras.payment_intent_id)
                if extras.payment_intent_id
                else None
            )
            if (
                session["status"] != "complete"
                or session["payment_status"] != "unpaid"
                or intent is None
                or intent["status"] != "processing"
            ):
                raise StripeApiError(
                    400,
                    f"Checkout Session {session_id} is not awaiting a delayed payment "
                    f"(status {session['status']}, payment_status {session['payment_status']}).",
                )
            batch: list[Json] = []
            if succeeded:
                charge = self._create_charge(state, intent, session, "us_bank_account")
                self._succeed_intent(intent, charge)
                session["payment_status"] = "paid"
                self._emit(state, batch, "checkout.session.async_payment_succeeded", session, None)
                self._emit(state, batch, "payment_intent.succeeded", intent, None)
                self._emit(state, batch, "charge.succeeded", charge, None)
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "invalid_request_error",
                    "code": "payment_method_provider_decline",
                    "message": "The bank declined the debit.",
                }
                self._emit(state, batch, "checkout.session.async_payment_failed", session, None)
                self._emit(state, batch, "payment_intent.payment_failed", intent, None)
            self._dispatch(state, batch)
            return copy.deepcopy(session)

    # ----------------------------------------------------------------- request entry point

    max_body_bytes = MAX_BODY_BYTES

    def respond(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> _Response:
        parts = urlsplit(target)
        lowered = {name.lower(): value for name, value in headers.items()}
        return self.handle_request(_Request(method, parts.path, parts.query, lowered, body))

    def refuse_body(self, status: int) -> _Response:
        return _json_response(
            status, StripeApiError(400, "Invalid or oversized request body").body()
        )

    def handle_request(self, request: _Request) -> _Response:
        try:
            if request.path.startswith("/v1/"):
                return self._handle_api(request)
            if request.path.startswith("/pay/"):
                return self._handle_page(request)
            if request.path.startswith("/_sandbox/"):
                return self._handle_admin(request)
            raise self._unrecognized(request)
        except StripeApiError as exc:
            return _json_response(exc.status, exc.body())
        except Exception:
            logger.exception("Stripe sandbox failed on %s %s", request.method, request.path)
            return _json_response(
                500, {"error": {"type": "api_error", "message": "The sandbox failed; see its log."}}
            )

    @staticmethod
    def _unrecognized(request: _Request) -> StripeApiError:
        return StripeApiError(404, f"Unrecognized request URL ({request.method}: {request.path}).")

    @staticmethod
    def _match(
        routes: list[tuple[str, re.Pattern[str], Any]], request: _Request
    ) -> tuple[Any, str]:
        for method, pattern, handler in routes:
            match = pattern.fullmatch(request.path)
            if match is not None and method == request.method:
                return handler, unquote(match.groupdict().get("id") or "")
        raise StripeSandbox._unrecognized(request)

    def _handle_api(self, request: _Request) -> _Response:
        request_id = _random_id("req_", 14)
        headers = {
            "Request-Id": request_id,
            "Stripe-Version": request.headers.get("stripe-version", API_VERSION),
        }
        try:
            state = self._authenticate(request.headers)
            if request.headers.get("stripe-account"):
                raise StripeApiError(400, "The sandbox does not model Connect (Stripe-Account).")
            handler, path_id = self._match(self._api_routes, request)
            if request.method == "POST":
                content_type = request.headers.get("content-type", "")
                if request.body and not content_type.startswith(
                    "application/x-www-form-urlencoded"
                ):
                    raise StripeApiError(
                        400,
                        "Invalid request: Stripe's API takes application/x-www-form-urlencoded "
                        f"bodies, not {content_type or 'an unlabelled body'}.",
                    )
                try:
                    pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True)
                except UnicodeDecodeError as exc:
                    raise StripeApiError(400, "Invalid request: the body is not UTF-8.") from exc
            else:
                pairs = parse_qsl(request.query, keep_blank_values=True)
            params = _Params(decode_form(pairs))
            key = request.headers.get("idempotency-key") if request.method == "POST" else None
            if key is not None:
                headers["Idempotency-Key"] = key
            context = _RequestContext(request_id, key)

            def execute() -> _Response:
                try:
                    expand = params.strings("expand") or []
                    call = _ApiCall(state, params, context, path_id, expand)
                    return _json_response(200, handler(call), headers)
                except StripeApiError as exc:
                    return _json_response(exc.status, exc.body(), headers)

            if key is None:
                return execute()
            fingerprint = (request.method, request.path, tuple(sorted(pairs)))
            return self._idempotent(state, key, fingerprint, request_id, execute)
        except StripeApiError as exc:
            return _json_response(exc.status, exc.body(), headers)

    def _authenticate(self, headers: Mapping[str, str]) -> _AccountState:
        authorization = headers.get("authorization", "").strip()
        if not authorization:
            raise StripeApiError(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        scheme, _, credentials = authorization.partition(" ")
        key = credentials.strip()
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(key, validate=True).decode("utf-8").partition(":")[0]
            except ValueError:
                key = ""
        elif scheme.lower() != "bearer":
            key = ""
        if key.startswith("pk_"):
            raise StripeApiError(
                401,
                "This API call cannot be made with a publishable API key. Please use a "
                "secret API key.",
            )
        with self._lock:
            state = self._accounts_by_key.get(key)
        if state is None:
            raise StripeApiError(401, f"Invalid API Key provided: {_mask_key(key)}")
        return state

    def _idempotent(
        self,
        state: _AccountState,
        key: str,
        fingerprint: tuple[str, str, tuple[tuple[str, str], ...]],
        request_id: str,
        execute: Callable[[], _Response],
    ) -> _Response:
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise StripeApiError(
                400,
                f"Idempotency keys can be no longer than {IDEMPOTENCY_KEY_MAX_LENGTH} characters; "
                f"yours is {len(key)}.",
            )
        with self._lock:
            key_lock = state.idempotency_locks.setdefault(key, threading.Lock())
        # Requests with one key run one at a time: the second waits, then replays the first.
        with key_lock:
            with self._lock:
                stored = state.idempotency.get(key)
                if (
                    stored is not None
                    and time.time() - stored.stored_at > IDEMPOTENCY_KEY_TTL_SECONDS
                ):
                    del state.idempotency[key]
                    stored = None
            if stored is not None:
                if stored.fingerprint != fingerprint:
                    raise StripeApiError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        error_type="idempotency_error",
                    )
                replay = copy.deepcopy(stored.response)
                replay.headers["Idempotent-Replayed"] = "true"
                replay.headers["Original-Request"] = stored.request_id
                replay.headers["Request-Id"] = request_id
                return replay
            response = execute()
            # Like Stripe, only requests that got to run are remembered; rejected ones may retry.
            if response.status < 400:
                with self._lock:
                    state.idempotency[key] = _StoredResponse(
                        fingerprint, response, request_id, time.time()
                    )
            return response

    def _handle_admin(self, request: _Request) -> _Response:
        handler, path_id = self._match(self._admin_routes, request)
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError as exc:
            raise StripeApiError(400, f"Invalid JSON body: {exc}") from exc
        if not isinstance(payload, dict):
            raise StripeApiError(400, "The JSON body must be an object")
        return _json_response(200, handler(payload, path_id))

    def _handle_page(self, request: _Request) -> _Response:
        handler, session_id = self._match(self._page_routes, request)
        return cast(_PageHandler, handler)(session_id)

    # ----------------------------------------------------------------- shared helpers

    def _now(self) -> int:
        return int(time.time() + self._clock_offset)

    def _owner_of(self, object_id: str, object_type: str) -> _AccountState:
        state = self._owners.get(object_id)
        if state is None:
            _no_such(object_type, object_id)
        return state

    def _render(self, state: _AccountState, obj: Json, expand: list[str]) -> Json:
        rendered = copy.deepcopy(obj)
        for path in expand:
            parts = path.split(".")
            if len(parts) > 4:
                raise _invalid("expand", f"You cannot expand more than 4 levels ({path}).")
            self._expand(state, rendered, parts, path)
        return rendered

    def _expand(self, state: _AccountState, node: Json, parts: list[str], path: str) -> None:
        head, rest = parts[0], parts[1:]
        if node.get("object") == "list" and head == "data" and rest:
            for item in node["data"]:
                self._expand(state, item, rest, path)
            return
        value = node.get(head)
        if head == "line_items" and node.get("object") == "checkout.session":
            node[head] = self._line_items_list(state, str(node["id"]), _Params({}))
        elif isinstance(value, str) and head not in ("id", "object"):
            target = state.lookup(value)
            if target is None:
                raise _invalid("expand", f"This property cannot be expanded ({path}).")
            node[head] = copy.deepcopy(target)
        elif not (head in node and (value is None or isinstance(value, dict))):
            raise _invalid("expand", f"This property cannot be expanded ({path}).")
        child = node.get(head)
        if rest and isinstance(child, dict):
            self._expand(state, child, rest, path)

    def _page(self, call: _ApiCall, items: list[Json], url: str) -> Json:
        """A list object from ``items`` (oldest first): newest first, Stripe's cursor paging."""
        params = call.params
        limit = params.integer("limit", minimum=1, maximum=100) or 10
        ordered = list(reversed(items))
        ids = [item["id"] for item in ordered]
        starting_after = params.string("starting_after")
        ending_before = params.string("ending_before")
        if starting_after is not None and ending_before is not None:
            raise _invalid(
                "ending_before",
                "You may only specify one of these parameters: ending_before, starting_after.",
            )
        if starting_after is not None:
            if starting_after not in ids:
                _no_such("object", starting_after, param="starting_after", status=400)
            remaining = ordered[ids.index(starting_after) + 1 :]
            data, has_more = remaining[:limit], len(remaining) > limit
        elif ending_before is not None:
            if ending_before not in ids:
                _no_such("object", ending_before, param="ending_before", status=400)
            before = ordered[: ids.index(ending_before)]
            data, has_more = before[-limit:], len(before) > limit
        else:
            data, has_more = ordered[:limit], len(ordered) > limit
        page: Json = {"object": "list", "data": data, "has_more": has_more, "url": url}
        return self._render(call.state, page, call.expand)

    @staticmethod
    def _created_filter(params: _Params) -> Callable[[Json], bool]:
        if not params.given("created"):
            return lambda _obj: True
        if isinstance(params.data["created"], str):
            exact = params.integer("created")
            return lambda obj: obj["created"] == exact
        bounds = params.nested("created")
        bounds.reject_unknown({"gt", "gte", "lt", "lte"})
        gt, gte = bounds.integer("gt"), bounds.integer("gte")
        lt, lte = bounds.integer("lt"), bounds.integer("lte")

        def within(obj: Json) -> bool:
            created = int(obj["created"])
            return (
                (gt is None or created > gt)
                and (gte is None or created >= gte)
                and (lt is None or created < lt)
                and (lte is None or created <= lte)
            )

        return within

    def _retriever(self, object_type: str) -> _ApiHandler:
        def retrieve(call: _ApiCall) -> Json:
            call.params.reject_unknown({"expand"})
            with self._lock:
                obj = call.state.get(object_type, call.path_id)
                return self._render(call.state, obj, call.expand)

        return retrieve

    # ----------------------------------------------------------------- events and delivery

    def _emit(
        self,
        state: _AccountState,
        batch: list[Json],
        event_type: str,
        obj: Json,
        context: _RequestContext | None,
        previous_attributes: Json | None = None,
    ) -> None:
        endpoints = [
            endpoint
            for endpoint in state.objects["webhook_endpoint"].values()
            if endpoint["status"] == "enabled"
            and ("*" in endpoint["enabled_events"] or event_type in endpoint["enabled_events"])
        ]
        data: Json = {"object": copy.deepcopy(obj)}
        if previous_attributes:
            data["previous_attributes"] = previous_attributes
        event: Json = {
            "id": _random_id("evt_1"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self._now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": len(endpoints),
            "request": {
                "id": context.request_id if context else None,
                "idempotency_key": context.idempotency_key if context else None,
            },
            "type": event_type,
        }
        state.objects["event"][event["id"]] = event
        state.deliveries[event["id"]] = {
            endpoint["id"]: _EndpointDelivery() for endpoint in endpoints
        }
        batch.append(event)

    def _dispatch(self, state: _AccountState, batch: list[Json]) -> None:
        """Queue one action's events for every endpoint, in order unless chaos says otherwise."""
        if not batch:
            return
        chaos = self.chaos
        bodies = {
            event["id"]: json.dumps(event, indent=2, ensure_ascii=False).encode("utf-8")
            for event in batch
        }
        for endpoint_id, endpoint in state.objects["webhook_endpoint"].items():
            wanted = [event for event in batch if endpoint_id in state.deliveries[event["id"]]]
            if not wanted:
                continue
            if chaos.reverse:
                wanted.reverse()
            sequence = wanted * (1 + max(0, int(chaos.duplicate_deliveries)))
            if chaos.shuffle:
                _RANDOM.shuffle(sequence)
            for event in sequence:
                state.deliveries[event["id"]][endpoint_id].outstanding += 1
                self._outbox.submit(
                    _Delivery(
                        account_id=state.account.id,
                        endpoint_id=endpoint_id,
                        event_id=event["id"],
                        url=endpoint["url"],
                        secret=state.webhook_secrets[endpoint_id],
                        body=bodies[event["id"]],
                    )
                )

    def _send_webhook(self, delivery: _Delivery) -> bool:
        timestamp = int(time.time())
        if self.chaos.stale_signature:
            timestamp -= STALE_SIGNATURE_AGE_SECONDS
        request = urllib.request.Request(  # noqa: S310 (loopback http(s) URLs only, checked)
            delivery.url,
            data=delivery.body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": WEBHOOK_USER_AGENT,
                "Stripe-Signature": stripe_signature_header(
                    delivery.body, delivery.secret, timestamp
                ),
            },
        )
        try:
            with _WEBHOOK_OPENER.open(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
                response.read(64 * 1024)
                status = int(response.status)
        except urllib.error.HTTPError as exc:
            status = exc.code
            exc.close()
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            logger.info("webhook %s to %s failed: %s", delivery.event_id, delivery.url, exc)
            return False
        if not 200 <= status < 300:
            logger.info("webhook %s to %s answered %s", delivery.event_id, delivery.url, status)
        return 200 <= status < 300

    def _delivery_finished(self, delivery: _Delivery, delivered: bool) -> None:
        with self._lock:
            state = self._accounts.get(delivery.account_id)
            if state is None:
                return
            status = state.deliveries.get(delivery.event_id, {}).get(delivery.endpoint_id)
            event = state.objects["event"].get(delivery.event_id)
            if status is None or event is None:
                return
            status.outstanding -= 1
            if delivered and not status.succeeded:
                status.succeeded = True
                event["pending_webhooks"] = max(0, int(event["pending_webhooks"]) - 1)
            if status.outstanding <= 0 and not status.succeeded:
                status.failed = True

    # ----------------------------------------------------------------- customers

    def _api_create_customer(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "name", "phone", "description", "metadata", "expand"},
            _CUSTOMER_IGNORED_PARAMS,
        )
        customer: Json = {
            "id": _random_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self._now(),
            "currency": None,
            "delinquent": False,
            "description": params.string("description", max_length=350),
            "email": params.email("email"),
            "invoice_prefix": _random_id("", 8).upper(),
            "livemode": False,
            "metadata": params.metadata(),
            "name": params.string("name", max_length=256),
            "phone": params.string("phone", max_length=20),
            "preferred_locales": [],
            "tax_exempt": "none",
        }
        batch: list[Json] = []
        with self._lock:
            call.state.objects["customer"][customer["id"]] = customer
            self._emit(call.state, batch, "customer.created", customer, call.context)
            self._dispatch(call.state, batch)
            return self._render(call.state, customer, call.expand)

    def _api_update_customer(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "name", "phone", "description", "metadata", "expand"},
            _CUSTOMER_IGNORED_PARAMS,
        )
        with self._lock:
            customer = call.state.get("customer", call.path_id)
            previous: Json = {}
            changes: Json = {}
            if "email" in params.data:
                changes["email"] = params.email("email")
            if "name" in params.data:
                changes["name"] = params.string("name", max_length=256)
            if "phone" in params.data:
                changes["phone"] = params.string("phone", max_length=20)
            if "description" in params.data:
                changes["description"] = params.string("description", max_length=350)
            if "metadata" in params.data:
                params.metadata()  # the limits apply to what is sent
                updates = params.data["metadata"] or {}
                merged = {**customer["metadata"], **updates} if updates else {}
                changes["metadata"] = {key: value for key, value in merged.items() if value}
            for name, value in changes.items():
                if customer[name] != value:
                    previous[name] = customer[name]
                    customer[name] = value
            if previous:
                batch: list[Json] = []
                self._emit(call.state, batch, "customer.updated", customer, call.context, previous)
                self._dispatch(call.state, batch)
            return self._render(call.state, customer, call.expand)

    def _api_list_customers(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "limit", "starting_after", "ending_before", "created", "expand"},
            {"test_clock"},
        )
        email = params.string("email", max_length=512)
        created = self._created_filter(params)
        with self._lock:
            customers = [
                customer
                for customer in call.state.objects["customer"].values()
                if (email is None or customer["email"] == email) and created(customer)
            ]
            return self._page(call, customers, "/v1/customers")

    # ----------------------------------------------------------------- checkout sessions

    def _api_create_session(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "mode",
                "line_items",
                "success_url",
                "cancel_url",
                "customer",
                "customer_email",
                "client_reference_id",
                "metadata",
                "payment_intent_data",
                "expires_at",
                "currency",
                "ui_mode",
                "expand",
            },
            _SESSION_IGNORED_PARAMS,
        )
        mode = params.choice("mode", ("payment", "setup", "subscription"), required=True)
        if mode != "payment":
            raise _invalid("mode", "The sandbox models only mode=payment Checkout Sessions.")
        if params.choice("ui_mode", ("hosted", "embedded", "custom")) not in (None, "hosted"):
            raise _invalid("ui_mode", "The sandbox models only the hosted Checkout page.")
        line_items = params.hashes("line_items")
        if not line_items:
            raise _missing("line_items")
        if len(line_items) > 100:
            raise _invalid("line_items", "A Checkout Session can have at most 100 line items.")
        items = [self._line_item(item) for item in line_items]
        currency = items[0]["currency"]
        for index, item in enumerate(items):
            if item["currency"] != currency:
                raise _invalid(
                    f"line_items[{index}][price_data][currency]",
                    "All line items must use the same currency.",
                )
        if params.given("currency") and params.string("currency") != currency:
            raise _invalid("currency", "currency must match the line items' currency.")
        amount_total = sum(int(item["amount_total"]) for item in items)
        if amount_total > MAX_AMOUNT:
            raise _invalid(
                "line_items",
                f"The total amount must be no more than {format_amount(MAX_AMOUNT, currency)}.",
                "amount_too_large",
            )
        minimum = MINIMUM_CHARGE.get(currency)
        if minimum is not None and amount_total < minimum:
            raise _invalid(
                "line_items",
                "The Checkout Session's total amount due must add up to at least "
                f"{format_amount(minimum, currency)}.",
                "amount_too_small",
            )
        success_url = params.url("success_url", required=True)
        cancel_url = params.url("cancel_url")
        customer_id = params.string("customer")
        customer_email = params.email("customer_email")
        if customer_id is not None and customer_email is not None:
            raise _invalid(
                "customer_email",
                "You may only specify one of these parameters: customer, customer_email.",
            )
        client_reference_id = params.string("client_reference_id", max_length=200)
        metadata = params.metadata()
        intent_params = params.nested("payment_intent_data")
        intent_params.reject_unknown(
            {
                "metadata",
                "description",
                "receipt_email",
                "capture_method",
                "statement_descriptor",
                "statement_descriptor_suffix",
            },
            {
                "setup_future_usage",
                "shipping",
                "transfer_group",
                "on_behalf_of",
                "application_fee_amount",
                "transfer_data",
            },
        )
        if (
            intent_params.choice("capture_method", ("automatic", "automatic_async", "manual"))
            == "manual"
        ):
            raise _invalid(
                "payment_intent_data[capture_method]", "The sandbox models only automatic capture."
            )
        payment_intent_data: Json = {
            "metadata": intent_params.metadata(),
            "description": intent_params.string("description", max_length=1000),
            "receipt_email": intent_params.email("receipt_email"),
            "statement_descriptor": intent_params.string("statement_descriptor", max_length=22),
        }
        now = self._now()
        expires_at = params.integer("expires_at")
        if expires_at is None:
            expires_at = now + SESSION_MAX_LIFETIME_SECONDS
        elif not (
            now + SESSION_MIN_LIFETIME_SECONDS - EXPIRES_AT_GRACE_SECONDS
            <= expires_at
            <= now + SESSION_MAX_LIFETIME_SECONDS + EXPIRES_AT_GRACE_SECONDS
        ):
            raise _invalid(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
            )
        with self._lock:
            state = call.state
            if customer_id is not None:
                state.get("customer", customer_id, param="customer", status=400)
            session_id = _random_id("cs_test_a1", 56)
            session: Json = {
                "id": session_id,
                "object": "checkout.session",
                "after_expiration": None,
                "allow_promotion_codes": None,
                "amount_subtotal": amount_total,
                "amount_total": amount_total,
                "automatic_tax": {"enabled": False, "liability": None, "status": None},
                "billing_address_collection": None,
                "cancel_url": cancel_url,
                "client_reference_id": client_reference_id,
                "created": now,
                "currency": currency,
                "customer": customer_id,
                "customer_creation": None if customer_id else "if_required",
                "customer_details": None,
                "customer_email": customer_email,
                "expires_at": expires_at,
                "livemode": False,
                "locale": None,
                "metadata": metadata,
                "mode": "payment",
                "payment_intent": None,
                "payment_method_types": ["card"],
                "payment_status": "unpaid",
                "status": "open",
                "success_url": success_url,
                "ui_mode": "hosted",
                "url": f"{self.base_url}/pay/{session_id}",
            }
            state.objects["checkout.session"][session_id] = session
            state.session_extras[session_id] = _SessionExtras(items, payment_intent_data)
            self._owners[session_id] = state
            return self._render(state, session, call.expand)

    @staticmethod
    def _line_item(item: _Params) -> Json:
        item.reject_unknown(
            {"price_data", "quantity", "price"}, {"adjustable_quantity", "tax_rates", "metadata"}
        )
        if item.given("price"):
            raise _invalid(
                item.name("price"), "The sandbox has no Price objects: use price_data instead."
            )
        price_data = item.nested("price_data")
        if not price_data.data:
            raise _missing(item.name("price_data"))
        price_data.reject_unknown(
            {
                "currency",
                "unit_amount",
                "product_data",
                "product",
                "unit_amount_decimal",
                "recurring",
            },
            {"tax_behavior"},
        )
        if price_data.given("recurring"):
            raise _invalid(price_data.name("recurring"), "Recurring prices need mode=subscription.")
        if price_data.given("product"):
            raise _invalid(
                price_data.name("product"), "The sandbox has no Products: use product_data."
            )
        if price_data.given("unit_amount_decimal"):
            raise _invalid(
                price_data.name("unit_amount_decimal"),
                "The sandbox takes integer unit_amount only.",
            )
        currency = cast(str, price_data.string("currency", required=True))
        if re.fullmatch(r"[a-z]{3}", currency) is None:
            raise _invalid(
                price_data.name("currency"),
                f"Invalid currency: {currency}. Use a three-letter lowercase ISO code.",
            )
        unit_amount = cast(
            int, price_data.integer("unit_amount", required=True, minimum=1, maximum=MAX_AMOUNT)
        )
        product_data = price_data.nested("product_data")
        if not product_data.data:
            raise _missing(price_data.name("product_data"))
        product_data.reject_unknown(
            {"name", "description", "images", "metadata"}, {"tax_code", "tax_details", "unit_label"}
        )
        name = cast(str, product_data.string("name", required=True, max_length=250))
        quantity = cast(int, item.integer("quantity", required=True, minimum=1, maximum=999_999))
        return {
            "id": _random_id("li_1"),
            "object": "item",
            "amount_discount": 0,
            "amount_subtotal": unit_amount * quantity,
            "amount_tax": 0,
            "amount_total": unit_amount * quantity,
            "currency": currency,
            "description": name,
            "price": {
                "id": _random_id("price_1"),
                "object": "price",
                "active": False,
                "currency": currency,
                "livemode": False,
                "metadata": {},
                "product": _random_id("prod_", 14),
                "type": "one_time",
                "unit_amount": unit_amount,
            },
            "quantity": quantity,
        }

    def _line_items_list(self, state: _AccountState, session_id: str, params: _Params) -> Json:
        items = state.session_extras[session_id].line_items
        limit = params.integer("limit", minimum=1, maximum=100) or 10
        return {
            "object": "list",
            "data": copy.deepcopy(items[:limit]),
            "has_more": len(items) > limit,
            "url": f"/v1/checkout/sessions/{session_id}/line_items",
        }

    def _api_line_items(self, call: _ApiCall) -> Json:
        call.params.reject_unknown({"limit", "expand"})
        with self._lock:
            call.state.get("checkout.session", call.path_id)
            return self._line_items_list(call.state, call.path_id, call.params)

    def _expire_if_due(self, state: _AccountState, session: Json, batch: list[Json]) -> None:
        if session["status"] == "open" and self._now() >= int(session["expires_at"]):
            self._expire(state, session, batch, None)

    def _expire(
        self,
        state: _AccountState,
        session: Json,
        batch: list[Json],
        context: _RequestContext | None,
    ) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._emit(state, batch, "checkout.session.expired", session, context)

    def _api_retrieve_session(self, call: _ApiCall) -> Json:
        call.params.reject_unknown({"expand"})
        with self._lock:
            session = call.state.get("checkout.session", call.path_id)
            batch: list[Json] = []
            self._expire_if_due(call.state, session, batch)
            self._dispatch(call.state, batch)
            return self._render(call.state, session, call.expand)

    def _api_list_sessions(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "customer",
                "payment_intent",
                "status",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        customer = params.string("customer")
        payment_intent = params.string("payment_intent")
        status = params.choice("status", ("open", "complete", "expired"))
        created = self._created_filter(params)
        with self._lock:
            batch: list[Json] = []
            for session in call.state.objects["checkout.session"].values():
                self._expire_if_due(call.state, session, batch)
            self._dispatch(call.state, batch)
            sessions = [
                session
                for session in call.state.objects["checkout.session"].values()
                if (customer is None or session["customer"] == customer)
                and (payment_intent is None or session["payment_intent"] == payment_intent)
                and (status is None or session["status"] == status)
                and created(session)
            ]
            return self._page(call, sessions, "/v1/checkout/sessions")

    def _api_expire_session(self, call: _ApiCall) -> Json:
        call.params.reject_unknown({"expand"})
        with self._lock:
            session = call.state.get("checkout.session", call.path_id)
            if session["status"] != "open":
                raise StripeApiError(
                    400,
                    'Only Checkout Sessions with a status in ["open"] can be expired. This '
                    f'Checkout Session has a status of "{session["status"]}".',
                )
            batch: list[Json] = []
            self._expire(call.state, session, batch, call.context)
            self._dispatch(call.state, batch)
            return self._render(call.state, session, call.expand)

    # ----------------------------------------------------------------- the hosted page

    def _session_for_page(self, session_id: str) -> tuple[_AccountState, Json] | None:
        state = self._owners.get(session_id)
        if state is None:
            return None
        return state, state.objects["checkout.session"][session_id]

    def _page_show(self, session_id: str) -> _Response:
        with self._lock:
            found = self._session_for_page(session_id)
            if found is None:
                return _html_response(404, _error_page("Checkout Session not found."))
            state, session = found
            batch: list[Json] = []
            self._expire_if_due(state, session, batch)
            self._dispatch(state, batch)
            return _html_response(200, self._checkout_page(state, session))

    def _page_pay(self, session_id: str) -> _Response:
        return self._page_action(session_id, "pay")

    def _page_pay_delayed(self, session_id: str) -> _Response:
        return self._page_action(session_id, "pay_delayed")

    def _page_decline(self, session_id: str) -> _Response:
        return self._page_action(session_id, "decline")

    def _page_action(self, session_id: str, action: str) -> _Response:
        with self._lock:
            found = self._session_for_page(session_id)
            if found is None:
                return _html_response(404, _error_page("Checkout Session not found."))
            state, session = found
            batch: list[Json] = []
            self._expire_if_due(state, session, batch)
            if session["status"] != "open":
                self._dispatch(state, batch)
                return _html_response(409, self._checkout_page(state, session))
            extras = state.session_extras[session_id]
            intent = self._session_intent(state, session, extras)
            if action == "decline":
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                }
                self._emit(state, batch, "payment_intent.payment_failed", intent, None)
                self._dispatch(state, batch)
                return _redirect(session["cancel_url"] or f"{self.base_url}/pay/{session_id}")
            session["status"] = "complete"
            session["url"] = None
            session["payment_intent"] = intent["id"]
            session["customer_details"] = self._customer_details(state, session)
            intent["last_payment_error"] = None
            if action == "pay":
                charge = self._create_charge(state, intent, session, "card")
                self._succeed_intent(intent, charge)
                session["payment_status"] = "paid"
                self._emit(state, batch, "checkout.session.completed", session, None)
                self._emit(state, batch, "payment_intent.succeeded", intent, None)
                self._emit(state, batch, "charge.succeeded", charge, None)
            else:
                intent["status"] = "processing"
                intent["payment_method"] = _random_id("pm_1")
                self._emit(state, batch, "checkout.session.completed", session, None)
                self._emit(state, batch, "payment_intent.processing", intent, None)
            self._dispatch(state, batch)
            success_url = str(session["success_url"])
            return _redirect(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))

    def _customer_details(self, state: _AccountState, session: Json) -> Json:
        email = session["customer_email"]
        name = None
        if session["customer"]:
            customer = state.objects["customer"][session["customer"]]
            email, name = customer["email"], customer["name"]
        return {
            "address": None,
            "email": email or "buyer@example.com",
            "name": name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }

    def _session_intent(self, state: _AccountState, session: Json, extras: _SessionExtras) -> Json:
        """The session's PaymentIntent: one per session, made at the first payment attempt."""
        if extras.payment_intent_id is not None:
            return state.objects["payment_intent"][extras.payment_intent_id]
        intent_id = _random_id("pi_3")
        data = extras.payment_intent_data
        intent: Json = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{_random_id('', 25)}",
            "created": self._now(),
            "currency": session["currency"],
            "customer": session["customer"],
            "description": data["description"],
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(data["metadata"]),
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": data["receipt_email"],
            "statement_descriptor": data["statement_descriptor"],
            "status": "requires_payment_method",
        }
        state.objects["payment_intent"][intent_id] = intent
        extras.payment_intent_id = intent_id
        self._owners[intent_id] = state
        return intent

    def _create_charge(
        self, state: _AccountState, intent: Json, session: Json, method_type: str
    ) -> Json:
        charge_id = _random_id("ch_3")
        method = intent["payment_method"] or _random_id("pm_1")
        details: Json = (
            {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": time.gmtime().tm_year + 2,
                    "funding": "credit",
                    "last4": "4242",
                },
            }
            if method_type == "card"
            else {
                "type": method_type,
                method_type: {"bank_name": "STRIPE TEST BANK", "last4": "6789"},
            }
        )
        customer_details = session["customer_details"] or {}
        charge: Json = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "balance_transaction": _random_id("txn_3"),
            "billing_details": {
                "address": None,
                "email": customer_details.get("email"),
                "name": customer_details.get("name"),
                "phone": None,
            },
            "captured": True,
            "created": self._now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": intent["id"],
            "payment_method": method,
            "payment_method_details": details,
            "receipt_email": intent["receipt_email"],
            "receipt_url": None,
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "status": "succeeded",
        }
        intent["payment_method"] = method
        state.objects["charge"][charge_id] = charge
        state.charge_refunds[charge_id] = []
        self._owners[charge_id] = state
        return charge

    @staticmethod
    def _succeed_intent(intent: Json, charge: Json) -> None:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = charge["id"]
        intent["last_payment_error"] = None

    def _checkout_page(self, state: _AccountState, session: Json) -> str:
        currency = str(session["currency"])
        extras = state.session_extras[session["id"]]
        rows = "".join(
            f"<li>{html.escape(str(item['description']))} &times; {int(item['quantity'])}"
            f' <span class="price">{html.escape(format_amount(item["amount_total"], currency))}'
            "</span></li>"
            for item in extras.line_items
        )
        session_id = html.escape(str(session["id"]))
        if session["status"] == "open":
            actions = "".join(
                f'<form method="post" action="/pay/{session_id}/{action}">'
                f'<button type="submit" name="action" value="{action}">{label}</button></form>'
                for action, label in (
                    ("pay", "Pay"),
                    ("pay_delayed", "Pay later (delayed method)"),
                    ("decline", "Decline"),
                )
            )
        else:
            actions = (
                f'<p class="state">This Checkout Session is {html.escape(str(session["status"]))}'
                f" (payment {html.escape(str(session['payment_status']))}).</p>"
            )
        email = session["customer_email"] or (session["customer_details"] or {}).get("email")
        buyer = f"<p>Paying as {html.escape(str(email))}</p>" if email else ""
        merchant = html.escape(f"Sandbox merchant · {state.account.id}")
        amount = html.escape(format_amount(int(session["amount_total"]), currency))
        return _PAGE.format(
            title=f"Pay {amount} · {merchant}",
            body=(
                f'<header><strong>{merchant}</strong> <span class="badge">TEST MODE</span>'
                f'</header><p class="amount" id="amount">{amount}</p><ul>{rows}</ul>{buyer}'
                f'<p>Status: <span id="status">{html.escape(str(session["status"]))}</span>'
                f' · payment: <span id="payment-status">'
                f"{html.escape(str(session['payment_status']))}</span></p>{actions}"
            ),
        )

    # ----------------------------------------------------------------- refunds

    def _api_create_refund(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"payment_intent", "charge", "amount", "reason", "metadata", "expand"},
            {"refund_application_fee", "reverse_transfer", "instructions_email", "origin"},
        )
        intent_id = params.string("payment_intent")
        charge_id = params.string("charge")
        amount = params.integer("amount", minimum=1)
        reason = params.choice("reason", REFUND_REASONS)
        metadata = params.metadata()
        if intent_id is None and charge_id is None:
            raise _missing("charge")
        with self._lock:
            state = call.state
            if intent_id is not None:
                intent = state.get("payment_intent", intent_id, param="payment_intent", status=400)
                if intent["status"] != "succeeded" or not intent["latest_charge"]:
                    raise _invalid(
                        "payment_intent",
                        f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                        "refund.",
                        "charge_not_refundable",
                    )
                if charge_id is not None and charge_id != intent["latest_charge"]:
                    raise _invalid("charge", "charge does not belong to the payment_intent.")
                charge_id = str(intent["latest_charge"])
            charge = state.get("charge", cast(str, charge_id), param="charge", status=400)
            batch: list[Json] = []
            refund = self._refund_charge(
                state, charge, amount, reason, metadata, call.context, batch
            )
            self._dispatch(state, batch)
            return self._render(state, refund, call.expand)

    def _refund_charge(
        self,
        state: _AccountState,
        charge: Json,
        amount: int | None,
        reason: str | None,
        metadata: dict[str, str],
        context: _RequestContext,
        batch: list[Json],
    ) -> Json:
        if charge["disputed"]:
            raise _invalid(
                "charge",
                f"Charge {charge['id']} has been disputed and cannot be refunded.",
                "charge_disputed",
            )
        refunds = [state.objects["refund"][rid] for rid in state.charge_refunds[charge["id"]]]
        committed = sum(
            int(refund["amount"])
            for refund in refunds
            if refund["status"] in ("pending", "succeeded")
        )
        remaining = int(charge["amount"]) - committed
        if remaining <= 0:
            raise StripeApiError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        if amount is None:
            amount = remaining
        if amount is not None and amount > remaining:
            currency = str(charge["currency"])
            raise _invalid(
                "amount",
                f"Refund amount ({format_amount(amount, currency)}) is greater than unrefunded "
                f"amount on charge ({format_amount(remaining, currency)})",
                "amount_too_large",
            )
        delay = float(self.chaos.refund_delay_seconds)
        refund: Json = {
            "id": _random_id("re_3"),
            "object": "refund",
            "amount": amount,
            "balance_transaction": None,
            "charge": charge["id"],
            "created": self._now(),
            "currency": charge["currency"],
            "destination_details": None,
            "metadata": metadata,
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": "pending" if delay > 0 else "succeeded",
            "transfer_reversal": None,
        }
        state.objects["refund"][refund["id"]] = refund
        state.charge_refunds[charge["id"]].append(refund["id"])
        self._owners[refund["id"]] = state
        self._emit(state, batch, "refund.created", refund, context)
        if delay > 0:
            self._settle_later(state, refund["id"], delay)
        else:
            self._refund_succeeded(state, refund, batch, context)
        return refund

    def _refund_succeeded(
        self,
        state: _AccountState,
        refund: Json,
        batch: list[Json],
        context: _RequestContext | None,
    ) -> None:
        refund["status"] = "succeeded"
        refund["balance_transaction"] = _random_id("txn_3")
        charge = state.objects["charge"][refund["charge"]]
        refunds = [state.objects["refund"][rid] for rid in state.charge_refunds[charge["id"]]]
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] = sum(
            int(item["amount"]) for item in refunds if item["status"] == "succeeded"
        )
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        charge["refunds"]["data"] = copy.deepcopy(list(reversed(refunds)))
        charge["refunds"]["total_count"] = len(refunds)
        self._emit(state, batch, "charge.refunded", charge, context, previous)

    def _settle_later(self, state: _AccountState, refund_id: str, delay: float) -> None:
        def settle() -> None:
            try:
                with self._lock:
                    refund = state.objects["refund"][refund_id]
                    if refund["status"] != "pending":
                        return
                    batch: list[Json] = []
                    self._refund_succeeded(state, refund, batch, None)
                    self._emit(state, batch, "refund.updated", refund, None, {"status": "pending"})
                    self._dispatch(state, batch)
            finally:
                self._outbox.release()

        timer = threading.Timer(delay, settle)
        timer.daemon = True
        self._outbox.hold()
        self._timers.append(timer)
        timer.start()

    def _api_list_refunds(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "charge",
                "payment_intent",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        charge = params.string("charge")
        intent = params.string("payment_intent")
        created = self._created_filter(params)
        with self._lock:
            refunds = [
                refund
                for refund in call.state.objects["refund"].values()
                if (charge is None or refund["charge"] == charge)
                and (intent is None or refund["payment_intent"] == intent)
                and created(refund)
            ]
            return self._page(call, refunds, "/v1/refunds")

    # ----------------------------------------------------------------- events and endpoints API

    def _api_list_events(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {
                "type",
                "types",
                "delivery_success",
                "limit",
                "starting_after",
                "ending_before",
                "created",
                "expand",
            }
        )
        event_type = params.string("type")
        types = params.strings("types")
        if event_type is not None and types is not None:
            raise _invalid("types", "You may only specify one of these parameters: type, types.")
        if types is not None and len(types) > 20:
            raise _invalid("types", "You may pass at most 20 types.")
        patterns = types if types is not None else [event_type] if event_type else None
        delivery_success = params.boolean("delivery_success")
        created = self._created_filter(params)
        with self._lock:
            events = [
                event
                for event in call.state.objects["event"].values()
                if (
                    patterns is None
                    or any(fnmatch.fnmatchcase(event["type"], pattern) for pattern in patterns)
                )
                and (
                    delivery_success is None
                    or (int(event["pending_webhooks"]) == 0) == delivery_success
                )
                and created(event)
            ]
            return self._page(call, events, "/v1/events")

    def _create_webhook_endpoint(
        self,
        state: _AccountState,
        url: str,
        enabled_events: list[str],
        *,
        description: str | None,
        metadata: dict[str, str],
        api_version: str | None,
    ) -> Json:
        _check_url(url, "url")
        if not _is_loopback_url(url):
            raise _invalid(
                "url",
                "The sandbox delivers webhooks only to loopback hosts (127.0.0.1, localhost).",
            )
        if not enabled_events:
            raise _missing("enabled_events")
        for index, event_type in enumerate(enabled_events):
            if _EVENT_TYPE.fullmatch(event_type) is None:
                raise _invalid(
                    f"enabled_events[{index}]",
                    f"Invalid event type in enabled_events: {event_type}",
                )
        endpoint: Json = {
            "id": _random_id("we_1"),
            "object": "webhook_endpoint",
            "api_version": api_version,
            "application": None,
            "created": self._now(),
            "description": description,
            "enabled_events": list(enabled_events),
            "livemode": False,
            "metadata": metadata,
            "status": "enabled",
            "url": url,
        }
        secret = _random_id("whsec_", 32)
        with self._lock:
            state.objects["webhook_endpoint"][endpoint["id"]] = endpoint
            state.webhook_secrets[endpoint["id"]] = secret
        # The secret is shown once, at creation, as Stripe does.
        return {**copy.deepcopy(endpoint), "secret": secret}

    def _api_create_webhook_endpoint(self, call: _ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"url", "enabled_events", "description", "metadata", "api_version", "connect", "expand"}
        )
        if params.boolean("connect"):
            raise _invalid("connect", "The sandbox does not model Connect endpoints.")
        url = cast(str, params.url("url", required=True))
        enabled_events = params.strings("enabled_events")
        if not enabled_events:
            raise _missing("enabled_events")
        return self._create_webhook_endpoint(
            call.state,
            url,
            enabled_events,
            description=params.string("description", max_length=5000),
            metadata=params.metadata(),
            api_version=params.string("api_version"),
        )

    def _api_list_webhook_endpoints(self, call: _ApiCall) -> Json:
        call.params.reject_unknown({"limit", "starting_after", "ending_before", "expand"})
        with self._lock:
            endpoints = list(call.state.objects["webhook_endpoint"].values())
            return self._page(call, endpoints, "/v1/webhook_endpoints")

    def _api_delete_webhook_endpoint(self, call: _ApiCall) -> Json:
        with self._lock:
            call.state.get("webhook_endpoint", call.path_id)
            del call.state.objects["webhook_endpoint"][call.path_id]
            return {"id": call.path_id, "object": "webhook_endpoint", "deleted": True}

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_create_account(self, payload: Json, _path_id: str) -> Json:
        key = payload.get("secret_key")
        if key is not None and not isinstance(key, str):
            raise _invalid("secret_key", "secret_key must be a string")
        account = self.create_account(key)
        return {"id": account.id, "secret_key": account.secret_key}

    def _admin_add_webhook_endpoint(self, payload: Json, _path_id: str) -> Json:
        key, url, events = (
            payload.get("secret_key"),
            payload.get("url"),
            payload.get("enabled_events"),
        )
        if not isinstance(key, str) or not isinstance(url, str):
            raise _invalid("url", "secret_key and url are required strings")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(item, str) for item in events)
        ):
            raise _invalid("enabled_events", "enabled_events must be a list of strings")
        return self.add_webhook_endpoint(key, url, events)

    def _admin_chaos(self, payload: Json, _path_id: str) -> Json:
        self.chaos.update(payload)
        return self.chaos.as_dict()

    def _admin_clock(self, payload: Json, _path_id: str) -> Json:
        seconds = payload.get("advance_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise _invalid("advance_seconds", "advance_seconds must be a number >= 0")
        self.advance_clock(seconds)
        return {"now": self._now()}

    def _admin_wait(self, payload: Json, _path_id: str) -> Json:
        timeout = payload.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise _invalid("timeout", "timeout must be a number >= 0")
        return {"idle": self.wait_for_deliveries(min(float(timeout), 60.0))}

    def _admin_refund(self, payload: Json, charge_id: str) -> Json:
        amount = payload.get("amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise _invalid("amount", "amount must be an integer")
        reason = payload.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise _invalid("reason", "reason must be a string")
        return self.dashboard_refund(charge_id, amount, reason)

    def _admin_dispute(self, payload: Json, charge_id: str) -> Json:
        reason = payload.get("reason", "fraudulent")
        if not isinstance(reason, str):
            raise _invalid("reason", "reason must be a string")
        return self.dispute_charge(charge_id, reason)

    def _admin_async_ok(self, _payload: Json, session_id: str) -> Json:
        return self.complete_delayed_payment(session_id, succeeded=True)

    def _admin_async_fail(self, _payload: Json, session_id: str) -> Json:
        return self.complete_delayed_payment(session_id, succeeded=False)


def _redirect(location: str) -> _Response:
    return _Response(303, b"", "text/plain; charset=utf-8", {"Location": location})


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:3rem auto;color:#1a1f36}}
.badge{{background:#ffde92;border-radius:4px;padding:0 .4rem;font-size:.75rem}}
.amount{{font-size:2rem;font-weight:600}}form{{display:inline-block;margin:.3rem .3rem 0 0}}
button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body>{body}</body></html>
"""


def _error_page(message: str) -> str:
    return _PAGE.format(title="Stripe sandbox", body=f"<p>{html.escape(message)}</p>")


def main(argv: list[str] | None = None) -> None:
    """``python -m devstack.sandboxes.stripe``: run a sandbox with one account until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--secret-key", default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    sandbox = StripeSandbox(args.host, args.port).start()
    account = sandbox.create_account(args.secret_key)
    print(json.dumps({"base_url": sandbox.base_url, **asdict(account)}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
