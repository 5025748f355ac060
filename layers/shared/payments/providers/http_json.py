"""JSON over HTTPS with the standard library, for the adapters that need no SDK (M-PESA,
NOWPayments): one place for the timeout, the size bound, the error mapping and the number rule.

Numbers are parsed with ``parse_float=Decimal``: a provider's ``0.00012345`` (a crypto amount) or
``1.0`` (Daraja's shillings) arrives exact and never passes through a binary float.

:meth:`JsonHttpClient.send` answers whatever status the provider gave (an adapter whose provider
explains refusals in its own codes reads them); :meth:`JsonHttpClient.call` answers only a 2xx
body and maps the rest: 408, 429 and 5xx (and no answer at all) are
:class:`~payments.providers.base.ProviderUnreachableError` (no final answer: retry with the same
idempotency key), any other status :class:`~payments.providers.base.ProviderRejectedError` with
the provider's code. Messages never repeat a request header (where the credentials are).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from payments.providers.base import ProviderRejectedError, ProviderUnreachableError

MAX_RESPONSE_BYTES = 1024 * 1024
# Statuses that are not a final answer: the request may be tried again.
RETRYABLE_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class JsonResponse:
    status: int
    # The body when it is a JSON object; {} for anything else (an HTML error page, a list).
    body: dict[str, Any]
    # The bytes as they arrived and the headers (names in lower case), for an adapter whose
    # provider signs its answers.
    raw: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def json_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object with exact numbers, or {} when it is not one."""
    try:
        value = json.loads(raw, parse_float=Decimal)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        raise TypeError("use JsonHttpClient.encode for bodies with Decimal amounts")
    raise TypeError(f"{type(value).__name__} is not JSON")


class JsonHttpClient:
    """Calls one provider's JSON API; ``provider`` names it in error messages."""

    def __init__(
        self,
        provider: str,
        *,
        timeout: float,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.provider = provider
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes

    def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> JsonResponse:
        """One request; any HTTP status is an answer. No answer (network, timeout, a TLS
        failure) is ProviderUnreachableError."""
        request = urllib.request.Request(  # noqa: S310 (an https base URL, or a sandbox's)
            url, data=body, headers=dict(headers), method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = self._read(response.read)
                return JsonResponse(
                    response.status, json_object(raw), raw, _lowered(response.headers)
                )
        except urllib.error.HTTPError as error:
            with error:
                raw = self._read(error.read)
                return JsonResponse(error.code, json_object(raw), raw, _lowered(error.headers))
        except (OSError, ValueError) as error:
            raise ProviderUnreachableError(
                f"{self.provider} did not answer ({type(error).__name__})"
            ) from None

    def call(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: Mapping[str, Any] | None = None,
        *,
        error_code: Callable[[dict[str, Any]], str | None] = lambda body: None,
        error_message: Callable[[dict[str, Any]], str | None] = lambda body: None,
    ) -> dict[str, Any]:
        """A 2xx answer's JSON object; refusals mapped as the module says. ``body`` is sent as
        JSON (Content-Type set); ``error_code`` / ``error_message`` read the provider's own
        code and text out of an error body."""
        data = None
        all_headers = dict(headers)
        if body is not None:
            data = encode(body)
            all_headers.setdefault("Content-Type", "application/json")
        response = self.send(method, url, all_headers, data)
        if response.ok:
            return response.body
        code = error_code(response.body)
        message = error_message(response.body) or code or f"HTTP {response.status}"
        if response.status in RETRYABLE_STATUSES or response.status >= 500:
            raise ProviderUnreachableError(
                f"{self.provider} did not give a final answer (HTTP {response.status}: {message})"
            )
        raise ProviderRejectedError(
            f"{self.provider} refused the request: {message}", provider_code=code
        )

    def _read(self, read: Callable[[int], bytes]) -> bytes:
        return read(self.max_response_bytes)


def _lowered(headers: Any) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in (headers or {}).items()}


def encode(body: Mapping[str, Any]) -> bytes:
    """``body`` as compact JSON. Decimal amounts are written as JSON numbers from their own
    digits (``Decimal("0.00012")`` -> ``0.00012``), never through a float."""
    return _render(body).encode("utf-8")


def _render(value: Any) -> str:
    if isinstance(value, float):
        raise TypeError("a float never carries an amount: use Decimal or int")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("amounts must be finite")
        return format(value, "f")
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_render(v) for v in value) + "]"
    return json.dumps(value, default=_encode)
