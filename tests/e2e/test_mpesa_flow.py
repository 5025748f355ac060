"""M-PESA STK push over HTTP in the devstack: POST /v1/mpesa/stk-push, the customer answers on
the Daraja sandbox's virtual phone, Daraja's (unsigned) callback reaches WebhookMpesaFunction,
which confirms it with an STK query before any money moves.

Every outcome of the phone, callbacks that are lost, duplicated or forged, and two tenants with
their own Daraja apps pushing at once. Chaos and settings of the Daraja sandbox are reset after
each test (the ``daraja`` fixture).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, cast

import pytest
import requests

from tests.e2e.conftest import RunningDevStack, eventually

WAIT_SECONDS = 15.0
DARAJA_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}
AMOUNT = 5000  # KES 50.00 in cents: Daraja is asked for 50 whole shillings


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    api_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@dataclass(frozen=True)
class Push:
    """One accepted STK push: our answer and the phone it prompted (national form)."""

    payment_id: str
    checkout_request_id: str
    phone: str  # as sent: 07XXXXXXXX

    @property
    def msisdn(self) -> str:
        """The number as Daraja has it: 2547XXXXXXXX."""
        return "254" + self.phone[1:]


@pytest.fixture
def daraja(devstack: RunningDevStack) -> Iterator[str]:
    """The Daraja sandbox's base URL; its chaos switches and settings go back to their defaults
    after the test, whatever it changed."""
    base = cast(dict[str, str], devstack.info["sandbox_urls"])["daraja"]
    yield base
    for switches in ("chaos", "settings"):
        reset = requests.post(f"{base}/_sandbox/{switches}/reset", json={}, timeout=10)
        assert reset.status_code == 200, reset.text


def _demo(devstack: RunningDevStack) -> Tenant:
    return Tenant(devstack.info["tenant_id"], devstack.info["api_key"])


def _new_phone() -> str:
    """A random Safaricom number, so that no earlier open prompt holds it (Daraja allows one
    open prompt per phone, and so do we: 409 duplicate_push)."""
    return "07" + "".join(secrets.choice("0123456789") for _ in range(8))


def _push(devstack: RunningDevStack, tenant: Tenant) -> Push:
    """KES 50 pushed to a fresh phone number."""
    phone = _new_phone()
    response = requests.post(
        f"{devstack.base_url}/v1/mpesa/stk-push",
        headers={**tenant.headers, "Idempotency-Key": f"stk-{uuid.uuid4().hex}"},
        json={
            "payable_type": "hotspot_plan",
            "payable_id": f"plan_{uuid.uuid4().hex[:8]}",
            "amount": AMOUNT,
            "phone_number": phone,
            "account_reference": "WIFI-1H",
            "transaction_desc": "Wi-Fi 1 hour",
            "customer": {"email": CUSTOMER_EMAIL},
        },
        timeout=30,
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "pending", body
    assert body["checkout_request_id"].startswith("ws_CO_"), body
    assert body["customer_message"], body
    return Push(body["payment_id"], body["checkout_request_id"], phone)


def _sandbox_push(daraja: str, checkout_request_id: str) -> dict[str, Any]:
    response = requests.get(f"{daraja}/_sandbox/pushes/{checkout_request_id}", timeout=10)
    assert response.status_code == 200, response.text
    push: dict[str, Any] = response.json()
    return push


def _press(daraja: str, push: Push, action: str) -> None:
    """What the customer does: look at the prompt on the phone, then press ``action``."""
    page = requests.get(f"{daraja}/_sandbox/phone/{push.checkout_request_id}", timeout=10)
    assert page.status_code == 200, page.text
    assert "waiting for the customer" in page.text
    assert f"/{push.checkout_request_id}/{action}" in page.text  # the button is on the page
    pressed = requests.post(
        f"{daraja}/_sandbox/phone/{push.checkout_request_id}/{action}",
        allow_redirects=False,
        timeout=10,
    )
    assert pressed.status_code == 303, pressed.text
    assert pressed.headers["Location"] == f"/_sandbox/phone/{push.checkout_request_id}"


def _callbacks_sent(daraja: str) -> None:
    """Until every callback the sandbox queued (late ones too) has been sent and answered."""
    idle = requests.post(f"{daraja}/_sandbox/wait_for_callbacks", json={"timeout": 15}, timeout=25)
    assert idle.status_code == 200, idle.text
    assert idle.json()["idle"] is True


def _payment(
    devstack: RunningDevStack, tenant: Tenant, payment_id: str, *, refresh: bool = False
) -> dict[str, Any]:
    return devstack.payment(payment_id, api_key=tenant.api_key, refresh=refresh)


CUSTOMER_EMAIL = "wanjiku@example.com"


def _receipted_once(devstack: RunningDevStack, payment_id: str) -> None:
    """The customer's receipt e-mail reached Omnisend, once."""

    def receipts() -> list[dict[str, Any]]:
        omnisend = devstack.info["sandbox_urls"]["omnisend"]
        events = requests.get(f"{omnisend}/_sandbox/events", timeout=10).json()["data"]
        return [
            event
            for event in events
            if event["body"]["eventName"] == "Payment Receipt"
            and event["body"]["properties"]["payment_id"] == payment_id
        ]

    assert _eventually(receipts), "no receipt was sent"
    time.sleep(2)  # any duplicate would have arrived by now
    [receipt] = receipts()
    assert receipt["times_received"] == 1
    assert receipt["body"]["contact"] == {"email": CUSTOMER_EMAIL}


