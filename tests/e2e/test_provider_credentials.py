"""Tenants manage their own provider credentials over HTTP, tested against the Stripe sandbox."""

from __future__ import annotations

import re

import requests

from tests.e2e.conftest import RunningDevStack


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _new_tenant(devstack: RunningDevStack, name: str) -> tuple[str, str]:
    created = devstack.payctl("tenants", "create", name)
    assert created.returncode == 0, created.stderr
    tenant = re.search(r"ten_[A-Za-z0-9]+", created.stdout)
    assert tenant, created.stdout
    issued = devstack.payctl("keys", "issue", tenant.group(0))
    assert issued.returncode == 0, issued.stderr
    key = re.search(r"pk_[A-Za-z0-9_\-]+", issued.stdout)
    assert key, issued.stdout
    return tenant.group(0), key.group(0)


def test_the_demo_tenant_tests_its_stripe_key_and_get_shows_it_verified(
    devstack: RunningDevStack,
) -> None:
    url = f"{devstack.base_url}/v1/providers/stripe/credentials"
    headers = _auth(devstack.info["api_key"])
    tenant = devstack.info["tenant_id"]

    tested = requests.post(f"{url}/test", headers=headers, timeout=30)
    assert tested.status_code == 200, tested.text
    assert tested.json()["verified"] is True
    assert tested.json()["last_test_result"]["code"] == "ok"

    shown = requests.get(url, headers=headers, timeout=10)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["verified"] is True
    assert body["last_tested_at"] == tested.json()["last_tested_at"]
    assert re.fullmatch(r"sk_\*{4}\w{4}", body["values"]["secret_key"])
    # The webhook URL is the local function-URL server's, and it reaches the webhook function
    # (an unsigned delivery is refused by our verification, not by a missing route).
    webhook_url = body["webhook_url"]
    assert webhook_url == f"{devstack.info['function_urls_base']}/WebhookStripeFunction/{tenant}"
    delivered = requests.post(webhook_url, data=b"{}", timeout=10)
    assert delivered.status_code == 400, delivered.text
    assert delivered.json()["error"]["code"] != "route_not_found"


def test_a_wrong_key_fails_the_test_and_the_failure_is_recorded(
    devstack: RunningDevStack,
) -> None:
    _, api_key = _new_tenant(devstack, "Wrong Key Salon")
    url = f"{devstack.base_url}/v1/providers/stripe/credentials"
    wrong = "sk_test_51NotAnAccountOfTheSandbox9876"
    stored = requests.put(
        url,
        json={"values": {"secret_key": wrong, "webhook_secret": "whsec_Unused00001234"}},
        headers=_auth(api_key),
        timeout=10,
    )
    assert stored.status_code == 200, stored.text
    assert stored.json()["verified"] is False
    assert stored.json()["last_tested_at"] is None

    tested = requests.post(f"{url}/test", headers=_auth(api_key), timeout=30)
    assert tested.status_code == 200, tested.text
    assert tested.json()["verified"] is False
    assert tested.json()["last_test_result"]["code"] == "invalid_credentials"

    shown = requests.get(url, headers=_auth(api_key), timeout=10).json()
    assert shown["verified"] is False
    assert shown["last_tested_at"] == tested.json()["last_tested_at"]
    assert shown["last_test_result"] == tested.json()["last_test_result"]
    for answer in (stored.text, tested.text, str(shown)):
        assert wrong not in answer
    # The demo tenant's credentials are another tenant's: never this one's answer.
    assert shown["values"]["secret_key"] == "sk_****9876"
