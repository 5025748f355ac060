"""GET /v1/health: liveness of the API, no authentication, no table access."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.config import get_settings
from payments.http import create_resolver

app = create_resolver()


@app.get("/v1/health")
def health() -> dict[str, Any]:
    return {"status": "ok", "stage": get_settings().stage}


def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
