"""POST /v1/checkout and POST /v1/payments/{id}/refunds through the real handlers, against
moto and an in-process Stripe sandbox driven by the official stripe SDK."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.domain.states import PaymentStatus
from payments.services.credentials import set_provider_credentials
from payments.services.transitions import apply_transition
from payments.store import repositories
from tests.conftest import load_event
from tests.integration.helpers import items_of_type, new_tenant


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    with StripeSandbox() as running:
        yield running


@pytest.fixture
def merchant(
    aws: LocalStack, sandbox: StripeSandbox, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, stripe.StripeClient]:
    """A tenant with its own Stripe (sandbox) account; yields (tenant id, its Stripe client)."""
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
    reset_settings()
    tenant = new_tenant("Salon")
    account = sandbox.create_account()
    set_provider_credentials(
        tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_unused"}
    )
    return tenant, stripe.StripeClient(account.secret_key, base_addresses={"api": sandbox.base_url})


def _checkout(
    functions: FunctionRegistry,
    tenant: str,
    *,
    key: str | None = "booking-bk_1001-attempt-1",
    **body_changes: Any,
) -> tuple[int, dict[str, Any]]:
    event = load_event("checkout/create.json")
    body = {**json.loads(event["body"]), **body_changes}
    event["body"] = json.dumps({k: v for k, v in body.items() if v is not None})
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    # API Gateway sends every header in both maps; Powertools reads multiValueHeaders.
    if key is None:
        event["headers"].pop("Idempotency-Key")
        event["multiValueHeaders"].pop("Idempotency-Key")
    else:
        event["headers"]["Idempotency-Key"] = key
        event["multiValueHeaders"]["Idempotency-Key"] = [key]
    response = functions.invoke("CheckoutFunction", event)
    return response["statusCode"], json.loads(response["body"])


def _refund(
    functions: FunctionRegistry, tenant: str, payment_id: str, key: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    event = load_event("refunds/create.json")
    event["path"] = f"/v1/payments/{payment_id}/refunds"
    event["pathParameters"] = {"payment_id": payment_id}
    event["body"] = json.dumps(body)
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("RefundsFunction", event)
    return response["statusCode"], json.loads(response["body"])


def test_checkout_opens_a_stripe_session_carrying_our_ids(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    status, body = _checkout(functions, tenant)
    assert status == 201, body
    assert body["status"] == "pending"
    session_id = body["checkout_url"].rsplit("/", 1)[1]
    session = client.v1.checkout.sessions.retrieve(session_id)
    ours = {"payment_id": body["payment_id"], "tenant_id": tenant}
    assert session.client_reference_id == body["payment_id"]
    assert session.metadata is not None
    assert session.metadata.to_dict() == {"branch": "westlands", **ours}
    assert (session.amount_total, session.currency) == (4500, "usd")
    customer = client.v1.customers.retrieve(str(session.customer))
    assert customer.email == "ann@example.com"
    payment = repositories.get_payment(tenant, body["payment_id"])
    assert payment is not None
    assert (payment.status, payment.provider_ref) == (PaymentStatus.PENDING, session_id)


def test_stripe_gets_its_own_units_and_the_payment_keeps_ours(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    """ISK is zero-decimal in ISO 4217 but two-decimal at Stripe: 5,000 kr is 500000 there."""
    tenant, client = merchant
    status, body = _checkout(functions, tenant, key="isk-1", amount=5000, currency="ISK")
    assert status == 201, body
    session = client.v1.checkout.sessions.retrieve(body["checkout_url"].rsplit("/", 1)[1])
    assert (session.amount_total, session.currency) == (500000, "isk")
    payment = repositories.get_payment(tenant, body["payment_id"])
    assert payment is not None
    assert (payment.amount, payment.currency) == (5000, "ISK")
    status, body = _checkout(functions, tenant, key="kwd-1", amount=1235, currency="KWD")
    assert (status, body["error"]["code"]) == (422, "amount_not_supported")


def test_the_same_key_replays_the_first_answer_and_another_body_is_refused(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    first = _checkout(functions, tenant)
    again = _checkout(functions, tenant)
    assert first == again
    assert first[0] == 201
    status, body = _checkout(functions, tenant, amount=9999)
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    assert len(items_of_type("payment")) == 1
    assert len(client.v1.checkout.sessions.list().data) == 1
    # A second checkout for the same e-mail reuses the tenant's Stripe customer.
    assert _checkout(functions, tenant, key="booking-bk_1002")[0] == 201
    assert len(client.v1.customers.list().data) == 1
    assert len(items_of_type("customer_link")) == 1


def test_concurrent_requests_with_one_key_make_one_payment_and_one_session(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    results: list[tuple[int, dict[str, Any]]] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        barrier.wait()
        results.append(_checkout(functions, tenant, key="same-key"))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    created = [body for status, body in results if status == 201]
    busy = [body for status, body in results if status == 409]
    assert created, results
    assert len(created) + len(busy) == 6
    assert {body["payment_id"] for body in created} == {created[0]["payment_id"]}
    assert all(body["error"]["code"] == "idempotency_key_in_use" for body in busy)
    assert len(items_of_type("payment")) == 1
    assert len(client.v1.checkout.sessions.list().data) == 1


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"amount": 0}, 422, "invalid_amount"),
        ({"amount": -500}, 422, "invalid_amount"),
        ({"amount": 10.5}, 422, "invalid_type"),
        ({"amount": "4500"}, 422, "invalid_type"),
        ({"amount": 100_000_000}, 422, "amount_too_large"),
        ({"currency": "XYZ"}, 422, "unknown_currency"),
        ({"currency": "BTC"}, 422, "unsupported_currency"),
        ({"success_url": "http://salon.example.com/paid"}, 422, "invalid_redirect_url"),
        ({"cancel_url": "javascript:alert(1)"}, 422, "invalid_redirect_url"),
        ({"metadata": {f"k{i}": "v" for i in range(49)}}, 422, "metadata_too_large"),
        ({"metadata": {"k" * 41: "v"}}, 422, "metadata_too_large"),
        ({"metadata": {"payment_id": "pay_forged"}}, 422, "invalid_metadata"),
        ({"metadata": {"note": "x" * 501}}, 422, "value_too_long"),
        ({"expires_in_minutes": 10}, 422, "value_out_of_range"),
        ({"description": "x" * 501}, 422, "value_too_long"),
        ({"surprise": True}, 422, "unknown_field"),
        ({"payable_type": "a#b"}, 422, "invalid_format"),
    ],
)
def test_bad_checkout_input_is_a_specific_4xx_and_writes_nothing(
    functions: FunctionRegistry,
    merchant: tuple[str, stripe.StripeClient],
    changes: dict[str, Any],
    status: int,
    code: str,
) -> None:
    tenant, client = merchant
    got_status, body = _checkout(functions, tenant, **changes)
    assert (got_status, body["error"]["code"]) == (status, code), body
    assert items_of_type("payment") == []
    assert client.v1.checkout.sessions.list().data == []


def test_http_redirects_are_allowed_for_localhost_only(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, _ = merchant
    status, _ = _checkout(functions, tenant, success_url="http://localhost:8080/paid")
    assert status == 201


def test_missing_key_or_provider_is_refused_before_anything_is_written(
    aws: LocalStack, functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, _ = merchant
    status, body = _checkout(functions, tenant, key=None)
    assert (status, body["error"]["code"]) == (400, "idempotency_key_required")
    no_stripe = new_tenant("no stripe")
    status, body = _checkout(functions, no_stripe)
    assert (status, body["error"]["code"]) == (409, "provider_unavailable")
    set_provider_credentials(
        no_stripe,
        "stripe",
        {"secret_key": "sk_test_x", "webhook_secret": "whsec_unused"},
        enabled=False,
    )
    assert _checkout(functions, no_stripe, key="k2")[1]["error"]["code"] == "provider_unavailable"
    assert items_of_type("payment") == []


def test_stripe_refusing_the_session_fails_the_payment(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, _ = merchant
    status, body = _checkout(functions, tenant, amount=10)  # below Stripe's USD minimum
    assert (status, body["error"]["code"]) == (422, "provider_rejected")
    [payment] = items_of_type("payment")
    assert payment["status"] == "failed"


def _paid_payment(functions: FunctionRegistry, tenant: str, client: stripe.StripeClient) -> str:
    """A checkout paid in the sandbox; the capture applied as the webhook would."""
    import requests

    _, body = _checkout(functions, tenant)
    response = requests.post(f"{body['checkout_url']}/pay", allow_redirects=False, timeout=10)
    assert response.status_code == 303
    session = client.v1.checkout.sessions.retrieve(body["checkout_url"].rsplit("/", 1)[1])
    apply_transition(
        tenant_id=tenant,
        payment_id=body["payment_id"],
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
        changes={"capture_ref": str(session.payment_intent)},
    )
    return str(body["payment_id"])


def test_partial_then_full_refund_reverses_exactly_what_was_refunded(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    payment_id = _paid_payment(functions, tenant, client)
    status, first = _refund(functions, tenant, payment_id, "r-1", amount=1500)
    assert status == 201, first
    assert (first["amount"], first["status"]) == (1500, "succeeded")
    # Replayed, not refunded twice.
    assert _refund(functions, tenant, payment_id, "r-1", amount=1500) == (201, first)
    status, body = _refund(functions, tenant, payment_id, "r-2", amount=3001)
    assert (status, body["error"]["code"]) == (422, "refund_exceeds_balance")
    status, rest = _refund(functions, tenant, payment_id, "r-3")  # all that remains
    assert (status, rest["amount"]) == (201, 3000)
    details = repositories.get_payment_details(tenant, payment_id)
    assert details is not None
    assert details.payment.status is PaymentStatus.REFUNDED
    assert (details.payment.amount_refunded, details.payment.amount_refund_pending) == (4500, 0)
    stripe_refunds = client.v1.refunds.list().data
    assert sorted(r.amount for r in stripe_refunds) == [1500, 3000]
    assert {r.metadata["refund_id"] for r in stripe_refunds if r.metadata} == {
        first["refund_id"],
        rest["refund_id"],
    }
    status, body = _refund(functions, tenant, payment_id, "r-4", amount=1)
    assert (status, body["error"]["code"]) == (409, "payment_not_refundable")
    balances = {
        account: int(debits) - int(credits)
        for (account, _), (debits, credits) in repositories.tenant_balances(tenant).items()
    }
    assert balances == {"merchant_sales": 0, "provider_clearing:stripe": 0}


def test_unpaid_payments_are_not_refundable_and_bad_refunds_are_4xx(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    _, pending = _checkout(functions, tenant, key="unpaid")
    status, error = _refund(functions, tenant, pending["payment_id"], "r-1", amount=100)
    assert (status, error["error"]["code"]) == (409, "payment_not_refundable")
    payment_id = _paid_payment(functions, tenant, client)
    for payload, code in (
        ({"amount": 0}, "invalid_amount"),
        ({"amount": -1}, "invalid_amount"),
        ({"amount": 1.5}, "invalid_type"),
        ({"reason": "because"}, "invalid_reason"),
        ({"amount": 1, "note": "x"}, "unknown_field"),
        # null never means "the default": only an omitted amount refunds all that remains.
        ({"amount": None}, "null_not_allowed"),
        ({"reason": None}, "null_not_allowed"),
    ):
        status, error = _refund(functions, tenant, payment_id, f"bad-{code}", **payload)
        assert (status, error["error"]["code"]) == (422, code), payload
    status, error = _refund(functions, tenant, "pay_nope", "r-x", amount=1)
    assert (status, error["error"]["code"]) == (404, "payment_not_found")
    assert items_of_type("refund") == []


def test_one_idempotency_key_on_two_payments_makes_two_refunds(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    first = _paid_payment(functions, tenant, client)
    second_key = "booking-bk_2002"
    _, body = _checkout(functions, tenant, key=second_key)
    import requests

    requests.post(f"{body['checkout_url']}/pay", allow_redirects=False, timeout=10)
    session = client.v1.checkout.sessions.retrieve(body["checkout_url"].rsplit("/", 1)[1])
    apply_transition(
        tenant_id=tenant,
        payment_id=body["payment_id"],
        requested=PaymentStatus.SUCCEEDED,
        source="provider",
        changes={"capture_ref": str(session.payment_intent)},
    )
    assert _refund(functions, tenant, first, "same-key", amount=100)[0] == 201
    assert _refund(functions, tenant, body["payment_id"], "same-key", amount=100)[0] == 201
    assert len(client.v1.refunds.list().data) == 2


def test_refunding_without_the_provider_reserves_nothing(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient]
) -> None:
    tenant, client = merchant
    payment_id = _paid_payment(functions, tenant, client)
    set_provider_credentials(
        tenant,
        "stripe",
        {"secret_key": "sk_test_x", "webhook_secret": "whsec_unused"},
        enabled=False,
    )
    status, body = _refund(functions, tenant, payment_id, "r-off", amount=100)
    assert (status, body["error"]["code"]) == (409, "provider_unavailable")
    payment = repositories.get_payment(tenant, payment_id)
    assert payment is not None
    assert payment.amount_refund_pending == 0
    assert items_of_type("refund") == []


@pytest.mark.parametrize(
    "field", ["cancel_url", "customer", "metadata", "expires_in_minutes", "customer.name"]
)
def test_null_in_an_optional_checkout_field_is_422_and_writes_nothing(
    functions: FunctionRegistry, merchant: tuple[str, stripe.StripeClient], field: str
) -> None:
    tenant, client = merchant
    event = load_event("checkout/create.json")
    body = json.loads(event["body"])
    if field == "customer.name":
        body["customer"] = {"email": "ann@example.com", "name": None}
    else:
        body[field] = None
    event["body"] = json.dumps(body)
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("CheckoutFunction", event)
    error = json.loads(response["body"])["error"]
    assert (response["statusCode"], error["code"]) == (422, "null_not_allowed")
    assert error["details"][0]["field"] == field
    assert items_of_type("payment") == []
    assert client.v1.checkout.sessions.list().data == []
