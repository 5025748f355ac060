"""API Gateway usage plans and API keys: the per-tenant request throttle of the REST API.

Only operators' tools call this (payctl and the devstack's demo seeding), never a function:
a tenant's key and plan are set up when the tenant is created or its limits change.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Throttle:
    rate_limit: float  # steady requests per second
    burst_limit: int  # bucket size: requests allowed at once


@dataclass(frozen=True, slots=True)
class ApiStage:
    api_id: str
    stage: str


@dataclass(frozen=True, slots=True)
class UsagePlan:
    plan_id: str
    name: str
    throttle: Throttle | None  # None: only the account's and stage's limits apply
    api_stages: tuple[ApiStage, ...]


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    value: str = field(repr=False)


@cache
def _client() -> Any:
    import boto3

    return boto3.client("apigateway")


def _plan(raw: dict[str, Any]) -> UsagePlan:
    throttle = raw.get("throttle") or {}
    return UsagePlan(
        plan_id=str(raw["id"]),
        name=str(raw.get("name", "")),
        throttle=Throttle(float(throttle["rateLimit"]), int(throttle["burstLimit"]))
        if "rateLimit" in throttle and "burstLimit" in throttle
        else None,
        api_stages=tuple(
            ApiStage(str(s["apiId"]), str(s["stage"])) for s in raw.get("apiStages") or []
        ),
    )


def create_api_key(name: str, description: str) -> ApiKey:
    """A new enabled key with a random value (API Gateway wants at least 20 characters)."""
    value = secrets.token_urlsafe(30)
    created = _client().create_api_key(
        name=name, description=description, enabled=True, value=value
    )
    return ApiKey(str(created["id"]), value)


def delete_api_key(key_id: str) -> None:
    """Delete a key; it leaves every usage plan it was in."""
    _client().delete_api_key(apiKey=key_id)


def get_usage_plan(plan_id: str) -> UsagePlan | None:
    client = _client()
    try:
        return _plan(client.get_usage_plan(usagePlanId=plan_id))
    except client.exceptions.NotFoundException:
        return None


def usage_plan_id_named(name: str) -> str | None:
    """The id of the usage plan called ``name`` (a function cannot be given the default plan's
    id: the plan depends on the API's stage, which depends on the functions)."""
    for page in _client().get_paginator("get_usage_plans").paginate():
        for raw in page.get("items", []):
            if raw.get("name") == name:
                return str(raw["id"])
    return None


def usage_plans_of_key(key_id: str) -> list[UsagePlan]:
    pages = _client().get_paginator("get_usage_plans").paginate(keyId=key_id)
    return [_plan(raw) for page in pages for raw in page.get("items", [])]


def create_usage_plan(
    name: str, description: str, throttle: Throttle, api_stages: Iterable[ApiStage]
) -> UsagePlan:
    created = _client().create_usage_plan(
        name=name,
        description=description,
        apiStages=[{"apiId": s.api_id, "stage": s.stage} for s in api_stages],
        throttle={"rateLimit": throttle.rate_limit, "burstLimit": throttle.burst_limit},
    )
    return _plan(created)


def set_throttle(plan_id: str, throttle: Throttle) -> UsagePlan:
    updated = _client().update_usage_plan(
        usagePlanId=plan_id,
        patchOperations=[
            {"op": "replace", "path": "/throttle/rateLimit", "value": _number(throttle.rate_limit)},
            {"op": "replace", "path": "/throttle/burstLimit", "value": str(throttle.burst_limit)},
        ],
    )
    return _plan(updated)


def delete_usage_plan(plan: UsagePlan) -> None:
    """Detach the plan from its stages (API Gateway refuses to delete an attached plan) and
    delete it."""
    client = _client()
    if plan.api_stages:
        client.update_usage_plan(
            usagePlanId=plan.plan_id,
            patchOperations=[
                {"op": "remove", "path": "/apiStages", "value": f"{s.api_id}:{s.stage}"}
                for s in plan.api_stages
            ],
        )
    client.delete_usage_plan(usagePlanId=plan.plan_id)


def add_key_to_plan(plan_id: str, key_id: str) -> None:
    _client().create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")


def remove_key_from_plan(plan_id: str, key_id: str) -> None:
    client = _client()
    with contextlib.suppress(client.exceptions.NotFoundException):  # not in it: nothing to do
        client.delete_usage_plan_key(usagePlanId=plan_id, keyId=key_id)


def _number(value: float) -> str:
    """A patch value: whole rates without a decimal point (``5``, not ``5.0``)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))
