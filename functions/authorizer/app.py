"""REST API Lambda REQUEST authorizer: API key -> tenant, operator key -> operator (result
cached 300 s by API Gateway; payments.services.auth has the two policies)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.observability import observed
from payments.services.auth import authorize_request


@observed("authorizer")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return authorize_request(event)
