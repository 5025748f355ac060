"""`payctl limits` and `payctl tenants create` against a stack in moto: each tenant's usage key
and the usage plan that throttles it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.template import LocalStack
from tests.integration.helpers import moto_stack, new_tenant, run_payctl

STACK = "payments-limits"


def _stack(aws: LocalStack, name: str, *, with_usage_plan: bool) -> Iterator[str]:
    outputs = {"RestApiId": aws.physical_ids["PaymentsApi"]}
    if with_usage_plan:
        outputs["DefaultUsagePlanId"] = aws.physical_ids["DefaultUsagePlan"]
    yield from moto_stack(aws, name, **outputs)


@pytest.fixture
def deployed(aws: LocalStack) -> Iterator[str]:
    yield from _stack(aws, STACK, with_usage_plan=True)


@pytest.fixture
def deployed_before_usage_plans(aws: LocalStack) -> Iterator[str]:
    yield from _stack(aws, "payments-older", with_usage_plan=False)


def _run(*args: str, stack: str = STACK) -> tuple[int, str]:
    return run_payctl(stack, *args)


def _plans_of(key_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("apigateway").get_usage_plans(keyId=key_id)["items"]
    return items


def _tenant_key(tenant_id: str) -> str:
    from payments.store import repositories

    tenant = repositories.get_tenant(tenant_id)
    assert tenant is not None
    assert tenant.usage_key is not None
    return tenant.usage_key.key_id


def test_set_show_and_reset_a_tenants_own_limits(aws: LocalStack, deployed: str) -> None:
    default_plan = aws.physical_ids["DefaultUsagePlan"]
    code, output = _run("tenants", "create", "Hotspot Ltd")
    assert code == 0, output
    found = re.search(r"tenant_id: (\S+)", output)
    assert found
    tenant = found.group(1)
    key_id = _tenant_key(tenant)
    assert [plan["id"] for plan in _plans_of(key_id)] == [default_plan]

    code, output = _run("limits", "show", tenant)
    assert code == 0, output
    assert "override: no" in output
    assert "rate:     50 requests/s" in output  # the template's ApiDefaultRateLimit
    assert "burst:    100 requests" in output

    code, output = _run("limits", "set", tenant, "--rate", "5", "--burst", "10")
    assert code == 0, output
    [own] = _plans_of(key_id)  # the key left the default plan for one of its own
    assert own["id"] != default_plan
    assert own["throttle"] == {"rateLimit": 5.0, "burstLimit": 10}
    assert own["apiStages"] == [{"apiId": aws.physical_ids["PaymentsApi"], "stage": "dev"}]
    assert "override: yes" in _run("limits", "show", tenant)[1]

    code, output = _run("limits", "set", tenant, "--rate", "7", "--burst", "3")
    assert code == 0, output
    [changed] = _plans_of(key_id)
    assert (changed["id"], changed["throttle"]) == (own["id"], {"rateLimit": 7, "burstLimit": 3})

    code, output = _run("limits", "reset", tenant)
    assert code == 0, output
    assert "override: no" in output
    assert [plan["id"] for plan in _plans_of(key_id)] == [default_plan]
    plans = boto3.client("apigateway").get_usage_plans()["items"]
    assert [plan["id"] for plan in plans] == [default_plan]  # its own plan is gone


def test_another_tenant_keeps_the_default_while_one_is_overridden(
    aws: LocalStack, deployed: str
) -> None:
    ids = []
    for name in ("A", "B"):
        found = re.search(r"tenant_id: (\S+)", _run("tenants", "create", name)[1])
        assert found
        ids.append(found.group(1))
    assert _run("limits", "set", ids[0], "--rate", "1", "--burst", "1")[0] == 0
    code, output = _run("limits", "show", ids[1])
    assert (code, "override: no" in output, "rate:     50 requests/s" in output) == (0, True, True)


def test_unknown_tenants_and_tenants_without_a_usage_key_are_reported(
    aws: LocalStack, deployed: str
) -> None:
    code, output = _run("limits", "show", "ten_nobody")
    assert (code, output.strip()) == (1, "no tenant ten_nobody")
    old = new_tenant("before usage plans")
    code, output = _run("limits", "set", old, "--rate", "1", "--burst", "1")
    assert code == 1
    assert "payctl limits backfill" in output
    code, output = _run("limits", "set", old, "--rate", "-1", "--burst", "1")
    assert code == 2  # refused by the option's bounds

    code, output = _run("limits", "backfill")
    assert code == 0, output
    assert f"usage key added: {old}" in output
    assert [plan["id"] for plan in _plans_of(_tenant_key(old))] == [
        aws.physical_ids["DefaultUsagePlan"]
    ]
    assert _run("limits", "backfill")[1].strip() == "0 tenant(s) backfilled"


def test_a_stack_without_a_usage_plan_output_still_creates_tenants_and_says_so(
    aws: LocalStack, deployed_before_usage_plans: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `aws` sets every function's environment; the plan's name is the admin function's only
    # (a shell running payctl has neither it nor the output).
    monkeypatch.delenv("DEFAULT_USAGE_PLAN_NAME")
    code, output = _run("tenants", "create", "Early", stack=deployed_before_usage_plans)
    assert code == 0, output
    assert "limits backfill" in output
    code, output = _run("limits", "backfill", stack=deployed_before_usage_plans)
    assert code == 1
    assert "DefaultUsagePlanId" in output
