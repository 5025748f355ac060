"""NOWPayments IPNs on a function URL: POST /{tenant_id}. Signed (x-nowpayments-sig,
HMAC-SHA512 with the tenant's IPN secret) but without a timestamp, so each is also confirmed
with GET /v1/payment/{id} before it counts."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import observed
from payments.services.webhooks import receive_webhook


@observed("function_url")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("nowpayments", event)
