"""The sandbox's own endpoints (no authentication, loopback only), for tests and people:

- ``POST /_sandbox/accounts`` ``{"outcome_currency"?, "service_fee_percent"?,
  "ipn_callback_url"?}`` -> 201 ``{"account_id", "api_key", "ipn_secret", "settings"}``: the
  credentials are generated and shown this once;
- ``GET /_sandbox/accounts`` -> ``{"data": [...]}`` and ``GET /_sandbox/accounts/{account_id}``:
  each account's settings and chaos, never its API key or IPN secret;
- ``GET|POST /_sandbox/accounts/{account_id}/settings`` and ``.../chaos`` (each with
  ``POST .../reset``): the account's settings and chaos switches (``AccountSettings``,
  ``ChaosSettings``), and ``GET|POST /_sandbox/settings`` (IPN source address, payment
  lifetime);
- ``GET /_sandbox/payments[?account_id=]`` -> ``{"data": [...]}`` and
  ``GET /_sandbox/payments/{payment_id}``: each payment's state (amounts as decimal strings)
  with the IPNs sent so far (status, the body text, signature and its form, forged, delivered);
- ``POST /_sandbox/payments/{payment_id}/advance`` ``{"status", "actually_paid"?}`` (a decimal
  string or number): moves the payment (see :meth:`Ipns.advance`), answers the payment;
- ``GET /_sandbox/invoices/{invoice_id}``: the invoice and its payment id;
- ``POST /_sandbox/wait_for_ipns`` ``{"timeout": 10}`` -> ``{"idle": true|false}``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from devstack.sandboxes.kit import Json, Request, SwitchError
from devstack.sandboxes.nowpayments.errors import NOT_FOUND, NowPaymentsError, invalid
from devstack.sandboxes.nowpayments.invoice import InvoicePage
from devstack.sandboxes.nowpayments.ipns import payment_fields
from devstack.sandboxes.nowpayments.objects import (
    AccountSettings,
    ChaosSettings,
    Payment,
    iso_time,
    plain,
)


def _strings(value: object) -> object:
    """A view with its amounts as decimal strings (the admin answers are plain JSON)."""
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, dict):
        return {key: _strings(item) for key, item in value.items()}
    return value


class Admin(InvoicePage):
    """Accounts, payments and their IPNs, moving payments, waiting for IPNs."""

    def payment_view(self, payment: Payment) -> Json:
        view = _strings(payment_fields(payment))
        assert isinstance(view, dict)
        return {
            **view,
            "account_id": payment.account_id,
            "ipn_callback_url": payment.ipn_callback_url,
            "created_at": iso_time(payment.created_at_ms),
            "updated_at": iso_time(payment.updated_at_ms),
            "updated_at_ms": payment.updated_at_ms,
            "ipns": [ipn.view() for ipn in payment.ipns],
        }

    def payments(self, account_id: str | None = None) -> list[Json]:
        """Every payment (one account's when ``account_id`` is given), oldest first."""
        with self._lock:
            return [
                self.payment_view(payment)
                for payment in self._payments.values()
                if account_id is None or payment.account_id == account_id
            ]

    def payment(self, payment_id: int | str) -> Json:
        with self._lock:
            return self.payment_view(self._payment(str(payment_id)))

    def invoice_payment_id(self, invoice_id: int | str) -> int | None:
        """The id of the payment made for an invoice (None until a currency is chosen)."""
        with self._lock:
            invoice = self._invoice(str(invoice_id))
            if invoice is None:
                raise KeyError(invoice_id)
            return invoice.payment_id

    def _payment(self, payment_id: str) -> Payment:
        found = self._payments.get(int(payment_id)) if payment_id.isdigit() else None
        if found is None:
            raise NowPaymentsError(404, NOT_FOUND, f"No such payment: {payment_id}")
        return found

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_create_account(self, _request: Request, payload: Json) -> Json:
        try:
            account = self.create_account(payload)
        except SwitchError as exc:
            raise invalid(f"{exc.name}: {exc.message}") from None
        return account.credentials()

    def _admin_list_accounts(self, _request: Request, _payload: Json) -> Json:
        return {"data": [account.public() for account in self.accounts()]}

    def _admin_get_account(self, request: Request, _payload: Json) -> Json:
        return self.account(request.params["account_id"]).public()

    def _account_settings(self, request: Request) -> AccountSettings:
        return self.account(request.params["account_id"]).settings

    def _account_chaos(self, request: Request) -> ChaosSettings:
        return self.account(request.params["account_id"]).chaos

    def _admin_list_payments(self, request: Request, _payload: Json) -> Json:
        return {"data": self.payments(request.query_value("account_id"))}

    def _admin_get_payment(self, request: Request, _payload: Json) -> Json:
        return self.payment(request.params["payment_id"])

    def _admin_advance(self, request: Request, payload: Json) -> Json:
        status = payload.get("status")
        if not isinstance(status, str):
            raise invalid('"status" is required')
        paid = payload.get("actually_paid")
        try:
            actually_paid = None if paid is None else Decimal(str(paid))
        except InvalidOperation:
            raise invalid('"actually_paid" must be a decimal') from None
        if isinstance(paid, bool) or (actually_paid is not None and not actually_paid.is_finite()):
            raise invalid('"actually_paid" must be a decimal')
        with self._lock:
            payment = self._payment(request.params["payment_id"])
            self.advance(payment.payment_id, status, actually_paid)
            return self.payment_view(payment)

    def _admin_get_invoice(self, request: Request, _payload: Json) -> Json:
        with self._lock:
            invoice = self._invoice(request.params["invoice_id"])
            if invoice is None:
                raise NowPaymentsError(404, NOT_FOUND, "No such invoice")
            return {
                "id": str(invoice.invoice_id),
                "account_id": invoice.account_id,
                "invoice_url": self.invoice_url(invoice.invoice_id),
                "price_amount": plain(invoice.price_amount),
                "price_currency": invoice.price_currency.code,
                "pay_currency": invoice.pay_currency.code if invoice.pay_currency else None,
                "order_id": invoice.order_id,
                "payment_id": invoice.payment_id,
            }

    def _admin_wait(self, _request: Request, payload: Json) -> Json:
        timeout = payload.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise invalid('"timeout" must be a number >= 0')
        return {"idle": self.wait_for_ipns(min(float(timeout), 60.0))}
