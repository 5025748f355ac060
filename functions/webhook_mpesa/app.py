"""M-PESA (Daraja) STK callbacks on a function URL: POST /{tenant_id}/{token}, the token one
payment's own. Unsigned, so each is checked and confirmed by an STK query before it counts;
always answered with Daraja's acknowledgement."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.services.webhooks import receive_webhook

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("mpesa", event)
