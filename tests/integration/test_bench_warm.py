"""bench/warm.py end to end, briefly: the real handlers replayed against recorded calls."""

from __future__ import annotations

from bench.warm import run_warm


def test_warm_paths_are_measured_beyond_the_stubbed_calls() -> None:
    warm = run_warm(20, paths=["webhook", "status"])
    assert warm["iterations"] == 20
    webhook, status = warm["paths"]["webhook"], warm["paths"]["status"]
    for entry in (webhook, status):
        overhead, gross, stub = entry["overhead_us"], entry["handler_us"], entry["stub_us"]
        assert overhead["n"] == gross["n"] == stub["n"] == 20
        assert 0 < stub["median"] < gross["median"]
        # Each sample less the stub's median: the medians differ by the stub's, to rounding.
        assert abs(overhead["median"] - (gross["median"] - stub["median"])) <= 0.2
        assert entry["unrecorded_calls"] == 0
        assert entry["stubbed_calls"]["http"] == []
    # What was replayed is what the paths do: the capture commits in a transaction.
    assert "dynamodb.TransactWriteItems" in webhook["stubbed_calls"]["aws"]
    assert status["stubbed_calls"]["aws"]
