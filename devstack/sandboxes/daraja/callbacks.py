"""How a push ends, and its callback to ``CallBackURL`` in Daraja's exact body shape.

Daraja's callbacks are unsigned and sent once (no retries: a receiver that is down loses it, as
with Daraja, and must ask STK query). They come from ``settings.callback_source_address`` when it
is set, so a receiver's source allow-list can be exercised. Chaos may duplicate them, make them
late, drop them or change the Amount they carry; the push's own result (what STK query answers)
is never changed by chaos.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit

from devstack.sandboxes.daraja.core import DarajaCore
from devstack.sandboxes.daraja.objects import (
    RESULT_DESCRIPTIONS,
    RESULT_SUCCESS,
    Push,
    nairobi_timestamp,
    receipt_number,
)
from devstack.sandboxes.kit import Delivery, Json, Outbox

logger = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 10.0
_CALLBACK_HEADERS = {"Content-Type": "application/json"}


def callback_body(push: Push, *, amount_offset: int = 0) -> Json:
    """``{"Body": {"stkCallback": ...}}`` of a finished push; metadata only on success."""
    assert push.result_code is not None, "only a finished push has a callback"
    callback: Json = {
        "MerchantRequestID": push.merchant_request_id,
        "CheckoutRequestID": push.checkout_request_id,
        "ResultCode": push.result_code,
        "ResultDesc": push.result_desc,
    }
    if push.result_code == RESULT_SUCCESS:
        assert push.receipt is not None
        assert push.transaction_date is not None
        callback["CallbackMetadata"] = {
            "Item": [
                # Daraja writes the amount as a JSON number with a decimal point (1.0); whole
                # shillings up to 250,000 are exact as binary floats.
                {"Name": "Amount", "Value": float(push.amount + amount_offset)},
                {"Name": "MpesaReceiptNumber", "Value": push.receipt},
                {"Name": "TransactionDate", "Value": int(push.transaction_date)},
                {"Name": "PhoneNumber", "Value": int(push.phone_number)},
            ]
        }
    return {"Body": {"stkCallback": callback}}


class Callbacks(DarajaCore):
    """Finishing pushes and sending their callbacks through the kit's outbox."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._outbox: Outbox[str] = Outbox(
            "daraja-sandbox-callbacks", self._callback_finished, timeout=CALLBACK_TIMEOUT_SECONDS
        )

    def on_stop(self) -> None:
        self._outbox.stop()

    def wait_for_callbacks(self, timeout: float = 10) -> bool:
        """True once no callback is queued, late or in flight, and no "no answer" is pending."""
        return self._outbox.wait_idle(timeout)

    def _complete(self, push: Push, result_code: int) -> None:
        """End ``push`` with ``result_code`` and send its callback (call under the lock)."""
        push.status = "completed"
        push.result_code = result_code
        push.result_desc = RESULT_DESCRIPTIONS[result_code]
        if result_code == RESULT_SUCCESS:
            push.receipt = receipt_number()
            push.transaction_date = nairobi_timestamp()
        self._send_callback(push)

    def _send_callback(self, push: Push) -> None:
        chaos = self.chaos
        body = callback_body(push, amount_offset=chaos.callback_amount_offset)
        self._outbox.source_address = self.settings.callback_source_address or None
        self._outbox.dispatch(
            [
                Delivery(
                    # One queue per receiving host: a slow receiver delays only its own callbacks.
                    queue=urlsplit(push.callback_url).netloc,
                    url=push.callback_url,
                    body=json.dumps(body).encode("utf-8"),
                    context=push.checkout_request_id,
                    headers=_CALLBACK_HEADERS,
                    label=push.checkout_request_id,
                )
            ],
            duplicates=chaos.duplicate_callbacks,
            delay=chaos.callback_delay_seconds,
            lost=chaos.drop_callbacks,
        )

    def _callback_finished(self, delivery: Delivery[str], delivered: bool) -> None:
        with self._lock:
            push = self._pushes.get(delivery.context)
            if push is not None:
                push.callbacks.append({"body": json.loads(delivery.body), "delivered": delivered})
