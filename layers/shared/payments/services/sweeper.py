"""The sweeper: payments left open too long are settled from the provider's own answer.

Runs on a schedule. Webhooks can be late, lost, or never sent; this asks the provider what
happened and applies it through the same path a webhook takes, so it is safe to run alongside
webhooks (and alongside itself): whichever lands first wins and the other records a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from payments.config import get_settings
from payments.domain.payment import Payment
from payments.logs import function_logger
from payments.observability import Metric, count
from payments.providers import get_spec, providers_with, sweeper
from payments.providers.base import ProviderError, ProviderEvent
from payments.providers.spec import Capability
from payments.services.credentials import provider_credentials
from payments.services.provider_events import EventResult, apply_provider_event
from payments.store import repositories


@dataclass
class SweepReport:
    examined: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    still_open: int = 0
    errors: int = 0
    # Cleared payments past their settlement due date (providers that settle later).
    overdue: int = 0


def pending_age(provider: str) -> timedelta:
    """How long an open payment of ``provider`` waits before the sweeper asks about it."""
    minutes = get_settings().sweeper_pending_age(provider, get_spec(provider).sweep_after_minutes)
    return timedelta(minutes=minutes)


def settle_from_provider(payment: Payment) -> tuple[ProviderEvent, EventResult] | None:
    """Ask the provider what became of an open payment and apply its answer through the path
    every notification takes; None while the provider says it is still open. Raises
    ProviderError when the provider gives no answer, CapabilityNotSupportedError when it
    cannot be asked."""
    provider = sweeper(payment.provider)
    credentials = provider_credentials(payment.tenant_id, payment.provider)
    observed = provider.check_payment(credentials, payment)
    if observed is None:
        return None
    event, raw = observed
    result = apply_provider_event(
        tenant_id=payment.tenant_id,
        provider=payment.provider,
        event=event,
        raw_payload=json.dumps(raw, sort_keys=True),
    )
    return event, result


def sweep(now: datetime | None = None) -> SweepReport:
    now = now or datetime.now(UTC)
    ages = {spec.name: pending_age(spec.name) for spec in providers_with(Capability.SWEEP)}
    # The index is read once, from the oldest cutoff any provider has; each payment is then
    # held to its own provider's.
    cutoff = now - min(ages.values(), default=timedelta(0))
    report = SweepReport()
    log = function_logger()
    for payment in repositories.open_payments_older_than(cutoff):
        report.examined += 1
        age = ages.get(payment.provider)
        if age is None:
            report.still_open += 1  # only the provider's own notification can settle it
            count(Metric.PAYMENTS_OPEN_PAST_SWEEPER_AGE, provider=payment.provider)
            continue
        if payment.updated_at > now - age:
            report.still_open += 1  # not yet due for its provider
            continue
        try:
            settled = settle_from_provider(payment)
        except ProviderError as error:
            report.errors += 1
            count(Metric.PAYMENTS_OPEN_PAST_SWEEPER_AGE, provider=payment.provider)
            log.warning(
                "sweeper could not ask the provider",
                extra={"payment_id": payment.payment_id, "code": error.code},
            )
            continue
        except Exception:  # one bad payment must not stop the sweep of the others
            report.errors += 1
            count(Metric.PAYMENTS_OPEN_PAST_SWEEPER_AGE, provider=payment.provider)
            log.exception("sweeper failed on a payment", extra={"payment_id": payment.payment_id})
            continue
        if settled is None:
            report.still_open += 1
            count(Metric.PAYMENTS_OPEN_PAST_SWEEPER_AGE, provider=payment.provider)
            continue
        event, result = settled
        status = event.requested_status.value if event.requested_status else "none"
        report.settled[status] = report.settled.get(status, 0) + 1
        count(Metric.SWEEPER_SETTLEMENTS, provider=payment.provider, status=status)
        log.info(
            "sweeper settled a payment",
            extra={"payment_id": payment.payment_id, "outcome": result.outcome.value},
        )
    if any(spec.settlement is not None for spec in providers_with(Capability.SWEEP)):
        from payments.services.trades import sweep_overdue

        overdue_count, settled_count = sweep_overdue(now)
        report.overdue = overdue_count - settled_count
        if settled_count:
            report.settled["settled"] = report.settled.get("settled", 0) + settled_count
    return report
