"""What happens outside the API (the Dashboard, the cardholder, the bank), for tests and
people: in Python and over ``/_sandbox/...``."""

from __future__ import annotations

import copy

from devstack.sandboxes.kit import Json, Request
from devstack.sandboxes.stripe.errors import StripeApiError, invalid
from devstack.sandboxes.stripe.objects import (
    DISPUTE_REASONS,
    REFUND_REASONS,
    RequestContext,
    random_id,
)
from devstack.sandboxes.stripe.payments import Payments
from devstack.sandboxes.stripe.refunds import Refunds


class Admin(Refunds, Payments):
    """Dashboard refunds, disputes, delayed payments settling; the admin endpoints."""

    def dashboard_refund(
        self, charge_id: str, amount: int | None = None, reason: str | None = None
    ) -> Json:
        """A refund made in the Stripe Dashboard: no API call from the backbone, only webhooks."""
        if reason is not None and reason not in REFUND_REASONS:
            raise invalid("reason", f"Invalid reason: must be one of {sorted(REFUND_REASONS)}")
        if amount is not None and amount < 1:
            raise invalid("amount", "This value must be greater than or equal to 1.")
        with self._lock:
            state = self._owner_of(charge_id, "charge")
            charge = state.get("charge", charge_id)
            batch: list[Json] = []
            context = RequestContext(random_id("req_", 14), None)
            refund = self._refund_charge(state, charge, amount, reason, {}, context, batch)
            self._dispatch(state, batch)
            return copy.deepcopy(refund)

    def dispute_charge(self, charge_id: str, reason: str = "fraudulent") -> Json:
        """The cardholder disputes the charge: ``charge.dispute.created`` with a Dispute object."""
        if reason not in DISPUTE_REASONS:
            raise invalid("reason", f"Invalid reason: must be one of {sorted(DISPUTE_REASONS)}")
        with self._lock:
            state = self._owner_of(charge_id, "charge")
            charge = state.get("charge", charge_id)
            if charge["disputed"]:
                raise StripeApiError(400, f"Charge {charge_id} is already disputed.")
            now = self._now()
            dispute: Json = {
                "id": random_id("dp_"),
                "object": "dispute",
                "amount": charge["amount"],
                "balance_transactions": [],
                "charge": charge_id,
                "created": now,
                "currency": charge["currency"],
                "evidence": {},
                "evidence_details": {
                    "due_by": now + 7 * 24 * 3600,
                    "has_evidence": False,
                    "past_due": False,
                    "submission_count": 0,
                },
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": reason,
                "status": "needs_response",
            }
            state.objects["dispute"][dispute["id"]] = dispute
            charge["disputed"] = True
            batch: list[Json] = []
            self._emit(state, batch, "charge.dispute.created", dispute, None)
            self._dispatch(state, batch)
            return copy.deepcopy(dispute)

    def complete_delayed_payment(self, session_id: str, *, succeeded: bool) -> Json:
        """The delayed payment method of a completed-but-unpaid session settles or fails."""
        with self._lock:
            state = self._owner_of(session_id, "checkout.session")
            session = state.get("checkout.session", session_id)
            extras = state.session_extras[session_id]
            intent = (
                state.objects["payment_intent"].get(extras.payment_intent_id)
                if extras.payment_intent_id
                else None
            )
            if (
                session["status"] != "complete"
                or session["payment_status"] != "unpaid"
                or intent is None
                or intent["status"] != "processing"
            ):
                raise StripeApiError(
                    400,
                    f"Checkout Session {session_id} is not awaiting a delayed payment "
                    f"(status {session['status']}, payment_status {session['payment_status']}).",
                )
            batch: list[Json] = []
            if succeeded:
                charge = self._create_charge(state, intent, session, "us_bank_account")
                self._succeed_intent(intent, charge)
                session["payment_status"] = "paid"
                self._emit(state, batch, "checkout.session.async_payment_succeeded", session, None)
                self._emit(state, batch, "payment_intent.succeeded", intent, None)
                self._emit(state, batch, "charge.succeeded", charge, None)
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "invalid_request_error",
                    "code": "payment_method_provider_decline",
                    "message": "The bank declined the debit.",
                }
                self._emit(state, batch, "checkout.session.async_payment_failed", session, None)
                self._emit(state, batch, "payment_intent.payment_failed", intent, None)
            self._dispatch(state, batch)
            return copy.deepcopy(session)

    # ----------------------------------------------------------------- admin (HTTP)

    def _admin_create_account(self, _request: Request, payload: Json) -> Json:
        key = payload.get("secret_key")
        if key is not None and not isinstance(key, str):
            raise invalid("secret_key", "secret_key must be a string")
        account = self.create_account(key)
        return {"id": account.id, "secret_key": account.secret_key}

    def _admin_add_webhook_endpoint(self, _request: Request, payload: Json) -> Json:
        key, url, events = (
            payload.get("secret_key"),
            payload.get("url"),
            payload.get("enabled_events"),
        )
        if not isinstance(key, str) or not isinstance(url, str):
            raise invalid("url", "secret_key and url are required strings")
        if events is not None and (
            not isinstance(events, list) or not all(isinstance(item, str) for item in events)
        ):
            raise invalid("enabled_events", "enabled_events must be a list of strings")
        return self.add_webhook_endpoint(key, url, events)

    def _admin_clock(self, _request: Request, payload: Json) -> Json:
        seconds = payload.get("advance_seconds", 0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise invalid("advance_seconds", "advance_seconds must be a number >= 0")
        self.advance_clock(seconds)
        return {"now": self._now()}

    def _admin_wait(self, _request: Request, payload: Json) -> Json:
        timeout = payload.get("timeout", 10)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise invalid("timeout", "timeout must be a number >= 0")
        return {"idle": self.wait_for_deliveries(min(float(timeout), 60.0))}

    def _admin_refund(self, request: Request, payload: Json) -> Json:
        charge_id = request.params["id"]
        amount = payload.get("amount")
        if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int)):
            raise invalid("amount", "amount must be an integer")
        reason = payload.get("reason")
        if reason is not None and not isinstance(reason, str):
            raise invalid("reason", "reason must be a string")
        return self.dashboard_refund(charge_id, amount, reason)

    def _admin_dispute(self, request: Request, payload: Json) -> Json:
        charge_id = request.params["id"]
        reason = payload.get("reason", "fraudulent")
        if not isinstance(reason, str):
            raise invalid("reason", "reason must be a string")
        return self.dispute_charge(charge_id, reason)

    def _admin_async_ok(self, request: Request, _payload: Json) -> Json:
        return self.complete_delayed_payment(request.params["id"], succeeded=True)

    def _admin_async_fail(self, request: Request, _payload: Json) -> Json:
        return self.complete_delayed_payment(request.params["id"], succeeded=False)
