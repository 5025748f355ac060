"""The account's balance (``GET /v1/balance``): what its paid charges left after refunds."""

from __future__ import annotations

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.core import StripeCore
from devstack.sandboxes.stripe.objects import ApiCall


class Balance(StripeCore):
    def _api_retrieve_balance(self, call: ApiCall) -> Json:
        call.params.reject_unknown({"expand"})
        with self._lock:
            totals: dict[str, int] = {}
            for charge in call.state.objects["charge"].values():
                if charge.get("paid"):
                    kept = int(charge["amount_captured"]) - int(charge["amount_refunded"])
                    totals[charge["currency"]] = totals.get(charge["currency"], 0) + kept
        # An account without charges shows its default currency at zero, as Stripe does.
        available = [
            {"amount": amount, "currency": currency, "source_types": {"card": amount}}
            for currency, amount in sorted((totals or {"usd": 0}).items())
        ]
        pending = [{**entry, "amount": 0, "source_types": {"card": 0}} for entry in available]
        return {"object": "balance", "available": available, "livemode": False, "pending": pending}
