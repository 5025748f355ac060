"""Callback queue consumer: fans bus events out to endpoints and runs delivery attempts.

Partial batch failures: a message that fails (a poison message included) is retried alone and
ends in the DLQ after the queue's maxReceiveCount; it never holds up the rest of the batch.
"""

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
from payments.observability import observed
from payments.services import callbacks

processor = BatchProcessor(event_type=EventType.SQS)


def handle_record(record: SQSRecord) -> None:
    outcome = callbacks.handle_message(json.loads(record.body))
    function_logger().info("callback message handled", extra={"outcome": outcome})


@observed("queue")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
