"""The hosted invoice page, ``GET /invoice/{id}`` (an invoice's ``invoice_url``), and what the
customer does on it:

- while no currency is chosen, one button per currency the invoice can be paid in (its
  ``pay_currency`` alone when it named one; those below the pair's minimum are listed without a
  button): choosing one creates the invoice's payment (``invoice_id`` and ``order_id`` linked,
  the invoice's ``ipn_callback_url``), waiting, and the page shows its address and amount;
- then, while the payment waits: ``pay`` (paid in full: confirming, confirmed, sending,
  finished, one IPN each) redirects to ``success_url``; ``pay_partially`` (half the amount:
  confirming, partially_paid) and ``expire`` (nothing sent: expired) redirect to ``cancel_url``.
  Without those URLs the page redirects (303) back to itself.

A button that no longer applies (a second currency, paying a payment that is not waiting, a
currency below the minimum) answers 409 with the page.
"""

from __future__ import annotations

from devstack.http_server import Response
from devstack.sandboxes.kit.pages import action_forms, escape, html_response, page, redirect
from devstack.sandboxes.nowpayments.api import INVOICE_PAGE, Api
from devstack.sandboxes.nowpayments.errors import NowPaymentsError
from devstack.sandboxes.nowpayments.market import CRYPTO, CRYPTO_CODES, Currency, convert
from devstack.sandboxes.nowpayments.objects import (
    EXPIRED,
    FINISHED,
    PARTIALLY_PAID,
    WAITING,
    Invoice,
    plain,
)

PAYMENT_ACTIONS = (
    ("pay", "Pay in full"),
    ("pay_partially", "Pay half"),
    ("expire", "Let it expire"),
)
INVOICE_ACTIONS = (*CRYPTO_CODES, *(action for action, _ in PAYMENT_ACTIONS))
_OUTCOMES = {"pay": FINISHED, "pay_partially": PARTIALLY_PAID, "expire": EXPIRED}
_NOT_FOUND = page("NOWPayments", "<p>No such invoice.</p>")


class InvoicePage(Api):
    """The invoice page of each invoice and its buttons."""

    def _invoice_show(self, invoice_id: str) -> Response:
        with self._lock:
            invoice = self._invoice(invoice_id)
            if invoice is None:
                return html_response(404, _NOT_FOUND)
            return html_response(200, self._invoice_page(invoice))

    def _invoice_act(self, invoice_id: str, action: str) -> Response:
        with self._lock:
            invoice = self._invoice(invoice_id)
            if invoice is None:
                return html_response(404, _NOT_FOUND)
            if action in _OUTCOMES:
                return self._pay(invoice, action)
            return self._choose(invoice, action)

    def _invoice(self, invoice_id: str) -> Invoice | None:
        return self._invoices.get(int(invoice_id)) if invoice_id.isdigit() else None

    def _choices(self, invoice: Invoice) -> list[tuple[Currency, bool]]:
        """The currencies the invoice may be paid in, each with whether it is above minimum."""
        account = self._accounts[invoice.account_id]
        offered = [invoice.pay_currency] if invoice.pay_currency else list(CRYPTO)
        choices = []
        for pay in offered:
            amount = convert(invoice.price_amount, invoice.price_currency, pay, up=True)
            try:
                self.check_minimum(account, amount, pay)
            except NowPaymentsError:
                choices.append((pay, False))
            else:
                choices.append((pay, True))
        return choices

    def _choose(self, invoice: Invoice, code: str) -> Response:
        allowed = {pay.code for pay, payable in self._choices(invoice) if payable}
        if invoice.payment_id is not None or code not in allowed:
            return html_response(409, self._invoice_page(invoice))
        pay = next(item for item in CRYPTO if item.code == code)
        payment = self.new_payment(
            self._accounts[invoice.account_id],
            price_amount=invoice.price_amount,
            price_currency=invoice.price_currency,
            pay_currency=pay,
            order_id=invoice.order_id,
            order_description=invoice.order_description,
            ipn_callback_url=invoice.ipn_callback_url,
            invoice_id=invoice.invoice_id,
        )
        invoice.payment_id = payment.payment_id
        return redirect(f"{INVOICE_PAGE}/{invoice.invoice_id}")

    def _pay(self, invoice: Invoice, action: str) -> Response:
        payment = self._payments.get(invoice.payment_id) if invoice.payment_id else None
        if payment is None or payment.status != WAITING:
            return html_response(409, self._invoice_page(invoice))
        self.advance(payment.payment_id, _OUTCOMES[action])
        target = invoice.success_url if action == "pay" else invoice.cancel_url
        return redirect(target or f"{INVOICE_PAGE}/{invoice.invoice_id}")

    def _invoice_page(self, invoice: Invoice) -> str:
        price = f"{plain(invoice.price_amount)} {invoice.price_currency.code.upper()}"
        description = invoice.order_description or invoice.order_id or ""
        payment = self._payments.get(invoice.payment_id) if invoice.payment_id else None
        if payment is None:
            buttons = action_forms(
                INVOICE_PAGE,
                str(invoice.invoice_id),
                [
                    (pay.code, f"Pay with {pay.name}")
                    for pay, payable in self._choices(invoice)
                    if payable
                ],
            )
            below = ", ".join(pay.code for pay, payable in self._choices(invoice) if not payable)
            note = f'<p id="below-minimum">Below the minimum: {escape(below)}</p>' if below else ""
            detail = f"<p>Choose a currency.</p>{buttons}{note}"
        else:
            amount = f"{plain(payment.pay_amount)} {payment.pay_currency.code.upper()}"
            extra = payment.payin_extra_id
            memo = (
                f'<p>Memo / tag: <code id="payin-extra-id">{escape(extra)}</code></p>'
                if extra
                else ""
            )
            buttons = (
                action_forms(INVOICE_PAGE, str(invoice.invoice_id), PAYMENT_ACTIONS)
                if payment.status == WAITING
                else ""
            )
            detail = (
                f'<p>Send <strong id="pay-amount">{escape(amount)}</strong> to '
                f'<code id="pay-address">{escape(payment.pay_address)}</code></p>{memo}'
                f'<p>Payment <span id="payment-id">{payment.payment_id}</span>: '
                f'<span id="status">{escape(payment.status)}</span></p>{buttons}'
            )
        return page(
            f"Invoice {invoice.invoice_id} · {price}",
            (
                f'<header><strong>NOWPayments</strong> <span class="badge">SANDBOX</span></header>'
                f'<p class="amount" id="amount">{escape(price)}</p>'
                f'<p id="description">{escape(description)}</p>{detail}'
            ),
        )
