"""The operator API on the running devstack: the gateway plays the authorizer's policies."""

from __future__ import annotations

import requests

from tests.e2e.conftest import RunningDevStack


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_merchant_key_is_refused_and_the_printed_operator_curl_lists_two_tenants(
    devstack: RunningDevStack,
) -> None:
    info = devstack.info
    tenants = f"{devstack.base_url}/v1/admin/tenants"
    refused = requests.get(tenants, headers=_auth(info["api_key"]), timeout=10)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    # An operator key is no merchant key either.
    payments = f"{devstack.base_url}/v1/payments/{info['demo_payment_id']}"
    assert (
        requests.get(payments, headers=_auth(info["operator_key"]), timeout=10).status_code == 403
    )

    answer = devstack.run_printed_curl(
        r"curl -s -H \"Authorization: Bearer \$OPKEY\" \$BASE/v1/admin/tenants"
    )
    listed = {t["tenant_id"]: t for t in answer["data"]}
    assert {info["tenant_id"], info["second_tenant_id"]} <= set(listed)
    assert listed[info["second_tenant_id"]]["name"] == info["second_tenant_name"]
    first_key = listed[info["tenant_id"]]["api_keys"][0]
    assert first_key["key_id"] == info["api_key_id"]

    audit = requests.get(
        f"{devstack.base_url}/v1/admin/audit", headers=_auth(info["operator_key"]), timeout=10
    ).json()["data"]
    actions = [(entry["action"], entry["status"]) for entry in audit]
    assert ("list_tenants", 200) in actions
    # The merchant key never reached the function: API Gateway's policy refused it, unaudited.
    assert all(entry["operator_id"] for entry in audit)
