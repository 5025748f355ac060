"""Cold start per function against the floor, A/B alternating, each sample a fresh interpreter.

A sample of a function times ``import app`` (its folder first on sys.path and the working
directory, the layer next, Lambda's environment) plus creating one boto3 DynamoDB client; a
sample of the floor times ``import boto3; boto3.client("dynamodb")`` alone, with the same path
shape and environment. Samples alternate floor, function, floor, function ... so that a machine
getting slower or faster moves both. The ratio is median(function) / median(floor of the run).

Every sample reads bytecode from one private cache (PYTHONPYCACHEPREFIX) filled by an untimed
warm-up, so no sample compiles and the repository's own __pycache__ folders are neither used
nor written. One more run per function under ``python -X importtime`` says which modules cost
what; modules the floor imports too are left out of its lists (their cost is in the floor).

The same run finds the libraries (third-party and standard) that the function's own modules
(``app``, ``payments``) import directly, and a third probe per pair imports just those: the
function's *libraries floor*, what its cold start would be if our modules cost nothing. Its
ratio to the floor is the unavoidable part of the function's ratio, given the libraries it uses.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import (
    LAYER_DIR,
    PYTHON,
    BenchError,
    BenchFunction,
    bench_functions,
    lambda_environment,
    summary,
)

PROBE = Path(__file__).resolve().parent / "_probe.py"
MARKER = "bench-probe: timed part begins"
PROBE_TIMEOUT = 120
TOP = 8


@dataclass(frozen=True)
class ImportCost:
    module: str
    self_us: int
    cumulative_us: int
    depth: int = 0  # nesting: 0 for what the probe imports itself


OUR_PACKAGES = ("app", "payments")


def is_ours(module: str) -> bool:
    return module.split(".")[0] in OUR_PACKAGES


def libraries_imported_by_ours(costs: Sequence[ImportCost]) -> list[str]:
    """The modules not of ours that a module of ours imported directly, in import order.

    ``-X importtime`` lists a module after everything it imported, one nesting level deeper.
    """
    stack: list[ImportCost] = []
    found: list[str] = []
    for cost in costs:
        children: list[ImportCost] = []
        while stack and stack[-1].depth > cost.depth:
            child = stack.pop()
            if child.depth == cost.depth + 1:
                children.append(child)
        if is_ours(cost.module):
            found += [c.module for c in reversed(children) if not is_ours(c.module)]
        stack.append(cost)
    return list(dict.fromkeys(found))


def parse_importtime(stderr: str) -> list[ImportCost]:
    """The modules ``-X importtime`` reported after the probe's marker, in import order."""
    lines = stderr.splitlines()
    try:
        start = lines.index(MARKER) + 1
    except ValueError:
        raise BenchError("the probe's marker is missing from its -X importtime output") from None
    costs: list[ImportCost] = []
    for line in lines[start:]:
        if not line.startswith("import time:"):
            continue
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[0].strip().isdigit():
            continue  # the header line
        name = fields[2].rstrip()
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        costs.append(ImportCost(name.strip(), int(fields[0]), int(fields[1]), max(depth, 0)))
    return costs


class _Probes:
    """Starts probes in fresh interpreters, each with its environment and the shared cache."""

    def __init__(self, folder: Path, functions: Sequence[BenchFunction]) -> None:
        self.folder = folder
        self.cache = folder / "pycache"
        self.empty = folder / "floor"
        self.empty.mkdir()
        self.functions = functions
        self._counter = 0
        self._lock = threading.Lock()

    def _environment(self, function: BenchFunction | None) -> dict[str, str]:
        target = function or BenchFunction("floor", self.empty, None, 512)
        return {**lambda_environment(target), "PYTHONPYCACHEPREFIX": str(self.cache)}

    def run(
        self,
        mode: str,
        function: BenchFunction | None,
        *,
        importtime: bool = False,
        modules: Sequence[str] = (),
    ) -> tuple[float, str]:
        """(seconds timed, stderr) of one probe."""
        with self._lock:
            self._counter += 1
            out = self.folder / f"sample-{self._counter}.json"
        work_dir = function.directory if function is not None else self.empty
        command = [PYTHON]
        if importtime:
            command += ["-X", "importtime"]
        command += [str(PROBE), mode, str(out), str(work_dir), str(LAYER_DIR)]
        if mode == "compile":
            command += [str(f.directory) for f in self.functions]
        if mode == "libraries":
            command.append(",".join(modules))
        completed = subprocess.run(  # noqa: S603 - our own interpreter and script
            command,
            env=self._environment(function),
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
        if completed.returncode != 0 or not out.exists():
            name = function.name if function is not None else mode
            raise BenchError(
                f"cold-start probe ({name}) failed with exit status {completed.returncode}:\n"
                f"{completed.stderr[-3000:]}"
            )
        seconds = float(json.loads(out.read_text(encoding="utf-8"))["seconds"])
        out.unlink()
        return seconds, completed.stderr


def _in_workers(jobs: Sequence[Callable[[], None]], workers: int) -> None:
    """Run ``jobs`` in order on ``workers`` threads (job i on thread i % workers)."""
    errors: list[BaseException] = []

    def work(mine: Sequence[Callable[[], None]]) -> None:
        try:
            for job in mine:
                job()
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(jobs[index::workers],), daemon=True)
        for index in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _import_report(costs: list[ImportCost], floor_modules: set[str]) -> dict[str, Any]:
    beyond = [cost for cost in costs if cost.module not in floor_modules]
    packages: dict[str, list[ImportCost]] = defaultdict(list)
    for cost in beyond:
        packages[cost.module.split(".")[0]].append(cost)
    top_packages = sorted(
        packages.items(), key=lambda item: (-sum(c.self_us for c in item[1]), item[0])
    )[:TOP]
    top_modules = sorted(beyond, key=lambda cost: (-cost.self_us, cost.module))[:TOP]
    return {
        "modules_beyond_floor": len(beyond),
        "self_ms_beyond_floor": round(sum(c.self_us for c in beyond) / 1000, 1),
        "top_packages": [
            {
                "package": name,
                "self_ms": round(sum(c.self_us for c in members) / 1000, 1),
                "modules": len(members),
            }
            for name, members in top_packages
        ],
        "top_modules": [
            {
                "module": cost.module,
                "self_ms": round(cost.self_us / 1000, 1),
                "cumulative_ms": round(cost.cumulative_us / 1000, 1),
            }
            for cost in top_modules
        ],
    }


