"""Schedules: each function's ``Type: Schedule``/``ScheduleV2`` event, on a timer."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from devstack.relays.poller import FunctionInvoker
from devstack.template import ACCOUNT_ID, LocalStack

logger = logging.getLogger(__name__)


class UnsupportedScheduleError(ValueError):
    pass


_RATE = re.compile(r"rate\(\s*(\d+)\s+(second|minute|hour|day)(s?)\s*\)")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_rate(expression: str) -> float:
    """Seconds between runs of ``rate(N unit)``. ``cron(...)`` is not run on a timer locally;
    ``seconds`` is accepted as a local convenience (AWS's smallest unit is the minute)."""
    text = expression.strip()
    if text.startswith("cron("):
        raise UnsupportedScheduleError(
            f"{text}: cron schedules are not timed locally; pass an interval override "
            "(Relays(schedule_interval_override=...)) or call ScheduleRunner.run_once"
        )
    match = _RATE.fullmatch(text)
    if match is None:
        raise UnsupportedScheduleError(f"{text!r} is not a rate(N unit) expression")
    value, unit, plural = int(match.group(1)), match.group(2), match.group(3)
    if value <= 0:
        raise UnsupportedScheduleError(f"{text}: the rate must be positive")
    if (value == 1) == bool(plural):
        raise UnsupportedScheduleError(
            f"{text}: AWS wants rate(1 {unit}) and rate(N {unit}s), so this would not deploy"
        )
    return float(value * _UNIT_SECONDS[unit])


@dataclass(frozen=True)
class ScheduleSpec:
    """One function's ``Type: Schedule`` or ``ScheduleV2`` event, resolved."""

    function: str
    event_name: str
    expression: str
    rule_arn: str
    enabled: bool
    input: str | None  # the event's Input: sent instead of the scheduled event when set

    @property
    def rate_seconds(self) -> float | None:
        try:
            return parse_rate(self.expression)
        except UnsupportedScheduleError:
            return None


def schedule_specs(stack: LocalStack) -> list[ScheduleSpec]:
    specs: list[ScheduleSpec] = []
    for function, resource in stack.functions().items():
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event_name, event in events.items():
            kind = event.get("Type")
            if kind not in {"Schedule", "ScheduleV2"}:
                continue
            properties = stack.resolve(event.get("Properties") or {})
            expression = properties.get("Schedule") or properties.get("ScheduleExpression")
            name = properties.get("Name") or stack.default_name(f"{function}{event_name}")
            rule_arn = (
                f"arn:aws:events:{stack.region}:{ACCOUNT_ID}:rule/{name}"
                if kind == "Schedule"
                else f"arn:aws:scheduler:{stack.region}:{ACCOUNT_ID}:schedule/"
                f"{properties.get('GroupName', 'default')}/{name}"
            )
            state = str(properties.get("State", "ENABLED")).upper()
            specs.append(
                ScheduleSpec(
                    function=function,
                    event_name=event_name,
                    expression=str(expression),
                    rule_arn=rule_arn,
                    enabled=bool(properties.get("Enabled", True)) and state == "ENABLED",
                    input=properties.get("Input"),
                )
            )
    return specs


class ScheduleRunner:
    """Invokes scheduled functions with EventBridge's scheduled event, every interval:
    the template's rate divided by ``speedup``, or ``interval_override`` for every schedule
    (cron ones included). The first run comes one interval after start, as in AWS."""

    def __init__(
        self,
        stack: LocalStack,
        functions: FunctionInvoker,
        *,
        speedup: float = 1.0,
        interval_override: float | None = None,
    ) -> None:
        if speedup <= 0:
            raise ValueError("speedup must be positive")
        self.schedules = schedule_specs(stack)
        self.speedup = speedup
        self.interval_override = interval_override
        self._region = stack.region
        self._functions = functions
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._counts_lock = threading.Lock()
        self.runs: dict[tuple[str, str], int] = {}

    def interval(self, schedule: ScheduleSpec) -> float | None:
        if self.interval_override is not None:
            return self.interval_override
        rate = schedule.rate_seconds
        return None if rate is None else rate / self.speedup

    def scheduled_event(self, schedule: ScheduleSpec) -> dict[str, Any]:
        if schedule.input is not None:
            event: dict[str, Any] = json.loads(schedule.input)
            return event
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT_ID,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self._region,
            "resources": [schedule.rule_arn],
            "detail": {},
        }

    def run_once(self, function: str, event_name: str | None = None) -> Any:
        """Invoke ``function`` as its schedule would, now; returns the handler's result."""
        return self._fire(self._schedule(function, event_name))

    def _schedule(self, function: str, event_name: str | None) -> ScheduleSpec:
        for schedule in self.schedules:
            if schedule.function == function and event_name in {None, schedule.event_name}:
                return schedule
        raise KeyError(f"{function} has no schedule event {event_name or ''}".rstrip())

    def _fire(self, schedule: ScheduleSpec) -> Any:
        with self._counts_lock:
            key = (schedule.function, schedule.event_name)
            self.runs[key] = self.runs.get(key, 0) + 1
        return self._functions.invoke(schedule.function, self.scheduled_event(schedule))

    def start(self) -> None:
        if self._threads:
            return
        self._stopping.clear()
        for schedule in self.schedules:
            interval = self.interval(schedule)
            if not schedule.enabled:
                continue
            if interval is None:
                logger.warning(
                    "schedule %s.%s (%s) is not timed locally: cron needs an interval "
                    "override; ScheduleRunner.run_once still invokes it",
                    schedule.function,
                    schedule.event_name,
                    schedule.expression,
                )
                continue
            thread = threading.Thread(
                target=self._run,
                args=(schedule, interval),
                name=f"relay:schedule {schedule.function}.{schedule.event_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s did not stop within %.1fs", thread.name, timeout)
        self._threads = []

    def _run(self, schedule: ScheduleSpec, interval: float) -> None:
        while not self._stopping.wait(interval):
            try:
                self._fire(schedule)
            except Exception:
                logger.exception(
                    "scheduled run of %s.%s failed", schedule.function, schedule.event_name
                )
