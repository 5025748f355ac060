"""The devstack's usage-plan throttling (devstack/throttle.py) and the gateway answering it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.gateway import RestApiGateway
from devstack.template import ApiRoute, LocalStack, load_template
from devstack.throttle import (
    INVALID_API_KEY,
    THROTTLED,
    KeyPlan,
    TokenBucket,
    UsagePlanThrottle,
    key_required_routes,
)

STACK = LocalStack(load_template())
EVERY_ROUTE = "arn:aws:execute-api:us-east-1:123456789012:local/dev/*/*"
PAYMENT_ROUTE = ApiRoute("StatusFunction", "GET", "/v1/payments/{payment_id}", True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Plans:
    """A fake of the embedded AWS: key value -> its plan, counting look-ups."""

    def __init__(self, plans: dict[str, KeyPlan]) -> None:
        self.plans = plans
        self.lookups: list[str] = []

    def __call__(self, key_value: str) -> KeyPlan | None:
        self.lookups.append(key_value)
        return self.plans.get(key_value)


def _plan(key_id: str, rate: float | None, burst: int | None) -> KeyPlan:
    return KeyPlan(key_id=key_id, plan_id=f"plan_{key_id}", rate_limit=rate, burst_limit=burst)


def _event(api_key: str | None) -> dict[str, Any]:
    return {"requestContext": {"identity": {"sourceIp": "127.0.0.1", "apiKey": api_key}}}


def test_a_token_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.take(0.5)  # 0.5 s at 2/s: one token
    assert not bucket.take(0.5)
    assert [bucket.take(10.0) for _ in range(4)] == [True, True, True, False]  # capped at burst
    bucket.resize(rate=2.0, burst=1)
    assert bucket.take(20.0)
    assert not bucket.take(20.0)


def test_a_key_over_its_plans_burst_is_throttled_and_others_are_not() -> None:
    clock = Clock()
    plans = Plans({"key-a": _plan("a", 1.0, 2), "key-b": _plan("b", 1.0, 2)})
    throttle = UsagePlanThrottle(STACK, lookup=plans, clock=clock)
    assert [throttle.admit(PAYMENT_ROUTE, _event("key-a")) for _ in range(3)] == [
        None,
        None,
        THROTTLED,
    ]
    assert throttle.admit(PAYMENT_ROUTE, _event("key-b")) is None
    clock.now += 1.0
    assert throttle.admit(PAYMENT_ROUTE, _event("key-a")) is None


def test_keys_missing_unknown_or_unplanned_are_refused_403() -> None:
    throttle = UsagePlanThrottle(STACK, lookup=Plans({}), clock=Clock())
    assert throttle.admit(PAYMENT_ROUTE, _event(None)) == INVALID_API_KEY
    assert throttle.admit(PAYMENT_ROUTE, _event("key-unknown")) == INVALID_API_KEY


def test_routes_that_need_no_key_are_never_throttled() -> None:
    throttle = UsagePlanThrottle(STACK, lookup=Plans({}), clock=Clock())
    health = ApiRoute("HealthFunction", "GET", "/v1/health", False)
    assert all(throttle.admit(health, _event(None)) is None for _ in range(50))


def test_a_plan_without_throttle_only_records_the_key() -> None:
    throttle = UsagePlanThrottle(STACK, lookup=Plans({"k": _plan("a", None, None)}), clock=Clock())
    event = _event("k")
    assert all(throttle.admit(PAYMENT_ROUTE, event) is None for _ in range(50))
    assert event["requestContext"]["identity"]["apiKeyId"] == "a"


def test_a_keys_plan_is_cached_briefly_then_read_again() -> None:
    clock = Clock()
    plans = Plans({"k": _plan("a", 100.0, 100)})
    throttle = UsagePlanThrottle(STACK, lookup=plans, clock=clock, plan_cache_seconds=1.0)
    for _ in range(5):
        throttle.admit(PAYMENT_ROUTE, _event("k"))
    assert plans.lookups == ["k"]
    plans.plans["k"] = _plan("a", 0.0, 1)  # `payctl limits set`: a much smaller plan
    clock.now += 1.5
    assert throttle.admit(PAYMENT_ROUTE, _event("k")) is None  # the one token left of burst 1
    assert throttle.admit(PAYMENT_ROUTE, _event("k")) == THROTTLED
    assert plans.lookups == ["k", "k"]


def test_the_templates_routes_need_a_key_exactly_where_the_authorizer_runs() -> None:
    required = key_required_routes(STACK)
    for route in STACK.api_routes():
        # An open route that required a key would answer 403 in AWS (no authorizer, no key).
        # Operator routes run the authorizer but take no usage key: operator keys have none.
        operator_route = route.path.startswith("/v1/admin/")
        expected = route.authorized and not operator_route
        assert ((route.method, route.path) in required) == expected, route
        if operator_route:
            assert route.authorized, route


# --- the gateway ---------------------------------------------------------------------------


class FakeFunctions:
    """The authorizer gives each bearer key its usage key; every function answers 200."""

    def __init__(self, usage_keys: dict[str, str | None]) -> None:
        self.usage_keys = usage_keys
        self.events: list[dict[str, Any]] = []

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        if logical_id == "AuthorizerFunction":
            bearer = event["headers"]["Authorization"].split()[-1]
            policy: dict[str, Any] = {
                "principalId": f"key_{bearer}",
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Action": "execute-api:Invoke",
                            "Effect": "Allow",
                            "Resource": [
                                "arn:aws:execute-api:us-east-1:123456789012:local/dev/*/*"
                            ],
                        }
                    ],
                },
                "context": {"tenant_id": f"ten_{bearer}"},
            }
            if self.usage_keys.get(bearer):
                policy["usageIdentifierKey"] = self.usage_keys[bearer]
            return policy
        self.events.append(event)
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}


@pytest.fixture
def gateway() -> tuple[RestApiGateway, FakeFunctions]:
    functions = FakeFunctions({"a": "usage-a", "b": "usage-b", "nokey": None})
    gateway = RestApiGateway(STACK, functions)  # type: ignore[arg-type]
    plans = Plans({"usage-a": _plan("ka", 1.0, 2), "usage-b": _plan("kb", 1.0, 2)})
    gateway.throttle = UsagePlanThrottle(STACK, lookup=plans, clock=Clock())
    return gateway, functions


def _get(gateway: RestApiGateway, bearer: str) -> tuple[int, dict[str, str], Any]:
    status, headers, body = gateway.handle(
        "GET", "/dev/v1/payments/pay_1", {"Authorization": f"Bearer {bearer}"}, b"", "127.0.0.1"
    )
    return status, headers, json.loads(body)


def test_the_gateway_answers_429_with_retry_after_from_the_templates_gateway_response(
    gateway: tuple[RestApiGateway, FakeFunctions],
) -> None:
    api, functions = gateway
    assert [_get(api, "a")[0] for _ in range(2)] == [200, 200]
    status, headers, body = _get(api, "a")
    assert (status, headers["Retry-After"]) == (429, "1")
    assert body == {"error": {"code": "rate_limited", "message": "Too Many Requests"}}
    assert _get(api, "b")[0] == 200  # another tenant's bucket
    assert len(functions.events) == 3  # a throttled call never reaches the function
    identity = functions.events[0]["requestContext"]["identity"]
    assert (identity["apiKey"], identity["apiKeyId"]) == ("usage-a", "ka")


def test_the_gateway_refuses_a_tenant_without_a_usage_key_403(
    gateway: tuple[RestApiGateway, FakeFunctions],
) -> None:
    api, functions = gateway
    status, headers, body = _get(api, "nokey")
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert "Retry-After" not in headers
    assert functions.events == []
