"""The NOWPayments sandbox: every part put together, and its routes."""

from __future__ import annotations

from devstack.sandboxes.nowpayments.admin import Admin
from devstack.sandboxes.nowpayments.api import INVOICE_PAGE
from devstack.sandboxes.nowpayments.invoice import INVOICE_ACTIONS


class NowPaymentsSandbox(Admin):
    """A NOWPayments on 127.0.0.1: currencies, estimates, payments, invoices, signed IPNs."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.router.add("GET", "/v1/status", self._api_status)
        self.router.add("GET", "/v1/currencies", self._api_currencies)
        self.router.add("GET", "/v1/full-currencies", self._api_full_currencies)
        self.router.add("GET", "/v1/estimate", self._api_estimate)
        self.router.add("GET", "/v1/min-amount", self._api_min_amount)
        self.router.add("POST", "/v1/payment", self._api_create_payment)
        self.router.add("GET", "/v1/payment/{payment_id}", self._api_get_payment)
        self.router.add("POST", "/v1/invoice", self._api_create_invoice)

        self.hosted_page(INVOICE_PAGE, self._invoice_show, self._invoice_act, INVOICE_ACTIONS)

        self.admin("POST", "/_sandbox/accounts", self._admin_create_account, status=201)
        self.admin("GET", "/_sandbox/accounts", self._admin_list_accounts)
        self.admin("GET", "/_sandbox/accounts/{account_id}", self._admin_get_account)
        self.admin_switches_of("/_sandbox/accounts/{account_id}/settings", self._account_settings)
        self.admin_switches_of("/_sandbox/accounts/{account_id}/chaos", self._account_chaos)
        self.admin_switches("/_sandbox/settings", lambda: self.settings)
        self.admin("GET", "/_sandbox/payments", self._admin_list_payments)
        self.admin("GET", "/_sandbox/payments/{payment_id}", self._admin_get_payment)
        self.admin("POST", "/_sandbox/payments/{payment_id}/advance", self._admin_advance)
        self.admin("GET", "/_sandbox/invoices/{invoice_id}", self._admin_get_invoice)
        self.admin("POST", "/_sandbox/wait_for_ipns", self._admin_wait)
