"""NOWPayments' API under ``/v1``, checked the way NOWPayments checks it.

- ``GET /v1/status`` -> ``{"message": "OK"}`` (the one route without ``x-api-key``);
- ``GET /v1/currencies`` -> ``{"currencies": ["btc", ...]}`` and ``GET /v1/full-currencies``
  (each with name, network, precision and ``extra_id_exists``: xrp and xlm need a memo);
- ``GET /v1/estimate?amount=&currency_from=&currency_to=`` -> decimal strings ``amount_from``
  and ``estimated_amount`` (fixed rates, see :mod:`~devstack.sandboxes.nowpayments.market`);
- ``GET /v1/min-amount?currency_from=&currency_to=[&fiat_equivalent=]`` -> ``min_amount`` (and
  ``fiat_equivalent``) as JSON numbers;
- ``POST /v1/payment`` -> 201, the payment (``payment_id`` a numeric string);
- ``POST /v1/invoice`` -> 200, ``id`` and ``invoice_url`` (the hosted page, ``/invoice/{id}``);
- ``GET /v1/payment/{payment_id}`` -> the payment's state, ``payment_id`` a number; another
  account's payment is ``PAYMENT_NOT_FOUND`` like one that does not exist.

A body is checked field by field in NOWPayments' (Joi) manner: a missing required field, a
value of the wrong type (amounts must be JSON numbers > 0: ``"10"`` is refused), an empty string
or an unknown field is a 400 ``INVALID_REQUEST_PARAMS``; ``null`` for an optional field is taken
as absent. Fields NOWPayments has that the sandbox does not model (``purchase_id``,
``payout_address``, ``is_fixed_rate``, ``case``, ...) are accepted and ignored. A currency
``GET /v1/currencies`` does not list as pay currency, or an unknown price currency, is a 400
``CURRENCY_UNAVAILABLE``; a pay amount below the pair's minimum (pay currency to the account's
outcome currency) a 400 ``AMOUNT_MINIMAL_ERROR``.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from devstack.http_server import Response
from devstack.sandboxes.kit import Json, Request
from devstack.sandboxes.nowpayments.errors import (
    AMOUNT_MINIMAL_ERROR,
    CURRENCY_UNAVAILABLE,
    PAYMENT_NOT_FOUND,
    NowPaymentsError,
    invalid,
)
from devstack.sandboxes.nowpayments.ipns import Ipns, payment_status_view
from devstack.sandboxes.nowpayments.market import (
    CRYPTO,
    CRYPTO_CODES,
    Currency,
    convert,
    currency,
    min_amount,
)
from devstack.sandboxes.nowpayments.objects import (
    WAITING,
    Account,
    Invoice,
    Payment,
    is_http_url,
    iso_after,
    iso_time,
    numeric_id,
    pay_address,
    payin_extra_id,
    plain,
)

INVOICE_PAGE = "/invoice"
MAX_SIGNIFICANT_DIGITS = 15
MAX_TEXT = 1000

_PAYMENT_FIELDS = frozenset(
    {
        "price_amount",
        "price_currency",
        "pay_currency",
        "pay_amount",
        "ipn_callback_url",
        "order_id",
        "order_description",
    }
)
_INVOICE_FIELDS = frozenset(
    {
        "price_amount",
        "price_currency",
        "pay_currency",
        "ipn_callback_url",
        "order_id",
        "order_description",
        "success_url",
        "cancel_url",
    }
)
# NOWPayments' own fields the sandbox takes and does nothing with.
_UNMODELLED_FIELDS = frozenset(
    {
        "purchase_id",
        "payout_address",
        "payout_currency",
        "payout_extra_id",
        "fixed_rate",
        "is_fixed_rate",
        "is_fee_paid_by_user",
        "partially_paid_url",
        "case",
    }
)
_QUERY_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_DIGITS = re.compile(r"[0-9]{1,19}")


def unavailable(code: object) -> NowPaymentsError:
    return NowPaymentsError(400, CURRENCY_UNAVAILABLE, f"Currency {code} is unavailable")


def _check_fields(body: Json, known: frozenset[str]) -> None:
    for name in body:
        if name not in known and name not in _UNMODELLED_FIELDS:
            raise invalid(f'"{name}" is not allowed')


def _present(body: Json, name: str, *, required: bool) -> Any:
    value = body.get(name)
    if value is None and required:
        raise invalid(f'"{name}" is required')
    return value


def _amount(body: Json, name: str, *, required: bool) -> Decimal | None:
    value = _present(body, name, required=required)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise invalid(f'"{name}" must be a number')
    amount = Decimal(value)
    if amount <= 0:
        raise invalid(f'"{name}" must be a positive number')
    if len(amount.normalize().as_tuple().digits) > MAX_SIGNIFICANT_DIGITS or amount >= 10**12:
        raise invalid(f'"{name}" must be a number of at most 15 significant digits below 1e12')
    return amount


def _text(body: Json, name: str) -> str | None:
    value = _present(body, name, required=False)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f'"{name}" must be a string')
    if not value:
        raise invalid(f'"{name}" is not allowed to be empty')
    if len(value) > MAX_TEXT:
        raise invalid(f'"{name}" length must be less than or equal to {MAX_TEXT}')
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(f'"{name}" must be valid text') from None
    return value


def _url(body: Json, name: str) -> str | None:
    value = _text(body, name)
    if value is not None and not is_http_url(value):
        raise invalid(f'"{name}" must be a valid uri')
    return value


def _currency(body: Json, name: str, *, required: bool, crypto: bool) -> Currency | None:
    value = _present(body, name, required=required)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid(f'"{name}" must be a string')
    found = currency(value)
    if found is None or (crypto and not found.crypto):
        raise unavailable(value)
    return found


def _query(request: Request, name: str) -> str:
    value = request.query_value(name)
    if not value:
        raise invalid(f'"{name}" is required')
    return value


def _query_currency(request: Request, name: str) -> Currency:
    code = _query(request, name)
    found = currency(code)
    if found is None:
        raise unavailable(code)
    return found


class Api(Ipns):
    """The ``/v1`` routes."""

    def invoice_url(self, invoice_id: int) -> str:
        return f"{self.base_url}{INVOICE_PAGE}/{invoice_id}"

    # ----------------------------------------------------------------- currencies and rates

    def _api_status(self, _request: Request) -> Response:
        return self.api_json(200, {"message": "OK"})

    def _api_currencies(self, request: Request) -> Response:
        self.authenticate(request)
        return self.api_json(200, {"currencies": list(CRYPTO_CODES)})

    def _api_full_currencies(self, request: Request) -> Response:
        self.authenticate(request)
        listed = [
            {
                "code": item.code.upper(),
                "name": item.name,
                "enable": True,
                "network": item.network,
                "precision": item.precision,
                "extra_id_exists": item.extra_id,
                "is_maxlimit": False,
            }
            for item in CRYPTO
        ]
        return self.api_json(200, {"currencies": listed})

    def _api_estimate(self, request: Request) -> Response:
        self.authenticate(request)
        text = _query(request, "amount")
        if _QUERY_AMOUNT.fullmatch(text) is None or Decimal(text) <= 0:
            raise invalid('"amount" must be a positive number')
        amount = Decimal(text)
        source = _query_currency(request, "currency_from")
        target = _query_currency(request, "currency_to")
        estimated = convert(amount, source, target, up=True)
        return self.api_json(
            200,
            {
                "currency_from": source.code,
                "amount_from": plain(amount),
                "currency_to": target.code,
                "estimated_amount": plain(estimated),
            },
        )

    def _api_min_amount(self, request: Request) -> Response:
        self.authenticate(request)
        source = _query_currency(request, "currency_from")
        target = _query_currency(request, "currency_to")
        minimum = min_amount(source, target)
        answer: Json = {
            "currency_from": source.code,
            "currency_to": target.code,
            "min_amount": minimum,
        }
        fiat_code = request.query_value("fiat_equivalent")
        if fiat_code:
            fiat = currency(fiat_code)
            if fiat is None or fiat.crypto:
                raise unavailable(fiat_code)
            answer["fiat_equivalent"] = convert(minimum, source, fiat, up=True)
        return self.api_json(200, answer)

    # ----------------------------------------------------------------- payments

    def new_payment(
        self,
        account: Account,
        *,
        price_amount: Decimal,
        price_currency: Currency,
        pay_currency: Currency,
        pay_amount: Decimal | None = None,
        order_id: str | None = None,
        order_description: str | None = None,
        ipn_callback_url: str | None = None,
        invoice_id: int | None = None,
    ) -> Payment:
        """A waiting payment of ``account`` (``AMOUNT_MINIMAL_ERROR`` below the minimum)."""
        amount = pay_amount or convert(price_amount, price_currency, pay_currency, up=True)
        outcome = self.check_minimum(account, amount, pay_currency)
        with self._lock:
            now = self.clock.now_ms()
            payment = Payment(
                payment_id=numeric_id(),
                account_id=account.account_id,
                status=WAITING,
                price_amount=price_amount,
                price_currency=price_currency,
                pay_amount=amount,
                pay_currency=pay_currency,
                outcome_currency=outcome,
                fee_percent=account.settings.fee_percent,
                pay_address=pay_address(pay_currency),
                payin_extra_id=payin_extra_id(pay_currency),
                purchase_id=str(numeric_id()),
                order_id=order_id,
                order_description=order_description,
                ipn_callback_url=ipn_callback_url,
                created_at_ms=now,
                updated_at_ms=now,
                expiration_estimate_date=iso_after(now, self.settings.payment_lifetime_seconds),
                invoice_id=invoice_id,
            )
            self._payments[payment.payment_id] = payment
            return payment

    def _api_create_payment(self, request: Request) -> Response:
        account = self.authenticate(request)
        body = self.json_body(request)
        _check_fields(body, _PAYMENT_FIELDS)
        price_amount = _amount(body, "price_amount", required=True)
        price_currency = _currency(body, "price_currency", required=True, crypto=False)
        pay_currency = _currency(body, "pay_currency", required=True, crypto=True)
        assert price_amount is not None
        assert price_currency is not None
        assert pay_currency is not None
        pay_amount = _amount(body, "pay_amount", required=False)
        if pay_amount is not None and pay_amount != round(pay_amount, pay_currency.precision):
            raise invalid(f'"pay_amount" must have at most {pay_currency.precision} decimal places')
        payment = self.new_payment(
            account,
            price_amount=price_amount,
            price_currency=price_currency,
            pay_currency=pay_currency,
            pay_amount=pay_amount,
            ipn_callback_url=_url(body, "ipn_callback_url"),
            order_id=_text(body, "order_id"),
            order_description=_text(body, "order_description"),
        )
        with self._lock:
            return self.api_json(201, self._created_view(payment))

    def _created_view(self, payment: Payment) -> Json:
        fields = payment_status_view(payment)
        return {
            "payment_id": str(payment.payment_id),
            "payment_status": payment.status,
            "pay_address": payment.pay_address,
            "price_amount": payment.price_amount,
            "price_currency": payment.price_currency.code,
            "pay_amount": payment.pay_amount,
            "amount_received": fields["outcome_amount"],
            "pay_currency": payment.pay_currency.code,
            "order_id": payment.order_id,
            "order_description": payment.order_description,
            "ipn_callback_url": payment.ipn_callback_url,
            "created_at": fields["created_at"],
            "updated_at": fields["updated_at"],
            "purchase_id": payment.purchase_id,
            "payin_extra_id": payment.payin_extra_id,
            "smart_contract": None,
            "network": payment.pay_currency.network,
            "network_precision": payment.pay_currency.precision,
            "time_limit": None,
            "burning_percent": None,
            "expiration_estimate_date": payment.expiration_estimate_date,
            "is_fixed_rate": False,
            "is_fee_paid_by_user": False,
            "valid_until": payment.expiration_estimate_date,
            "type": "crypto2crypto",
        }

    def _api_get_payment(self, request: Request) -> Response:
        account = self.authenticate(request)
        text = request.params["payment_id"]
        if _DIGITS.fullmatch(text) is None:
            raise invalid('"payment_id" must be a number')
        with self._lock:
            payment = self._payments.get(int(text))
            if payment is None or payment.account_id != account.account_id:
                raise NowPaymentsError(404, PAYMENT_NOT_FOUND, "Payment not found")
            return self.api_json(200, payment_status_view(payment))

    # ----------------------------------------------------------------- invoices

    def _api_create_invoice(self, request: Request) -> Response:
        account = self.authenticate(request)
        body = self.json_body(request)
        _check_fields(body, _INVOICE_FIELDS)
        price_amount = _amount(body, "price_amount", required=True)
        price_currency = _currency(body, "price_currency", required=True, crypto=False)
        assert price_amount is not None
        assert price_currency is not None
        pay_currency = _currency(body, "pay_currency", required=False, crypto=True)
        if pay_currency is not None:
            pay_amount = convert(price_amount, price_currency, pay_currency, up=True)
            self.check_minimum(account, pay_amount, pay_currency)
        with self._lock:
            now = self.clock.now_ms()
            invoice = Invoice(
                invoice_id=numeric_id(),
                account_id=account.account_id,
                price_amount=price_amount,
                price_currency=price_currency,
                pay_currency=pay_currency,
                order_id=_text(body, "order_id"),
                order_description=_text(body, "order_description"),
                ipn_callback_url=_url(body, "ipn_callback_url"),
                success_url=_url(body, "success_url"),
                cancel_url=_url(body, "cancel_url"),
                created_at_ms=now,
            )
            self._invoices[invoice.invoice_id] = invoice
        return self.api_json(
            200,
            {
                "id": str(invoice.invoice_id),
                "order_id": invoice.order_id,
                "order_description": invoice.order_description,
                "price_amount": plain(invoice.price_amount),
                "price_currency": invoice.price_currency.code,
                "pay_currency": pay_currency.code if pay_currency else None,
                "ipn_callback_url": invoice.ipn_callback_url,
                "invoice_url": self.invoice_url(invoice.invoice_id),
                "success_url": invoice.success_url,
                "cancel_url": invoice.cancel_url,
                "created_at": iso_time(now),
                "updated_at": iso_time(now),
                "is_fixed_rate": False,
                "is_fee_paid_by_user": False,
            },
        )

    @staticmethod
    def check_minimum(account: Account, pay_amount: Decimal, pay: Currency) -> Currency:
        """The outcome currency of a payment of ``pay_amount`` in ``pay``, if that is not below
        the pair's minimum (``AMOUNT_MINIMAL_ERROR``)."""
        outcome = currency(account.settings.outcome_currency) or pay
        if pay_amount < min_amount(pay, outcome):
            raise NowPaymentsError(400, AMOUNT_MINIMAL_ERROR, "amountTo is too small")
        return outcome
