"""GET /v1/health: liveness of the API, no authentication, no table access."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.api_models import HealthView
from payments.config import get_settings
from payments.http import api_responses, create_resolver
from payments.observability import observed

app = create_resolver()


@app.get(
    "/v1/health",
    summary="Liveness of the API",
    description="No authentication and no data access: answers as long as the API runs.",
    tags=["health"],
    responses=api_responses(200, HealthView, "The API is up", 500),
)
def health() -> HealthView:
    return HealthView(status="ok", stage=get_settings().stage)


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
