"""NOWPayments: crypto payments, hosted invoices, currencies and estimates, and IPNs, over
stdlib HTTP (payments.providers.http_json) with each tenant's own API key.

IPN verification (docs/providers/nowpayments.md, "Canonical form"): ``x-nowpayments-sig`` is hex
HMAC-SHA512 keyed with the tenant's IPN secret over the body re-serialised with its keys sorted
at every level and compact separators. Where Python's ``json.dumps`` and JavaScript's
``JSON.stringify`` write that text differently (non-ASCII, number forms), both texts are
computed from the body as received, each number from its own digits (never through a float),
and a signature matching either counts. A body with duplicate keys, a non-finite number or that
is not a JSON object is refused. Then, because an IPN has no timestamp, each is confirmed with
``GET /v1/payment/{id}`` before it counts (:meth:`NowPaymentsProvider.confirm_webhook`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlencode

from payments.domain.payment import Payment
from payments.domain.states import PaymentStatus
from payments.money import FIAT_EXPONENTS, Money, MoneyError
from payments.money import amount_for as ledger_amount
from payments.providers.base import (
    Credentials,
    CredentialTestResult,
    CryptoEstimate,
    CryptoInvoice,
    CryptoInvoiceRequest,
    CryptoMinimum,
    CryptoPayment,
    CryptoPaymentRequest,
    Denomination,
    ProviderError,
    ProviderEvent,
    ProviderRejectedError,
    ProviderUnavailableError,
    ProviderUnreachableError,
    WebhookVerificationError,
)
from payments.providers.http_json import JsonHttpClient, encode
from payments.providers.nowpayments_spec import (
    NAME,
    SIGNATURE_HEADER,
    SPEC,
    invoice_ref,
    payment_ref,
)

TIMEOUT_SECONDS = 2.5  # an IPN is answered within 3 s and waits for GET /v1/payment
MAX_IPN_BYTES = 64 * 1024
IPN_EVENT = "ipn"
STATUS_EVENT = "payment_status"

# NOWPayments' statuses -> ours. ``refunded`` is recorded (no status: refunds are ours to
# count from refunds, never from "a notification said refunded").
STATUSES: Mapping[str, PaymentStatus | None] = {
    "waiting": PaymentStatus.PENDING,
    "confirming": PaymentStatus.PENDING,
    "confirmed": PaymentStatus.PENDING,
    "sending": PaymentStatus.PENDING,
    "partially_paid": PaymentStatus.PENDING,  # underpaid: never fulfilled automatically
    "finished": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "expired": PaymentStatus.EXPIRED,
    "refunded": None,
}
# How far along a payment is: an IPN behind what GET /v1/payment says is stale (the provider
# moved on; its current state is applied), one ahead of it or beside it is not confirmed.
_PROGRESS = {
    "waiting": 0,
    "confirming": 1,
    "confirmed": 2,
    "partially_paid": 2,
    "sending": 3,
    "finished": 4,
    "failed": 4,
    "expired": 4,
    "refunded": 5,
}
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_ID = re.compile(r"[0-9]{1,20}")
_MAX_EXPONENT = 300  # beyond what a double holds: not a number any sender wrote from one


# --------------------------------------------------------------------------- canonical forms


@dataclass(frozen=True, slots=True)
class JsonNumber:
    """A number as it was written in the body, to re-serialise it the way a signer did."""

    text: str

    @property
    def is_integer_literal(self) -> bool:
        return not any(mark in self.text for mark in ".eE")

    def value(self) -> Decimal:
        return Decimal(self.text)


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_signed_body(payload: bytes) -> dict[str, Any]:
    """The body as a tree whose numbers keep their text (:class:`JsonNumber`).
    WebhookVerificationError for anything that is not one unambiguous JSON object."""
    try:
        text = payload.decode("utf-8")
        tree = json.loads(
            text,
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_no_constants,
            object_pairs_hook=_unique_object,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise WebhookVerificationError(
            f"malformed_body: not a JSON object ({error})"[:200]
        ) from None
    if not isinstance(tree, dict):
        raise WebhookVerificationError("malformed_body: not a JSON object")
    return tree


def _digits(number: JsonNumber) -> tuple[bool, str, int]:
    """Sign, significant digits (no trailing zeros) and the exponent of the first digit."""
    value = number.value()
    if not value.is_finite():
        raise WebhookVerificationError("malformed_body: a number that is not finite")
    if value.is_zero():
        return value.is_signed(), "0", 0
    sign, digit_tuple, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    first = exponent + len(digits) - 1
    if abs(first) > _MAX_EXPONENT:
        raise WebhookVerificationError("malformed_body: a number out of range")
    return bool(sign), digits, first


def python_number(number: JsonNumber) -> str:
    """What ``json.dumps`` writes for what ``json.loads`` made of ``number``: an int exactly;
    a float as ``repr`` does (fixed from 1e-4 up to 1e16, else ``1e-07`` / ``1.5e+16``; a
    whole float keeps ``.0``). Digits are the text's own, so this is Python's text whenever the
    number has at most 15 significant digits (every amount NOWPayments writes)."""
    if number.is_integer_literal:
        return str(int(number.text))
    negative, digits, first = _digits(number)
    sign = "-" if negative else ""
    if digits == "0":
        return f"{sign}0.0"
    if -4 <= first < 16:
        if first < 0:
            text = "0." + "0" * (-first - 1) + digits
        elif len(digits) <= first + 1:
            text = digits + "0" * (first + 1 - len(digits)) + ".0"
        else:
            text = f"{digits[: first + 1]}.{digits[first + 1 :]}"
    else:
        mantissa = digits if len(digits) == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'-' if first < 0 else '+'}{abs(first):02d}"
    return sign + text


def javascript_number(number: JsonNumber) -> str:
    """``Number.prototype.toString`` (ECMA-262 Number::toString) of ``number``: fixed notation
    from 1e-6 up to 1e21, else ``1e-7`` / ``1.5e+21``; ``-0`` is ``0``. Digits are the
    text's own (JavaScript's whenever the number has at most 15 significant digits)."""
    negative, digits, first = _digits(number)
    if digits == "0":
        return "0"
    k, n = len(digits), first + 1
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return f"-{text}" if negative else text


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _javascript_string(value: str) -> str:
    """``JSON.stringify`` of a string: UTF-8 as is; the same escapes as ``json.dumps`` with
    ``ensure_ascii=False``, and a lone surrogate as ``\\udxxx`` (well-formed stringify)."""
    text = json.dumps(value, ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _javascript_key_order(keys: list[str]) -> list[str]:
    """The order ``JSON.stringify`` writes an object built from ``Object.keys(v).sort()``:
    array-index keys first in numeric order (JavaScript's own property order), then the
    others sorted by UTF-16 code units (``Array.prototype.sort``)."""
    indexes = sorted(
        (key for key in keys if re.fullmatch(r"0|[1-9][0-9]{0,9}", key) and int(key) < 2**32 - 1),
        key=int,
    )
    others = sorted(
        (key for key in keys if key not in indexes),
        key=lambda k: k.encode("utf-16-be", "surrogatepass"),
    )
    return indexes + others


def _render(
    value: Any,
    number: Callable[[JsonNumber], str],
    string: Callable[[str], str],
    order: Callable[[list[str]], list[str]],
) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, JsonNumber):
        return number(value)
    if isinstance(value, str):
        return string(value)
    if isinstance(value, list):
        return "[" + ",".join(_render(item, number, string, order) for item in value) + "]"
    assert isinstance(value, dict)
    members = (
        f"{string(key)}:{_render(value[key], number, string, order)}" for key in order(list(value))
    )
    return "{" + ",".join(members) + "}"


def python_signature_text(tree: dict[str, Any]) -> str:
    """``json.dumps(json.loads(raw), separators=(",", ":"), sort_keys=True)``."""
    return _render(tree, python_number, json.dumps, sorted)


def javascript_signature_text(tree: dict[str, Any]) -> str:
    """``JSON.stringify`` of the parsed body with its keys sorted at every level."""
    return _render(tree, javascript_number, _javascript_string, _javascript_key_order)


# The texts a signature may be over; see docs/providers/nowpayments.md for why these two.
SIGNATURE_FORMS: Mapping[str, Callable[[dict[str, Any]], str]] = {
    "python": python_signature_text,
    "javascript": javascript_signature_text,
}


def ipn_signature(secret: str, text: str) -> str:
    return hmac.new(
        secret.encode("utf-8"), text.encode("utf-8", "surrogatepass"), hashlib.sha512
    ).hexdigest()


def verify_ipn_signature(secret: str, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The parsed body (numbers as :class:`JsonNumber`) if ``signature`` is the IPN secret's
    over one of its canonical texts; WebhookVerificationError otherwise."""
    if not signature:
        raise WebhookVerificationError(f"missing_signature: no {SIGNATURE_HEADER} header")
    signature = signature.strip()
    if _SIGNATURE.fullmatch(signature) is None:
        raise WebhookVerificationError("signature_mismatch: not a hex HMAC-SHA512")
    tree = parse_signed_body(payload)
    given = signature.lower().encode("ascii")
    matched = False
    for form in SIGNATURE_FORMS.values():
        expected = ipn_signature(secret, form(tree)).encode("ascii")
        matched |= hmac.compare_digest(expected, given)
    if not matched:
        raise WebhookVerificationError("signature_mismatch")
    return tree


# --------------------------------------------------------------------------- payment state


@dataclass(frozen=True, slots=True)
class PaymentState:
    """A NOWPayments payment as an IPN or ``GET /v1/payment`` tells it (amounts exact)."""

    payment_id: str
    status: str
    pay_amount: Decimal | None
    pay_currency: str | None  # ours: upper case
    price_amount: Decimal | None
    price_currency: str | None
    actually_paid: Decimal
    order_id: str | None
    invoice_id: str | None
    updated_at: str | None

    @property
    def refs(self) -> tuple[str, ...]:
        refs = [payment_ref(self.payment_id)]
        if self.invoice_id:
            refs.append(invoice_ref(self.invoice_id))
        return tuple(refs)

    @property
    def dedupe_key(self) -> str:
        """(payment_id, payment_status, updated_at or actually_paid): one per change."""
        return f"{self.payment_id}:{self.status}:{self.updated_at or self.actually_paid}"

    def details(self) -> dict[str, str]:
        details = {"nowpayments_payment_id": self.payment_id, "provider_status": self.status}
        if self.pay_amount is not None:
            details["pay_amount"] = _plain(self.pay_amount)
        if self.pay_currency:
            details["pay_currency"] = self.pay_currency
        details["actually_paid"] = _plain(self.actually_paid)
        if self.invoice_id:
            details["invoice_id"] = self.invoice_id
        if self.pay_amount is not None and self.actually_paid > self.pay_amount:
            details["overpaid"] = _plain(self.actually_paid - self.pay_amount)
        return details


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _decimal(value: object, field: str, *, required: bool = False) -> Decimal | None:
    if value is None and not required:
        return None
    if isinstance(value, JsonNumber):
        value = value.value()
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise WebhookVerificationError(f"malformed_ipn: {field} is not a number")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise WebhookVerificationError(f"malformed_ipn: {field} is not a number") from None
    if not number.is_finite() or number < 0:
        raise WebhookVerificationError(f"malformed_ipn: {field} is not a non-negative number")
    return number


def _identifier(value: object, field: str, *, required: bool) -> str | None:
    if isinstance(value, JsonNumber):
        value = value.text
    if value is None or value == "":
        if required:
            raise WebhookVerificationError(f"malformed_ipn: no {field}")
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise WebhookVerificationError(f"malformed_ipn: {field} is not a NOWPayments id")
    return value


def _text(value: object, field: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 200:
        raise WebhookVerificationError(f"malformed_ipn: {field} is not a short text")
    return value


def read_payment_state(document: Mapping[str, Any]) -> PaymentState:
    """An IPN body or a ``GET /v1/payment`` answer; WebhookVerificationError when it is not
    one (numbers may be :class:`JsonNumber`, int or Decimal)."""
    status = document.get("payment_status")
    if not isinstance(status, str) or status not in STATUSES:
        raise WebhookVerificationError("malformed_ipn: unknown payment_status")
    pay_currency = _text(document.get("pay_currency"), "pay_currency")
    price_currency = _text(document.get("price_currency"), "price_currency")
    updated = document.get("updated_at")
    if isinstance(updated, JsonNumber):
        updated = updated.text
    elif isinstance(updated, int) and not isinstance(updated, bool):
        updated = str(updated)
    return PaymentState(
        payment_id=str(_identifier(document.get("payment_id"), "payment_id", required=True)),
        status=status,
        pay_amount=_decimal(document.get("pay_amount"), "pay_amount"),
        pay_currency=pay_currency.upper() if pay_currency else None,
        price_amount=_decimal(document.get("price_amount"), "price_amount"),
        price_currency=price_currency.upper() if price_currency else None,
        actually_paid=_decimal(document.get("actually_paid"), "actually_paid") or Decimal(0),
        order_id=_text(document.get("order_id"), "order_id"),
        invoice_id=_identifier(document.get("invoice_id"), "invoice_id", required=False),
        updated_at=_text(updated, "updated_at"),
    )


def status_for(state: PaymentState) -> PaymentStatus | None:
    """Ours for the provider's; a ``finished`` with less than the pay amount received stays
    pending (never fulfilled on an underpayment)."""
    status = STATUSES[state.status]
    if status is PaymentStatus.SUCCEEDED and (
        state.pay_amount is None or state.actually_paid < state.pay_amount
    ):
        return PaymentStatus.PENDING
    return status


def amount_for(payment: Payment, state: PaymentState) -> tuple[Decimal | int | None, str | None]:
    """What the provider says was asked for, in our payment's denomination, for the shared
    amount check: the price for a payment still in its price currency (an invoice's, before
    the customer chose a coin), else the pay amount and currency."""
    if payment.price_currency is not None:
        return state.pay_amount, state.pay_currency
    if state.price_amount is None or state.price_currency is None:
        return None, None
    try:
        if state.price_currency in FIAT_EXPONENTS:
            money = Money.from_provider_amount(state.price_amount, state.price_currency)
            return money.minor, state.price_currency
        return ledger_amount(state.price_currency, state.price_amount), state.price_currency
    except MoneyError:
        return -1, state.price_currency  # not a price we could have asked for


def event_for(
    payment: Payment | None, state: PaymentState, *, event_id: str, event_type: str
) -> ProviderEvent:
    status = status_for(state)
    details = state.details()
    if status is PaymentStatus.PENDING and state.status == "finished":
        details["underpaid"] = "true"
    amount, currency = amount_for(payment, state) if payment is not None else (None, None)
    paid_in = None
    if state.pay_amount is not None and state.pay_currency:
        # The coin is the customer's choice on an invoice's page; a direct payment has it.
        paid_in = Denomination(state.pay_amount, state.pay_currency)
    return ProviderEvent(
        event_id=event_id,
        event_type=event_type,
        payment_id=state.order_id,
        provider_refs=state.refs,
        requested_status=status,
        capture_ref=payment_ref(state.payment_id) if status is PaymentStatus.SUCCEEDED else None,
        amount=amount,
        currency=currency,
        details=details,
        paid_in=paid_in,
        # finished with at least the pay amount: what arrived, an overpayment included.
        received=state.actually_paid if status is PaymentStatus.SUCCEEDED else None,
    )


# --------------------------------------------------------------------------- the adapter


def _error_code(body: Mapping[str, Any]) -> str | None:
    code = body.get("code")
    return str(code)[:64] if code else None


def _error_message(body: Mapping[str, Any]) -> str | None:
    message = body.get("message")
    return str(message)[:200] if message else None


class NowPaymentsProvider:
    name = NAME

    def __init__(self, *, timeout: float = TIMEOUT_SECONDS) -> None:
        self._http = JsonHttpClient("NOWPayments", timeout=timeout)

    # --- IPNs ------------------------------------------------------------------------------

    def verify_webhook(
        self, credentials: Credentials, payload: bytes, headers: Mapping[str, str]
    ) -> ProviderEvent:
        if len(payload) > MAX_IPN_BYTES:
            raise WebhookVerificationError("malformed_body: too large")
        secret = credentials.values.get("ipn_secret")
        if not secret:
            raise WebhookVerificationError("not_configured: no ipn_secret for this tenant")
        tree = verify_ipn_signature(secret, payload, headers.get(SIGNATURE_HEADER))
        state = read_payment_state(tree)
        return event_for(None, state, event_id=state.dedupe_key, event_type=IPN_EVENT)

    def confirm_webhook(
        self, credentials: Credentials, payment: Payment, event: ProviderEvent
    ) -> ProviderEvent:
        """A signed IPN counts once ``GET /v1/payment/{id}`` with the tenant's key agrees: the
        same payment, for our payment (``order_id``, our reference), the same amounts, and a
        status the IPN does not run ahead of. An IPN behind the provider's status is stale:
        the provider's current state is applied instead."""
        claimed = event.details.get("nowpayments_payment_id", "")
        truth = self.payment_state(credentials, claimed)
        if truth.payment_id != claimed:
            raise WebhookVerificationError("not_confirmed: NOWPayments answered another payment")
        if truth.order_id != payment.payment_id or (
            event.payment_id is not None and event.payment_id != payment.payment_id
        ):
            raise WebhookVerificationError("order_mismatch: the payment is not this order's")
        if payment.provider_ref is not None and payment.provider_ref not in truth.refs:
            raise WebhookVerificationError("reference_mismatch")
        for field in ("pay_amount", "pay_currency"):
            said, confirmed = event.details.get(field), truth.details().get(field)
            if said != confirmed:
                raise WebhookVerificationError(f"not_confirmed: {field} {said} != {confirmed}")
        said_status = event.details.get("provider_status", "")
        if said_status == truth.status:
            return event_for(payment, truth, event_id=event.event_id, event_type=IPN_EVENT)
        if _PROGRESS.get(said_status, 99) < _PROGRESS[truth.status]:
            return event_for(payment, truth, event_id=truth.dedupe_key, event_type=STATUS_EVENT)
        raise WebhookVerificationError(
            f"not_confirmed: the IPN says {said_status}, NOWPayments says {truth.status}"
        )

    def check_payment(
        self, credentials: Credentials, payment: Payment
    ) -> tuple[ProviderEvent, dict[str, object]] | None:
        """NOWPayments' word on an open payment; None while it is waiting or still moving, and
        for an invoice whose payment has not been made (nothing to ask about yet)."""
        payment_id = payment.provider_details.get("nowpayments_payment_id") or payment.provider_ref
        if not payment_id or _ID.fullmatch(payment_id) is None:
            return None
        try:
            state = self.payment_state(credentials, payment_id)
        except WebhookVerificationError:
            return None
        if STATUSES[state.status] is PaymentStatus.PENDING or state.order_id != payment.payment_id:
            return None
        event = event_for(payment, state, event_id=state.dedupe_key, event_type=STATUS_EVENT)
        return event, {"payment_id": state.payment_id, "payment_status": state.status}

    def payment_state(self, credentials: Credentials, payment_id: str) -> PaymentState:
        """``GET /v1/payment/{id}``; WebhookVerificationError when the answer is no payment,
        ProviderError when NOWPayments gave no usable answer."""
        if _ID.fullmatch(payment_id) is None:
            raise WebhookVerificationError("malformed_ipn: payment_id is not a NOWPayments id")
        try:
            body = self._api(credentials, "GET", f"/v1/payment/{quote(payment_id)}")
        except ProviderRejectedError as error:
            raise WebhookVerificationError(
                f"not_confirmed: NOWPayments does not know the payment ({error.provider_code})"
            ) from None
        return read_payment_state(body)

    # --- crypto payments -------------------------------------------------------------------

    def create_payment(
        self, credentials: Credentials, request: CryptoPaymentRequest
    ) -> CryptoPayment:
        body: dict[str, Any] = {
            "price_amount": request.price_amount,
            "price_currency": request.price_currency.lower(),
            "pay_currency": request.pay_currency.lower(),
            "order_id": request.payment_id,
        }
        if request.pay_amount is not None:
            body["pay_amount"] = request.pay_amount
        if request.callback_url:
            body["ipn_callback_url"] = request.callback_url
        if request.description:
            body["order_description"] = request.description
        answer = self._api(credentials, "POST", "/v1/payment", body)
        try:
            state = read_payment_state(answer)
            pay_address = str(answer["pay_address"])
        except (WebhookVerificationError, KeyError):
            raise ProviderUnreachableError("NOWPayments answered an unreadable payment") from None
        if state.pay_amount is None or state.pay_currency is None:
            raise ProviderUnreachableError("NOWPayments answered a payment without its amount")
        extra = answer.get("payin_extra_id")
        return CryptoPayment(
            provider_ref=payment_ref(state.payment_id),
            provider_status=state.status,
            pay_address=pay_address,
            pay_amount=state.pay_amount,
            pay_currency=state.pay_currency,
            price_amount=state.price_amount or request.price_amount,
            price_currency=state.price_currency or request.price_currency.upper(),
            order_id=state.order_id,
            payin_extra_id=str(extra) if extra else None,
            expires_at=_datetime(answer.get("expiration_estimate_date")),
            details={**state.details(), "pay_address": pay_address},
        )

    def create_invoice(
        self, credentials: Credentials, request: CryptoInvoiceRequest
    ) -> CryptoInvoice:
        body: dict[str, Any] = {
            "price_amount": request.price_amount,
            "price_currency": request.price_currency.lower(),
            "order_id": request.payment_id,
        }
        optional = {
            "pay_currency": request.pay_currency.lower() if request.pay_currency else None,
            "ipn_callback_url": request.callback_url,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
            "order_description": request.description or None,
        }
        body.update({key: value for key, value in optional.items() if value})
        answer = self._api(credentials, "POST", "/v1/invoice", body)
        invoice_id = answer.get("id")
        url = answer.get("invoice_url")
        if invoice_id is None or not isinstance(url, str):
            raise ProviderUnreachableError("NOWPayments answered an unreadable invoice")
        pay = answer.get("pay_currency")
        return CryptoInvoice(
            provider_ref=invoice_ref(invoice_id),
            invoice_id=str(invoice_id),
            invoice_url=url,
            price_amount=Decimal(str(answer.get("price_amount", request.price_amount))),
            price_currency=str(answer.get("price_currency", request.price_currency)).upper(),
            pay_currency=str(pay).upper() if pay else None,
            order_id=answer.get("order_id"),
        )

    def currencies(self, credentials: Credentials) -> tuple[str, ...]:
        answer = self._api(credentials, "GET", "/v1/currencies")
        listed = answer.get("currencies")
        if not isinstance(listed, list):
            raise ProviderUnreachableError("NOWPayments answered an unreadable currency list")
        return tuple(str(code).upper() for code in listed if isinstance(code, str))

    def estimate(
        self, credentials: Credentials, *, amount: Decimal, currency_from: str, currency_to: str
    ) -> CryptoEstimate:
        query = {
            "amount": format(amount, "f"),
            "currency_from": currency_from.lower(),
            "currency_to": currency_to.lower(),
        }
        answer = self._api(credentials, "GET", f"/v1/estimate?{urlencode(query)}")
        return CryptoEstimate(
            amount_from=_answer_decimal(answer, "amount_from"),
            currency_from=currency_from.upper(),
            amount_to=_answer_decimal(answer, "estimated_amount"),
            currency_to=currency_to.upper(),
        )

    def min_amount(
        self,
        credentials: Credentials,
        *,
        currency_from: str,
        currency_to: str,
        fiat_equivalent: str | None = None,
    ) -> CryptoMinimum:
        query = {"currency_from": currency_from.lower(), "currency_to": currency_to.lower()}
        if fiat_equivalent:
            query["fiat_equivalent"] = fiat_equivalent.lower()
        answer = self._api(credentials, "GET", f"/v1/min-amount?{urlencode(query)}")
        return CryptoMinimum(
            currency_from=currency_from.upper(),
            currency_to=currency_to.upper(),
            min_amount=_answer_decimal(answer, "min_amount"),
            fiat_equivalent=_answer_decimal(answer, "fiat_equivalent")
            if answer.get("fiat_equivalent") is not None
            else None,
        )

    # --- credential test -------------------------------------------------------------------

    def test_credentials(self, credentials: Credentials) -> CredentialTestResult:
        """``GET /v1/currencies`` checks the API key (``/v1/status`` does not). The IPN secret
        cannot be tried: the first IPN shows it (a wrong one is recorded as a rejection)."""
        try:
            self.currencies(credentials)
        except ProviderUnavailableError as error:
            return CredentialTestResult(False, "invalid_credentials", str(error))
        except ProviderUnreachableError:
            return CredentialTestResult(
                False, "provider_unreachable", "NOWPayments did not answer; test again"
            )
        except ProviderError as error:
            return CredentialTestResult(False, "invalid_credentials", str(error))
        return CredentialTestResult(True, "ok", "NOWPayments accepted the API key")

    # --- HTTP ------------------------------------------------------------------------------

    def _api(
        self,
        credentials: Credentials,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        credentials.require(str(SPEC.environment_field))
        api_key = credentials.require("api_key")
        base = SPEC.api_base(credentials.values).rstrip("/")
        headers = {"x-api-key": api_key, "Accept": "application/json"}
        data = None
        if body is not None:
            data = encode(body)
            headers["Content-Type"] = "application/json"
        response = self._http.send(method, f"{base}{path}", headers, data)
        if response.ok:
            return response.body
        code, message = _error_code(response.body), _error_message(response.body)
        if response.status in (401, 403):
            raise ProviderUnavailableError("NOWPayments refused this tenant's API key")
        if response.status in (408, 429) or response.status >= 500:
            raise ProviderUnreachableError(
                f"NOWPayments did not give a final answer (HTTP {response.status})"
            )
        raise ProviderRejectedError(
            f"NOWPayments refused the request: {message or code or response.status}",
            provider_code=code,
        )


def _answer_decimal(answer: Mapping[str, Any], field: str) -> Decimal:
    value = answer.get(field)
    try:
        if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
            raise InvalidOperation
        number = Decimal(value)
    except InvalidOperation:
        raise ProviderUnreachableError(f"NOWPayments answered no readable {field}") from None
    if not number.is_finite():
        raise ProviderUnreachableError(f"NOWPayments answered no readable {field}")
    return number


def _datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
