"""The Customers API: create, update, list (retrieve is the core's)."""

from __future__ import annotations

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.objects import ApiCall, random_id
from devstack.sandboxes.stripe.webhooks import Webhooks

# Real Stripe parameters that change nothing the sandbox models: accepted and ignored.
CUSTOMER_IGNORED_PARAMS = frozenset(
    {
        "address",
        "balance",
        "invoice_prefix",
        "invoice_settings",
        "preferred_locales",
        "shipping",
        "tax",
        "tax_exempt",
        "validate",
    }
)


class Customers(Webhooks):
    """``/v1/customers``, with ``customer.created`` and ``customer.updated`` events."""

    def _api_create_customer(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "name", "phone", "description", "metadata", "expand"},
            CUSTOMER_IGNORED_PARAMS,
        )
        customer: Json = {
            "id": random_id("cus_", 14),
            "object": "customer",
            "address": None,
            "balance": 0,
            "created": self._now(),
            "currency": None,
            "delinquent": False,
            "description": params.string("description", max_length=350),
            "email": params.email("email"),
            "invoice_prefix": random_id("", 8).upper(),
            "livemode": False,
            "metadata": params.metadata(),
            "name": params.string("name", max_length=256),
            "phone": params.string("phone", max_length=20),
            "preferred_locales": [],
            "tax_exempt": "none",
        }
        batch: list[Json] = []
        with self._lock:
            call.state.objects["customer"][customer["id"]] = customer
            self._emit(call.state, batch, "customer.created", customer, call.context)
            self._dispatch(call.state, batch)
            return self._render(call.state, customer, call.expand)

    def _api_update_customer(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "name", "phone", "description", "metadata", "expand"},
            CUSTOMER_IGNORED_PARAMS,
        )
        with self._lock:
            customer = call.state.get("customer", call.path_id)
            previous: Json = {}
            changes: Json = {}
            if "email" in params.data:
                changes["email"] = params.email("email")
            if "name" in params.data:
                changes["name"] = params.string("name", max_length=256)
            if "phone" in params.data:
                changes["phone"] = params.string("phone", max_length=20)
            if "description" in params.data:
                changes["description"] = params.string("description", max_length=350)
            if "metadata" in params.data:
                params.metadata()  # the limits apply to what is sent
                updates = params.data["metadata"] or {}
                merged = {**customer["metadata"], **updates} if updates else {}
                changes["metadata"] = {key: value for key, value in merged.items() if value}
            for name, value in changes.items():
                if customer[name] != value:
                    previous[name] = customer[name]
                    customer[name] = value
            if previous:
                batch: list[Json] = []
                self._emit(call.state, batch, "customer.updated", customer, call.context, previous)
                self._dispatch(call.state, batch)
            return self._render(call.state, customer, call.expand)

    def _api_list_customers(self, call: ApiCall) -> Json:
        params = call.params
        params.reject_unknown(
            {"email", "limit", "starting_after", "ending_before", "created", "expand"},
            {"test_clock"},
        )
        email = params.string("email", max_length=512)
        created = self._created_filter(params)
        with self._lock:
            customers = [
                customer
                for customer in call.state.objects["customer"].values()
                if (email is None or customer["email"] == email) and created(customer)
            ]
            return self._page(call, customers, "/v1/customers")