def run_cold_starts(
    samples: int, workers: int = 1, only: Sequence[str] | None = None
) -> dict[str, Any]:
    """Every function's cold start (or ``only`` those) against the floor; ``workers`` > 1 runs
    that many A/B streams at once (quick mode only: the figures then only check the machinery)."""
    if samples < 1 or workers < 1:
        raise BenchError("samples and workers must be at least 1")
    functions = bench_functions()
    if only:
        unknown = sorted(set(only) - {f.name for f in functions})
        if unknown:
            raise BenchError(f"no such functions: {', '.join(unknown)}")
        functions = [f for f in functions if f.name in only]
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as folder:
        probes = _Probes(Path(folder), functions)
        probes.run("compile", None)  # fills the bytecode cache; not a sample

        # One importtime run each (also a second warm-up of the OS's file cache).
        import_costs: dict[str, list[ImportCost]] = {}

        def importtime_job(function: BenchFunction | None) -> Callable[[], None]:
            def job() -> None:
                mode = "function" if function is not None else "floor"
                _, stderr = probes.run(mode, function, importtime=True)
                import_costs[function.name if function else ""] = parse_importtime(stderr)

            return job

        _in_workers([importtime_job(None), *map(importtime_job, functions)], workers)

        libraries = {
            function.name: libraries_imported_by_ours(import_costs[function.name])
            for function in functions
        }
        floor_samples: list[float] = []
        function_samples: dict[str, list[float]] = {f.name: [] for f in functions}
        library_samples: dict[str, list[float]] = {f.name: [] for f in functions}
        lock = threading.Lock()

        def pair(function: BenchFunction) -> Callable[[], None]:
            def job() -> None:
                floor, _ = probes.run("floor", None)
                seconds, _ = probes.run("function", function)
                alone, _ = probes.run("libraries", function, modules=libraries[function.name])
                with lock:
                    floor_samples.append(floor)
                    function_samples[function.name].append(seconds)
                    library_samples[function.name].append(alone)

            return job

        # Round-robin: each function's samples spread over the whole run.
        jobs = [pair(function) for _ in range(samples) for function in functions]
        _in_workers(jobs, workers)

    floor_modules = {cost.module for cost in import_costs[""]}
    floor_median = statistics.median(floor_samples)
    results: dict[str, Any] = {}
    for function in functions:
        timings = function_samples[function.name]
        results[function.name] = {
            "logical_id": function.logical_id,
            "cold_ms": summary([s * 1000 for s in timings], 1),
            "ratio": round(statistics.median(timings) / floor_median, 2),
            "libraries": libraries[function.name],
            "libraries_ms": summary([s * 1000 for s in library_samples[function.name]], 1),
            "libraries_ratio": round(
                statistics.median(library_samples[function.name]) / floor_median, 2
            ),
            "imports": _import_report(import_costs[function.name], floor_modules),
        }
    floor_costs = import_costs[""]
    return {
        "samples_per_function": samples,
        "parallel_streams": workers,
        "floor_ms": summary([s * 1000 for s in floor_samples], 1),
        "floor_imports_self_ms": round(sum(c.self_us for c in floor_costs) / 1000, 1),
        "functions": results,
    }
