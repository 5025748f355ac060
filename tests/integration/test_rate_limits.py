"""Rate limits under moto: costly operations per tenant (one conditional DynamoDB update each)
through the real handlers, and the tenant's usage key the authorizer hands API Gateway."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.lambdas import FunctionRegistry
from devstack.sandboxes.stripe import StripeSandbox
from devstack.template import LocalStack
from payments.config import reset_settings
from payments.errors import RateLimitedError
from payments.services import callbacks
from payments.services.credentials import set_provider_credentials
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.store import rate_limits, repositories
from tests.conftest import load_event
from tests.integration.conftest import AwsCallCounter
from tests.integration.helpers import items_of_type, new_tenant

# Long windows: a test never straddles a window's end (a new window has a fresh budget).
DAY = 86_400


def _limit(monkeypatch: pytest.MonkeyPatch, operation: str, capacity: int, window: int) -> None:
    monkeypatch.setenv(
        f"RATE_LIMIT_{operation.upper()}",
        json.dumps({"capacity": capacity, "window_seconds": window}),
    )
    reset_settings()


@pytest.fixture
def local_urls(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", "true")
    reset_settings()
    return aws


def _headers(response: dict[str, Any]) -> dict[str, str]:
    """A proxy response's headers, as API Gateway merges them (the REST resolver answers
    multi-value headers)."""
    headers = {k: str(v) for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name] = ", ".join(str(v) for v in values)
    return headers


def _callbacks_api(
    functions: FunctionRegistry, tenant: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    event = load_event("status/get_payment.json")
    event.update(httpMethod=method, path=path, resource=path, pathParameters=None)
    event["body"] = json.dumps(body) if body is not None else None
    event["headers"]["Content-Type"] = "application/json"
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("CallbacksApiFunction", event)
    return response["statusCode"], _headers(response), json.loads(response["body"])


def _endpoint(functions: FunctionRegistry, tenant: str) -> str:
    status, _, endpoint = _callbacks_api(
        functions, tenant, "POST", "/v1/callbacks/endpoints", {"url": "http://127.0.0.1:9/hook"}
    )
    assert status == 201, endpoint
    return str(endpoint["endpoint_id"])


def _assert_rate_limited(status: int, headers: dict[str, str], body: Any, window: int) -> None:
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert 1 <= int(headers["Retry-After"]) <= window


def test_a_tenant_over_its_rotation_limit_gets_429_and_another_tenant_is_unaffected(
    local_urls: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, "secret_rotation", 2, DAY)
    tenant, other = new_tenant("a"), new_tenant("b")
    endpoint, others_endpoint = _endpoint(functions, tenant), _endpoint(functions, other)
    rotate = f"/v1/callbacks/endpoints/{endpoint}/rotate-secret"
    assert [_callbacks_api(functions, tenant, "POST", rotate)[0] for _ in range(2)] == [200, 200]
    before = callbacks.store.get_endpoint(tenant, endpoint)
    assert before is not None

    status, headers, body = _callbacks_api(functions, tenant, "POST", rotate)

    _assert_rate_limited(status, headers, body, DAY)
    assert "secret" not in body
    after = callbacks.store.get_endpoint(tenant, endpoint)
    assert after is not None
    assert after.secret_ciphertext == before.secret_ciphertext  # nothing rotated
    other_rotate = f"/v1/callbacks/endpoints/{others_endpoint}/rotate-secret"
    assert _callbacks_api(functions, other, "POST", other_rotate)[0] == 200


def _delivery(tenant: str, event_id: str) -> str:
    """One delivery to each of the tenant's endpoints, as the callback queue's fan-out makes."""
    envelope = {
        "id": event_id,
        "type": "payment.succeeded",
        "tenant_id": tenant,
        "occurred_at": "2026-11-23T10:00:00.000Z",
        "data": {"payment": {"payment_id": "pay_1"}},
    }
    assert callbacks.fan_out({"detail": {"envelope": {"S": json.dumps(envelope)}}}) == 1
    [endpoint] = callbacks.list_endpoints(tenant)
    return callbacks.delivery_id_for(tenant, event_id, endpoint["endpoint_id"])


def test_a_tenant_over_its_manual_retry_limit_gets_429_and_another_tenant_is_unaffected(
    local_urls: LocalStack, functions: FunctionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, "delivery_retry", 1, DAY)
    tenant, other = new_tenant("a"), new_tenant("b")
    _endpoint(functions, tenant)
    _endpoint(functions, other)
    delivery, others_delivery = _delivery(tenant, "evt_r1"), _delivery(other, "evt_r2")
    retry = f"/v1/callbacks/deliveries/{delivery}/retry"
    sqs = boto3.client("sqs")
    queue = local_urls.physical_ids["CallbackQueue"]
    sqs.purge_queue(QueueUrl=queue)

    assert _callbacks_api(functions, tenant, "POST", retry)[0] == 202
    status, headers, body = _callbacks_api(functions, tenant, "POST", retry)

    _assert_rate_limited(status, headers, body, DAY)
    waiting = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert waiting["ApproximateNumberOfMessages"] == "1"  # the refused retry sent nothing
    others_retry = f"/v1/callbacks/deliveries/{others_delivery}/retry"
    assert _callbacks_api(functions, other, "POST", others_retry)[0] == 202


# --- checkout ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[StripeSandbox]:
    with StripeSandbox() as running:
        yield running


def _stripe_tenant(sandbox: StripeSandbox, name: str) -> str:
    tenant = new_tenant(name)
    account = sandbox.create_account()
    set_provider_credentials(
        tenant, "stripe", {"secret_key": account.secret_key, "webhook_secret": "whsec_unused"}
    )
    return tenant


def _checkout(
    functions: FunctionRegistry, tenant: str, key: str
) -> tuple[int, dict[str, str], Any]:
    event = load_event("checkout/create.json")
    event["headers"]["Idempotency-Key"] = key
    event["multiValueHeaders"]["Idempotency-Key"] = [key]
    event["requestContext"]["authorizer"]["tenant_id"] = tenant
    response = functions.invoke("CheckoutFunction", event)
    return response["statusCode"], _headers(response), json.loads(response["body"])


def test_checkouts_over_the_limit_get_429_but_idempotent_replays_cost_nothing(
    aws: LocalStack,
    functions: FunctionRegistry,
    sandbox: StripeSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", sandbox.base_url)
    _limit(monkeypatch, "checkout", 1, DAY)
    tenant, other = _stripe_tenant(sandbox, "a"), _stripe_tenant(sandbox, "b")

    first = _checkout(functions, tenant, "attempt-1")
    replay = _checkout(functions, tenant, "attempt-1")
    status, headers, body = _checkout(functions, tenant, "attempt-2")

    assert (first[0], replay[0], replay[2]) == (201, 201, first[2])
    _assert_rate_limited(status, headers, body, DAY)
    assert len(items_of_type("payment")) == 1  # the refused checkout created nothing
    assert _checkout(functions, other, "attempt-1")[0] == 201


# --- the limiter itself --------------------------------------------------------------------


def test_the_limiter_makes_exactly_one_dynamodb_call_allowed_or_refused(
    aws: LocalStack, aws_calls: AwsCallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, "credential_test", 1, DAY)
    aws_calls.reset()
    enforce_rate_limit("ten_a", CostlyOperation.CREDENTIAL_TEST)
    assert aws_calls() == {"UpdateItem": 1}
    aws_calls.reset()
    with pytest.raises(RateLimitedError) as refused:
        enforce_rate_limit("ten_a", CostlyOperation.CREDENTIAL_TEST)
    assert aws_calls() == {"UpdateItem": 1}
    assert 1 <= (refused.value.retry_after_seconds or 0) <= DAY


def test_concurrent_calls_never_take_more_than_the_capacity(
    aws: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, "secret_rotation", 5, DAY)
    start = threading.Barrier(24)
    outcomes: list[bool] = []
    lock = threading.Lock()

    def call() -> None:
        start.wait()
        try:
            enforce_rate_limit("ten_busy", CostlyOperation.SECRET_ROTATION)
            allowed = True
        except RateLimitedError:
            allowed = False
        with lock:
            outcomes.append(allowed)

    threads = [threading.Thread(target=call) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert (outcomes.count(True), outcomes.count(False)) == (5, 19)
    [counter] = items_of_type("rate_limit")
    assert (counter["tenant_id"], counter["operation"], counter["used"]) == (
        "ten_busy",
        "secret_rotation",
        5,
    )
    assert counter["ttl"] > counter["used"]  # expires through the table's TTL


def test_each_window_has_its_own_budget_and_retry_after_counts_down_to_its_end(
    aws: LocalStack,
) -> None:
    start = 1_800_000_000  # a multiple of 60: a window starts here
    take = rate_limits.take
    assert take("ten_w", "checkout", capacity=1, window_seconds=60, now=start + 10).allowed
    refused = take("ten_w", "checkout", capacity=1, window_seconds=60, now=start + 50.5)
    assert (refused.allowed, refused.retry_after_seconds) == (False, 10)
    assert take("ten_w", "checkout", capacity=1, window_seconds=60, now=start + 60).allowed


def test_a_zero_capacity_switches_an_operation_off_without_a_call(
    aws: LocalStack, aws_calls: AwsCallCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limit(monkeypatch, "credential_test", 0, 600)
    aws_calls.reset()
    with pytest.raises(RateLimitedError):
        enforce_rate_limit("ten_off", CostlyOperation.CREDENTIAL_TEST)
    assert aws_calls() == {}


# --- the whole API: the tenant's usage key -------------------------------------------------


@pytest.fixture
def usage_plan(aws: LocalStack, monkeypatch: pytest.MonkeyPatch) -> str:
    plan_id = aws.physical_ids["DefaultUsagePlan"]
    monkeypatch.setenv("DEFAULT_USAGE_PLAN_ID", plan_id)
    reset_settings()
    return plan_id


def _authorize(functions: FunctionRegistry, key: str) -> Any:
    event = load_event("authorizer/request.json")
    event["headers"]["Authorization"] = f"Bearer {key}"
    return functions.invoke("AuthorizerFunction", event)


def test_the_authorizer_returns_the_tenants_usage_key_without_an_extra_call(
    usage_plan: str, functions: FunctionRegistry, aws_calls: AwsCallCounter
) -> None:
    from payments.services.tenants import create_tenant

    tenant = create_tenant("Salon")
    assert tenant.usage_key is not None
    keys = boto3.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"]
    assert [(k["id"], k["value"]) for k in keys] == [
        (tenant.usage_key.key_id, tenant.usage_key.value)
    ]
    assert len(tenant.usage_key.value) >= 20
    api_key = repositories.issue_api_key(tenant.tenant_id)
    aws_calls.reset()

    policy = _authorize(functions, api_key.plaintext)

    assert policy["usageIdentifierKey"] == tenant.usage_key.value
    assert policy["usageIdentifierKey"] != api_key.plaintext
    assert aws_calls() == {"GetItem": 2}  # the key's hash and the tenant, as before


def test_a_tenant_from_before_usage_plans_is_authorized_without_a_usage_key_until_backfilled(
    usage_plan: str, functions: FunctionRegistry
) -> None:
    from payments.services.tenants import backfill_usage_keys

    tenant = new_tenant("old")  # the store alone: no usage key
    api_key = repositories.issue_api_key(tenant)
    assert "usageIdentifierKey" not in _authorize(functions, api_key.plaintext)

    assert backfill_usage_keys() == [tenant]
    assert backfill_usage_keys() == []

    backfilled = repositories.get_tenant(tenant)
    assert backfilled is not None
    assert backfilled.usage_key is not None
    assert _authorize(functions, api_key.plaintext)["usageIdentifierKey"] == (
        backfilled.usage_key.value
    )
    plans = boto3.client("apigateway").get_usage_plans(keyId=backfilled.usage_key.key_id)
    assert [plan["id"] for plan in plans["items"]] == [usage_plan]
    # A concurrent backfill that lost the race cannot replace the key the tenant has.
    assert not repositories.set_usage_key(tenant, repositories.UsageKey("k2", "v" * 40))
    assert repositories.get_tenant(tenant) == backfilled


def test_a_tenant_that_cannot_be_stored_leaves_no_usage_key_behind(
    usage_plan: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pynamodb.exceptions import PutError

    from payments.services import tenants

    taken = new_tenant("first")
    monkeypatch.setattr(repositories, "new_tenant_id", lambda: taken)  # the id exists already
    with pytest.raises(PutError):
        tenants.create_tenant("second")
    assert boto3.client("apigateway").get_api_keys()["items"] == []
    assert boto3.client("apigateway").get_usage_plan_keys(usagePlanId=usage_plan)["items"] == []
