"""The Daraja sandbox: every part put together, and its routes."""

from __future__ import annotations

from devstack.sandboxes.daraja.admin import Admin
from devstack.sandboxes.daraja.phone import PHONE_ACTIONS, PHONE_PAGE


class DarajaSandbox(Admin):
    """A Safaricom Daraja on 127.0.0.1: OAuth, STK push and query, the virtual phone, callbacks."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.router.add("POST", "/mpesa/stkpush/v1/processrequest", self._api_stk_push)
        self.router.add("POST", "/mpesa/stkpushquery/v1/query", self._api_stk_query)

        self.hosted_page(
            PHONE_PAGE, self._phone_show, self._phone_act, [action for action, _ in PHONE_ACTIONS]
        )

        self.admin("POST", "/_sandbox/apps", self._admin_create_app, status=201)
        self.admin("GET", "/_sandbox/apps", self._admin_list_apps)
        self.admin("GET", "/_sandbox/apps/{consumer_key}", self._admin_get_app)
        self.admin("GET", "/_sandbox/pushes", self._admin_list_pushes)
        self.admin("GET", "/_sandbox/pushes/{id}", self._admin_get_push)
        self.admin_switches("/_sandbox/settings", lambda: self.settings)
        self.admin_switches("/_sandbox/chaos", lambda: self.chaos)
        self.admin("POST", "/_sandbox/wait_for_callbacks", self._admin_wait)
