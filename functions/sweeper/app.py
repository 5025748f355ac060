"""Every 5 minutes: settle payments left open too long from the provider's own answer."""

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from payments.services.sweeper import sweep

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = asdict(sweep())
    logger.info("sweep finished", extra=report)
    return report
