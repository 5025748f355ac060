"""Customer e-mails through Omnisend, triggered by events on the bus (notify queue)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from payments.aws.secrets import read_provider_secret
from payments.logs import function_logger
from payments.money import FIAT_EXPONENTS, Money
from payments.providers import get_spec
from payments.store import profiles, repositories

# Our event type -> the Omnisend event (its e-mail template). template.yaml's NotifyRule
# routes exactly these types to the notify queue.
OMNISEND_EVENTS = {
    "payment.succeeded": "Payment Receipt",
    "trade.succeeded": "Security Token Trade Success",
    "trade.settled": "Security Token Trade Settled",
    "profile.registered": "Welcome",
}
ATTEMPTS = 3
TIMEOUT_SECONDS = 5


class NotificationRetryableError(RuntimeError):
    """Omnisend is rate limiting or failing: the message goes back to the queue."""


def notify(bus_event: dict[str, Any]) -> str:
    """Send the e-mail event for one bus event; returns what happened."""
    envelope = json.loads(bus_event["detail"]["envelope"]["S"])
    event_name = OMNISEND_EVENTS.get(envelope["type"])
    if event_name is None:
        return "not_an_email_event"
    secret = read_provider_secret(envelope["tenant_id"], "omnisend")
    if not secret or secret.get("enabled") is False or not secret.get("api_key"):
        return "skipped_no_omnisend_key"
    contact, properties = _contact_and_properties(envelope)
    if not contact:
        return "skipped_no_email"
    body = {
        "eventName": event_name,
        "origin": "api",
        "contact": {"email": contact},
        "properties": properties,
        # Our event id, as the UUID Omnisend expects: a redelivered event is deduplicated there.
        "eventID": str(uuid.UUID(hex=envelope["id"].removeprefix("evt_"))),
        "eventTime": envelope["occurred_at"],
    }
    return "sent" if _send(str(secret["api_key"]), body) else "rejected_by_omnisend"


def _contact_and_properties(envelope: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    data = envelope.get("data") or {}
    if "payment" in data:
        view = data["payment"]
        payment = repositories.get_payment(envelope["tenant_id"], view["payment_id"])
        if payment is None:
            return None, {}
        return payment.customer.email, {
            "payment_id": view["payment_id"],
            "amount": _major_units(view["amount"], view["currency"]),
            "currency": view["currency"],
            "description": view.get("description", ""),
        }
    if "trade" in data:
        return _trade_contact_and_properties(envelope["tenant_id"], envelope["type"], data["trade"])
    if "profile" in data:
        view = data["profile"]
        profile = profiles.get_profile(envelope["tenant_id"], view["profile_id"])
        if profile is None:
            return None, {}
        return profile.email, {"profile_id": profile.profile_id, "name": profile.name}
    return None, {}


def _trade_contact_and_properties(
    tenant_id: str, event_type: str, view: dict[str, Any]
) -> tuple[str | None, dict[str, Any]]:
    # Trade events carry no contact details (and a trade payment no customer e-mail, so no
    # Payment Receipt goes out for it): the buyer's e-mail is the stored profile's.
    profile_id = view.get("profile_id")
    profile = profiles.get_profile(tenant_id, profile_id) if profile_id else None
    if profile is None:
        return None, {}
    token = view.get("token") or {}
    properties = {
        "trade_id": view["trade_id"],
        "trade_amount": _major_units(view["amount"], view["currency"]),
        "currency": view["currency"],
        "token_symbol": token.get("symbol"),
        "token_quantity": token.get("quantity"),
    }
    if event_type == "trade.settled":
        properties["wallet_address"] = view.get("wallet_address")
    return profile.email, properties


def _major_units(amount: int | str, currency: str) -> int | str:
    """Fiat minor units as a major-unit decimal string ("250.00"); crypto amounts already are."""
    if currency in FIAT_EXPONENTS and isinstance(amount, int):
        return Money(amount, currency).to_decimal_string()
    return amount


def _send(api_key: str, body: dict[str, Any]) -> bool:
    """True once Omnisend accepted the event; False if it refused it for good."""
    url = get_spec("omnisend").api_base({}).rstrip("/") + "/v5/events"
    payload = json.dumps(body).encode()
    for attempt in range(1, ATTEMPTS + 1):
        request = urllib.request.Request(  # noqa: S310 - a configured https (or sandbox) URL
            url,
            data=payload,
            method="POST",
            headers={"X-API-KEY": api_key, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS):  # noqa: S310
                return True
        except urllib.error.HTTPError as error:
            if error.code != 429 and error.code < 500:
                # A request Omnisend will never accept: retrying cannot help.
                function_logger().error("omnisend refused the event", extra={"status": error.code})
                return False
            wait = _retry_after(error.headers.get("Retry-After"), attempt)
        except (urllib.error.URLError, TimeoutError, OSError):
            wait = _retry_after(None, attempt)
        if attempt < ATTEMPTS:
            time.sleep(wait)
    raise NotificationRetryableError("omnisend unavailable; the queue will retry")


def _retry_after(header: object, attempt: int) -> float:
    if isinstance(header, str) and header.strip().isdigit():
        return min(float(header.strip()), 5.0)
    return min(0.5 * 2.0 ** (attempt - 1), 5.0)
