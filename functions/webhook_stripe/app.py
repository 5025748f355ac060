"""Stripe webhooks on a function URL: POST /{tenant_id}, verified with that tenant's secret."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.services.webhooks import receive_webhook

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("stripe", event)
