"""`make bench`: every benchmark, results to bench/results/latest.{json,md}.

    .venv/bin/python -m bench [--quick] [--only cold_start,warm,sizes,devstack] [--out DIR]
                              [--functions NAME,NAME]

--quick (or BENCH_QUICK=1) takes fewer samples and a 5 s devstack run: for checking the
machinery (the tests use it), not for recording figures. Exits 1 when a benchmark cannot
measure (a probe fails) or the devstack run finds money lost or doubled, after writing what
was measured. --functions limits the cold starts to those functions (the tests use it).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import report
from bench.common import RESULTS_DIR, BenchError, quick_from_env


@dataclass(frozen=True)
class Settings:
    cold_samples: int
    cold_streams: int
    warm_iterations: int
    devstack_seconds: float
    devstack_warmup_payments: int
    devstack_first_pool: int


FULL = Settings(
    cold_samples=7,
    cold_streams=1,
    warm_iterations=1000,
    devstack_seconds=60,
    devstack_warmup_payments=20,
    devstack_first_pool=80,
)
# Two A/B streams at once on the two cores: shape, not figures.
QUICK = Settings(
    cold_samples=3,
    cold_streams=2,
    warm_iterations=100,
    devstack_seconds=5,
    devstack_warmup_payments=10,
    devstack_first_pool=10,
)


def _runners(
    settings: Settings, functions: list[str] | None = None
) -> dict[str, Callable[[], dict[str, Any]]]:
    from bench.cold import run_cold_starts
    from bench.sizes import run_sizes
    from bench.throughput import run_throughput
    from bench.warm import run_warm

    return {
        "cold_start": lambda: run_cold_starts(
            settings.cold_samples, settings.cold_streams, only=functions
        ),
        "warm": lambda: run_warm(settings.warm_iterations),
        "sizes": run_sizes,
        "devstack": lambda: run_throughput(
            settings.devstack_seconds,
            warmup_payments=settings.devstack_warmup_payments,
            first_pool=settings.devstack_first_pool,
        ),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", default=quick_from_env())
    parser.add_argument(
        "--only",
        default=",".join(report.SECTIONS),
        help=f"comma-separated, of: {', '.join(report.SECTIONS)}",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--functions", default="", help="comma-separated function names")
    args = parser.parse_args(argv)
    args.function_names = [n.strip() for n in args.functions.split(",") if n.strip()] or None
    args.sections = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.sections) - set(report.SECTIONS))
    if unknown or not args.sections:
        parser.error(f"unknown or no sections: {', '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runners = _runners(QUICK if args.quick else FULL, args.function_names)
    measured: dict[str, Any] = {}
    failures: list[str] = []
    for name in report.SECTIONS:
        if name not in args.sections:
            continue
        print(f"==> bench: {name}{' (quick)' if args.quick else ''}", flush=True)
        started = time.monotonic()
        try:
            measured[name] = runners[name]()
        except BenchError as error:
            failures.append(f"{name}: {error}")
            print(f"bench: {name} failed: {error}", file=sys.stderr, flush=True)
            continue
        print(f"    done in {time.monotonic() - started:.0f} s", flush=True)
        problems = (measured[name] or {}).get("problems") or []
        failures += [f"{name}: {problem}" for problem in problems]
    data = report.results(args.quick, measured)
    json_path, md_path = report.write(data, args.out)
    print(f"==> bench: results in {json_path} and {md_path}", flush=True)
    for failure in failures:
        print(f"bench: FAILED {failure}", file=sys.stderr, flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
