"""The merchant routes the dashboard reads (issue 12), through the real handlers under moto: the
tenant's payments (filters, search, pagination across days), the CSV export, a payment's
activity, reports, the tenant's deliveries, switching endpoints on and off, the signed test
ping, the inbox's reason/until filters and `payctl payments backfill-index`. Every route is
also tried with another tenant's key."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.domain.payment import Customer, Payment
from payments.domain.states import PaymentStatus
from payments.services.transitions import create_payment
from payments.store.mapping import payment_to_item
from payments.store.models import TenantItem
from tests.conftest import load_event
from tests.integration.helpers import new_tenant
from tests.integration.stripe_fixtures import (
    configure_stripe,
    open_checkout,
    session_completed,
    signed_delivery,
)
from tests.integration.test_callbacks import Merchant, _pump, _verify

NOW = datetime.now(UTC)


def _headers(response: dict[str, Any]) -> dict[str, str]:
    single = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        single.setdefault(name, values[-1])
    return single


def _call(
    functions: FunctionRegistry,
    function: str,
    tenant_id: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    event = load_event("status/list_payments.json")
    event.update(httpMethod=method, path=path, resource=path, pathParameters=None)
    event["queryStringParameters"] = query or None
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in (query or {}).items()} or None
    event["body"] = json.dumps(body) if body is not None else None
    if body is not None:
        event["headers"]["Content-Type"] = "application/json"
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    return functions.invoke(function, event)


def _json(
    functions: FunctionRegistry,
    function: str,
    tenant_id: str,
    method: str,
    path: str,
    **kwargs: Any,
) -> tuple[int, Any]:
    response = _call(functions, function, tenant_id, method, path, **kwargs)
    return response["statusCode"], json.loads(response["body"] or "null")


def _payments(functions: FunctionRegistry, tenant_id: str, **query: str) -> tuple[int, Any]:
    return _json(functions, "StatusFunction", tenant_id, "GET", "/v1/payments", query=query)


def _all_pages(functions: FunctionRegistry, tenant_id: str, **query: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        status, page = _payments(
            functions, tenant_id, **query, **({"cursor": cursor} if cursor else {})
        )
        assert status == 200, page
        found.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the cursor never ended")


def _tenant_since(days: int, name: str = "Salon") -> str:
    """A tenant created ``days`` ago (the list looks back to the tenant's creation)."""
    tenant = new_tenant(name)
    TenantItem(*TenantItem.key(tenant)).update(
        actions=[TenantItem.created_at.set(NOW - timedelta(days=days))]
    )
    return tenant


def _payment(
    tenant_id: str,
    *,
    days_ago: float = 0,
    status: PaymentStatus = PaymentStatus.CREATED,
    provider: str = "stripe",
    currency: str = "KES",
    amount: int | Decimal = 2500,
    captured: int | Decimal | None = None,
    refunded: int | Decimal = 0,
    payable_id: str = "bk_1",
    email: str | None = "c@example.com",
    description: str = "Haircut",
) -> Payment:
    """A payment created ``days_ago`` (written as the state change would have, with its
    indexes), in ``status``."""
    payment = create_payment(
        tenant_id=tenant_id,
        payable_type="booking",
        payable_id=payable_id,
        amount=amount,
        currency=currency,
        provider=provider,
        description=description,
        customer=Customer(email=email, name="Ann Customer"),
    )
    at = NOW - timedelta(days=days_ago)
    zero = amount - amount
    if captured is None:
        captured = amount if status.value in {"succeeded", "refunded", "settled"} else zero
    moved = replace(
        payment,
        status=status,
        created_at=at,
        updated_at=at,
        amount_captured=captured,
        amount_refunded=refunded if refunded else zero,
    )
    payment_to_item(moved).save()
    return moved


# --- the tenant's list ---------------------------------------------------------------------


def test_the_list_is_newest_first_across_days_filtered_and_paginated(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = _tenant_since(30)
    made = [
        _payment(tenant, days_ago=20, status=PaymentStatus.FAILED, provider="mpesa"),
        _payment(tenant, days_ago=5, status=PaymentStatus.SUCCEEDED),
        _payment(tenant, days_ago=5.1, currency="USD"),
        _payment(tenant, days_ago=2, status=PaymentStatus.FAILED),
        _payment(tenant, days_ago=0.01, status=PaymentStatus.SUCCEEDED, provider="mpesa"),
    ]
    newest_first = [p.payment_id for p in sorted(made, key=lambda p: p.created_at, reverse=True)]
    # One at a time: the cursor carries the day and the place in it.
    assert [p["payment_id"] for p in _all_pages(functions, tenant, limit="1")] == newest_first
    assert [p["payment_id"] for p in _all_pages(functions, tenant, limit="2")] == newest_first
    status, first = _payments(functions, tenant, limit="2")
    assert (status, len(first["data"]), bool(first["next_cursor"])) == (200, 2, True)
    failed = _all_pages(functions, tenant, status="failed", limit="1")
    assert [p["payment_id"] for p in failed] == [made[3].payment_id, made[0].payment_id]
    assert [p["payment_id"] for p in _all_pages(functions, tenant, provider="mpesa")] == [
        made[4].payment_id,
        made[0].payment_id,
    ]
    assert [p["payment_id"] for p in _all_pages(functions, tenant, currency="usd")] == [
        made[2].payment_id
    ]
    window = _all_pages(
        functions,
        tenant,
        created_from=(NOW - timedelta(days=6)).isoformat(),
        created_to=(NOW - timedelta(days=1)).isoformat(),
    )
    assert [p["payment_id"] for p in window] == [
        made[3].payment_id,
        made[1].payment_id,
        made[2].payment_id,
    ]
    # created_to is exclusive, created_from inclusive.
    exact = made[1].created_at.isoformat()
    assert made[1].payment_id not in {
        p["payment_id"] for p in _all_pages(functions, tenant, created_to=exact)
    }
    assert made[1].payment_id in {
        p["payment_id"] for p in _all_pages(functions, tenant, created_from=exact)
    }
    both = _all_pages(functions, tenant, status="succeeded", provider="mpesa")
    assert [p["payment_id"] for p in both] == [made[4].payment_id]
    # The existing modes are unchanged.
    status, by_payable = _payments(functions, tenant, payable_type="booking", payable_id="bk_1")
    assert (status, len(by_payable["data"])) == (200, 5)


def test_a_page_short_of_its_read_budget_hands_back_a_cursor(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.services import payment_search

    tenant = _tenant_since(10)
    old = _payment(tenant, days_ago=9)
    monkeypatch.setattr(payment_search, "PAGE_READ_BUDGET", 3)
    status, page = _payments(functions, tenant)
    # Three empty days read, then the budget is spent: nothing yet, but a cursor.
    assert (status, page["data"]) == (200, [])
    assert page["next_cursor"]
    assert [p["payment_id"] for p in _all_pages(functions, tenant)] == [old.payment_id]


def test_search_finds_a_payment_by_id_reference_payable_and_email_any_case(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = _tenant_since(3)
    other = _payment(tenant, payable_id="bk_other", email="someone@else.org")
    mine = _payment(tenant, days_ago=1, payable_id="bk_42", email="Ann.Customer@Example.COM")
    checkout = open_checkout(tenant, suffix="search1")

    def found(**query: str) -> list[str]:
        return [p["payment_id"] for p in _all_pages(functions, tenant, **query)]

    assert found(q=mine.payment_id) == [mine.payment_id]
    assert found(q="ann.customer@example.com") == [mine.payment_id]
    assert found(q="  ANN.CUSTOMER@example.com ") == [mine.payment_id]
    assert found(q="bk_42") == [mine.payment_id]
    assert found(q=checkout.session_id) == [checkout.payment_id]
    assert found(q="nobody@example.com") == []
    assert found(q="pay_0000000000000000") == []
    # Combined with the filters.
    assert found(q="bk_42", status="failed") == []
    assert found(q=mine.payment_id, provider="mpesa") == []
    assert found(q="someone@else.org", provider="stripe") == [other.payment_id]
    from payments.services.payment_search import search_payments

    views = search_payments(tenant, "ANN.customer@example.com", limit=5)
    assert [v["payment_id"] for v in views] == [mine.payment_id]
    assert (views[0]["status"], views[0]["amount"]) == ("created", 2500)


def test_bad_parameters_are_400_with_a_code(aws: LocalStack, functions: FunctionRegistry) -> None:
    tenant = _tenant_since(2)
    _payment(tenant)
    cases = [
        ({"created_from": "yesterday"}, "invalid_format"),
        ({"created_to": "2026-02-30T00:00:00Z"}, "invalid_query"),
        (
            {"created_from": "2026-11-02T00:00:00Z", "created_to": "2026-11-01T00:00:00Z"},
            "invalid_query",
        ),
        ({"q": "x" * 255}, "value_too_long"),
        ({"q": "a\u0007b"}, "invalid_format"),
        ({"cursor": "not-a-cursor!"}, "invalid_cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"d":"1999-01-01"}').decode()}, "invalid_cursor"),
        ({"status": "bogus"}, "invalid_query"),
        ({"limit": "0"}, "value_out_of_range"),
        ({"limit": "101"}, "value_out_of_range"),
        ({"payable_id": "bk_1"}, "missing_field"),
        ({"provider_reference": "cs_1", "status": "failed"}, "invalid_query"),
        ({"payable_type": "booking", "payable_id": "bk_1", "q": "x"}, "invalid_query"),
        ({"q": "pay_1", "cursor": "eyJkIjoiMjAyNi0xMS0wMSJ9"}, "invalid_cursor"),
    ]
    today = NOW.date().isoformat()

    def forged(**key: str) -> str:
        fields = {
            "pk": "PAYMENT#pay_x",
            "sk": "PAYMENT",
            "gsi5pk": f"PAYLOG#{tenant}#{today}",
            "gsi5sk": "2026-11-23T04:23:58.340552Z#pay_x",
            **key,
        }
        raw = json.dumps({"d": today, "k": fields}).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    assert _payments(functions, tenant, cursor=forged())[0] == 200  # well-formed: accepted
    for key in (
        {"gsi5pk": f"PAYLOG#ten_other#{today}"},  # another tenant's partition
        {"gsi5pk": f"DLVLOG#{tenant}#{today}"},  # another log
        {"sk": "HISTORY#x"},
        {"gsi5sk": "2026-11-23#pay_y"},
        {"pk": "PAYMENT#pay_y"},  # the key and the sort key name different payments
    ):
        cases.append(({"cursor": forged(**key)}, "invalid_cursor"))
    for query, code in cases:
        status, body = _payments(functions, tenant, **query)
        assert (status, body["error"]["code"]) == (400, code), (query, body)
    for query in ({"from": "2026-13-01"}, {"from": "2026-01-10", "to": "2026-01-01"}):
        status, body = _json(functions, "StatusFunction", tenant, "GET", "/v1/reports", query=query)
        assert (status, body["error"]["code"]) == (400, "invalid_query"), body
    status, body = _json(
        functions,
        "StatusFunction",
        tenant,
        "GET",
        "/v1/reports",
        query={"from": "2026-01-01", "to": "2026-04-03"},
    )
    assert (status, body["error"]["code"]) == (400, "invalid_query")
    status, body = _json(
        functions, "StatusFunction", tenant, "GET", "/v1/reports", query={"to": "x"}
    )
    assert (status, body["error"]["code"]) == (400, "value_too_short")


# --- tenants never see each other ----------------------------------------------------------


def test_another_tenant_sees_none_of_it(aws: LocalStack, functions: FunctionRegistry) -> None:
    tenant_a, tenant_b = _tenant_since(3, "A"), _tenant_since(3, "B")
    mine = _payment(tenant_a, status=PaymentStatus.SUCCEEDED, email="secret@a.example")
    checkout = open_checkout(tenant_a, suffix="isolation")
    _payment(tenant_b, payable_id="bk_b", email="b@b.example")
    status, page_a = _payments(functions, tenant_a, limit="1")
    assert (status, bool(page_a["next_cursor"])) == (200, True)
    b_ids = {p["payment_id"] for p in _all_pages(functions, tenant_b)}
    assert len(b_ids) == 1
    assert not {mine.payment_id, checkout.payment_id} & b_ids
    for q in ("secret@a.example", mine.payment_id, checkout.session_id, "bk_1"):
        assert _all_pages(functions, tenant_b, q=q) == [], q
    # A's cursor is not B's.
    status, body = _payments(functions, tenant_b, cursor=page_a["next_cursor"])
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    status, body = _json(
        functions, "StatusFunction", tenant_b, "GET", f"/v1/payments/{mine.payment_id}/activity"
    )
    assert (status, body["error"]["code"]) == (404, "payment_not_found")
    export = _call(functions, "StatusFunction", tenant_b, "GET", "/v1/payments/export")
    rows = list(csv.DictReader(io.StringIO(export["body"])))
    assert [row["payable_id"] for row in rows] == ["bk_b"]
    status, report = _json(functions, "StatusFunction", tenant_b, "GET", "/v1/reports")
    assert status == 200
    assert [(t["provider"], t["count"], t["succeeded"]) for t in report["totals"]] == [
        ("stripe", 1, 0)
    ]


# --- CSV export ----------------------------------------------------------------------------


def test_the_export_is_csv_without_formulas_and_says_when_it_was_cut(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = _tenant_since(2)
    hostile = [
        '=HYPERLINK("http://x")',
        "+1+2",
        "-3",
        "@SUM(A1)",
        "\tTab",
        "\rCR",
        'a "quoted", text',
    ]
    made = [
        _payment(tenant, days_ago=0.001 * (n + 1), description=text, status=PaymentStatus.SUCCEEDED)
        for n, text in enumerate(hostile)
    ]
    response = _call(functions, "StatusFunction", tenant, "GET", "/v1/payments/export")
    assert response["statusCode"] == 200
    headers = _headers(response)
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert headers["Content-Disposition"] == f'attachment; filename="payments-{today}.csv"'
    assert "X-Truncated" not in headers
    rows = list(csv.reader(io.StringIO(response["body"], newline="")))
    assert rows[0] == [
        "payment_id",
        "created_at",
        "status",
        "provider",
        "payable_type",
        "payable_id",
        "currency",
        "amount",
        "amount_captured",
        "amount_refunded",
        "provider_reference",
        "description",
    ]
    assert [row[0] for row in rows[1:]] == [p.payment_id for p in made]
    assert [row[-1] for row in rows[1:]] == [
        '\'=HYPERLINK("http://x")',
        "'+1+2",
        "'-3",
        "'@SUM(A1)",
        "'\tTab",
        "'\rCR",
        'a "quoted", text',
    ]
    assert rows[1][2:10] == ["succeeded", "stripe", "booking", "bk_1", "KES", "2500", "2500", "0"]
    filtered = _call(
        functions,
        "StatusFunction",
        tenant,
        "GET",
        "/v1/payments/export",
        query={"q": made[2].payment_id},
    )
    assert [row[0] for row in list(csv.reader(io.StringIO(filtered["body"])))[1:]] == [
        made[2].payment_id
    ]
    from payments.services import payment_search

    monkeypatch.setattr(payment_search, "EXPORT_MAX_ROWS", 3)
    cut = _call(functions, "StatusFunction", tenant, "GET", "/v1/payments/export")
    assert _headers(cut)["X-Truncated"] == "true"
    assert len(list(csv.reader(io.StringIO(cut["body"])))) == 4


# --- a payment's activity ------------------------------------------------------------------


def test_the_activity_shows_ledger_provider_events_events_and_deliveries(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant = new_tenant()
    configure_stripe(tenant)
    receiver = Merchant().start()
    merchants.append(receiver)
    status, endpoint = _json(
        functions,
        "CallbacksApiFunction",
        tenant,
        "POST",
        "/v1/callbacks/endpoints",
        body={"url": receiver.url, "event_types": ["payment.succeeded"]},
    )
    assert status == 201
    checkout = open_checkout(tenant, suffix="activity")
    delivery = signed_delivery(tenant, session_completed(checkout))
    assert functions.invoke("WebhookStripeFunction", delivery)["statusCode"] == 200
    _relay_outbox(functions, tenant)
    status, activity = _json(
        functions, "StatusFunction", tenant, "GET", f"/v1/payments/{checkout.payment_id}/activity"
    )
    assert status == 200, activity
    assert activity["payment"]["payment_id"] == checkout.payment_id
    assert activity["payment"]["status"] == "succeeded"
    assert [h["to_status"] for h in activity["payment"]["history"]] == [
        "created",
        "pending",
        "succeeded",
    ]
    assert activity["amounts"] == {
        "amount": 5000,
        "captured": 5000,
        "refunded": 0,
        "refund_pending": 0,
        "refundable": 5000,
    }
    assert activity["customer"] is None
    assert len(activity["ledger"]) >= 1
    for entry in activity["ledger"]:
        assert sum(line["debit"] for line in entry["lines"]) == sum(
            line["credit"] for line in entry["lines"]
        )
    [event] = activity["provider_events"]
    assert (event["event_id"], event["status"], event["provider"]) == (
        f"evt_cs_completed_{checkout.session_id}",
        "accepted",
        "stripe",
    )
    status, raw = _json(
        functions, "WebhooksApiFunction", tenant, "GET", f"/v1/webhooks/inbox/{event['id']}"
    )
    assert (status, json.loads(raw["payload"])["type"]) == (200, "checkout.session.completed")
    assert [e["type"] for e in activity["events"]] == [
        "payment.created",
        "payment.pending",
        "payment.succeeded",
    ]
    by_type = {e["type"]: e["deliveries"] for e in activity["events"]}
    assert by_type["payment.created"] == []  # the endpoint takes payment.succeeded only
    [sent] = by_type["payment.succeeded"]
    assert (sent["endpoint_id"], sent["status"]) == (endpoint["endpoint_id"], "delivered")
    assert [a["status_code"] for a in sent["attempts"]] == [204]
    assert len(receiver.received) == 1


def _relay_outbox(functions: FunctionRegistry, tenant_id: str) -> None:
    """Play the stream -> pipe -> bus -> callback queue path for the tenant's outbox items
    (what the devstack's relays do), then let the callback worker run."""
    import boto3

    from payments.config import get_settings
    from tests.integration.helpers import items_of_type

    sqs = boto3.client("sqs")
    for item in sorted(items_of_type("outbox"), key=lambda i: i["created_at"]):
        if item["tenant_id"] != tenant_id:
            continue
        bus_event = {
            "version": "0",
            "id": "eb-1",
            "detail-type": item["event_type"],
            "source": "payments",
            "detail": {"envelope": {"S": item["envelope"]}},
        }
        sqs.send_message(
            QueueUrl=get_settings().callback_queue_url, MessageBody=json.dumps(bus_event)
        )
    _pump(functions)


# --- reports -------------------------------------------------------------------------------


def test_reports_sum_exactly_per_day_provider_and_currency(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = _tenant_since(10)
    _payment(tenant, days_ago=3, status=PaymentStatus.SUCCEEDED, amount=1000)
    _payment(
        tenant,
        days_ago=3,
        status=PaymentStatus.PARTIALLY_REFUNDED,
        amount=3000,
        captured=3000,
        refunded=1000,
    )
    _payment(tenant, days_ago=3, status=PaymentStatus.FAILED, amount=500)
    _payment(tenant, days_ago=1, status=PaymentStatus.SUCCEEDED, provider="mpesa", amount=700)
    for amount in (Decimal("0.1"), Decimal("0.2")):
        _payment(
            tenant,
            days_ago=1,
            status=PaymentStatus.SUCCEEDED,
            provider="nowpayments",
            currency="BTC",
            amount=amount,
        )
    _payment(tenant, days_ago=40, status=PaymentStatus.SUCCEEDED)  # before the range
    day3 = (NOW - timedelta(days=3)).date().isoformat()
    day1 = (NOW - timedelta(days=1)).date().isoformat()
    status, report = _json(
        functions,
        "StatusFunction",
        tenant,
        "GET",
        "/v1/reports",
        query={"from": (NOW - timedelta(days=7)).date().isoformat(), "to": NOW.date().isoformat()},
    )
    assert status == 200, report
    assert report["truncated"] is False
    # Oldest day first (as a chart reads), then provider and currency.
    assert report["days"] == [
        {
            "date": day3,
            "provider": "stripe",
            "currency": "KES",
            "count": 3,
            "succeeded": 2,
            "failed": 1,
            "volume": 4000,
            "refunded": 1000,
        },
        {
            "date": day1,
            "provider": "mpesa",
            "currency": "KES",
            "count": 1,
            "succeeded": 1,
            "failed": 0,
            "volume": 700,
            "refunded": 0,
        },
        {
            "date": day1,
            "provider": "nowpayments",
            "currency": "BTC",
            "count": 2,
            "succeeded": 2,
            "failed": 0,
            "volume": "0.3",  # exact: never 0.30000000000000004
            "refunded": "0",
        },
    ]
    stripe = next(t for t in report["totals"] if t["provider"] == "stripe")
    assert stripe["success_rate"] == pytest.approx(2 / 3)
    assert stripe["refund_rate"] == pytest.approx(0.25)
    status, default = _json(functions, "StatusFunction", tenant, "GET", "/v1/reports")
    assert status == 200
    assert default["to"] == NOW.date().isoformat()
    assert default["from"] == (NOW - timedelta(days=29)).date().isoformat()


def test_a_report_past_its_read_budget_says_truncated(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.services import reports

    tenant = _tenant_since(10)
    _payment(tenant, days_ago=0, status=PaymentStatus.SUCCEEDED)
    _payment(tenant, days_ago=5, status=PaymentStatus.SUCCEEDED)
    monkeypatch.setattr(reports, "READ_BUDGET", 2)
    status, report = _json(functions, "StatusFunction", tenant, "GET", "/v1/reports")
    assert (status, report["truncated"]) == (200, True)
    assert [row["count"] for row in report["days"]] == [1]  # today's, not the older one


# --- callbacks: deliveries, switching endpoints, the test ping ------------------------------


def _callbacks(
    functions: FunctionRegistry, tenant: str, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    return _json(functions, "CallbacksApiFunction", tenant, method, path, **kwargs)


def test_a_test_ping_arrives_signed_and_is_listed_with_the_deliveries(
    local_callbacks: LocalStack, functions: FunctionRegistry, merchants: list[Merchant]
) -> None:
    tenant, other = new_tenant("A"), new_tenant("B")
    receiver, failing = Merchant().start(), Merchant(statuses=[500] * 20).start()
    merchants += [receiver, failing]
    _, endpoint = _callbacks(
        functions, tenant, "POST", "/v1/callbacks/endpoints", body={"url": receiver.url}
    )
    _, broken = _callbacks(
        functions, tenant, "POST", "/v1/callbacks/endpoints", body={"url": failing.url}
    )
    status, ping = _callbacks(
        functions, tenant, "POST", f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}/test"
    )
    assert status == 202, ping
    assert ping["status"] == "pending"
    assert ping["event_id"].startswith("evt_")
    status, failing_ping = _callbacks(
        functions, tenant, "POST", f"/v1/callbacks/endpoints/{broken['endpoint_id']}/test"
    )
    assert status == 202
    _pump(functions)
    [(headers, body)] = receiver.received
    # Verified with the Standard Webhooks reference library, not with our own code.
    payload = _verify(endpoint["secret"], headers, body)
    assert payload["type"] == "ping"
    assert payload["data"]["endpoint_id"] == endpoint["endpoint_id"]
    assert headers["webhook-id"] == ping["event_id"]
    status, page = _callbacks(functions, tenant, "GET", "/v1/callbacks/deliveries")
    assert status == 200, page
    assert {d["delivery_id"] for d in page["data"]} == {
        ping["delivery_id"],
        failing_ping["delivery_id"],
    }
    listed = {d["delivery_id"]: d for d in page["data"]}
    assert listed[ping["delivery_id"]]["status"] == "delivered"
    assert listed[ping["delivery_id"]]["event_type"] == "ping"
    assert [a["status_code"] for a in listed[ping["delivery_id"]]["attempts"]] == [204]
    assert listed[failing_ping["delivery_id"]]["status"] == "failed"
    assert all(d["created_at"].endswith("Z") for d in page["data"])
    status, failed = _callbacks(
        functions, tenant, "GET", "/v1/callbacks/deliveries", query={"status": "failed"}
    )
    assert [d["delivery_id"] for d in failed["data"]] == [failing_ping["delivery_id"]]
    status, one = _callbacks(
        functions,
        tenant,
        "GET",
        "/v1/callbacks/deliveries",
        query={"endpoint_id": endpoint["endpoint_id"], "limit": "1"},
    )
    assert [d["delivery_id"] for d in one["data"]] == [ping["delivery_id"]]
    status, first = _callbacks(
        functions, tenant, "GET", "/v1/callbacks/deliveries", query={"limit": "1"}
    )
    assert (len(first["data"]), bool(first["next_cursor"])) == (1, True)
    status, second = _callbacks(
        functions,
        tenant,
        "GET",
        "/v1/callbacks/deliveries",
        query={"limit": "1", "cursor": first["next_cursor"]},
    )
    assert {first["data"][0]["delivery_id"], second["data"][0]["delivery_id"]} == set(listed)
    # The event_id mode is unchanged.
    status, by_event = _callbacks(
        functions, tenant, "GET", "/v1/callbacks/deliveries", query={"event_id": ping["event_id"]}
    )
    assert [d["delivery_id"] for d in by_event["data"]] == [ping["delivery_id"]]
    # Another tenant sees none of it, and cannot ping or switch A's endpoint.
    status, theirs = _callbacks(functions, other, "GET", "/v1/callbacks/deliveries")
    assert (status, theirs["data"]) == (200, [])
    status, body = _callbacks(
        functions, other, "GET", "/v1/callbacks/deliveries", query={"cursor": first["next_cursor"]}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")
    path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}"
    assert _callbacks(functions, other, "POST", f"{path}/test")[0] == 404
    assert _callbacks(functions, other, "PATCH", path, body={"enabled": False})[0] == 404
    status, body = _callbacks(
        functions, tenant, "GET", "/v1/callbacks/deliveries", query={"status": "lost"}
    )
    assert (status, body["error"]["code"]) == (400, "invalid_query")


def test_endpoints_are_switched_off_and_on_and_on_clears_the_reason(
    local_callbacks: LocalStack, functions: FunctionRegistry
) -> None:
    from payments.store import callbacks as store

    tenant = new_tenant()
    _, endpoint = _callbacks(
        functions,
        tenant,
        "POST",
        "/v1/callbacks/endpoints",
        body={"url": "http://localhost:9/hooks"},
    )
    path = f"/v1/callbacks/endpoints/{endpoint['endpoint_id']}"
    status, off = _callbacks(functions, tenant, "PATCH", path, body={"enabled": False})
    assert status == 200, off
    assert (off["enabled"], off["disabled_reason"]) == (False, "disabled by the merchant")
    assert "secret" not in off
    status, body = _callbacks(functions, tenant, "POST", f"{path}/test")
    assert (status, body["error"]["code"]) == (409, "endpoint_disabled")
    # Disabled by us after a 410 Gone: switching it on clears the reason.
    item = store.get_endpoint(tenant, endpoint["endpoint_id"])
    assert item is not None
    store.disable_endpoint(item, "endpoint answered 410 Gone")
    status, on = _callbacks(functions, tenant, "PATCH", path, body={"enabled": True})
    assert (status, on["enabled"], on["disabled_reason"]) == (200, True, None)
    _, listed = _callbacks(functions, tenant, "GET", "/v1/callbacks/endpoints")
    assert (listed["data"][0]["enabled"], listed["data"][0]["disabled_reason"]) == (True, None)
    for bad in ({"enabled": "yes"}, {}, {"enabled": True, "url": "x"}):
        status, body = _callbacks(functions, tenant, "PATCH", path, body=bad)
        assert status == 422, (bad, body)
    status, body = _callbacks(
        functions, tenant, "PATCH", "/v1/callbacks/endpoints/we_missing", body={"enabled": True}
    )
    assert (status, body["error"]["code"]) == (404, "endpoint_not_found")


# --- the inbox's new filters ---------------------------------------------------------------


def test_the_inbox_filters_by_reason_and_until(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    from payments.store.state_change import InboxRecord, inbox_item

    tenant, other = new_tenant("A"), new_tenant("B")
    base = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for n, (status, reason) in enumerate(
        [("rejected", "invalid_signature"), ("rejected", "stale_timestamp"), ("ignored", None)]
    ):
        inbox_item(
            InboxRecord("stripe", f"evt_{n}", tenant, "x", "{}", status=status, reason=reason),
            base + timedelta(hours=n),
        ).save()

    def ids(who: str = tenant, **query: str) -> list[str]:
        status, page = _json(
            functions, "WebhooksApiFunction", who, "GET", "/v1/webhooks/inbox", query=query
        )
        assert status == 200, page
        return [entry["event_id"] for entry in page["data"]]

    assert ids(reason="invalid_signature") == ["evt_0"]
    assert ids(status="rejected", reason="stale_timestamp") == ["evt_1"]
    assert ids(until="2026-11-20T11:00:00Z") == ["evt_0"]  # exclusive
    assert ids(since="2026-11-20T11:00:00Z", until="2026-11-20T12:00:00.000001Z") == [
        "evt_2",
        "evt_1",
    ]
    assert ids(other, reason="invalid_signature") == []
    for query, code in (
        ({"until": "tomorrow"}, "invalid_format"),
        ({"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "invalid_query"),
        ({"reason": "a\u0001"}, "invalid_format"),
    ):
        status, body = _json(
            functions, "WebhooksApiFunction", tenant, "GET", "/v1/webhooks/inbox", query=query
        )
        assert (status, body["error"]["code"]) == (400, code), body


# --- payctl payments backfill-index --------------------------------------------------------


def test_items_stored_before_the_log_index_are_backfilled(
    aws: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payments.services import callbacks
    from payments.store import activity_log
    from payments.store.models import DeliveryItem, OutboxItem, PaymentItem
    from tests.integration.helpers import items_of_type
    from tests.integration.test_webhook_insights import run_payctl_locally

    tenant = _tenant_since(1)
    payment = _payment(tenant, email="Old.Customer@Example.com")
    delivery = callbacks.new_delivery(tenant, "we_x", "evt_old", "payment.created", "{}", NOW)
    delivery.save()
    # As stored before the index: no log keys, no lower-case e-mail.
    for model, key in (
        (PaymentItem, PaymentItem.key(payment.payment_id)),
        (DeliveryItem, DeliveryItem.key(delivery.delivery_id)),
        *[
            (OutboxItem, OutboxItem.key(item["event_id"]))
            for item in items_of_type("outbox")
            if item["tenant_id"] == tenant
        ],
    ):
        actions = [model.gsi5pk.remove(), model.gsi5sk.remove()]
        if model is PaymentItem:
            actions.append(PaymentItem.email_lc.remove())
        model(*key).update(actions=actions)
    assert _all_pages(functions, tenant) == []
    assert activity_log.payment_events(tenant, payment.payment_id) == []
    state = aws.environment()
    monkeypatch.setattr("payctl.main.target_environment", lambda *_: state)
    for name, value in state.items():
        monkeypatch.setenv(name, value)
    code, output = run_payctl_locally("payments", "backfill-index")
    assert code == 0, output
    assert "indexed 1 payment(s), 1 delivery(ies), 1 event(s)" in output
    assert activity_log.backfill_index() == {"payments": 0, "deliveries": 0, "events": 0}
    assert [p["payment_id"] for p in _all_pages(functions, tenant)] == [payment.payment_id]
    assert [
        p["payment_id"] for p in _all_pages(functions, tenant, q="old.customer@example.COM")
    ] == [payment.payment_id]
    assert [e.event_type for e in activity_log.payment_events(tenant, payment.payment_id)] == [
        "payment.created"
    ]
    status, page = _json(
        functions, "CallbacksApiFunction", tenant, "GET", "/v1/callbacks/deliveries"
    )
    assert status == 200
    assert [d["delivery_id"] for d in page["data"]] == [delivery.delivery_id]
