"""Notify queue consumer: customer e-mails (Omnisend) for payment and trade events."""

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.logs import function_logger
from payments.observability import Metric, count, observed
from payments.services.notifications import notify

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    outcome = notify(json.loads(record.body))
    if outcome.startswith("skipped"):
        # Not an error: the tenant has no Omnisend key (or the customer no e-mail).
        count(Metric.NOTIFICATIONS_SKIPPED, reason=outcome)
    function_logger().info("notification handled", extra={"outcome": outcome})


@observed("queue")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
