"""Callback queue consumer: fans bus events out to endpoints and runs delivery attempts.

Partial batch failures: a message that fails (a poison message included) is retried alone and
ends in the DLQ after the queue's maxReceiveCount; it never holds up the rest of the batch.
"""

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.batch import BatchResponse, process_sqs_batch
from payments.logs import function_logger
from payments.observability import observed
from payments.services import callbacks


def handle_record(record: Mapping[str, Any]) -> None:
    outcome = callbacks.handle_message(json.loads(record["body"]))
    function_logger().info("callback message handled", extra={"outcome": outcome})


@observed("queue")
def handler(event: dict[str, Any], context: LambdaContext) -> BatchResponse:
    return process_sqs_batch(event, handle_record)
