"""NEO Bank's API under ``/v1``, every call signed (see :mod:`~devstack.sandboxes.neobank.core`).

- ``GET /v1/account`` -> ``{"client_id", "name"}``;
- ``POST /v1/registrations`` ``{"reference", "email", "name", "wallet_address"}`` -> 201
  ``{"cprn", "status": "pending" | "verified", "reference"}`` (200 and the same registration for
  the same reference and fields; 409 ``reference_conflict`` for other fields);
- ``GET /v1/registrations/{cprn}`` -> the same shape (status may be ``rejected``); 404
  ``unknown_cprn``, for another client's CPRN too;
- ``POST /v1/payments`` ``{"reference", "cprn", "amount", "currency", "description"?, "token":
  {"contract_address", "symbol", "quantity"}}`` -> 201 ``{"tx_id", "status": "PENDING",
  "reference", "cprn", "amount", "currency"}`` (200 / 409 by reference as above); 404
  ``unknown_cprn``; 409 ``registration_not_verified``;
- ``GET /v1/payments/{tx_id}`` -> with ``cleared_at`` and ``settled_at`` (RFC 3339 or null); 404
  ``unknown_transaction``.

A body must be a JSON object sent as ``application/json``; a missing, mistyped, malformed or
unknown field is 422 ``invalid_request`` with the field first in ``message``. Checks in order:
the fields, then the reference (repeat or conflict), then the CPRN.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Request
from devstack.sandboxes.neobank.errors import (
    INVALID_REQUEST,
    REFERENCE_CONFLICT,
    REGISTRATION_NOT_VERIFIED,
    UNKNOWN_CPRN,
    UNKNOWN_TRANSACTION,
    NeoBankError,
    invalid,
)
from devstack.sandboxes.neobank.objects import (
    CURRENCY,
    PENDING,
    PENDING_REGISTRATION,
    REJECTED,
    VERIFIED,
    Client,
    Payment,
    Registration,
    cprn,
    currency_decimals,
    now,
    tx_id,
)
from devstack.sandboxes.neobank.webhooks import Webhooks

MAX_REFERENCE = 64
MAX_EMAIL = 254
MAX_NAME = 200
MAX_DESCRIPTION = 500
MAX_AMOUNT = 40  # characters of a decimal string
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_SYMBOL = re.compile(r"[A-Z0-9]{1,11}")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.([0-9]+))?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_REGISTRATION_FIELDS = frozenset({"reference", "email", "name", "wallet_address"})
_PAYMENT_FIELDS = frozenset({"reference", "cprn", "amount", "currency", "description", "token"})
_TOKEN_FIELDS = frozenset({"contract_address", "symbol", "quantity"})


def _json_body(request: Request) -> Json:
    if request.media_type != "application/json":
        raise invalid("Content-Type", "must be application/json")
    try:
        return request.json_object()
    except ValueError as exc:
        raise NeoBankError(422, INVALID_REQUEST, str(exc)) from None


def _only(body: Json, known: frozenset[str], prefix: str = "") -> None:
    for name in body:
        if name not in known:
            raise invalid(f"{prefix}{name}", "is not a field of this call")


def _text(body: Json, name: str, limit: int, *, prefix: str = "") -> str:
    value = body.get(name)
    field = f"{prefix}{name}"
    if value is None:
        raise invalid(field, "is required")
    if not isinstance(value, str):
        raise invalid(field, "must be a string")
    if not value.strip():
        raise invalid(field, "must not be empty")
    if len(value) > limit:
        raise invalid(field, f"must be at most {limit} characters")
    return value


def _positive_decimal(value: str, field: str) -> tuple[Decimal, int]:
    """The value and its number of decimals; 422 unless a plain positive decimal string."""
    found = _DECIMAL.fullmatch(value) if len(value) <= MAX_AMOUNT else None
    if found is None:
        raise invalid(field, 'must be a decimal string like "250.00" (no sign, no exponent)')
    amount = Decimal(value)
    if amount <= 0:
        raise invalid(field, "must be more than zero")
    return amount, len(found.group(3) or "")


def _amount(body: Json, currency: str) -> str:
    value = _text(body, "amount", MAX_AMOUNT)
    decimals = currency_decimals(currency)
    _, given = _positive_decimal(value, "amount")
    if given != decimals:
        example = "1500" if decimals == 0 else "250." + "0" * decimals
        raise invalid(
            "amount",
            f'must have exactly {decimals} decimals for {currency} (like "{example}"), '
            f'not "{value}"',
        )
    return value


def _token(body: Json) -> Json:
    token = body.get("token")
    if token is None:
        raise invalid("token", "is required")
    if not isinstance(token, dict):
        raise invalid("token", "must be an object")
    _only(token, _TOKEN_FIELDS, "token.")
    address = _text(token, "contract_address", 42, prefix="token.")
    if _ADDRESS.fullmatch(address) is None:
        raise invalid("token.contract_address", "must be 0x followed by 40 hex digits")
    symbol = _text(token, "symbol", 11, prefix="token.")
    if _SYMBOL.fullmatch(symbol) is None:
        raise invalid("token.symbol", "must be 1 to 11 upper-case letters or digits")
    quantity = _text(token, "quantity", MAX_AMOUNT, prefix="token.")
    _positive_decimal(quantity, "token.quantity")
    return {"contract_address": address, "symbol": symbol, "quantity": quantity}


def _description(body: Json) -> str | None:
    value: Any = body.get("description")
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("description", "must be a string")
    if len(value) > MAX_DESCRIPTION:
        raise invalid("description", f"must be at most {MAX_DESCRIPTION} characters")
    return value


def _reference_conflict(kind: str, reference: str) -> NeoBankError:
    return NeoBankError(
        409, REFERENCE_CONFLICT, f"reference {reference} names another {kind} with other fields"
    )


class Api(Webhooks):
    """The ``/v1`` routes."""

    def _api_account(self, _request: Request, client: Client) -> Response:
        return self.json(200, {"client_id": client.client_id, "name": client.name})

    # ----------------------------------------------------------------- registrations

    def _api_create_registration(self, request: Request, client: Client) -> Response:
        body = _json_body(request)
        _only(body, _REGISTRATION_FIELDS)
        reference = _text(body, "reference", MAX_REFERENCE)
        email = _text(body, "email", MAX_EMAIL)
        if _EMAIL.fullmatch(email) is None:
            raise invalid("email", "must be an e-mail address")
        name = _text(body, "name", MAX_NAME)
        wallet = _text(body, "wallet_address", 42)
        if _ADDRESS.fullmatch(wallet) is None:
            raise invalid("wallet_address", "must be 0x followed by 40 hex digits")
        fields = {"reference": reference, "email": email, "name": name, "wallet_address": wallet}
        with self._lock:
            existing = self._registration_refs.get((client.client_id, reference))
            if existing is not None:
                registration = self._registrations[existing]
                if registration.fields() != fields:
                    raise _reference_conflict("registration", reference)
                return self.json(200, registration.answer())
            registration = Registration(
                cprn=cprn(),
                client_id=client.client_id,
                reference=reference,
                email=email,
                name=name,
                wallet_address=wallet,
                status=PENDING_REGISTRATION,
                created_at=now(),
            )
            self._registrations[registration.cprn] = registration
            self._registration_refs[(client.client_id, reference)] = registration.cprn
            settings = client.settings
            outcome = REJECTED if settings.reject_registrations else VERIFIED
            if settings.verify_after_seconds == 0:
                self._decide(registration, outcome)
            else:
                self._decide_later(registration, settings.verify_after_seconds, outcome)
            return self.json(201, registration.answer())

    def _own_registration(self, client: Client, cprn_text: str) -> Registration:
        found = self._registrations.get(cprn_text)
        if found is None or found.client_id != client.client_id:
            raise NeoBankError(404, UNKNOWN_CPRN, f"no registration {cprn_text}")
        return found

    def _api_get_registration(self, request: Request, client: Client) -> Response:
        with self._lock:
            registration = self._own_registration(client, request.params["cprn"])
            return self.json(200, registration.answer())

    # ----------------------------------------------------------------- payments

    def _api_create_payment(self, request: Request, client: Client) -> Response:
        body = _json_body(request)
        _only(body, _PAYMENT_FIELDS)
        reference = _text(body, "reference", MAX_REFERENCE)
        cprn_text = _text(body, "cprn", MAX_REFERENCE)
        currency = _text(body, "currency", 3)
        if CURRENCY.fullmatch(currency) is None:
            raise invalid("currency", "must be an ISO 4217 code (three upper-case letters)")
        amount = _amount(body, currency)
        description = _description(body)
        token = _token(body)
        fields = {
            "reference": reference,
            "cprn": cprn_text,
            "amount": amount,
            "currency": currency,
            "description": description,
            "token": token,
        }
        with self._lock:
            existing = self._payment_refs.get((client.client_id, reference))
            if existing is not None:
                payment = self._payments[existing]
                if payment.fields() != fields:
                    raise _reference_conflict("payment", reference)
                return self.json(200, payment.created())
            registration = self._own_registration(client, cprn_text)
            if registration.status != VERIFIED:
                raise NeoBankError(
                    409,
                    REGISTRATION_NOT_VERIFIED,
                    f"registration {cprn_text} is {registration.status}, not verified",
                )
            payment = Payment(
                tx_id=tx_id(),
                client_id=client.client_id,
                reference=reference,
                cprn=cprn_text,
                amount=amount,
                currency=currency,
                description=description,
                token=token,
                status=PENDING,
                created_at=now(),
            )
            self._payments[payment.tx_id] = payment
            self._payment_refs[(client.client_id, reference)] = payment.tx_id
            delay = client.settings.auto_clear_after_seconds
            if delay is not None:
                self._clear_later(client, payment, delay)
            return self.json(201, payment.created())

    def _api_get_payment(self, request: Request, client: Client) -> Response:
        with self._lock:
            payment = self._payments.get(request.params["tx_id"])
            if payment is None or payment.client_id != client.client_id:
                raise NeoBankError(
                    404, UNKNOWN_TRANSACTION, f"no transaction {request.params['tx_id']}"
                )
            return self.json(200, payment.answer())
