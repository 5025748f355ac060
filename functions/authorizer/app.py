"""REST API Lambda REQUEST authorizer: API key -> tenant (result cached 300 s by API Gateway)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.services.auth import authorize_request

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize_request(event)
