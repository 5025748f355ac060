"""The results files: bench/results/latest.json (every figure) and latest.md (for reading).

Both always have every section, in the same order; a section that was not run is null in the
JSON and says so in the Markdown.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT

SCHEMA = 1
SECTIONS = ("cold_start", "warm", "sizes", "devstack")


def _git(*args: str) -> str:
    completed = subprocess.run(  # noqa: S603 - read-only git
        ["git", *args],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return completed.stdout.strip() if completed.returncode == 0 else ""


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": _git("rev-parse", "HEAD"),
        # Uncommitted changes in the measured tree (others' work in progress, say).
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def results(quick: bool, sections: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "quick": quick,
        "machine": machine(),
        **{name: sections.get(name) for name in SECTIONS},
    }


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.2f} MiB"


def _range(figure: dict[str, Any], unit: str) -> str:
    return f"{figure['median']} {unit} ({figure['min']}-{figure['max']}, n={figure['n']})"


def _cold_md(cold: dict[str, Any]) -> list[str]:
    floor = cold["floor_ms"]
    lines = [
        f'Floor (`import boto3; boto3.client("dynamodb")`): {_range(floor, "ms")}. '
        f"{cold['samples_per_function']} samples per function, A/B alternating with the floor"
        + (
            f", {cold['parallel_streams']} streams at once (quick mode: shape only)."
            if cold["parallel_streams"] > 1
            else ", one at a time."
        ),
        "",
        "The libraries floor of a function is a third probe in each pair: it imports only the "
        "libraries (third-party and standard) that the function's own modules import directly, "
        "then makes the client. Its ratio is the part of the function's that its libraries cost "
        "by themselves; the difference is what our modules cost.",
        "",
        "| function | cold ms: median (min-max) | ratio to floor | libraries floor: ratio "
        "| ours: ratio - libraries | imported beyond the floor (self ms) "
        "| costliest packages beyond the floor (self ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in cold["functions"].items():
        ms = entry["cold_ms"]
        packages = ", ".join(
            f"{p['package']} {p['self_ms']}" for p in entry["imports"]["top_packages"][:4]
        )
        ours = round(entry["ratio"] - entry["libraries_ratio"], 2)
        lines.append(
            f"| {name} | {ms['median']} ({ms['min']}-{ms['max']}) | {entry['ratio']}x "
            f"| {entry['libraries_ratio']}x | {ours:+.2f} "
            f"| {entry['imports']['modules_beyond_floor']} modules, "
            f"{entry['imports']['self_ms_beyond_floor']} | {packages} |"
        )
    lines += [
        "",
        "Costliest single modules beyond the floor (self ms, one `-X importtime` run):",
        "",
    ]
    for name, entry in cold["functions"].items():
        modules = ", ".join(
            f"`{m['module']}` {m['self_ms']}" for m in entry["imports"]["top_modules"][:5]
        )
        lines.append(f"- {name}: {modules}")
    lines += [
        "",
        "The libraries each function's own modules import directly (its libraries floor):",
        "",
    ]
    for name, entry in cold["functions"].items():
        top = sorted({module.split(".")[0] for module in entry["libraries"]})
        lines.append(f"- {name}: {', '.join(f'`{m}`' for m in top)}")
    return lines


def _warm_md(warm: dict[str, Any]) -> list[str]:
    lines = [
        f"{warm['iterations']} invocations per path after {warm['warmup_invocations']} untimed "
        "ones; CPU time per invocation (thread CPU clock), the stub's own CPU subtracted.",
        "",
        "| path | function | overhead µs: median (min-max) | handler incl. stub µs | stub µs "
        "| stubbed calls |",
        "|---|---|---|---|---|---|",
    ]
    for name, entry in warm["paths"].items():
        over, gross, stub = entry["overhead_us"], entry["handler_us"], entry["stub_us"]
        calls = entry["stubbed_calls"]
        lines.append(
            f"| {name} | {entry['function']} | {over['median']} ({over['min']}-{over['max']}) "
            f"| {gross['median']} | {stub['median']} | {len(calls['aws'])} AWS, "
            f"{len(calls['http'])} HTTP |"
        )
    lines.append("")
    lines += [f"- {name}: {entry['description']}" for name, entry in warm["paths"].items()]
    return lines


def _sizes_md(sizes: dict[str, Any]) -> list[str]:
    layer = sizes["layer"]
    lines = [
        f"Source: {sizes['source']}.",
        "",
        f"Shared layer: {_mib(layer['unzipped_bytes'])} unzipped, {_mib(layer['zipped_bytes'])} "
        f"zipped, {layer['files']} files. Largest parts: "
        + ", ".join(f"{p['name']} {_mib(p['unzipped_bytes'])}" for p in layer["largest"][:6])
        + ".",
        "",
        "| function | files | unzipped bytes | zipped bytes | with the layer, of Lambda's 250 MB |",
        "|---|---|---|---|---|",
    ]
    for name, entry in sizes["functions"].items():
        lines.append(
            f"| {name} | {entry['files']} | {entry['unzipped_bytes']} | {entry['zipped_bytes']} "
            f"| {_mib(entry['with_layer_unzipped_bytes'])}, "
            f"{entry['share_of_unzipped_limit'] * 100:.1f}% |"
        )
    return lines


def _devstack_md(run: dict[str, Any]) -> list[str]:
    latency, money = run["latency_ms"], run["money"]
    verified = "passed" if run["ledger_verify"]["exit_status"] == 0 else "FAILED"
    return [
        f"- {run['webhooks_per_s']} webhooks/s sustained for {run['duration_s']} s "
        f"({run['webhooks']} answered 2xx, {run['redeliveries']} of them exact re-deliveries; "
        f"{run['captures_per_s']} captures/s), {run['concurrency']} concurrent senders",
        f"- latency p50 {latency['p50']} ms, p99 {latency['p99']} ms, max {latency['max']} ms "
        f"({latency['n']} requests)",
        f"- money: {money['lost']} lost, {money['doubled']} doubled, {money['wrong_amount']} "
        f"wrong amount, {money['phantom']} phantom, over {money['payments_delivered']} "
        f"delivered payments; ledger captured {money['ledger_captured_minor_units']} vs "
        f"{money['expected_captured_minor_units']} expected (USD minor units); "
        f"`payctl --local ledger verify` {verified}",
        f"- {run['payments_made']} payments made through the API first "
        f"({run['checkouts_per_s_while_making']} checkouts/s); {run['retried_attempts']} "
        f"deliveries retried, {run['failed_deliveries']} failed for good",
        f"- the payments table held {run['payments_table_items']['before_run']} items when the "
        f"run began, {run['payments_table_items']['after_run']} at its end",
        *(f"- **problem: {problem}**" for problem in run["problems"]),
    ]


def markdown(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        "# Benchmark results" + (" (quick mode)" if data["quick"] else ""),
        "",
        f"Recorded {m['date']} on {m['cpu_count']} x {m['cpu_model']}, Python {m['python']}, "
        f"{m['platform']}; commit `{m['git_commit'][:12] or 'unknown'}`"
        + (" with uncommitted changes" if m["git_dirty"] else "")
        + ". How each figure is made: [README.md](../README.md). Every figure: "
        "median (min-max) and the number of samples.",
    ]
    writers = {
        "cold_start": ("Cold start per function", _cold_md),
        "warm": ("Warm handler overhead per invocation", _warm_md),
        "sizes": ("Package sizes", _sizes_md),
        "devstack": ("Devstack webhook throughput", _devstack_md),
    }
    for name in SECTIONS:
        title, writer = writers[name]
        lines += ["", f"## {title}", ""]
        lines += writer(data[name]) if data[name] is not None else ["Not run."]
    return "\n".join(lines) + "\n"


def write(data: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "latest.json", folder / "latest.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown(data), encoding="utf-8")
    return json_path, md_path
