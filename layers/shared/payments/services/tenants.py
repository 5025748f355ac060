"""Tenants and their API rate limits (API Gateway usage plans, keyed by the authorizer).

Every tenant has an API Gateway API key of its own, its *usage key*, in exactly one usage plan:
the stack's default plan (``DefaultUsagePlanId``, throttle from the template's parameters) or,
once an operator overrides its limits, a plan of its own. The authorizer returns the key as
``usageIdentifierKey``, so API Gateway throttles each tenant by its plan, per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

from payments.aws import apigateway
from payments.aws.apigateway import Throttle, UsagePlan
from payments.config import get_settings
from payments.errors import ConflictError, NotFoundError
from payments.store import repositories
from payments.store.repositories import Tenant, UsageKey


class UsagePlanNotConfiguredError(ConflictError):
    code = "usage_plan_not_configured"


class TenantNotFoundError(NotFoundError):
    code = "tenant_not_found"


@dataclass(frozen=True, slots=True)
class TenantLimits:
    tenant_id: str
    plan: UsagePlan
    overridden: bool  # the tenant has a plan of its own


def create_tenant(name: str) -> Tenant:
    """A new active tenant with its usage key in the default plan.

    Without a configured default plan (a stack deployed before usage plans) the tenant gets no
    key; ``backfill_usage_keys`` gives it one later.
    """
    plan_id = _configured_default_plan_id()
    tenant_id = repositories.new_tenant_id()
    if not plan_id:
        return repositories.create_tenant(name, tenant_id=tenant_id)
    key = _new_usage_key(tenant_id, plan_id)
    try:
        return repositories.create_tenant(name, tenant_id=tenant_id, usage_key=key)
    except Exception:
        _discard(key, plan_id)  # no key left behind for a tenant that does not exist
        raise


def backfill_usage_keys() -> list[str]:
    """Give every tenant without a usage key one in the default plan; the ids it served."""
    plan_id = _default_plan_id()
    served = []
    for tenant in repositories.list_tenants():
        if tenant.usage_key is not None:
            continue
        key = _new_usage_key(tenant.tenant_id, plan_id)
        if repositories.set_usage_key(tenant.tenant_id, key):
            served.append(tenant.tenant_id)
        else:
            _discard(key, plan_id)  # another backfill got there first
    return served


def tenant_limits(tenant_id: str) -> TenantLimits:
    """The plan that throttles the tenant's requests now."""
    key = _usage_key_of(tenant_id)
    default_id = _default_plan_id()
    plans = apigateway.usage_plans_of_key(key.key_id)
    own = [plan for plan in plans if plan.plan_id != default_id]
    if own:
        return TenantLimits(tenant_id, own[0], overridden=True)
    if any(plan.plan_id == default_id for plan in plans):
        return TenantLimits(tenant_id, _default_plan(), overridden=False)
    raise ConflictError(
        f"tenant {tenant_id}'s usage key is in no usage plan: run `payctl limits reset`",
        code="usage_key_unplanned",
    )


def set_tenant_limits(tenant_id: str, throttle: Throttle) -> TenantLimits:
    """Throttle one tenant differently from the default: a plan of its own, on the default
    plan's API stages, holding its key."""
    current = tenant_limits(tenant_id)
    if current.overridden:
        return TenantLimits(
            tenant_id, apigateway.set_throttle(current.plan.plan_id, throttle), overridden=True
        )
    default = current.plan
    own = apigateway.create_usage_plan(
        f"{default.name}-{tenant_id}",
        f"Rate limits of tenant {tenant_id} (payctl limits set)",
        throttle,
        default.api_stages,
    )
    key = _usage_key_of(tenant_id)
    # A key may be in only one plan per API stage, so it leaves the default plan first: calls
    # in the few milliseconds between the two are answered 403 by API Gateway.
    apigateway.remove_key_from_plan(default.plan_id, key.key_id)
    apigateway.add_key_to_plan(own.plan_id, key.key_id)
    return TenantLimits(tenant_id, own, overridden=True)


def reset_tenant_limits(tenant_id: str) -> TenantLimits:
    """Back to the default plan; the tenant's own plan, if any, is deleted."""
    key = _usage_key_of(tenant_id)
    default_id = _default_plan_id()
    plans = apigateway.usage_plans_of_key(key.key_id)
    for plan in plans:
        if plan.plan_id != default_id:
            apigateway.remove_key_from_plan(plan.plan_id, key.key_id)
            apigateway.delete_usage_plan(plan)
    if not any(plan.plan_id == default_id for plan in plans):
        apigateway.add_key_to_plan(default_id, key.key_id)
    return TenantLimits(tenant_id, _default_plan(), overridden=False)


def _new_usage_key(tenant_id: str, plan_id: str) -> UsageKey:
    created = apigateway.create_api_key(tenant_id, f"Usage key of tenant {tenant_id}")
    try:
        apigateway.add_key_to_plan(plan_id, created.key_id)
    except Exception:
        apigateway.delete_api_key(created.key_id)
        raise
    return UsageKey(created.key_id, created.value)


def _discard(key: UsageKey, plan_id: str) -> None:
    apigateway.remove_key_from_plan(plan_id, key.key_id)
    apigateway.delete_api_key(key.key_id)


def _usage_key_of(tenant_id: str) -> UsageKey:
    tenant = repositories.get_tenant(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(f"no tenant {tenant_id}")
    if tenant.usage_key is None:
        raise ConflictError(
            f"tenant {tenant_id} has no usage key yet: run `payctl limits backfill`",
            code="usage_key_missing",
        )
    return tenant.usage_key


def _configured_default_plan_id() -> str | None:
    """The default plan's id: given (payctl, the devstack), else found by its name."""
    settings = get_settings()
    if settings.default_usage_plan_id:
        return settings.default_usage_plan_id
    if settings.default_usage_plan_name:
        return apigateway.usage_plan_id_named(settings.default_usage_plan_name)
    return None


def _default_plan_id() -> str:
    plan_id = get_settings().default_usage_plan_id
    if not plan_id:
        raise UsagePlanNotConfiguredError(
            "no default usage plan configured: the stack needs its DefaultUsagePlanId output"
        )
    return plan_id


def _default_plan() -> UsagePlan:
    plan = apigateway.get_usage_plan(_default_plan_id())
    if plan is None:
        raise UsagePlanNotConfiguredError("the default usage plan does not exist")
    return plan
