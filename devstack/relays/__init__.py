"""Plays the template's asynchronous event path locally, against whatever AWS boto3 points at.

- :class:`PipeRelay` (``pipes``): each ``AWS::Pipes::Pipe`` from a DynamoDB stream to an event
  bus: reads the stream in order per shard, applies the pipe's ``FilterCriteria``, builds each
  ``PutEvents`` entry from its ``TargetParameters`` (dynamic paths, ``InputTemplate``) and retries
  failed entries, dead-lettering them like the pipe once ``MaximumRetryAttempts`` is spent.
- bus -> SQS is moto's own: ``PutEvents`` delivers to the SQS targets of matching rules
  (``patterns`` has the event-pattern matcher the pipes and SQS filters use).
- :class:`SqsPoller` (``sqs``): each function's ``Type: SQS`` event source, as Lambda's poller
  does it (batch, the exact SQS event, partial batch failures; moto does visibility and redrive).
- :class:`ScheduleRunner` (``schedules``): each function's ``Type: Schedule``/``ScheduleV2`` event.
- :class:`Relays`: all of the above on daemon threads, with ``drain`` for tests.

Every source of truth is `template.yaml` (through :class:`LocalStack`), so the local path cannot
drift from the deployed one.
"""

from __future__ import annotations

import time

from devstack.relays.patterns import PathNotFoundError, json_path, matches, render_input_template
from devstack.relays.pipes import PipeRelay, PipeSpec, pipe_record, pipe_specs
from devstack.relays.poller import FunctionInvoker, OneInvocationAtATime
from devstack.relays.schedules import (
    ScheduleRunner,
    ScheduleSpec,
    UnsupportedScheduleError,
    parse_rate,
    schedule_specs,
)
from devstack.relays.sqs import SqsEventSource, SqsPoller, sqs_event_sources
from devstack.template import LocalStack

__all__ = [
    "FunctionInvoker",
    "OneInvocationAtATime",
    "PathNotFoundError",
    "PipeRelay",
    "PipeSpec",
    "Relays",
    "ScheduleRunner",
    "ScheduleSpec",
    "SqsEventSource",
    "SqsPoller",
    "UnsupportedScheduleError",
    "json_path",
    "matches",
    "parse_rate",
    "pipe_record",
    "pipe_specs",
    "render_input_template",
    "schedule_specs",
    "sqs_event_sources",
]


class Relays:
    """Every pipe, SQS event source and schedule of the template, on daemon threads."""

    def __init__(
        self,
        stack: LocalStack,
        functions: FunctionInvoker,
        *,
        poll_interval: float = 0.2,
        sqs_visibility_override: int | None = None,
        schedule_interval_override: float | None = None,
        schedule_speedup: float = 1.0,
        sqs_wait_time_seconds: int = 1,
    ) -> None:
        self.poll_interval = poll_interval
        functions = OneInvocationAtATime(functions)
        self.pipes = [
            PipeRelay(spec, region=stack.region, poll_interval=poll_interval)
            for spec in pipe_specs(stack)
        ]
        self.pollers = [
            SqsPoller(
                source,
                functions,
                region=stack.region,
                wait_time_seconds=sqs_wait_time_seconds,
                visibility_timeout_override=sqs_visibility_override,
            )
            for source in sqs_event_sources(stack)
            if source.enabled
        ]
        self.schedules = ScheduleRunner(
            stack,
            functions,
            speedup=schedule_speedup,
            interval_override=schedule_interval_override,
        )

    def start(self) -> Relays:
        for component in (*self.pipes, *self.pollers):
            component.start()
        self.schedules.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        # Ask everyone first, then wait: the stop takes one receive wait, not the sum of them.
        for component in (*self.pipes, *self.pollers):
            component.request_stop()
        self.schedules.request_stop()
        for component in (*self.pipes, *self.pollers):
            component.stop(timeout)
        self.schedules.stop(timeout)

    def __enter__(self) -> Relays:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until every stream is caught up and every consumed queue is empty with no
        batch in hand; False if that did not happen within ``timeout`` seconds. Needs
        ``start()``. Schedules are not waited for."""
        deadline = time.monotonic() + timeout
        while True:
            # Queues idle, then a stream poll begun after that found nothing, then queues
            # still idle: no handler wrote a record the pipe has not seen, nothing in flight.
            if (
                self._consumers_idle()
                and self._pipes_caught_up(deadline)
                and self._consumers_idle()
            ):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(self.poll_interval, remaining))

    def _consumers_idle(self) -> bool:
        return all(poller.is_idle() for poller in self.pollers)

    def _pipes_caught_up(self, deadline: float) -> bool:
        """Wait for each pipe to finish a poll that started now and found nothing new."""
        marks = [(pipe, pipe.cycle_mark()) for pipe in self.pipes]
        while not all(pipe.quiet_since(mark) for pipe, mark in marks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(0.02, remaining))
        return True
