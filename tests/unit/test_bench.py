"""bench/: `python -m bench --quick` for the cold starts and sizes writes results of the
committed shape with sane figures for every function; the pure parts on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.__main__ import main
from bench.cold import MARKER, ImportCost, libraries_imported_by_ours, parse_importtime
from bench.throughput import REDELIVER_EVERY, OpenPayment, _plan
from tests.conftest import ROOT

FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions").glob("*/app.py"))
# The quick run measures three kinds of function (REST, webhook, queue): the machinery, in a
# minute. The committed full run (bench/results/latest.json) has every function.
MEASURED = ["callback", "checkout", "webhook_stripe"]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench")
    only = ["--only", "cold_start,sizes", "--functions", ",".join(MEASURED)]
    assert main(["--quick", *only, "--out", str(out)]) == 0
    data = json.loads((out / "latest.json").read_text(encoding="utf-8"))
    return data, (out / "latest.md").read_text(encoding="utf-8")


def test_quick_run_has_the_committed_shape(quick_results: tuple[dict[str, Any], str]) -> None:
    data, _ = quick_results
    assert list(data) == ["schema", "quick", "machine", *report.SECTIONS]
    assert data["schema"] == report.SCHEMA
    assert data["quick"] is True
    assert data["warm"] is None
    assert data["devstack"] is None
    machine = data["machine"]
    assert machine["cpu_count"] >= 1
    assert machine["cpu_model"]
    assert machine["python"].startswith("3.")
    assert len(machine["git_commit"]) == 40
    # The committed results have the same keys, so a reader's tools keep working.
    committed = json.loads((ROOT / "bench/results/latest.json").read_text(encoding="utf-8"))
    assert list(committed) == list(data)
    assert list(committed["machine"]) == list(machine)


def test_every_function_has_a_cold_start_ratio_against_the_floor(
    quick_results: tuple[dict[str, Any], str],
) -> None:
    cold = quick_results[0]["cold_start"]
    assert sorted(cold["functions"]) == MEASURED
    committed = json.loads((ROOT / "bench/results/latest.json").read_text(encoding="utf-8"))
    assert sorted(committed["cold_start"]["functions"]) == FUNCTIONS
    samples = cold["samples_per_function"]
    assert samples == 3
    floor = cold["floor_ms"]
    assert floor["n"] == samples * len(MEASURED)  # one floor sample before each function's
    assert 0 < floor["min"] <= floor["median"] <= floor["max"] < 60_000
    assert cold["floor_imports_self_ms"] > 0  # boto3's own imports
    for name, entry in cold["functions"].items():
        timing = entry["cold_ms"]
        assert timing["n"] == samples, name
        assert 0 < timing["min"] <= timing["median"] <= timing["max"], name
        assert entry["ratio"] == pytest.approx(timing["median"] / floor["median"], abs=0.01)
        # Importing a handler costs more than creating a client: every function imports
        # the payments package and Powertools beyond what boto3 brings.
        assert entry["ratio"] > 1, name
        imports = entry["imports"]
        assert imports["self_ms_beyond_floor"] > 0, name
        packages = [p["package"] for p in imports["top_packages"]]
        assert "payments" in packages, (name, packages)
        # botocore is in the floor; boto3 may appear for submodules the floor does not load
        # (the webhook statistics' boto3.dynamodb helpers), which are a real cost.
        assert "botocore" not in packages
        # The libraries floor: what the function imports, none of ours, costs more than the
        # floor and no more than the function (within the noise of three samples).
        assert entry["libraries"], name
        assert not any(m.split(".")[0] in {"app", "payments"} for m in entry["libraries"])
        assert entry["libraries_ms"]["n"] == samples, name
        assert entry["libraries_ratio"] == pytest.approx(
            entry["libraries_ms"]["median"] / floor["median"], abs=0.01
        )
        assert 0.8 < entry["libraries_ratio"] < entry["ratio"] * 1.25, name
        assert imports["top_modules"], name


def test_sizes_cover_the_layer_and_every_function(
    quick_results: tuple[dict[str, Any], str],
) -> None:
    sizes = quick_results[0]["sizes"]
    layer = sizes["layer"]
    assert 0 < layer["zipped_bytes"] < layer["unzipped_bytes"]
    assert layer["files"] > 100
    names = [part["name"] for part in layer["largest"]]
    assert {"stripe", "pydantic_core"} <= set(names)  # the layer's heavy dependencies
    assert not {"boto3", "botocore"} & set(names)  # the runtime provides them
    assert sorted(sizes["functions"]) == FUNCTIONS
    for name, entry in sizes["functions"].items():
        app = (ROOT / "functions" / name / "app.py").stat().st_size
        assert entry["unzipped_bytes"] >= app, name
        assert entry["zipped_bytes"] > 0, name
        assert (
            entry["with_layer_unzipped_bytes"] == entry["unzipped_bytes"] + layer["unzipped_bytes"]
        )
        assert 0 < entry["share_of_unzipped_limit"] < 1


def test_the_markdown_names_every_function_and_what_was_not_run(
    quick_results: tuple[dict[str, Any], str],
) -> None:
    text = quick_results[1]
    assert text.startswith("# Benchmark results (quick mode)")
    for name in FUNCTIONS:
        assert f"| {name} |" in text
    assert text.count("Not run.") == 2  # warm and devstack


def test_importtime_lines_after_the_marker_are_parsed() -> None:
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       100 |        100 | encodings",
            MARKER,
            "import time:       250 |        250 |   botocore.utils",
            "import time:      1200 |       1450 | boto3",
            "not an importtime line",
        ]
    )
    costs = parse_importtime(stderr)
    assert [(c.module, c.self_us, c.cumulative_us, c.depth) for c in costs] == [
        ("botocore.utils", 250, 250, 1),
        ("boto3", 1200, 1450, 0),
    ]


def test_the_libraries_floor_takes_what_our_modules_import_directly() -> None:
    def cost(module: str, depth: int) -> ImportCost:
        return ImportCost(module, 1, 1, depth)

    # app imports payments.config (which imports pydantic, itself importing typing_extensions)
    # and json; boto3 is imported by the probe itself.
    costs = [
        cost("typing_extensions", 3),
        cost("pydantic", 2),
        cost("ipaddress", 2),
        cost("payments.config", 1),
        cost("payments", 1),
        cost("json", 1),
        cost("app", 0),
        cost("boto3", 0),
    ]
    assert libraries_imported_by_ours(costs) == ["pydantic", "ipaddress", "json"]


def test_the_delivery_plan_sends_each_payment_once_and_every_tenth_again() -> None:
    payments = [OpenPayment(n, f"pay_{n}", 1000 + n) for n in range(40)]
    planned = _plan(payments, concurrency=4)
    originals = [p.number for p, again in planned if not again]
    again = [p.number for p, again in planned if again]
    assert originals == list(range(40))
    assert len(again) == 40 // REDELIVER_EVERY
    # Each re-delivery follows its own original or one queued just before it.
    for index, (payment, is_again) in enumerate(planned):
        if is_again:
            earlier = [p.number for p, a in planned[:index] if not a]
            assert payment.number in earlier
            assert earlier[-1] - payment.number in {0, 1, 4}


def test_a_section_not_run_is_null_and_said_so(tmp_path: Path) -> None:
    data = report.results(True, {})
    assert [data[name] for name in report.SECTIONS] == [None] * len(report.SECTIONS)
    json_path, md_path = report.write(data, tmp_path)
    assert json.loads(json_path.read_text(encoding="utf-8"))["cold_start"] is None
    assert md_path.read_text(encoding="utf-8").count("Not run.") == len(report.SECTIONS)
