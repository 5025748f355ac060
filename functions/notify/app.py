"""Notify queue consumer: customer e-mails (Omnisend) for payment and trade events."""

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.batch import BatchResponse, process_sqs_batch
from payments.logs import function_logger
from payments.observability import Metric, count, observed
from payments.services.notifications import notify


def handle_record(record: Mapping[str, Any]) -> None:
    outcome = notify(json.loads(record["body"]))
    if outcome.startswith("skipped"):
        # Not an error: the tenant has no Omnisend key (or the customer no e-mail).
        count(Metric.NOTIFICATIONS_SKIPPED, reason=outcome)
    function_logger().info("notification handled", extra={"outcome": outcome})


@observed("queue")
def handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    return process_sqs_batch(event, handle_record)
