"""The real API handlers under moto, driven by the `events/` samples."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devstack.lambdas import FunctionRegistry
from devstack.template import LocalStack
from payments.store import repositories
from tests.conftest import load_event
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import new_payment, new_tenant


def _as(tenant_id: str, event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["authorizer"]["tenant_id"] = tenant_id
    return event


def _get(functions: FunctionRegistry, tenant_id: str, payment_id: str) -> tuple[int, Any]:
    event = load_event("status/get_payment.json")
    event["path"] = f"/v1/payments/{payment_id}"
    event["pathParameters"] = {"payment_id": payment_id}
    response = functions.invoke("StatusFunction", _as(tenant_id, event))
    return response["statusCode"], json.loads(response["body"])


def _list(functions: FunctionRegistry, tenant_id: str, **query: str) -> tuple[int, Any]:
    event = load_event("status/list_payments.json")
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    response = functions.invoke("StatusFunction", _as(tenant_id, event))
    return response["statusCode"], json.loads(response["body"])


def test_get_payment_shows_status_amounts_and_history(
    aws: LocalStack, functions: FunctionRegistry, aws_calls: AwsCallCounter
) -> None:
    tenant = new_tenant()
    payment = new_payment(tenant)
    aws_calls.reset()
    status, body = _get(functions, tenant, payment.payment_id)
    assert status == 200
    assert body["payment_id"] == payment.payment_id
    assert (body["status"], body["amount"], body["currency"]) == ("created", 2500, "KES")
    assert body["amount_refunded"] == 0
    assert [h["to_status"] for h in body["history"]] == ["created"]
    assert "customer" not in body  # no PII in the status view
    assert aws_calls() == {"Query": 1}  # payment, history and refunds: one item collection


def test_another_tenants_payment_is_indistinguishable_from_a_missing_one(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant_a, tenant_b = new_tenant("A"), new_tenant("B")
    payment = new_payment(tenant_a)
    foreign = _get(functions, tenant_b, payment.payment_id)
    missing = _get(functions, tenant_b, "pay_doesnotexist")
    assert foreign[0] == missing[0] == 404
    assert foreign[1]["error"]["code"] == missing[1]["error"]["code"] == "payment_not_found"
    # B's listing of A's payable shows nothing either.
    assert _list(functions, tenant_b, payable_type="booking", payable_id="bk_1001") == (
        200,
        {"data": [], "next_cursor": None},
    )


def test_listing_pages_through_a_payables_payments_newest_first(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    created = [new_payment(tenant, amount=100 + i).payment_id for i in range(5)]
    new_payment(tenant, payable_id="bk_other")
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"payable_type": "booking", "payable_id": "bk_1001", "limit": "2"}
        if cursor:
            query["cursor"] = cursor
        status, body = _list(functions, tenant, **query)
        assert status == 200
        assert len(body["data"]) <= 2
        seen.extend(p["payment_id"] for p in body["data"])
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(created))
    assert pages >= 3


def test_a_cursor_from_another_tenants_query_is_refused(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant_a, tenant_b = new_tenant("A"), new_tenant("B")
    for _ in range(3):
        new_payment(tenant_a)
    _, page = _list(functions, tenant_a, payable_type="booking", payable_id="bk_1001", limit="1")
    assert page["next_cursor"]
    status, body = _list(
        functions,
        tenant_b,
        payable_type="booking",
        payable_id="bk_1001",
        cursor=page["next_cursor"],
    )
    assert (status, body["error"]["code"]) == (400, "invalid_cursor")


@pytest.mark.parametrize(
    ("query", "code"),
    [
        # payable_type alone is a filter of the tenant's list; payable_id needs its type.
        ({"payable_id": "bk_1001"}, "missing_field"),
        ({"payable_type": "booking", "payable_id": "b", "limit": "0"}, "value_out_of_range"),
        ({"payable_type": "booking", "payable_id": "b", "limit": "1000"}, "value_out_of_range"),
        ({"payable_type": "booking", "payable_id": "b", "limit": "ten"}, "invalid_type"),
        ({"payable_type": "x" * 65, "payable_id": "b"}, "value_too_long"),
        ({"payable_type": "booking", "payable_id": "b", "cursor": "!!!"}, "invalid_cursor"),
    ],
)
def test_bad_list_queries_are_400_with_a_code(
    aws: LocalStack, functions: FunctionRegistry, query: dict[str, str], code: str
) -> None:
    status, body = _list(functions, new_tenant(), **query)
    assert (status, body["error"]["code"]) == (400, code)


def test_bad_payment_ids_are_rejected_before_any_lookup(
    aws: LocalStack, functions: FunctionRegistry, aws_calls: AwsCallCounter
) -> None:
    tenant = new_tenant()
    aws_calls.reset()
    status, body = _get(functions, tenant, "pay_" + "x" * 100)
    assert (status, body["error"]["code"]) == (400, "value_too_long")
    assert aws_calls() == {}


def test_health_needs_no_tenant_and_no_table(
    aws: LocalStack, functions: FunctionRegistry, aws_calls: AwsCallCounter
) -> None:
    response = functions.invoke("HealthFunction", load_event("health/get.json"))
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"status": "ok", "stage": "dev"}
    assert aws_calls() == {}


# --- authorizer ------------------------------------------------------------------------------


def _authorize(functions: FunctionRegistry, header: str | None) -> Any:
    event = load_event("authorizer/request.json")
    if header is None:
        event["headers"].pop("Authorization")
    else:
        event["headers"]["Authorization"] = header
    return functions.invoke("AuthorizerFunction", event)


def test_a_valid_key_gets_a_policy_for_the_whole_api_with_its_tenant(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    key = repositories.issue_api_key(tenant)
    policy = _authorize(functions, f"Bearer {key.plaintext}")
    assert policy["principalId"] == key.key_id
    assert policy["context"] == {"role": "merchant", "tenant_id": tenant, "key_id": key.key_id}
    allow, deny = policy["policyDocument"]["Statement"]
    assert allow["Effect"] == "Allow"
    # Cached per key for 300 s and reused for any route: the policy must cover them all...
    assert allow["Resource"] == ["arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/*/*"]
    # ...but the operator API's (test_admin_api.py holds every admin route to it).
    assert deny["Effect"] == "Deny"
    assert (
        "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/v1/admin/*"
        in (deny["Resource"])
    )


def test_only_the_hash_of_a_key_is_stored(aws: LocalStack) -> None:
    from tests.integration.helpers import all_items

    key = repositories.issue_api_key(new_tenant())
    dump = json.dumps(all_items(), default=str)
    assert key.plaintext not in dump
    assert repositories.hash_api_key(key.plaintext) in dump


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer pk_unknown", "Basic dXNlcjpwYXNz", "Bearer " + "k" * 300],
)
def test_missing_malformed_and_unknown_keys_are_unauthorized(
    aws: LocalStack, functions: FunctionRegistry, header: str | None
) -> None:
    new_tenant()
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, header)


def test_a_revoked_key_is_unauthorized(aws: LocalStack, functions: FunctionRegistry) -> None:
    key = repositories.issue_api_key(new_tenant())
    assert _authorize(functions, f"Bearer {key.plaintext}")["principalId"] == key.key_id
    assert repositories.revoke_api_key(key.key_id)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, f"Bearer {key.plaintext}")
    assert not repositories.revoke_api_key("key_unknown")


def test_a_suspended_tenants_keys_are_unauthorized(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    from payments.store.models import TenantItem

    tenant = new_tenant()
    key = repositories.issue_api_key(tenant)
    TenantItem.get(*TenantItem.key(tenant)).update(actions=[TenantItem.status.set("suspended")])
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(functions, f"Bearer {key.plaintext}")


def test_keys_cannot_be_issued_for_an_unknown_tenant(aws: LocalStack) -> None:
    from pynamodb.exceptions import TransactWriteError

    with pytest.raises(TransactWriteError):
        repositories.issue_api_key("ten_missing")


def test_metadata_and_crypto_amounts_round_trip_exactly(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    from decimal import Decimal

    from payments.services.transitions import create_payment

    tenant = new_tenant()
    payment = create_payment(
        tenant_id=tenant,
        payable_type="token_order",
        payable_id="ord_7",
        amount=Decimal("0.000000000000000001"),
        currency="ETH",
        provider="nowpayments",
        metadata={"plan": "gold", "seats": "3"},
    )
    status, body = _get(functions, tenant, payment.payment_id)
    assert status == 200
    assert body["metadata"] == {"plan": "gold", "seats": "3"}
    # Crypto decimals travel as exact strings, zeros included: never floats, never ints.
    assert body["amount"] == "0.000000000000000001"
    assert body["amount_captured"] == body["amount_refunded"] == "0"
    assert body["version"] == 1


def test_payable_references_cannot_smuggle_key_separators(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    status, body = _list(functions, new_tenant(), payable_type="a#b", payable_id="c")
    assert (status, body["error"]["code"]) == (400, "invalid_format")


def _edited_cursors(cursor: str) -> list[tuple[str, str]]:
    """The cursor with each field edited in every way that keeps or breaks its shape."""
    padded = cursor + "=" * (-len(cursor) % 4)
    key = json.loads(base64.urlsafe_b64decode(padded))

    def encode(value: Any) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    edits: list[tuple[str, str]] = []
    for field in sorted(key):
        for label, value in [
            ("number", {"N": "1"}),
            ("int", {"S": 123}),
            ("null", {"S": None}),
            ("empty", {"S": ""}),
            ("list", {"S": ["x"]}),
            ("bare", "x"),
            ("two types", {"S": "x", "N": "1"}),
            ("other value", {"S": key[field]["S"] + "x"}),
            ("huge", {"S": "x" * 1500}),
            ("binary", {"B": "AAAA"}),
        ]:
            edits.append((f"{field} {label}", encode({**key, field: value})))
        edits.append((f"{field} removed", encode({k: v for k, v in key.items() if k != field})))
    edits += [
        ("extra field", encode({**key, "gsi2pk": {"S": "x"}})),
        ("a list", encode([key])),
        ("a string", encode("x")),
        ("not json", base64.urlsafe_b64encode(b"{not json").decode()),
        ("not base64", "%%%"),
        ("not utf-8", base64.urlsafe_b64encode(b"\xff\xfe").decode()),
        ("truncated", cursor[: len(cursor) // 2]),
    ]
    return edits


def test_every_edit_of_a_cursor_is_400_invalid_cursor(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    tenant = new_tenant()
    for _ in range(3):
        new_payment(tenant)
    query = {"payable_type": "booking", "payable_id": "bk_1001", "limit": "1"}
    _, page = _list(functions, tenant, **query)
    assert page["next_cursor"]
    wrong = {}
    for label, edited in _edited_cursors(page["next_cursor"]):
        status, body = _list(functions, tenant, **query, cursor=edited)
        # A cursor longer than the parameter allows is refused by the parameter's schema.
        expected = "value_too_long" if len(edited) > 2048 else "invalid_cursor"
        if (status, body.get("error", {}).get("code")) != (400, expected):
            wrong[label] = (status, body)
    assert wrong == {}
    # The untouched cursor still works.
    assert _list(functions, tenant, **query, cursor=page["next_cursor"])[0] == 200


def test_concurrent_requests_of_two_tenants_each_see_only_their_own(
    aws: LocalStack, functions: FunctionRegistry
) -> None:
    """The devstack serves requests as threads of one process: a handler must read its own
    request (its tenant), never one another thread is resolving at the same moment."""
    tenant_a, tenant_b = new_tenant("A"), new_tenant("B")
    mine = {tenant_a: new_payment(tenant_a).payment_id, tenant_b: new_payment(tenant_b).payment_id}

    def read(tenant: str) -> int:
        return _get(functions, tenant, mine[tenant])[0]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(read, [tenant_a, tenant_b] * 40))
    assert statuses == [200] * 80
