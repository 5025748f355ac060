from __future__ import annotations

import pytest

from payments.services.auth import bearer_key


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Authorization": "Bearer pk_abc"}, "pk_abc"),
        ({"authorization": "bearer   pk_abc  "}, "pk_abc"),
        ({"AUTHORIZATION": "Bearer pk_abc"}, "pk_abc"),
        ({"Authorization": "Basic cGs6eA=="}, None),
        ({"Authorization": "Bearer "}, None),
        ({"Authorization": "pk_abc"}, None),
        ({"Authorization": "Bearer " + "x" * 257}, None),
        ({}, None),
        (None, None),
    ],
)
def test_bearer_key_parsing(headers: dict[str, str] | None, expected: str | None) -> None:
    assert bearer_key(headers) == expected


# --- the two policies ------------------------------------------------------------------------

METHOD_ARN = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/GET/v1/payments"
BASE = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev"


def _statements(policy: dict[str, object]) -> dict[str, list[str]]:
    document = policy["policyDocument"]
    assert isinstance(document, dict)
    return {s["Effect"]: s["Resource"] for s in document["Statement"]}


def test_a_merchant_policy_allows_the_api_and_denies_each_verb_of_the_admin_routes() -> None:
    from payments.services.auth import HTTP_VERBS, merchant_policy

    policy = merchant_policy(METHOD_ARN, key_id="key_1", tenant_id="ten_1", usage_key="uk")
    assert policy["principalId"] == "key_1"
    assert policy["context"] == {"role": "merchant", "tenant_id": "ten_1", "key_id": "key_1"}
    assert policy["usageIdentifierKey"] == "uk"
    assert _statements(policy) == {
        "Allow": [f"{BASE}/*/*"],
        "Deny": [f"{BASE}/{verb}/v1/admin/*" for verb in HTTP_VERBS],
    }


def test_an_operator_policy_allows_only_each_verb_of_the_admin_routes() -> None:
    from payments.services.auth import HTTP_VERBS, operator_policy

    policy = operator_policy(METHOD_ARN, key_id="okey_1", operator_id="op_1", operator_name="Ann")
    assert policy["context"] == {
        "role": "operator",
        "operator_id": "op_1",
        "operator_name": "Ann",
        "key_id": "okey_1",
    }
    assert "usageIdentifierKey" not in policy
    assert _statements(policy) == {"Allow": [f"{BASE}/{verb}/v1/admin/*" for verb in HTTP_VERBS]}
    assert set(HTTP_VERBS) == {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
