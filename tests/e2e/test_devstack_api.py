"""The README's promise: `make dev` starts, and curl with the printed key reaches the API."""

from __future__ import annotations

import re

import requests

from tests.e2e.conftest import RunningDevStack


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_make_dev_prints_a_working_curl_and_the_key(devstack: RunningDevStack) -> None:
    printed = devstack.printed()
    info = devstack.info
    assert info["api_key"] in printed
    assert info["api_base_url"] in printed
    # The printed `export` line, then the printed curl for the demo payment, run as printed.
    payment = devstack.run_printed_curl(
        r"curl -s -H \"Authorization: Bearer \$KEY\" \$BASE/v1/payments/pay_\S+"
    )
    assert payment["payment_id"] == info["demo_payment_id"]
    assert payment["status"] == "created"
    assert payment["history"][0]["source"] == "devstack"


def test_make_dev_prints_an_stk_push_that_works_and_the_phone_page(
    devstack: RunningDevStack,
) -> None:
    printed = devstack.printed()
    # The printed command: from the last `curl` before the STK push route to the route.
    phone = re.search(r"open (http://\S+/_sandbox/phone/)<checkout_request_id>", printed)
    assert phone, printed
    pushed = devstack.run_printed("$BASE/v1/mpesa/stk-push")
    assert pushed["status"] == "pending", pushed
    page = requests.get(f"{phone.group(1)}{pushed['checkout_request_id']}", timeout=10)
    assert page.status_code == 200
    assert "Ksh50.00" in page.text
    cancel = requests.post(
        f"{phone.group(1)}{pushed['checkout_request_id']}/cancel", allow_redirects=False, timeout=10
    )
    assert cancel.status_code in (200, 303)  # the phone is free for other tests


def test_the_banner_points_at_the_api_reference_that_is_served(devstack: RunningDevStack) -> None:
    docs = f"{devstack.base_url}/v1/docs"
    assert docs in devstack.printed()
    page = requests.get(docs, timeout=10)
    assert page.status_code == 200
    assert "swagger-ui" in page.text
    document = requests.get(f"{devstack.base_url}/v1/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0"


def test_health_is_public(devstack: RunningDevStack) -> None:
    response = requests.get(f"{devstack.base_url}/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "stage": "dev"}


def test_requests_without_a_valid_key_never_reach_the_function(devstack: RunningDevStack) -> None:
    url = f"{devstack.base_url}/v1/payments/{devstack.info['demo_payment_id']}"
    for headers in ({}, _auth("pk_wrong"), {"Authorization": "Basic abc"}):
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"


def test_unknown_routes_and_bad_input_are_json_4xx(devstack: RunningDevStack) -> None:
    key = devstack.info["api_key"]
    response = requests.get(f"{devstack.base_url}/v1/nowhere", headers=_auth(key), timeout=10)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "route_not_found")
    response = requests.get(
        f"{devstack.base_url}/v1/payments",
        params={"payable_type": "booking", "payable_id": "x", "limit": "-1"},
        headers=_auth(key),
        timeout=10,
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "value_out_of_range")


def test_tenant_b_gets_404_for_tenant_as_payment(devstack: RunningDevStack) -> None:
    created = devstack.payctl("tenants", "create", "Tenant B Gym")
    assert created.returncode == 0, created.stderr
    tenant_b = re.search(r"tenant_id: (\S+)", created.stdout)
    assert tenant_b
    issued = devstack.payctl("keys", "issue", tenant_b.group(1))
    assert issued.returncode == 0, issued.stderr
    key_b = re.search(r"api_key: (\S+)", issued.stdout)
    assert key_b
    payment_id = devstack.info["demo_payment_id"]
    foreign = requests.get(
        f"{devstack.base_url}/v1/payments/{payment_id}", headers=_auth(key_b.group(1)), timeout=10
    )
    missing = requests.get(
        f"{devstack.base_url}/v1/payments/pay_nosuchpayment",
        headers=_auth(key_b.group(1)),
        timeout=10,
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == {
        "error": {"code": "payment_not_found", "message": f"no payment {payment_id}"}
    }
    # Tenant A still sees it.
    own = requests.get(
        f"{devstack.base_url}/v1/payments/{payment_id}",
        headers=_auth(devstack.info["api_key"]),
        timeout=10,
    )
    assert own.status_code == 200


def test_keys_issue_refuses_an_unknown_tenant(devstack: RunningDevStack) -> None:
    result = devstack.payctl("keys", "issue", "ten_nobody")
    assert result.returncode == 1
    assert "no active tenant" in result.stderr