def _eventually(check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    return eventually(check, timeout, interval=0.2)


def _wait_for_status(
    devstack: RunningDevStack, tenant: Tenant, payment_id: str, status: str
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        payment = _payment(devstack, tenant, payment_id)
        return payment if payment["status"] == status else None

    payment = _eventually(reached)
    assert payment, f"{payment_id} never became {status}: {_payment(devstack, tenant, payment_id)}"
    return dict(payment)


def _journal(tenant: Tenant, payment_id: str) -> list[dict[str, Any]]:
    """The ledger's journal entries of one payment (read from the devstack's embedded AWS)."""
    from payments.store import repositories

    return [
        {
            "description": entry.description,
            "lines": sorted(
                (line.account, int(line.debit), int(line.credit)) for line in entry.lines
            ),
        }
        for entry in repositories.journal_entries(tenant.tenant_id)
        if entry.payment_id == payment_id
    ]


def _events(tenant: Tenant, payment_id: str, event_type: str) -> list[dict[str, Any]]:
    """The events of one type this payment emitted (the outbox: each is what the bus, the
    merchant's callbacks and the e-mails are driven by)."""
    from payments.store.models import OutboxItem

    found = []
    condition = (OutboxItem.item_type == "outbox") & (OutboxItem.event_type == event_type)
    for item in OutboxItem.scan(condition):
        envelope = json.loads(item.envelope)
        payment = envelope["data"].get("payment") or {}
        if envelope["tenant_id"] == tenant.tenant_id and payment.get("payment_id") == payment_id:
            found.append(envelope)
    return found


def _inbox_rejection(tenant: Tenant, body: bytes) -> dict[str, str] | None:
    """How our webhook pipeline recorded a refused delivery of exactly ``body``."""
    from payments.store.models import InboxItem

    event_id = f"rejected_{hashlib.sha256(body).hexdigest()}"
    try:
        item = InboxItem.get(*InboxItem.key("mpesa", tenant.tenant_id, event_id))
    except InboxItem.DoesNotExist:
        return None
    return {"status": item.status, "reason": item.reason or "", "payload": item.payload}


def _merchant_deliveries(devstack: RunningDevStack, tenant: Tenant, event_id: str) -> list[Any]:
    response = requests.get(
        f"{devstack.base_url}/v1/callbacks/deliveries",
        params={"event_id": event_id},
        headers=tenant.headers,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _ledger_verifies(devstack: RunningDevStack) -> None:
    verify = devstack.payctl("ledger", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _captured_once(
    devstack: RunningDevStack, tenant: Tenant, payment: dict[str, Any]
) -> dict[str, Any]:
    """A succeeded payment counted once: captured in full, one transition to succeeded, one
    ledger posting, one payment.succeeded event and one callback to the merchant's endpoint.
    Returns that event."""
    payment_id = payment["payment_id"]
    assert (payment["status"], payment["amount_captured"]) == ("succeeded", payment["amount"])
    to_succeeded = [h for h in payment["history"] if h["to_status"] == "succeeded"]
    assert [(h["applied"], h["source"]) for h in to_succeeded] == [(True, "provider")]
    assert _journal(tenant, payment_id) == [
        {
            "description": "payment captured",
            "lines": [
                ("merchant_sales", 0, payment["amount"]),
                ("provider_clearing:mpesa", payment["amount"], 0),
            ],
        }
    ]
    events = _events(tenant, payment_id, "payment.succeeded")
    assert len(events) == 1, events
    event = events[0]

    # The merchant's endpoint (the demo tenant's: the bookings app) got it, in one attempt.
    def delivered() -> list[Any] | None:
        deliveries = _merchant_deliveries(devstack, tenant, event["id"])
        done = deliveries and all(d["status"] == "delivered" for d in deliveries)
        return deliveries if done else None

    deliveries = _eventually(delivered)
    assert deliveries, _merchant_deliveries(devstack, tenant, event["id"])
    for delivery in deliveries:
        assert (delivery["event_type"], len(delivery["attempts"])) == ("payment.succeeded", 1)
    return event


def _forged_success(sandbox_push: dict[str, Any], receipt: str) -> bytes:
    """A success callback in Daraja's exact shape, about a real push, that Daraja never sent:
    the right CheckoutRequestID, amount and phone, so only the STK query can tell."""
    return json.dumps(
        {
            "Body": {
                "stkCallback": {
                    "MerchantRequestID": sandbox_push["MerchantRequestID"],
                    "CheckoutRequestID": sandbox_push["CheckoutRequestID"],
                    "ResultCode": 0,
                    "ResultDesc": "The service request is processed successfully.",
                    "CallbackMetadata": {
                        "Item": [
                            {"Name": "Amount", "Value": float(sandbox_push["Amount"])},
                            {"Name": "MpesaReceiptNumber", "Value": receipt},
                            {"Name": "TransactionDate", "Value": 20261201120000},
                            {"Name": "PhoneNumber", "Value": int(sandbox_push["PhoneNumber"])},
                        ]
                    },
                }
            }
        }
    ).encode()


def _post_callback(url: str, body: bytes) -> None:
    """Deliver a callback as Daraja does; our function acknowledges every one the same way."""
    answer = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json() == DARAJA_ACK


# --------------------------------------------------------------------------- 1. pay


def test_the_customer_pays_on_the_phone_and_the_payment_succeeds_with_daraja_s_receipt(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    demo = _demo(devstack)
    push = _push(devstack, demo)
    pending = _payment(devstack, demo, push.payment_id)
    assert (pending["status"], pending["provider"]) == ("pending", "mpesa")
    assert (pending["amount"], pending["currency"], pending["amount_captured"]) == (
        AMOUNT,
        "KES",
        0,
    )
    assert pending["provider_reference"] == push.checkout_request_id

    # The prompt on the phone: KES 50 (our 5000 cents) to the demo tenant's PayBill.
    page = requests.get(f"{daraja}/_sandbox/phone/{push.checkout_request_id}", timeout=10)
    assert page.status_code == 200
    assert 'id="amount">Ksh50.00<' in page.text
    assert f"to {devstack.info['demo_mpesa_shortcode']} account no. WIFI-1H" in page.text
    _press(daraja, push, "pay")

    paid = _wait_for_status(devstack, demo, push.payment_id, "succeeded")
    # The callback commits the payment before our answer reaches the sandbox, which records
    # the delivery only then: wait for that too.
    _callbacks_sent(daraja)
    sandbox = _sandbox_push(daraja, push.checkout_request_id)
    assert (sandbox["ResultCode"], sandbox["Amount"]) == (0, 50)
    assert [c["delivered"] for c in sandbox["callbacks"]] == [True]
    details = paid["provider_details"]
    assert details["receipt_number"] == sandbox["MpesaReceiptNumber"]
    assert details["checkout_request_id"] == push.checkout_request_id
    assert (details["result_code"], details["result_desc"]) == ("0", sandbox["ResultDesc"])
    assert details["phone_masked"] == f"{push.msisdn[:4]}******{push.msisdn[-2:]}"
    # The customer's number is in none of what the merchant reads (nor its local forms).
    listed = requests.get(
        f"{devstack.base_url}/v1/payments",
        params={"provider_reference": push.checkout_request_id},
        headers=demo.headers,
        timeout=10,
    )
    assert listed.status_code == 200
    assert [p["payment_id"] for p in listed.json()["data"]] == [push.payment_id]
    event = _captured_once(devstack, demo, paid)
    for text in (json.dumps(paid), listed.text, json.dumps(event)):
        for form in (push.msisdn, push.phone, push.phone[1:]):
            assert form not in text

    # The payment is final: a refresh asks Daraja nothing and changes nothing.
    again = _payment(devstack, demo, push.payment_id, refresh=True)
    assert again["refresh"] == {"outcome": "not_open", "code": None}
    assert (again["status"], again["version"]) == ("succeeded", paid["version"])
    _receipted_once(devstack, push.payment_id)
    _ledger_verifies(devstack)


# --------------------------------------------------------------------------- 2. no money


@pytest.mark.parametrize(
    ("action", "status", "result_code"),
    [
        ("cancel", "canceled", "1032"),
        ("wrong_pin", "failed", "2001"),
        ("insufficient_funds", "failed", "1"),
        ("no_answer", "expired", "1037"),
    ],
)
def test_a_prompt_that_is_not_paid_ends_the_payment_with_daraja_s_result_and_no_money(
    devstack: RunningDevStack,
    devstack_aws: None,
    daraja: str,
    action: str,
    status: str,
    result_code: str,
) -> None:
    demo = _demo(devstack)
    changed = requests.post(
        f"{daraja}/_sandbox/settings", json={"no_answer_delay_seconds": 2.0}, timeout=10
    )
    assert changed.status_code == 200, changed.text
    push = _push(devstack, demo)
    _press(daraja, push, action)
    if action == "no_answer":
        # While the phone rings unanswered, Daraja says "being processed": still open.
        ringing = _payment(devstack, demo, push.payment_id, refresh=True)
        assert ringing["refresh"]["outcome"] == "still_open", ringing
        assert ringing["status"] == "pending"

    _wait_for_status(devstack, demo, push.payment_id, status)
    # The callback commits the payment before our answer reaches the sandbox, which records
    # the delivery only then: wait for that too.
    _callbacks_sent(daraja)
    ended = _payment(devstack, demo, push.payment_id)
    sandbox = _sandbox_push(daraja, push.checkout_request_id)
    assert str(sandbox["ResultCode"]) == result_code
    assert [c["delivered"] for c in sandbox["callbacks"]] == [True]
    details = ended["provider_details"]
    assert (details["result_code"], details["result_desc"]) == (
        result_code,
        sandbox["ResultDesc"],
    )
    assert "receipt_number" not in details
    assert (ended["amount_captured"], ended["amount_refunded"]) == (0, 0)
    assert [(h["to_status"], h["source"]) for h in ended["history"]][-1] == (status, "provider")
    assert _journal(demo, push.payment_id) == []
    assert len(_events(demo, push.payment_id, f"payment.{status}")) == 1
    assert _events(demo, push.payment_id, "payment.succeeded") == []


# --------------------------------------------------------------------------- 3. lost callback


def _paid_without_callback(devstack: RunningDevStack, daraja: str, tenant: Tenant) -> Push:
    """A push the customer paid whose callback Daraja never sent."""
    lost = requests.post(f"{daraja}/_sandbox/chaos", json={"drop_callbacks": True}, timeout=10)
    assert lost.status_code == 200, lost.text
    push = _push(devstack, tenant)
    _press(daraja, push, "pay")
    _callbacks_sent(daraja)
    sandbox = _sandbox_push(daraja, push.checkout_request_id)
    assert (sandbox["ResultCode"], sandbox["callbacks"]) == (0, [])  # paid; nothing was sent
    return push


def _sweeps(devstack: RunningDevStack) -> list[dict[str, Any]]:
    """The reports of the devstack's sweeper runs so far (SweeperFunction's log lines)."""
    reports = []
    for line in devstack.printed().splitlines():
        if '"message":"sweep finished"' in line:
            try:
                reports.append(json.loads(line))
            except ValueError:
                continue  # a line another thread's output cut into
    return reports


def test_a_paid_push_whose_callback_was_lost_is_settled_by_refresh_and_counted_once(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    demo = _demo(devstack)
    push = _paid_without_callback(devstack, daraja, demo)
    # Nothing tells us: the payment stays pending, through a whole run of the devstack's own
    # sweeper (every 2 s, age 0), which leaves M-PESA payments to their own age
    # (MpesaSweeperPendingAgeMinutes, 3 minutes).
    runs = len(_sweeps(devstack))
    assert _eventually(lambda: len(_sweeps(devstack)) >= runs + 2), "the sweeper did not run"
    assert _sweeps(devstack)[-1]["still_open"] >= 1
    still = _payment(devstack, demo, push.payment_id)
    assert (still["status"], still["amount_captured"]) == ("pending", 0)
    assert _journal(demo, push.payment_id) == []

    settled = _payment(devstack, demo, push.payment_id, refresh=True)
    assert settled["refresh"] == {"outcome": "settled", "code": None}
    assert settled["status"] == "succeeded"
    assert settled["provider_details"]["result_code"] == "0"
    _captured_once(devstack, demo, settled)

    # Asking again (refresh, then the sweeper's path) posts nothing more.
    again = _payment(devstack, demo, push.payment_id, refresh=True)
    assert again["refresh"]["outcome"] == "not_open"
    _captured_once(devstack, demo, _payment(devstack, demo, push.payment_id))
    _ledger_verifies(devstack)


def test_a_paid_push_whose_callback_was_lost_is_settled_by_the_sweeper_and_counted_once(
    devstack: RunningDevStack,
    devstack_aws: None,
    daraja: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sweeper itself (payments.services.sweeper.sweep, what SweeperFunction runs), run here
    against the devstack's embedded AWS and Daraja sandbox with MpesaSweeperPendingAgeMinutes 0:
    the e2e devstack keeps M-PESA's 3 minutes, and its CLI has no option for that parameter."""
    from payments.config import reset_settings
    from payments.services.sweeper import sweep

    demo = _demo(devstack)
    push = _paid_without_callback(devstack, daraja, demo)
    assert _payment(devstack, demo, push.payment_id)["status"] == "pending"

    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_MPESA", "0")
    reset_settings()
    report = sweep()
    assert report.settled.get("succeeded", 0) >= 1, report
    swept = _payment(devstack, demo, push.payment_id)
    assert swept["status"] == "succeeded"
    assert swept["history"][-1]["source"] == "provider"
    _captured_once(devstack, demo, swept)

    sweep()  # a second sweep finds it final
    _captured_once(devstack, demo, _payment(devstack, demo, push.payment_id))
    _ledger_verifies(devstack)


# --------------------------------------------------------------------------- 4. duplicates


def test_a_callback_daraja_sends_three_times_counts_once(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    demo = _demo(devstack)
    twice_more = requests.post(
        f"{daraja}/_sandbox/chaos", json={"duplicate_callbacks": 2}, timeout=10
    )
    assert twice_more.status_code == 200, twice_more.text
    push = _push(devstack, demo)
    _press(daraja, push, "pay")
    _callbacks_sent(daraja)

    sandbox = _sandbox_push(daraja, push.checkout_request_id)
    assert [c["delivered"] for c in sandbox["callbacks"]] == [True, True, True]
    assert len({json.dumps(c["body"], sort_keys=True) for c in sandbox["callbacks"]}) == 1
    paid = _wait_for_status(devstack, demo, push.payment_id, "succeeded")
    assert paid["provider_details"]["receipt_number"] == sandbox["MpesaReceiptNumber"]
    _captured_once(devstack, demo, paid)
    _receipted_once(devstack, push.payment_id)
    _ledger_verifies(devstack)


# --------------------------------------------------------------------------- 5. forged


def test_a_forged_success_callback_while_the_prompt_is_open_moves_no_money(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    demo = _demo(devstack)
    push = _push(devstack, demo)
    sandbox = _sandbox_push(daraja, push.checkout_request_id)
    assert sandbox["status"] == "pending"
    callback_url = sandbox["CallBackURL"]
    assert callback_url.startswith(
        f"{devstack.info['function_urls_base']}/WebhookMpesaFunction/{demo.tenant_id}/"
    )

    # To the payment's own URL (its token), and to the tenant's path with a made-up token.
    forged = _forged_success(sandbox, "QFORGED001")
    _post_callback(callback_url, forged)
    guessed = _forged_success(sandbox, "QFORGED002")
    _post_callback(callback_url.rsplit("/", 1)[0] + "/" + secrets.token_urlsafe(32), guessed)

    open_still = _payment(devstack, demo, push.payment_id)
    assert (open_still["status"], open_still["amount_captured"]) == ("pending", 0)
    assert "receipt_number" not in open_still["provider_details"]
    assert _journal(demo, push.payment_id) == []
    assert _events(demo, push.payment_id, "payment.succeeded") == []
    # Each was refused for what it is, and kept as received for audit.
    refused = _inbox_rejection(demo, forged)
    assert refused is not None
    assert refused["status"] == "rejected"
    assert refused["reason"].startswith("not_confirmed"), refused
    assert refused["payload"] == forged.decode()
    refused_guess = _inbox_rejection(demo, guessed)
    assert refused_guess is not None
    assert refused_guess["reason"] == "token_mismatch", refused_guess

    # The forgery blocks nothing: the customer really pays, and Daraja's receipt counts.
    _press(daraja, push, "pay")
    paid = _wait_for_status(devstack, demo, push.payment_id, "succeeded")
    receipt = _sandbox_push(daraja, push.checkout_request_id)["MpesaReceiptNumber"]
    assert paid["provider_details"]["receipt_number"] == receipt != "QFORGED001"
    _captured_once(devstack, demo, paid)
    _ledger_verifies(devstack)


def test_a_forged_success_callback_after_the_customer_cancelled_moves_no_money(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    demo = _demo(devstack)
    push = _push(devstack, demo)
    _press(daraja, push, "cancel")
    _wait_for_status(devstack, demo, push.payment_id, "canceled")
    sandbox = _sandbox_push(daraja, push.checkout_request_id)

    forged = _forged_success(sandbox, "QFORGED003")
    _post_callback(sandbox["CallBackURL"], forged)  # the real token: only Daraja's word is left
    refused = _inbox_rejection(demo, forged)
    assert refused is not None
    assert refused["reason"].startswith("not_confirmed"), refused
    after = _payment(devstack, demo, push.payment_id)
    assert (after["status"], after["amount_captured"]) == ("canceled", 0)
    assert after["provider_details"]["result_code"] == "1032"
    assert _journal(demo, push.payment_id) == []
    assert _events(demo, push.payment_id, "payment.succeeded") == []


# --------------------------------------------------------------------------- 6. two tenants


def _tenant_with_daraja_app(devstack: RunningDevStack, daraja: str) -> tuple[Tenant, str, str]:
    """A new tenant (payctl) with a Daraja app of its own, its credentials set and tested
    through the API with its own key. Returns it, its shortcode and its app's consumer key."""
    created = devstack.payctl("tenants", "create", "Second Hotspot")
    assert created.returncode == 0, created.stderr
    tenant_id = re.search(r"ten_[A-Za-z0-9]+", created.stdout)
    assert tenant_id, created.stdout
    issued = devstack.payctl("keys", "issue", tenant_id.group(0))
    assert issued.returncode == 0, issued.stderr
    key = re.search(r"pk_[A-Za-z0-9_\-]+", issued.stdout)
    assert key, issued.stdout
    tenant = Tenant(tenant_id.group(0), key.group(0))

    shortcode = f"600{secrets.randbelow(1000):03d}"
    app = requests.post(f"{daraja}/_sandbox/apps", json={"shortcode": shortcode}, timeout=10)
    assert app.status_code == 201, app.text
    values = {
        "consumer_key": app.json()["consumer_key"],
        "consumer_secret": app.json()["consumer_secret"],
        "shortcode": shortcode,
        "passkey": app.json()["passkey"],
        "transaction_type": "paybill",
        "party_b": shortcode,
        "environment": "sandbox",
    }
    url = f"{devstack.base_url}/v1/providers/mpesa/credentials"
    stored = requests.put(url, json={"values": values}, headers=tenant.headers, timeout=30)
    assert stored.status_code == 200, stored.text
    tested = requests.post(f"{url}/test", headers=tenant.headers, timeout=30)
    assert tested.status_code == 200, tested.text
    assert tested.json()["verified"] is True, tested.text
    return tenant, shortcode, values["consumer_key"]


def test_two_tenants_push_at_once_each_with_its_own_daraja_app_and_see_only_their_own(
    devstack: RunningDevStack, devstack_aws: None, daraja: str
) -> None:
    tenant_a = _demo(devstack)
    tenant_b, shortcode_b, consumer_key_b = _tenant_with_daraja_app(devstack, daraja)
    shortcode_a = devstack.info["demo_mpesa_shortcode"]
    assert shortcode_a != shortcode_b

    start = threading.Barrier(2)

    def push_when_both_are_ready(tenant: Tenant) -> Push:
        start.wait(timeout=30)
        return _push(devstack, tenant)

    with ThreadPoolExecutor(max_workers=2) as pool:
        push_a, push_b = pool.map(push_when_both_are_ready, [tenant_a, tenant_b])

    sandbox_a = _sandbox_push(daraja, push_a.checkout_request_id)
    sandbox_b = _sandbox_push(daraja, push_b.checkout_request_id)
    assert (sandbox_a["BusinessShortCode"], sandbox_a["PartyB"]) == (shortcode_a, shortcode_a)
    assert (sandbox_b["BusinessShortCode"], sandbox_b["PartyB"]) == (shortcode_b, shortcode_b)
    assert sandbox_b["consumer_key"] == consumer_key_b != sandbox_a["consumer_key"]
    assert (sandbox_a["PhoneNumber"], sandbox_b["PhoneNumber"]) == (push_a.msisdn, push_b.msisdn)
    for sandbox, tenant in ((sandbox_a, tenant_a), (sandbox_b, tenant_b)):
        assert f"/WebhookMpesaFunction/{tenant.tenant_id}/" in sandbox["CallBackURL"]

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda push: _press(daraja, push, "pay"), [push_a, push_b]))
    paid_a = _wait_for_status(devstack, tenant_a, push_a.payment_id, "succeeded")
    paid_b = _wait_for_status(devstack, tenant_b, push_b.payment_id, "succeeded")
    for paid, push in ((paid_a, push_a), (paid_b, push_b)):
        receipt = _sandbox_push(daraja, push.checkout_request_id)["MpesaReceiptNumber"]
        assert paid["provider_details"]["receipt_number"] == receipt

    # Neither tenant can read the other's payment, by id (refresh or not) or by reference.
    for reader, other in ((tenant_b, push_a), (tenant_a, push_b)):
        for params in ({}, {"refresh": "true"}):
            foreign = requests.get(
                f"{devstack.base_url}/v1/payments/{other.payment_id}",
                params=params,
                headers=reader.headers,
                timeout=10,
            )
            assert foreign.status_code == 404, foreign.text
            assert foreign.json()["error"]["code"] == "payment_not_found"
        by_reference = requests.get(
            f"{devstack.base_url}/v1/payments",
            params={"provider_reference": other.checkout_request_id},
            headers=reader.headers,
            timeout=10,
        )
        assert by_reference.status_code == 200, by_reference.text
        assert by_reference.json() == {"data": [], "next_cursor": None}

    # Each payment's money is in its own tenant's ledger only.
    assert len(_journal(tenant_a, push_a.payment_id)) == 1
    assert len(_journal(tenant_b, push_b.payment_id)) == 1
    assert _journal(tenant_a, push_b.payment_id) == _journal(tenant_b, push_a.payment_id) == []
    _ledger_verifies(devstack)
