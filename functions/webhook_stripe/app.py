"""Stripe webhooks on a function URL: POST /{tenant_id}, verified with that tenant's secret."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import observed
from payments.services.webhooks import receive_webhook


@observed("function_url")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("stripe", event)
