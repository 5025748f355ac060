"""The webhook health rules and percentiles read from the processing-time histogram."""

from __future__ import annotations

import math
import random

import pytest

from payments.domain.webhook_health import (
    BUCKET_BOUNDS_MS,
    OVERFLOW,
    Counts,
    HealthStatus,
    bucket_label,
    health_status,
    percentile_ms,
)
from payments.providers import SPECS
from payments.providers.spec import Capability


def _histogram(times_ms: list[float]) -> dict[str, int]:
    buckets: dict[str, int] = {}
    for elapsed in times_ms:
        label = bucket_label(elapsed)
        buckets[label] = buckets.get(label, 0) + 1
    return buckets


def test_buckets_are_powers_of_two_with_inclusive_upper_bounds() -> None:
    assert bucket_label(0) == "1"
    assert bucket_label(1) == "1"
    assert bucket_label(1.01) == "2"
    assert bucket_label(100) == "128"
    assert bucket_label(32_768) == "32768"
    assert bucket_label(32_769) == OVERFLOW


def test_a_percentile_is_the_upper_bound_of_the_bucket_holding_its_nearest_rank() -> None:
    # 100 times: 1..100 ms. p50 is the 50th smallest (50 ms, bucket 64); p95 the 95th (128).
    buckets = _histogram([float(n) for n in range(1, 101)])
    assert percentile_ms(buckets, 0.50) == 64
    assert percentile_ms(buckets, 0.95) == 128
    assert percentile_ms(buckets, 1.0) == 128
    # One slow delivery in 20 does not move p50, and is p95 only when it is the 95th rank.
    assert percentile_ms(_histogram([3.0] * 19 + [900.0]), 0.95) == 4
    assert percentile_ms(_histogram([3.0] * 19 + [900.0] * 2), 0.95) == 1024


def test_percentiles_of_nothing_are_none_and_overflow_reports_the_last_bound() -> None:
    assert percentile_ms({}, 0.5) is None
    assert percentile_ms({"1": 0}, 0.95) is None
    assert percentile_ms({OVERFLOW: 3}, 0.5) == BUCKET_BOUNDS_MS[-1]
    with pytest.raises(ValueError, match="fraction"):
        percentile_ms({"1": 1}, 0)


def test_the_bucket_percentile_is_within_a_factor_of_two_of_the_exact_one() -> None:
    rng = random.Random(20261203)
    times = [rng.lognormvariate(3, 1.2) for _ in range(2000)]
    ordered = sorted(times)
    buckets = _histogram(times)
    for fraction in (0.5, 0.95):
        exact = ordered[math.ceil(fraction * len(ordered)) - 1]
        estimate = percentile_ms(buckets, fraction)
        assert estimate is not None
        assert exact <= estimate < 2 * max(exact, 1)


def _counts(received: int, accepted: int) -> Counts:
    return Counts(received=received, applied=accepted, rejected=received - accepted)


@pytest.mark.parametrize(
    ("hour", "day", "expected"),
    [
        ((0, 0), (0, 0), HealthStatus.SILENT),
        ((0, 0), (10, 10), HealthStatus.HEALTHY),  # quiet hour, good day
        ((5, 5), (100, 99), HealthStatus.HEALTHY),  # 99% over the day
        ((3, 0), (100, 97), HealthStatus.FAILING),  # everything refused this hour
        ((0, 0), (4, 0), HealthStatus.FAILING),  # nothing accepted all day
        ((20, 18), (200, 198), HealthStatus.DEGRADED),  # 90% this hour
        ((5, 5), (100, 90), HealthStatus.DEGRADED),  # 90% over the day
        ((20, 19), (20, 19), HealthStatus.HEALTHY),  # exactly 95% is not under 95%
    ],
)
def test_health_rules(hour: tuple[int, int], day: tuple[int, int], expected: HealthStatus) -> None:
    assert health_status(_counts(*hour), _counts(*day)) is expected


def test_duplicates_and_ignored_deliveries_are_accepted() -> None:
    counts = Counts(received=10, applied=2, duplicate=5, ignored=3)
    assert counts.accepted == 10
    assert health_status(counts, counts) is HealthStatus.HEALTHY


def test_counts_add_up_reasons_and_buckets() -> None:
    one = Counts(received=2, rejected=2, rejected_by_reason={"a": 2}, latency_buckets={"4": 2})
    two = Counts(received=1, applied=1, rejected_by_reason={}, latency_buckets={"4": 1, "8": 0})
    total = Counts.total([one, two])
    assert (total.received, total.applied, total.rejected) == (3, 1, 2)
    assert total.rejected_by_reason == {"a": 2}
    assert total.latency_buckets == {"4": 3, "8": 0}


def test_every_provider_with_webhooks_says_how_they_are_authenticated_and_has_an_icon() -> None:
    for spec in SPECS.values():
        assert spec.icon.startswith("data:image/svg+xml;base64,"), spec.name
        if Capability.WEBHOOKS in spec.capabilities:
            security = spec.webhook_security
            assert security is not None, spec.name
            # Signed: a header and an algorithm. Unsigned: the checks standing in for one.
            assert security.signed == (security.algorithm != security.UNSIGNED), spec.name
            assert security.signed or security.checks, spec.name
