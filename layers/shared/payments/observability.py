"""What an operator sees of every function, decided once: structured logs with the ids that
link a request to its payment, events and callbacks, and CloudWatch metrics (EMF).

Every handler is wrapped by :func:`observed`; nothing else in the project makes a Logger for a
handler or writes metrics (an import-linter contract holds that), so every function logs and
measures the same way.

- **Logs**: Powertools' JSON lines. The correlation id is the request id of whatever started
  the invocation: API Gateway's ``requestContext.requestId`` for the API, the function URL's
  for webhooks. Below it, :func:`bind` adds the ids an operator follows, as each becomes
  known: ``payment_id`` → ``event_id`` (outbox) → ``delivery_id`` → ``webhook_id`` (the id the
  merchant's receiver sees), and ``provider``/``provider_event_id`` on webhooks. The state
  change that writes a payment logs its payment id with the event ids it emitted, so one search
  joins an API request to the callbacks it caused.
- **Metrics**: :func:`count` during an invocation; :func:`observed` writes them when the
  handler returns (or raises), one EMF document per set of dimensions, so a webhook that is
  received and applied costs one log line, not two API calls. Outside a handler (``payctl``,
  a test calling a service) counts are dropped: nothing prints metric JSON into a CLI.
- **Tracing**: Lambda's own active tracing (``Tracing: Active`` in the template), not the X-Ray
  SDK: see docs/decisions.md.
"""

from __future__ import annotations

import contextvars
import functools
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Literal, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.logs import function_logger

R = TypeVar("R")
Handler = Callable[[Any, LambdaContext], R]

DEFAULT_NAMESPACE = "Payments"
# What started the invocation decides where its correlation id is: API Gateway (REST) and
# Lambda function URLs both carry it at requestContext.requestId; queue and schedule events
# have none of their own (their records' ids are bound per record).
Trigger = Literal["api", "function_url", "queue", "schedule", "authorizer"]
_CORRELATION_PATH: dict[Trigger, str | None] = {
    "api": "requestContext.requestId",
    "function_url": "requestContext.requestId",
    "queue": None,
    "schedule": None,
    "authorizer": "requestContext.requestId",
}


class Metric(StrEnum):
    """Every metric the system emits (CloudWatch names; the template's alarms and dashboard
    use these names)."""

    PAYMENTS_CREATED = "PaymentsCreated"
    PAYMENTS_SUCCEEDED = "PaymentsSucceeded"
    PAYMENTS_FAILED = "PaymentsFailed"
    WEBHOOKS_RECEIVED = "WebhooksReceived"
    WEBHOOKS_APPLIED = "WebhooksApplied"
    WEBHOOKS_DUPLICATE = "WebhooksDuplicate"
    WEBHOOKS_IGNORED = "WebhooksIgnored"
    WEBHOOKS_REJECTED = "WebhooksRejected"  # per provider: what the alarms watch
    WEBHOOKS_REJECTED_BY_REASON = "WebhooksRejectedByReason"  # per provider and reason
    # A delivery's tenant statistics could not be written (the delivery itself was answered).
    WEBHOOK_STATS_FAILURES = "WebhookStatsFailures"
    CALLBACK_ATTEMPTS = "CallbackAttempts"
    CALLBACK_FAILURES = "CallbackFailures"
    NOTIFICATIONS_SKIPPED = "NotificationsSkipped"
    RATE_LIMIT_REFUSALS = "RateLimitRefusals"
    SWEEPER_SETTLEMENTS = "SweeperSettlements"
    # Each sweep counts the payments past their provider's sweeper age that it could not
    # settle: a gauge per run, alarmed on its maximum.
    PAYMENTS_OPEN_PAST_SWEEPER_AGE = "PaymentsOpenPastSweeperAge"
    # Cleared payments not settled by their due date (NEO Bank trades, T+2): a gauge per sweep.
    SETTLEMENTS_OVERDUE = "SettlementsOverdue"


# The counts of the running invocation: {(dimensions...): {metric: value}}. A context variable,
# so that the devstack's concurrent invocations (threads) never mix their counts.
_Counts = dict[tuple[tuple[str, str], ...], dict[Metric, int]]
_PENDING: contextvars.ContextVar[_Counts | None] = contextvars.ContextVar(
    "payments_pending_metrics", default=None
)


def count(metric: Metric, value: int = 1, **dimensions: str) -> None:
    """Add ``value`` to ``metric`` with these dimensions (e.g. ``provider="mpesa"``); written
    when the running handler ends."""
    pending = _PENDING.get()
    if pending is None:
        return
    key = tuple(sorted((name, str(dimension)) for name, dimension in dimensions.items()))
    by_metric = pending.setdefault(key, defaultdict(int))
    by_metric[metric] += value


def _flush(pending: _Counts) -> None:
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    for dimensions, values in pending.items():
        metrics = EphemeralMetrics(namespace=namespace)
        # One dimension set (service + these): add_dimensions() would make a set of each.
        for name, dimension in dimensions:
            metrics.add_dimension(name=name, value=dimension)
        for metric, total in values.items():
            metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=total)
        metrics.flush_metrics()


def bind(**ids: str | None) -> None:
    """Add ids (``payment_id``, ``event_id``, ``delivery_id``, ``webhook_id``...) to every
    later log line of this invocation; None values are left out. Outside a handler (payctl, a
    test calling a service) there is no invocation to bind to, and nothing happens."""
    known = {name: value for name, value in ids.items() if value is not None}
    if known and _PENDING.get() is not None:
        function_logger().append_keys(**known)


@contextmanager
def bound(**ids: str | None) -> Iterator[None]:
    """:func:`bind` for one record of a batch: the ids leave the log lines when it is done."""
    bind(**ids)
    try:
        yield
    finally:
        if _PENDING.get() is not None:
            function_logger().remove_keys([name for name, value in ids.items() if value])


def observed(trigger: Trigger) -> Callable[[Handler[R]], Handler[R]]:
    """The one wrapper of every function's handler: Lambda context and correlation id on the
    logs (state cleared per invocation), metrics collected and written at the end."""

    def decorate(handler: Handler[R]) -> Handler[R]:
        # Made when the function's module is loaded, as a Lambda container does once: the
        # service name is the function's environment's.
        logger = Logger()
        logged = logger.inject_lambda_context(
            correlation_id_path=_CORRELATION_PATH[trigger], clear_state=True
        )(handler)

        @functools.wraps(handler)
        def run(event: Any, context: LambdaContext) -> R:
            token = _PENDING.set({})
            try:
                return logged(event, context)
            finally:
                pending = _PENDING.get()
                _PENDING.reset(token)
                if pending:
                    _flush(pending)

        run.__observed__ = trigger  # type: ignore[attr-defined]
        return run

    return decorate


__all__ = ["Metric", "bind", "bound", "count", "observed"]
