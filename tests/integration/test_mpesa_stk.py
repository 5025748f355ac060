"""M-PESA STK push end to end through the real handlers (moto as AWS) and the Daraja sandbox
over HTTP: POST /v1/mpesa/stk-push, the callback through WebhookMpesaFunction (the body Daraja
sent, taken from the sandbox, delivered to the path its CallBackURL names), the sweeper and
refresh=true when no callback comes."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.daraja import DarajaSandbox
from devstack.stack import mpesa_credential_values
from payments.config import reset_settings
from payments.services.sweeper import sweep
from tests.conftest import load_event
from tests.integration.conftest import MPESA_WEBHOOK_BASE
from tests.integration.helpers import items_of_type, new_tenant

PHONE = "254708374149"


_shortcodes = iter(range(600500, 600999))


def mpesa_tenant(functions: FunctionRegistry, daraja: DarajaSandbox, name: str = "Hotspot") -> str:
    tenant = new_tenant(name)
    app = daraja.create_app(shortcode=str(next(_shortcodes)))
    put_credentials(functions, tenant, mpesa_credential_values(app))
    return tenant


def put_credentials(functions: FunctionRegistry, tenant: str, values: dict[str, str]) -> None:
    """What a tenant does: PUT /v1/providers/mpesa/credentials with its own values."""
    event = load_event("providers_api/put_credentials.json")
    event["path"] = event["path"].replace("/stripe/", "/mpesa/")
    event["pathParameters"] = {"provider": "mpesa"}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    event["body"] = json.dumps({"values": values})
    response = functions.invoke("ProvidersApiFunction", event)
    assert response["statusCode"] == 200, response["body"]


def stk_push(
    functions: FunctionRegistry, tenant: str, key: str = "attempt-1", **body: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    event = load_event("stk_push/create.json")
    sample = json.loads(event["body"])
    sample.update(body)
    event["body"] = json.dumps(sample)
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("StkPushFunction", event)
    headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update(response.get("headers") or {})
    return response["statusCode"], json.loads(response["body"]), headers


def deliver(
    functions: FunctionRegistry,
    callback_url: str,
    body: dict[str, Any],
    *,
    source_ip: str = "196.201.214.200",
) -> dict[str, Any]:
    event = load_event("webhook_mpesa/callback_success.json")
    path = urlsplit(callback_url).path.removeprefix("/WebhookMpesaFunction")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["sourceIp"] = source_ip
    event["body"] = json.dumps(body)
    response = functions.invoke("WebhookMpesaFunction", event)
    # Daraja's acknowledgement, whatever became of the callback.
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"ResultCode": 0, "ResultDesc": "Accepted"}
    return response


def sent_callback(daraja: DarajaSandbox, checkout_request_id: str) -> tuple[str, dict[str, Any]]:
    """The CallBackURL of a finished push and the body the sandbox sent to it."""
    assert daraja.wait_for_callbacks(10)
    push = daraja.push(checkout_request_id)
    return push["CallBackURL"], push["callbacks"][0]["body"]


def get_payment(
    functions: FunctionRegistry, tenant: str, payment_id: str, **query: str
) -> tuple[int, dict[str, Any]]:
    event = load_event("status/get_payment.json")
    event["path"] = f"/v1/payments/{payment_id}"
    event["pathParameters"] = {"payment_id": payment_id}
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} or None
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("StatusFunction", event)
    return response["statusCode"], json.loads(response["body"])


def journal_for(payment_id: str) -> list[dict[str, Any]]:
    return [entry for entry in items_of_type("journal_entry") if entry["payment_id"] == payment_id]


def test_a_paid_push_succeeds_with_its_receipt_once_daraja_confirms_it(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    status, pushed, _ = stk_push(functions, tenant, phone_number="0708 374 149")
    assert status == 202, pushed
    assert pushed["status"] == "pending"
    assert pushed["checkout_request_id"].startswith("ws_CO_")
    assert pushed["customer_message"] == "Success. Request accepted for processing"
    push = daraja.push(pushed["checkout_request_id"])
    assert (push["PhoneNumber"], push["Amount"], push["PartyB"]) == (PHONE, 50, push["PartyB"])
    # The CallBackURL is the tenant's and the payment's own token, which is stored hashed.
    callback_url = push["CallBackURL"]
    assert callback_url.startswith(f"{MPESA_WEBHOOK_BASE}{tenant}/")
    token = callback_url.rsplit("/", 1)[1]
    assert len(token) >= 32
    assert token not in json.dumps(items_of_type("payment"), default=str)

    daraja.press(pushed["checkout_request_id"], "pay")
    url, body = sent_callback(daraja, pushed["checkout_request_id"])
    deliver(functions, url, body)
    _, payment = get_payment(functions, tenant, pushed["payment_id"])
    assert payment["status"] == "succeeded"
    receipt = body["Body"]["stkCallback"]["CallbackMetadata"]["Item"][1]["Value"]
    details = payment["provider_details"]
    assert details["receipt_number"] == receipt
    assert (details["result_code"], details["phone_masked"]) == ("0", "2547******49")
    assert PHONE not in json.dumps(payment)
    assert len(journal_for(pushed["payment_id"])) == 1

    # Daraja repeating the callback counts once.
    deliver(functions, url, body)
    assert len(journal_for(pushed["payment_id"])) == 1
    # A different result for the final payment is refused: Daraja's query still says paid.
    cancelled = json.loads(load_event("webhook_mpesa/callback_cancelled.json")["body"])
    cancelled["Body"]["stkCallback"]["CheckoutRequestID"] = pushed["checkout_request_id"]
    deliver(functions, url, cancelled)
    assert get_payment(functions, tenant, pushed["payment_id"])[1]["status"] == "succeeded"
    [refused] = [i for i in items_of_type("inbox") if i["status"] == "rejected"]
    assert refused["reason"].startswith("not_confirmed")
    events = [i for i in items_of_type("outbox") if i["event_type"] == "payment.succeeded"]
    assert len(events) == 1
    # The CheckoutRequestID finds it.
    event = load_event("status/list_payments.json")
    reference = {"provider_reference": pushed["checkout_request_id"]}
    event["queryStringParameters"] = reference
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in reference.items()}
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    found = json.loads(functions.invoke("StatusFunction", event)["body"])
    assert [p["payment_id"] for p in found["data"]] == [pushed["payment_id"]]


@pytest.mark.parametrize(
    ("action", "status", "code"),
    [
        ("cancel", "canceled", "1032"),
        ("wrong_pin", "failed", "2001"),
        ("insufficient_funds", "failed", "1"),
        ("no_answer", "expired", "1037"),
    ],
)
def test_unpaid_pushes_end_in_their_state_with_no_ledger_posting(
    functions: FunctionRegistry, daraja: DarajaSandbox, action: str, status: str, code: str
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    _, pushed, _ = stk_push(functions, tenant)
    daraja.press(pushed["checkout_request_id"], action)
    url, body = sent_callback(daraja, pushed["checkout_request_id"])
    deliver(functions, url, body)
    _, payment = get_payment(functions, tenant, pushed["payment_id"])
    assert payment["status"] == status
    assert payment["provider_details"]["result_code"] == code
    assert payment["provider_details"]["result_desc"]
    assert journal_for(pushed["payment_id"]) == []


def test_a_forged_callback_moves_nothing_and_is_recorded(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    _, pushed, _ = stk_push(functions, tenant)
    checkout_request_id = pushed["checkout_request_id"]
    url = daraja.push(checkout_request_id)["CallBackURL"]
    forged = json.loads(load_event("webhook_mpesa/callback_success.json")["body"])
    forged["Body"]["stkCallback"]["CheckoutRequestID"] = checkout_request_id
    # The right token and a made-up success: Daraja still says the push is open.
    deliver(functions, url, forged)
    # A wrong token, and another tenant's path.
    forged["Body"]["stkCallback"]["ResultDesc"] = "guessing the token"
    deliver(functions, url.rsplit("/", 1)[0] + "/" + "x" * 43, forged)
    other = mpesa_tenant(functions, daraja, "Other")
    deliver(functions, url.replace(tenant, other), forged)
    # A foreign amount and phone, on the real path, once the customer really paid.
    daraja.press(checkout_request_id, "pay")
    _, genuine = sent_callback(daraja, checkout_request_id)
    tampered = json.loads(json.dumps(genuine))
    tampered["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = 1.0
    deliver(functions, url, tampered)
    malformed = {"Body": {"stkCallback": {"ResultCode": "zero"}}}
    deliver(functions, url, malformed)
    _, payment = get_payment(functions, tenant, pushed["payment_id"])
    assert payment["status"] == "pending"
    assert journal_for(pushed["payment_id"]) == []
    reasons = sorted(
        item["reason"].split(":")[0]
        for item in items_of_type("inbox")
        if item["status"] == "rejected"
    )
    assert reasons == [
        "amount_mismatch",
        "malformed_callback",
        "not_confirmed",
        "token_mismatch",
        "unknown_payment",  # recorded under the other tenant
    ]
    # The genuine callback still counts.
    deliver(functions, url, genuine)
    _, payment = get_payment(functions, tenant, pushed["payment_id"])
    assert payment["status"] == "succeeded"


def test_callbacks_from_outside_the_allow_list_move_nothing(
    functions: FunctionRegistry, daraja: DarajaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_MPESA", "196.201.214.0/24")
    reset_settings()
    tenant = mpesa_tenant(functions, daraja)
    _, pushed, _ = stk_push(functions, tenant)
    daraja.press(pushed["checkout_request_id"], "pay")
    url, body = sent_callback(daraja, pushed["checkout_request_id"])
    deliver(functions, url, body, source_ip="203.0.113.9")
    assert get_payment(functions, tenant, pushed["payment_id"])[1]["status"] == "pending"
    [rejected] = [i for i in items_of_type("inbox") if i["status"] == "rejected"]
    assert rejected["reason"].startswith("source_not_allowed")
    deliver(functions, url, body, source_ip="196.201.214.207")
    assert get_payment(functions, tenant, pushed["payment_id"])[1]["status"] == "succeeded"


def test_a_lost_callback_is_settled_by_refresh_and_by_the_sweeper(
    functions: FunctionRegistry, daraja: DarajaSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    daraja.chaos.drop_callbacks = True
    tenant = mpesa_tenant(functions, daraja)
    _, first, _ = stk_push(functions, tenant, key="a", phone_number="0712345678")
    _, second, _ = stk_push(functions, tenant, key="b", phone_number="0712345679")
    # Still open at Daraja: refresh says so and changes nothing.
    _, view = get_payment(functions, tenant, first["payment_id"], refresh="true")
    assert (view["status"], view["refresh"]["outcome"]) == ("pending", "still_open")
    daraja.press(first["checkout_request_id"], "pay")
    daraja.press(second["checkout_request_id"], "cancel")
    _, view = get_payment(functions, tenant, first["payment_id"], refresh="true")
    assert (view["status"], view["refresh"]["outcome"]) == ("succeeded", "settled")
    assert len(journal_for(first["payment_id"])) == 1
    _, view = get_payment(functions, tenant, first["payment_id"], refresh="true")
    assert view["refresh"] == {"outcome": "not_open", "code": None}
    # The sweeper waits for M-PESA's own age (minutes), then asks Daraja.
    assert sweep().settled == {}
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_MPESA", "0")
    reset_settings()
    report = sweep()
    assert report.settled == {"canceled": 1}
    _, view = get_payment(functions, tenant, second["payment_id"])
    assert (view["status"], view["provider_details"]["result_code"]) == ("canceled", "1032")


def test_bad_pushes_are_clear_answers_and_nothing_is_sent(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    pushes_before = len(daraja.pushes())
    cases = {
        "amount_not_supported": {"amount": 5050},
        "amount_too_large": {"amount": 25_000_100},
        "invalid_amount": {"amount": 0},
        "invalid_phone_number": {"phone_number": "0808374149"},
    }
    for index, (code, body) in enumerate(cases.items()):
        status, answer, _ = stk_push(functions, tenant, key=f"bad-{index}", **body)
        assert (status, answer["error"]["code"]) == (422, code), answer
    status, answer, _ = stk_push(functions, tenant, key="long", account_reference="A" * 13)
    assert (status, answer["error"]["code"]) == (422, "value_too_long")
    assert len(daraja.pushes()) == pushes_before  # none of these reached Daraja
    assert items_of_type("payment") == []
    # No credentials: a clear 409 before anything is written.
    status, answer, _ = stk_push(functions, new_tenant("Bare"), key="none")
    assert (status, answer["error"]["code"]) == (409, "provider_unavailable")


def test_a_second_push_to_one_phone_waits_for_the_first(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    _, first, _ = stk_push(functions, tenant, key="first")
    status, answer, headers = stk_push(functions, tenant, key="second")
    assert (status, answer["error"]["code"]) == (409, "duplicate_push")
    assert 1 <= int(headers["Retry-After"]) <= 120
    # The same request again replays the first answer (one push, one payment).
    status, replay, _ = stk_push(functions, tenant, key="first")
    assert (status, replay["payment_id"]) == (202, first["payment_id"])
    # Once the first prompt is answered, the phone is free.
    daraja.press(first["checkout_request_id"], "cancel")
    url, body = sent_callback(daraja, first["checkout_request_id"])
    deliver(functions, url, body)
    status, second, _ = stk_push(functions, tenant, key="second-again")
    assert status == 202, second


def test_no_answer_from_daraja_leaves_the_payment_created_and_the_phone_held(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    daraja.chaos.quota_exceeded_next = 10  # beyond the backoff budget
    status, answer, _ = stk_push(functions, tenant, key="quota")
    assert (status, answer["error"]["code"]) == (502, "provider_unreachable")
    daraja.chaos.quota_exceeded_next = 0
    [payment] = items_of_type("payment")
    assert payment["status"] == "created"
    # Daraja may have prompted the phone: a new push to it waits, the same request resumes.
    assert stk_push(functions, tenant, key="other")[1]["error"]["code"] == "duplicate_push"
    _, view = get_payment(functions, tenant, payment["payment_id"], refresh="true")
    assert (view["status"], view["refresh"]["outcome"]) == ("created", "still_open")
    status, resumed, _ = stk_push(functions, tenant, key="quota")
    assert (status, resumed["payment_id"], resumed["status"]) == (
        202,
        payment["payment_id"],
        "pending",
    )


def test_refused_credentials_are_a_409_and_free_the_phone(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = new_tenant("Misconfigured")
    app = daraja.create_app(shortcode=str(next(_shortcodes)))
    put_credentials(
        functions, tenant, mpesa_credential_values(app, consumer_secret="Wrong0123456789")
    )
    status, answer, _ = stk_push(functions, tenant, key="bad-secret")
    assert (status, answer["error"]["code"]) == (409, "provider_unavailable")
    assert items_of_type("claim") == []


def test_a_till_push_to_the_wrong_party_b_fails_with_its_code(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = new_tenant("Till")
    app = daraja.create_app(shortcode=str(next(_shortcodes)), till="700123")
    put_credentials(
        functions, tenant, mpesa_credential_values(app, transaction_type="till", party_b="700999")
    )
    _, pushed, _ = stk_push(functions, tenant, key="till")
    push = daraja.push(pushed["checkout_request_id"])
    assert (push["TransactionType"], push["PartyB"]) == ("CustomerBuyGoodsOnline", "700999")
    deliver(functions, *sent_callback(daraja, pushed["checkout_request_id"]))
    _, payment = get_payment(functions, tenant, pushed["payment_id"])
    assert (payment["status"], payment["provider_details"]["result_code"]) == ("failed", "2028")


def test_refunds_of_mpesa_payments_are_not_supported(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenant = mpesa_tenant(functions, daraja)
    _, pushed, _ = stk_push(functions, tenant)
    daraja.press(pushed["checkout_request_id"], "pay")
    deliver(functions, *sent_callback(daraja, pushed["checkout_request_id"]))
    event = load_event("refunds/create.json")
    event["path"] = f"/v1/payments/{pushed['payment_id']}/refunds"
    event["pathParameters"] = {"payment_id": pushed["payment_id"]}
    event["body"] = json.dumps({"amount": 5000})
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("RefundsFunction", event)
    answer = json.loads(response["body"])
    assert (response["statusCode"], answer["error"]["code"]) == (409, "refund_not_supported")


def test_two_tenants_push_at_once_each_on_its_own_credentials(
    functions: FunctionRegistry, daraja: DarajaSandbox
) -> None:
    tenants = [mpesa_tenant(functions, daraja, name) for name in ("A", "B")]
    with ThreadPoolExecutor(2) as pool:
        results = list(
            pool.map(
                lambda t: stk_push(functions, t, key="same-key", phone_number="0712000001"), tenants
            )
        )
    (status_a, a, _), (status_b, b, _) = results
    assert (status_a, status_b) == (202, 202), results
    assert a["payment_id"] != b["payment_id"]
    push_a = daraja.push(a["checkout_request_id"])
    push_b = daraja.push(b["checkout_request_id"])
    assert push_a["BusinessShortCode"] != push_b["BusinessShortCode"]
    assert push_a["CallBackURL"].split("/")[-2] == tenants[0]
    # B sees nothing of A's, and A's callback on B's path moves nothing.
    assert get_payment(functions, tenants[1], a["payment_id"])[0] == 404
    daraja.press(a["checkout_request_id"], "pay")
    url, body = sent_callback(daraja, a["checkout_request_id"])
    deliver(functions, url.replace(tenants[0], tenants[1]), body)
    assert get_payment(functions, tenants[0], a["payment_id"])[1]["status"] == "pending"
    deliver(functions, url, body)
    assert get_payment(functions, tenants[0], a["payment_id"])[1]["status"] == "succeeded"
    assert get_payment(functions, tenants[1], b["payment_id"])[1]["status"] == "pending"
