"""`payctl limits`: a tenant's API rate limit (its API Gateway usage plan).

Only typer is imported here; the payments package and boto3 load inside each command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from payments.services.tenants import TenantLimits

limits_app = typer.Typer(
    help="Per-tenant API rate limits (API Gateway usage plans).", no_args_is_help=True
)


def _print(limits: TenantLimits) -> None:
    plan = limits.plan
    throttle = plan.throttle
    typer.echo(f"tenant:   {limits.tenant_id}")
    typer.echo(f"plan:     {plan.name} ({plan.plan_id})")
    typer.echo(f"override: {'yes' if limits.overridden else 'no (the default plan)'}")
    if throttle is None:
        typer.echo("throttle: none (only the account's limits apply)")
    else:
        typer.echo(f"rate:     {throttle.rate_limit:g} requests/s")
        typer.echo(f"burst:    {throttle.burst_limit} requests")


def _fail(error: Exception) -> typer.Exit:
    typer.echo(str(error), err=True)
    return typer.Exit(1)


@limits_app.command("show")
def limits_show(tenant: Annotated[str, typer.Argument(help="Tenant id.")]) -> None:
    """Show the rate and burst limit the tenant's requests get."""
    from payments.errors import PaymentsError
    from payments.services.tenants import tenant_limits

    try:
        _print(tenant_limits(tenant))
    except PaymentsError as error:
        raise _fail(error) from None


@limits_app.command("set")
def limits_set(
    tenant: Annotated[str, typer.Argument(help="Tenant id.")],
    rate: Annotated[float, typer.Option(help="Steady requests per second.", min=0)],
    burst: Annotated[int, typer.Option(help="Requests at once above the rate.", min=0)],
) -> None:
    """Give one tenant its own limits (a usage plan of its own, holding its key)."""
    from payments.aws.apigateway import Throttle
    from payments.errors import PaymentsError
    from payments.services.tenants import set_tenant_limits

    try:
        _print(set_tenant_limits(tenant, Throttle(rate, burst)))
    except PaymentsError as error:
        raise _fail(error) from None


@limits_app.command("reset")
def limits_reset(tenant: Annotated[str, typer.Argument(help="Tenant id.")]) -> None:
    """Back to the default plan (the template's ApiDefaultRateLimit/ApiDefaultBurstLimit)."""
    from payments.errors import PaymentsError
    from payments.services.tenants import reset_tenant_limits

    try:
        _print(reset_tenant_limits(tenant))
    except PaymentsError as error:
        raise _fail(error) from None


@limits_app.command("backfill")
def limits_backfill() -> None:
    """Give every tenant created before usage plans its usage key in the default plan."""
    from payments.errors import PaymentsError
    from payments.services.tenants import backfill_usage_keys

    try:
        served = backfill_usage_keys()
    except PaymentsError as error:
        raise _fail(error) from None
    for tenant_id in served:
        typer.echo(f"usage key added: {tenant_id}")
    typer.echo(f"{len(served)} tenant(s) backfilled")
