"""The NEO Bank sandbox: every part put together, and its routes."""

from __future__ import annotations

from devstack.sandboxes.neobank.admin import Admin


class NeoBankSandbox(Admin):
    """A NEO Bank on 127.0.0.1: signed requests checked with each client's registered RSA key,
    registrations (CPRNs), payments (TXNs) and webhooks signed with the bank's own key."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.api.add("GET", "/v1/account", self._api_account)
        self.api.add("POST", "/v1/registrations", self._api_create_registration)
        self.api.add("GET", "/v1/registrations/{cprn}", self._api_get_registration)
        self.api.add("POST", "/v1/payments", self._api_create_payment)
        self.api.add("GET", "/v1/payments/{tx_id}", self._api_get_payment)

        self.admin("POST", "/_sandbox/clients", self._admin_create_client, status=201)
        self.admin("GET", "/_sandbox/clients", self._admin_list_clients)
        self.admin("GET", "/_sandbox/clients/{client_id}", self._admin_get_client)
        self.admin("PUT", "/_sandbox/clients/{client_id}/public-key", self._admin_put_public_key)
        self.admin("PUT", "/_sandbox/clients/{client_id}/webhook-url", self._admin_put_webhook_url)
        self.admin_switches_of("/_sandbox/clients/{client_id}/settings", self._client_settings)
        self.admin_switches_of("/_sandbox/clients/{client_id}/chaos", self._client_chaos)
        self.admin_switches("/_sandbox/settings", lambda: self.settings)
        self.admin("GET", "/_sandbox/bank-key", self._admin_bank_key)
        self.admin("GET", "/_sandbox/registrations", self._admin_list_registrations)
        self.admin("GET", "/_sandbox/registrations/{cprn}", self._admin_get_registration)
        self.admin("POST", "/_sandbox/registrations/{cprn}/status", self._admin_decide_registration)
        self.admin("GET", "/_sandbox/payments", self._admin_list_payments)
        self.admin("GET", "/_sandbox/payments/{tx_id}", self._admin_get_payment)
        self.admin("POST", "/_sandbox/payments/{tx_id}/status", self._admin_move_payment)
        self.admin("GET", "/_sandbox/requests", self._admin_requests)
        self.admin_wait("/_sandbox/wait_for_webhooks", self.wait_for_webhooks)
