"""M-PESA (Daraja) STK callbacks on a function URL: POST /{tenant_id}/{token}, the token one
payment's own. Unsigned, so each is checked and confirmed by an STK query before it counts;
always answered with Daraja's acknowledgement."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import observed
from payments.services.webhooks import receive_webhook


@observed("function_url")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("mpesa", event)
