"""The local API Gateway's own logic: routing, policy evaluation, its error responses."""

from __future__ import annotations

import json
from typing import Any

from devstack.gateway import MISSING_ROUTE, UNAUTHORIZED, _policy_allows, gateway_error
from devstack.template import ApiRoute, LocalStack, load_template

ARN = "arn:aws:execute-api:us-east-1:123456789012:local/dev/GET/v1/payments/pay_1"


def _policy(effect: str, resource: str) -> dict[str, Any]:
    return {
        "principalId": "key_1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }


def test_policies_are_evaluated_like_iam_wildcards() -> None:
    wildcard = "arn:aws:execute-api:us-east-1:123456789012:local/dev/*/*"
    assert _policy_allows(_policy("Allow", wildcard), ARN)
    assert not _policy_allows(_policy("Allow", wildcard.replace("/dev/", "/prod/")), ARN)
    assert not _policy_allows(_policy("Deny", wildcard), ARN)
    assert not _policy_allows({"policyDocument": {"Statement": []}}, ARN)


def test_gateway_errors_use_the_templates_gateway_responses() -> None:
    responses = LocalStack(load_template()).gateway_responses()
    status, _, body = gateway_error(responses, UNAUTHORIZED)
    assert (status, json.loads(body)) == (
        401,
        {"error": {"code": "unauthorized", "message": "Unauthorized"}},
    )
    status, _, body = gateway_error(responses, MISSING_ROUTE)
    assert (status, json.loads(body)["error"]["code"]) == (404, "route_not_found")


def test_literal_routes_win_over_parameters() -> None:
    from devstack.gateway import _compile

    routes = sorted(
        (
            _compile(ApiRoute("Param", "GET", "/v1/payments/{payment_id}", True)),
            _compile(ApiRoute("Literal", "GET", "/v1/payments/search", True)),
        ),
        key=lambda c: c.specificity,
    )
    matched = next(c.route.function for c in routes if c.pattern.match("/v1/payments/search"))
    assert matched == "Literal"
    assert routes[1].pattern.match("/v1/payments/pay_1")
    assert not routes[1].pattern.match("/v1/payments/pay_1/refunds")


def test_the_gateway_evaluates_the_authorizers_two_policies_as_api_gateway_does() -> None:
    """IAM semantics: an explicit Deny wins over any Allow, and `*` matches across "/" (so
    `GET/v1/admin/*` covers every admin path of that verb, nested ones included)."""
    from payments.services.auth import merchant_policy, operator_policy

    base = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev"
    merchant = merchant_policy(f"{base}/GET/v1/payments", key_id="k", tenant_id="t", usage_key=None)
    operator = operator_policy(
        f"{base}/GET/v1/payments", key_id="o", operator_id="op", operator_name="A"
    )
    admin = [f"{base}/GET/v1/admin/tenants", f"{base}/POST/v1/admin/tenants/ten_1/suspend"]
    others = [f"{base}/GET/v1/payments/pay_1", f"{base}/POST/v1/payments/pay_1/refunds"]
    for arn in admin:
        assert not _policy_allows(merchant, arn), arn
        assert _policy_allows(operator, arn), arn
    for arn in others:
        assert _policy_allows(merchant, arn), arn
        assert not _policy_allows(operator, arn), arn
    # Another stage, or an admin-looking segment deeper in another route: not an admin route.
    assert not _policy_allows(operator, admin[0].replace("/dev/", "/prod/"))
    assert not _policy_allows(operator, f"{base}/GET/v1/payments/v1/admin/x")
    assert _policy_allows(merchant, f"{base}/GET/v1/payments/v1/admin/x")
