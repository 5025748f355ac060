"""The devstack's gateway throttles each tenant by its usage plan, as API Gateway does."""

from __future__ import annotations

import re
import time

import requests

from tests.e2e.conftest import RunningDevStack


def _new_tenant_key(devstack: RunningDevStack, name: str) -> tuple[str, str]:
    created = devstack.payctl("tenants", "create", name)
    assert created.returncode == 0, created.stderr
    tenant = re.search(r"tenant_id: (\S+)", created.stdout)
    assert tenant
    issued = devstack.payctl("keys", "issue", tenant.group(1))
    assert issued.returncode == 0, issued.stderr
    key = re.search(r"api_key: (\S+)", issued.stdout)
    assert key
    return tenant.group(1), key.group(1)


def test_a_tenant_over_its_own_small_limit_gets_429_while_another_tenant_gets_200(
    devstack: RunningDevStack,
) -> None:
    tenant, key = _new_tenant_key(devstack, "Bursty Cafe")
    limited = devstack.payctl("limits", "set", tenant, "--rate", "1", "--burst", "2")
    assert limited.returncode == 0, limited.stderr
    shown = devstack.payctl("limits", "show", tenant)
    assert "override: yes" in shown.stdout
    assert "rate:     1 requests/s" in shown.stdout
    assert "burst:    2 requests" in shown.stdout

    url = f"{devstack.base_url}/v1/payments/pay_nosuchpayment"
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()
    with requests.Session() as session:
        answers = [session.get(url, headers=headers, timeout=10) for _ in range(8)]
    elapsed = time.monotonic() - started

    passed = [a for a in answers if a.status_code == 404]  # reached the function: no payment
    throttled = [a for a in answers if a.status_code == 429]
    assert len(passed) + len(throttled) == len(answers), [a.status_code for a in answers]
    assert 2 <= len(passed) <= 2 + int(elapsed) + 1  # the burst, then about one a second
    assert throttled
    assert throttled[0].headers["Retry-After"] == "1"
    assert throttled[0].json()["error"]["code"] == "rate_limited"

    demo = requests.get(
        f"{devstack.base_url}/v1/payments/{devstack.info['demo_payment_id']}",
        headers={"Authorization": f"Bearer {devstack.info['api_key']}"},
        timeout=10,
    )
    assert demo.status_code == 200

    reset = devstack.payctl("limits", "reset", tenant)
    assert reset.returncode == 0, reset.stderr
    assert "override: no" in reset.stdout
