"""NEO Bank webhooks on a function URL: POST /{tenant_id}. Signed by the bank (X-Neo-Signature,
RSASSA-PKCS1-v1_5 SHA-256 over X-Neo-Timestamp + "." + body), verified with the tenant's
bank_public_key_pem within a 300 s window, then applied once: trade payments (SUCCESS, SETTLED,
FAILED) and registrations (VERIFIED, REJECTED)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import observed
from payments.services.webhooks import receive_webhook


@observed("function_url")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return receive_webhook("neobank", event)
