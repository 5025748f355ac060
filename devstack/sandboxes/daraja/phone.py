"""The virtual phone: ``GET /_sandbox/phone/{CheckoutRequestID}`` shows the M-PESA prompt of a
pending push, and its buttons are what the customer does on the handset:

- ``pay``: enters the right PIN (ResultCode 0, with an MpesaReceiptNumber);
- ``cancel``: dismisses the prompt (1032);
- ``wrong_pin``: enters a wrong PIN (2001);
- ``insufficient_funds``: has too little on M-PESA (1);
- ``no_answer``: ignores the prompt; it times out (1037) after
  ``settings.no_answer_delay_seconds``, and until then the push is still being processed.

Each button redirects (303) back to the page, which then shows how the push ended; a button on
a push that is no longer waiting for the customer answers 409.
"""

from __future__ import annotations

from devstack.http_server import Response
from devstack.sandboxes.daraja.objects import (
    RESULT_CANCELLED,
    RESULT_INSUFFICIENT_FUNDS,
    RESULT_SUCCESS,
    RESULT_UNREACHABLE,
    RESULT_WRONG_PIN,
    Push,
)
from devstack.sandboxes.daraja.stk import Stk
from devstack.sandboxes.kit.pages import action_forms, escape, html_response, page, redirect

PHONE_PAGE = "/_sandbox/phone"
PHONE_ACTIONS = (
    ("pay", "Enter PIN and pay"),
    ("cancel", "Cancel"),
    ("wrong_pin", "Enter a wrong PIN"),
    ("insufficient_funds", "Pay without enough funds"),
    ("no_answer", "Do not answer"),
)
_OUTCOMES = {
    "pay": RESULT_SUCCESS,
    "cancel": RESULT_CANCELLED,
    "wrong_pin": RESULT_WRONG_PIN,
    "insufficient_funds": RESULT_INSUFFICIENT_FUNDS,
}


class Phone(Stk):
    """The virtual phone page of each push and its buttons."""

    def phone_url(self, checkout_request_id: str) -> str:
        return f"{self.base_url}{PHONE_PAGE}/{checkout_request_id}"

    def press(self, checkout_request_id: str, action: str) -> Push:
        """What a button does, for Python callers: ``KeyError`` for an unknown push,
        ``ValueError`` for an unknown action or a push that no longer waits for the customer."""
        if action not in _OUTCOMES and action != "no_answer":
            raise ValueError(f"unknown phone action: {action}")
        with self._lock:
            push = self._pushes[checkout_request_id]
            if push.status != "pending":
                raise ValueError(f"push {checkout_request_id} is {push.status}")
            if action == "no_answer":
                push.status = "no_answer"
                self._outbox.later(
                    self.settings.no_answer_delay_seconds, lambda: self._time_out(push)
                )
            else:
                self._complete(push, _OUTCOMES[action])
            return push

    def _time_out(self, push: Push) -> None:
        with self._lock:
            if push.status == "no_answer":
                self._complete(push, RESULT_UNREACHABLE)

    def _phone_show(self, checkout_request_id: str) -> Response:
        with self._lock:
            push = self._pushes.get(checkout_request_id)
            if push is None:
                return html_response(404, _not_found())
            return html_response(200, self._phone_page(push))

    def _phone_act(self, checkout_request_id: str, action: str) -> Response:
        try:
            self.press(checkout_request_id, action)
        except KeyError:
            return html_response(404, _not_found())
        except ValueError:
            with self._lock:
                return html_response(409, self._phone_page(self._pushes[checkout_request_id]))
        return redirect(f"{PHONE_PAGE}/{checkout_request_id}")

    def _phone_page(self, push: Push) -> str:
        amount = f"Ksh{push.amount:,}.00"
        prompt = (
            f"Do you want to pay {amount} to {push.party_b} "
            f"account no. {push.account_reference}? Enter M-PESA PIN."
        )
        if push.status == "pending":
            state = "waiting for the customer"
            actions = action_forms(PHONE_PAGE, push.checkout_request_id, PHONE_ACTIONS)
        elif push.status == "no_answer":
            state = "not answered: timing out"
            actions = ""
        else:
            state = f"ResultCode {push.result_code}: {push.result_desc}"
            if push.receipt:
                state += f" (receipt {push.receipt})"
            actions = ""
        return page(
            f"M-PESA · {push.phone_number}",
            (
                f"<header><strong>Phone {escape(push.phone_number)}</strong> "
                f'<span class="badge">SANDBOX</span></header>'
                f'<p class="amount" id="amount">{escape(amount)}</p>'
                f'<p id="prompt">{escape(prompt)}</p>'
                f'<p>Status: <span id="status">{escape(state)}</span></p>{actions}'
            ),
        )


def _not_found() -> str:
    return page("M-PESA", "<p>No such STK push.</p>")
