"""Shared modules log through the running function's Logger: their child loggers are made when
used, not at import (a process that imports them under another POWERTOOLS_SERVICE_NAME, a test
run or the devstack, would otherwise get orphans whose lines lose the function's keys)."""

from __future__ import annotations

import importlib
import logging

import pytest

MODULES = (
    "payments.http",
    "payments.services.callbacks",
    "payments.services.credentials",
    "payments.services.notifications",
    "payments.services.sweeper",
    "payments.services.webhooks",
)


@pytest.mark.parametrize("name", MODULES)
def test_lines_reach_the_logger_of_the_service_running_now(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(name)  # imported under the test run's service name
    assert not hasattr(module, "logger"), "a module-level child Logger is bound at import"
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "function-running-now")
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    service = logging.getLogger("function-running-now")
    handler = Collect()
    service.addHandler(handler)
    try:
        module.function_logger().warning("a line")
    finally:
        service.removeHandler(handler)
    assert [record.getMessage() for record in records] == ["a line"]
