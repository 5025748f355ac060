"""The Stripe sandbox: every part put together, and its routes."""

from __future__ import annotations

from devstack.sandboxes.stripe.admin import Admin
from devstack.sandboxes.stripe.balance import Balance
from devstack.sandboxes.stripe.checkout import Checkout
from devstack.sandboxes.stripe.customers import Customers
from devstack.sandboxes.stripe.pages import PAGE_ACTIONS, HostedCheckout


class StripeSandbox(Admin, HostedCheckout, Checkout, Customers, Balance):
    """A Stripe on 127.0.0.1 for the official SDK, the hosted Checkout page and signed webhooks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        api = self.api
        api.add("GET", "/v1/balance", self._api_retrieve_balance)
        api.add("POST", "/v1/customers", self._api_create_customer)
        api.add("GET", "/v1/customers", self._api_list_customers)
        api.add("GET", "/v1/customers/{id}", self._retriever("customer"))
        api.add("POST", "/v1/customers/{id}", self._api_update_customer)
        api.add("POST", "/v1/checkout/sessions", self._api_create_session)
        api.add("GET", "/v1/checkout/sessions", self._api_list_sessions)
        api.add("GET", "/v1/checkout/sessions/{id}", self._api_retrieve_session)
        api.add("POST", "/v1/checkout/sessions/{id}/expire", self._api_expire_session)
        api.add("GET", "/v1/checkout/sessions/{id}/line_items", self._api_line_items)
        api.add("GET", "/v1/payment_intents/{id}", self._retriever("payment_intent"))
        api.add("GET", "/v1/charges/{id}", self._retriever("charge"))
        api.add("GET", "/v1/disputes/{id}", self._retriever("dispute"))
        api.add("POST", "/v1/refunds", self._api_create_refund)
        api.add("GET", "/v1/refunds", self._api_list_refunds)
        api.add("GET", "/v1/refunds/{id}", self._retriever("refund"))
        api.add("GET", "/v1/events", self._api_list_events)
        api.add("GET", "/v1/events/{id}", self._retriever("event"))
        api.add("POST", "/v1/webhook_endpoints", self._api_create_webhook_endpoint)
        api.add("GET", "/v1/webhook_endpoints", self._api_list_webhook_endpoints)
        api.add("GET", "/v1/webhook_endpoints/{id}", self._retriever("webhook_endpoint"))
        api.add("DELETE", "/v1/webhook_endpoints/{id}", self._api_delete_webhook_endpoint)

        self.hosted_page(
            "/pay", self._page_show, self._page_action, [action for action, _ in PAGE_ACTIONS]
        )

        self.admin("POST", "/_sandbox/accounts", self._admin_create_account)
        self.admin("POST", "/_sandbox/webhook_endpoints", self._admin_add_webhook_endpoint)
        self.admin_switches("/_sandbox/chaos", lambda: self.chaos)
        self.admin("POST", "/_sandbox/clock", self._admin_clock)
        self.admin("POST", "/_sandbox/wait_for_deliveries", self._admin_wait)
        self.admin("POST", "/_sandbox/charges/{id}/refund", self._admin_refund)
        self.admin("POST", "/_sandbox/charges/{id}/dispute", self._admin_dispute)
        sessions = "/_sandbox/checkout/sessions/{id}"
        self.admin("POST", f"{sessions}/async_succeed", self._admin_async_ok)
        self.admin("POST", f"{sessions}/async_fail", self._admin_async_fail)
