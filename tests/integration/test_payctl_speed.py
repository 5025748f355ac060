"""payctl answers fast: help and command registration import typer, not the AWS stack.

Each case runs payctl in a fresh interpreter and lists the modules it loaded. The heavy ones
(boto3 and botocore, pynamodb, the payments package, rich) cost a second or more on a busy
machine and belong only to the commands that talk to the tables.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

NOT_FOR_HELP = ("boto3", "botocore", "pynamodb", "payments", "rich")

_RUN_AND_LIST_MODULES = """
import json, sys
sys.argv = ["payctl", *json.loads(sys.argv[1])]
from payctl.main import main
try:
    main()
except SystemExit:
    pass
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


def _run(*args: str) -> tuple[str, set[str]]:
    result = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST_MODULES, json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    output, _, modules = result.stdout.rpartition("\nMODULES ")
    assert modules, result.stderr
    return output, set(json.loads(modules))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(
        name
        for name in modules
        if any(name == heavy or name.startswith(f"{heavy}.") for heavy in NOT_FOR_HELP)
    )


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A devstack state file, as `make dev` writes it (no devstack needs to run for help)."""
    path = tmp_path / "state.json"
    path.write_text(
        json.dumps(
            {"aws_endpoint": "http://127.0.0.1:9", "region": "us-east-1", "environment": {}}
        ),
        encoding="utf-8",
    )
    return path


def test_payctl_help_imports_no_aws_or_payments_module() -> None:
    output, modules = _run("--help")
    assert "Commands:" in output
    assert "tenants" in output
    assert _heavy(modules) == []


@pytest.mark.parametrize(
    "group", ["tenants", "keys", "operators", "ledger", "credentials", "callbacks", "limits"]
)
def test_a_command_groups_help_imports_no_aws_or_payments_module(
    group: str, state_file: Path
) -> None:
    output, modules = _run("--local", "--state-file", str(state_file), group, "--help")
    assert f"payctl {group} [OPTIONS] COMMAND" in output
    assert _heavy(modules) == []


@pytest.mark.parametrize("group", ["tenants", "credentials", "limits"])
def test_a_groups_help_needs_no_target(group: str) -> None:
    """Reading help is not operating a stack: no --local or --stack needed for it."""
    output, modules = _run(group, "--help")
    assert "Commands:" in output
    assert "choose exactly one" not in output
    assert _heavy(modules) == []


def test_tenants_list_prints_whole_values_in_aligned_columns() -> None:
    from payctl.main import _columns

    long_name = "Westlands Hair & Beauty Salon, Nairobi (second branch)"
    printed = _columns(
        [
            ("tenant_id", "name", "status", "created_at"),
            ("ten_0123456789abcdef", long_name, "active", "2026-12-01T20:26:11.584041+00:00"),
            ("ten_fedcba9876543210", "Spa", "disabled", "2026-12-02T08:00:00.000001+00:00"),
        ]
    ).splitlines()
    assert long_name in printed[1]
    assert "2026-12-01T20:26:11.584041+00:00" in printed[1]
    # Every column starts at the same offset on every line.
    for header in ("name", "status", "created_at"):
        offset = printed[0].index(header)
        assert all(line[offset - 2 : offset] == "  " for line in printed[1:])
    assert printed[2][printed[0].index("status") :].startswith("disabled")
