"""The hosted Checkout page: a person (or a test) pays, pays with a delayed method, or declines."""

from __future__ import annotations

from devstack.http_server import Response
from devstack.sandboxes.kit import Json
from devstack.sandboxes.kit.pages import (
    action_forms,
    escape,
    html_response,
    message_page,
    page,
    redirect,
)
from devstack.sandboxes.stripe.objects import AccountState, format_amount, random_id
from devstack.sandboxes.stripe.payments import Payments

PAGE_ACTIONS = (
    ("pay", "Pay"),
    ("pay_delayed", "Pay later (delayed method)"),
    ("decline", "Decline"),
)

_NOT_FOUND = message_page("Stripe sandbox", "Checkout Session not found.")


class HostedCheckout(Payments):
    """``GET /pay/{id}`` and its buttons, ``POST /pay/{id}/{pay|pay_delayed|decline}``."""

    def _session_for_page(self, session_id: str) -> tuple[AccountState, Json, list[Json]] | None:
        """The session, its account, and the events of its expiry if it is due (to dispatch)."""
        state = self._owners.get(session_id)
        if state is None:
            return None
        session = state.objects["checkout.session"][session_id]
        batch: list[Json] = []
        self._expire_if_due(state, session, batch)
        return state, session, batch

    def _page_show(self, session_id: str) -> Response:
        with self._lock:
            found = self._session_for_page(session_id)
            if found is None:
                return html_response(404, _NOT_FOUND)
            state, session, batch = found
            self._dispatch(state, batch)
            return html_response(200, self._checkout_page(state, session))

    def _page_action(self, session_id: str, action: str) -> Response:
        with self._lock:
            found = self._session_for_page(session_id)
            if found is None:
                return html_response(404, _NOT_FOUND)
            state, session, batch = found
            if session["status"] != "open":
                self._dispatch(state, batch)
                return html_response(409, self._checkout_page(state, session))
            extras = state.session_extras[session_id]
            intent = self._session_intent(state, session, extras)
            if action == "decline":
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "card_error",
                    "code": "card_declined",
                    "decline_code": "generic_decline",
                    "message": "Your card was declined.",
                }
                self._emit(state, batch, "payment_intent.payment_failed", intent, None)
                self._dispatch(state, batch)
                return redirect(session["cancel_url"] or f"{self.base_url}/pay/{session_id}")
            session["status"] = "complete"
            session["url"] = None
            session["payment_intent"] = intent["id"]
            session["customer_details"] = self._customer_details(state, session)
            intent["last_payment_error"] = None
            if action == "pay":
                charge = self._create_charge(state, intent, session, "card")
                self._succeed_intent(intent, charge)
                session["payment_status"] = "paid"
                self._emit(state, batch, "checkout.session.completed", session, None)
                self._emit(state, batch, "payment_intent.succeeded", intent, None)
                self._emit(state, batch, "charge.succeeded", charge, None)
            else:
                intent["status"] = "processing"
                intent["payment_method"] = random_id("pm_1")
                self._emit(state, batch, "checkout.session.completed", session, None)
                self._emit(state, batch, "payment_intent.processing", intent, None)
            self._dispatch(state, batch)
            success_url = str(session["success_url"])
            return redirect(success_url.replace("{CHECKOUT_SESSION_ID}", session_id))

    def _checkout_page(self, state: AccountState, session: Json) -> str:
        currency = str(session["currency"])
        extras = state.session_extras[session["id"]]
        rows = "".join(
            f"<li>{escape(str(item['description']))} &times; {int(item['quantity'])}"
            f' <span class="price">{escape(format_amount(item["amount_total"], currency))}'
            "</span></li>"
            for item in extras.line_items
        )
        if session["status"] == "open":
            actions = action_forms("/pay", str(session["id"]), PAGE_ACTIONS)
        else:
            actions = (
                f'<p class="state">This Checkout Session is {escape(str(session["status"]))}'
                f" (payment {escape(str(session['payment_status']))}).</p>"
            )
        email = session["customer_email"] or (session["customer_details"] or {}).get("email")
        buyer = f"<p>Paying as {escape(str(email))}</p>" if email else ""
        merchant_text = f"Sandbox merchant · {state.account.id}"
        amount_text = format_amount(int(session["amount_total"]), currency)
        merchant, amount = escape(merchant_text), escape(amount_text)
        return page(
            f"Pay {amount_text} · {merchant_text}",
            (
                f'<header><strong>{merchant}</strong> <span class="badge">TEST MODE</span>'
                f'</header><p class="amount" id="amount">{amount}</p><ul>{rows}</ul>{buyer}'
                f'<p>Status: <span id="status">{escape(str(session["status"]))}</span>'
                f' · payment: <span id="payment-status">'
                f"{escape(str(session['payment_status']))}</span></p>{actions}"
            ),
        )
