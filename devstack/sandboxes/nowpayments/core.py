"""The core of the NOWPayments sandbox: accounts, ``x-api-key`` authentication, the error shape,
JSON bodies read with exact decimals and answers written as NOWPayments writes them.

Every ``/v1`` route but ``GET /v1/status`` needs the ``x-api-key`` of an account (401
``INVALID_API_KEY`` otherwise). A request body must be a JSON object (``Content-Type:
application/json``); its numbers are read as ``Decimal`` (``parse_float=Decimal``), and
``NaN`` / ``Infinity``, which ``JSON.parse`` refuses, are refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NoReturn

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Request, Sandbox, SandboxError
from devstack.sandboxes.nowpayments.errors import (
    INTERNAL_ERROR,
    NOT_FOUND,
    NowPaymentsError,
    invalid,
    invalid_api_key,
)
from devstack.sandboxes.nowpayments.objects import (
    Account,
    AccountSettings,
    Clock,
    Invoice,
    Payment,
    Settings,
    api_key,
    ipn_secret,
    numeric_id,
)
from devstack.sandboxes.nowpayments.wire import wire_text

API_KEY_HEADER = "x-api-key"


def _no_constants(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes) -> Json:
    """A JSON object with its numbers as ``Decimal`` (ints stay ints); ``ValueError`` if not."""
    try:
        value = json.loads(body, parse_float=Decimal, parse_constant=_no_constants)
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


class NowPaymentsCore(Sandbox):
    """Accounts and what every NOWPayments route shares."""

    server_name = "NowPaymentsSandbox/1.0"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.settings = Settings()
        self.clock = Clock()
        self._lock = threading.RLock()
        self._accounts: dict[str, Account] = {}  # by account_id
        self._by_api_key: dict[str, Account] = {}
        self._payments: dict[int, Payment] = {}
        self._invoices: dict[int, Invoice] = {}

    # ----------------------------------------------------------------- the provider's shape

    def error(self, status: int, message: str, *, field: str | None = None) -> SandboxError:
        text = f"{field}: {message}" if field else message
        if status == 400:
            return invalid(text)
        if status == 404:
            return NowPaymentsError(404, NOT_FOUND, text)
        if status >= 500:
            return NowPaymentsError(status, INTERNAL_ERROR, text)
        return NowPaymentsError(status, f"HTTP_{status}", text)

    def no_route(self, request: Request, allowed: Sequence[str]) -> SandboxError:
        return NowPaymentsError(404, NOT_FOUND, f"Cannot {request.method} {request.path}")

    def api_json(self, status: int, payload: Any) -> Response:
        """An answer as NOWPayments writes it: amounts (``Decimal``) as JavaScript numbers."""
        return Response(status, wire_text(payload).encode("utf-8"), "application/json")

    def json_body(self, request: Request) -> Json:
        if request.media_type != "application/json":
            raise invalid("Content-Type must be application/json")
        try:
            return parse_body(request.body)
        except ValueError as exc:
            raise invalid(str(exc)) from None

    # ----------------------------------------------------------------- accounts

    def create_account(self, settings: Json | None = None) -> Account:
        """A new account with generated credentials; ``settings`` as ``AccountSettings`` takes
        them (``SwitchError`` if one is unknown or wrong)."""
        account_settings = AccountSettings()
        account_settings.update(settings or {})
        account = Account(str(numeric_id()), api_key(), ipn_secret(), account_settings)
        with self._lock:
            self._accounts[account.account_id] = account
            self._by_api_key[account.api_key] = account
        return account

    def accounts(self) -> list[Account]:
        with self._lock:
            return list(self._accounts.values())

    def account(self, account_id: str) -> Account:
        with self._lock:
            found = self._accounts.get(account_id)
        if found is None:
            raise NowPaymentsError(404, NOT_FOUND, f"No such account: {account_id}")
        return found

    def authenticate(self, request: Request) -> Account:
        """The account whose ``x-api-key`` the request carries (401 otherwise)."""
        presented = request.headers.get(API_KEY_HEADER, "").strip()
        with self._lock:
            found = self._by_api_key.get(presented)
        if found is None:
            raise invalid_api_key()
        return found
