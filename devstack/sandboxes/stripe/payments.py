"""PaymentIntents and Charges as a Checkout Session's payment makes them, and session expiry."""

from __future__ import annotations

import time

from devstack.sandboxes.kit import Json
from devstack.sandboxes.stripe.objects import AccountState, RequestContext, SessionExtras, random_id
from devstack.sandboxes.stripe.webhooks import Webhooks


class Payments(Webhooks):
    """What paying a session does to PaymentIntents and Charges (the page and the admin pay)."""

    def _expire_if_due(self, state: AccountState, session: Json, batch: list[Json]) -> None:
        if session["status"] == "open" and self._now() >= int(session["expires_at"]):
            self._expire(state, session, batch, None)

    def _expire(
        self,
        state: AccountState,
        session: Json,
        batch: list[Json],
        context: RequestContext | None,
    ) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._emit(state, batch, "checkout.session.expired", session, context)

    def _customer_details(self, state: AccountState, session: Json) -> Json:
        email = session["customer_email"]
        name = None
        if session["customer"]:
            customer = state.objects["customer"][session["customer"]]
            email, name = customer["email"], customer["name"]
        return {
            "address": None,
            "email": email or "buyer@example.com",
            "name": name,
            "phone": None,
            "tax_exempt": "none",
            "tax_ids": [],
        }

    def _session_intent(self, state: AccountState, session: Json, extras: SessionExtras) -> Json:
        """The session's PaymentIntent: one per session, made at the first payment attempt."""
        if extras.payment_intent_id is not None:
            return state.objects["payment_intent"][extras.payment_intent_id]
        intent_id = random_id("pi_3")
        data = extras.payment_intent_data
        intent: Json = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_capturable": 0,
            "amount_received": 0,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": "automatic_async",
            "client_secret": f"{intent_id}_secret_{random_id('', 25)}",
            "created": self._now(),
            "currency": session["currency"],
            "customer": session["customer"],
            "description": data["description"],
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": dict(data["metadata"]),
            "payment_method": None,
            "payment_method_types": ["card"],
            "receipt_email": data["receipt_email"],
            "statement_descriptor": data["statement_descriptor"],
            "status": "requires_payment_method",
        }
        state.objects["payment_intent"][intent_id] = intent
        extras.payment_intent_id = intent_id
        self._owners[intent_id] = state
        return intent

    def _create_charge(
        self, state: AccountState, intent: Json, session: Json, method_type: str
    ) -> Json:
        charge_id = random_id("ch_3")
        method = intent["payment_method"] or random_id("pm_1")
        details: Json = (
            {
                "type": "card",
                "card": {
                    "brand": "visa",
                    "country": "US",
                    "exp_month": 12,
                    "exp_year": time.gmtime().tm_year + 2,
                    "funding": "credit",
                    "last4": "4242",
                },
            }
            if method_type == "card"
            else {
                "type": method_type,
                method_type: {"bank_name": "STRIPE TEST BANK", "last4": "6789"},
            }
        )
        customer_details = session["customer_details"] or {}
        charge: Json = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"],
            "amount_refunded": 0,
            "balance_transaction": random_id("txn_3"),
            "billing_details": {
                "address": None,
                "email": customer_details.get("email"),
                "name": customer_details.get("name"),
                "phone": None,
            },
            "captured": True,
            "created": self._now(),
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": {
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
            "paid": True,
            "payment_intent": intent["id"],
            "payment_method": method,
            "payment_method_details": details,
            "receipt_email": intent["receipt_email"],
            "receipt_url": None,
            "refunded": False,
            "refunds": {
                "object": "list",
                "data": [],
                "has_more": False,
                "total_count": 0,
                "url": f"/v1/charges/{charge_id}/refunds",
            },
            "status": "succeeded",
        }
        intent["payment_method"] = method
        state.objects["charge"][charge_id] = charge
        state.charge_refunds[charge_id] = []
        self._owners[charge_id] = state
        return charge

    @staticmethod
    def _succeed_intent(intent: Json, charge: Json) -> None:
        intent["status"] = "succeeded"
        intent["amount_received"] = intent["amount"]
        intent["latest_charge"] = charge["id"]
        intent["last_payment_error"] = None
