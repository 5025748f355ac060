"""Every 5 minutes: settle payments left open too long from the provider's own answer."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.logs import function_logger
from payments.observability import observed
from payments.services.sweeper import sweep


@observed("schedule")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = asdict(sweep())
    function_logger().info("sweep finished", extra=report)
    return report
