"""Webhook statistics as numbers: the processing-time histogram, percentiles read from it, the
counters of a period, and the health rules (docs/webhooks.md). Pure: no I/O, no clock.

Processing time is kept as counts in log-scale buckets (powers of two, in milliseconds), so a
counter item stays a fixed handful of numbers whatever the traffic, buckets of any number of
items add up, and a percentile is read back to within a factor of two: the bucket's upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

# Upper bounds (inclusive, ms) of the histogram's buckets; a time above the last is in the
# overflow bucket, reported as that last bound.
BUCKET_BOUNDS_MS: tuple[int, ...] = tuple(2**n for n in range(16))  # 1 ms ... 32,768 ms
OVERFLOW = "inf"


def bucket_label(elapsed_ms: float) -> str:
    """The bucket a processing time falls in: its upper bound as text, or OVERFLOW."""
    for bound in BUCKET_BOUNDS_MS:
        if elapsed_ms <= bound:
            return str(bound)
    return OVERFLOW


BUCKET_LABELS: tuple[str, ...] = (*(str(b) for b in BUCKET_BOUNDS_MS), OVERFLOW)


def percentile_ms(buckets: Mapping[str, int], fraction: float) -> int | None:
    """The upper bound of the bucket holding the ``fraction`` (0-1] percentile of the times
    counted in ``buckets`` (label -> count); None when nothing was counted. Nearest rank: the
    p-th percentile of n times is the ceil(p*n)-th smallest."""
    if not 0 < fraction <= 1:
        raise ValueError("a percentile is a fraction in (0, 1]")
    total = sum(max(0, int(buckets.get(label, 0))) for label in BUCKET_LABELS)
    if total == 0:
        return None
    rank = math.ceil(fraction * total)
    seen = 0
    for label in BUCKET_LABELS:
        seen += max(0, int(buckets.get(label, 0)))
        if seen >= rank:
            return BUCKET_BOUNDS_MS[-1] if label == OVERFLOW else int(label)
    return BUCKET_BOUNDS_MS[-1]  # pragma: no cover - the loop always reaches the rank


@dataclass(slots=True)
class Counts:
    """What a period's deliveries came to. Every delivery is received once and ends as
    exactly one of applied, duplicate, ignored or rejected."""

    received: int = 0
    applied: int = 0
    duplicate: int = 0
    ignored: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    latency_buckets: dict[str, int] = field(default_factory=dict)

    @property
    def accepted(self) -> int:
        """Deliveries that were authentic and answered as taken (whatever they changed)."""
        return self.applied + self.duplicate + self.ignored

    def acceptance_rate(self) -> float | None:
        return self.accepted / self.received if self.received else None

    def add(self, other: Counts) -> None:
        self.received += other.received
        self.applied += other.applied
        self.duplicate += other.duplicate
        self.ignored += other.ignored
        self.rejected += other.rejected
        for reason, n in other.rejected_by_reason.items():
            self.rejected_by_reason[reason] = self.rejected_by_reason.get(reason, 0) + n
        for label, n in other.latency_buckets.items():
            self.latency_buckets[label] = self.latency_buckets.get(label, 0) + n

    @classmethod
    def total(cls, parts: Iterable[Counts]) -> Counts:
        result = cls()
        for part in parts:
            result.add(part)
        return result


class HealthStatus(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    SILENT = "silent"
    FAILING = "failing"


# Below this share of accepted deliveries (over the last hour, or the last day), a provider's
# webhooks are degraded.
DEGRADED_BELOW = 0.95


def health_status(last_hour: Counts, last_day: Counts) -> HealthStatus:
    """The rules of docs/webhooks.md, in order:

    1. nothing received in the last day: ``silent``;
    2. deliveries in the last hour and none accepted, or none accepted all day: ``failing``;
    3. under DEGRADED_BELOW accepted over the last hour (when any came) or the last day:
       ``degraded``;
    4. otherwise ``healthy``.

    ``last_day`` includes ``last_hour``.
    """
    if last_day.received == 0:
        return HealthStatus.SILENT
    if (last_hour.received and not last_hour.accepted) or not last_day.accepted:
        return HealthStatus.FAILING
    rates = [last_day.acceptance_rate(), last_hour.acceptance_rate()]
    if any(rate is not None and rate < DEGRADED_BELOW for rate in rates):
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY
