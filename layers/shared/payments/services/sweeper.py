"""The sweeper: payments left open too long are settled from the provider's own answer.

Runs on a schedule. Webhooks can be late, lost, or never sent; this asks the provider what
happened and applies it through the same path a webhook takes, so it is safe to run alongside
webhooks (and alongside itself): whichever lands first wins and the other records a no-op.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aws_lambda_powertools import Logger

from payments.config import get_settings
from payments.providers import get_spec, sweeper
from payments.providers.base import ProviderError
from payments.providers.spec import Capability
from payments.services.credentials import provider_credentials
from payments.services.provider_events import apply_provider_event
from payments.store import repositories


def _logger() -> Logger:
    """A child of the running function's Logger: its lines carry that function's Lambda context.

    Made when used, not at import: a child's parent is the logger of POWERTOOLS_SERVICE_NAME as
    it is at that moment, and a process that imports this module before the function's
    environment is set (a test run does) would otherwise get an orphan whose lines lose the
    function's name and request id.
    """
    return Logger(child=True)


@dataclass
class SweepReport:
    examined: int = 0
    settled: dict[str, int] = field(default_factory=dict)
    still_open: int = 0
    errors: int = 0


def sweep(now: datetime | None = None) -> SweepReport:
    cutoff = (now or datetime.now(UTC)) - timedelta(
        minutes=get_settings().sweeper_pending_age_minutes
    )
    report = SweepReport()
    log = _logger()
    for payment in repositories.open_payments_older_than(cutoff):
        report.examined += 1
        if Capability.SWEEP not in get_spec(payment.provider).capabilities:
            report.still_open += 1  # only the provider's own notification can settle it
            continue
        try:
            credentials = provider_credentials(payment.tenant_id, payment.provider)
            observed = sweeper(payment.provider).check_payment(credentials, payment)
        except ProviderError as error:
            report.errors += 1
            log.warning(
                "sweeper could not ask the provider",
                extra={"payment_id": payment.payment_id, "code": error.code},
            )
            continue
        except Exception:  # one bad payment must not stop the sweep of the others
            report.errors += 1
            log.exception("sweeper failed on a payment", extra={"payment_id": payment.payment_id})
            continue
        if observed is None:
            report.still_open += 1
            continue
        event, raw = observed
        result = apply_provider_event(
            tenant_id=payment.tenant_id,
            provider=payment.provider,
            event=event,
            raw_payload=json.dumps(raw, sort_keys=True),
        )
        status = event.requested_status.value if event.requested_status else "none"
        report.settled[status] = report.settled.get(status, 0) + 1
        log.info(
            "sweeper settled a payment",
            extra={"payment_id": payment.payment_id, "outcome": result.outcome.value},
        )
    return report
