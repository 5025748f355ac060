"""The running function's logger, for the shared modules."""

from __future__ import annotations

from aws_lambda_powertools import Logger


def function_logger() -> Logger:
    """A child of the running function's Logger, made when used, not at import: a child's parent
    is the logger of POWERTOOLS_SERVICE_NAME as it is at that moment, and a process that imports
    a module before the function's environment is set (a test run, the devstack) would otherwise
    get an orphan whose lines lose the function's name and request id."""
    return Logger(child=True)
