"""The dashboard shows money as the API means it: integer minor units with the currency's
ISO 4217 exponent (the API's own table, not the browser's Intl data, which differs for HUF, COP,
IDR...), crypto decimal strings exactly, and refund amounts typed in major units converted back
without a float. Runs the page's own format.js in Node (the machine's, as npm uses)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from payments.money import FIAT_EXPONENTS
from scripts.dashboard_currencies import TARGET, render

STATIC = Path(__file__).resolve().parents[2] / "functions" / "dashboard" / "static"


def test_the_page_has_the_apis_exponents() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), (
        "functions/dashboard/static/currencies.js drifted from payments.money: run "
        ".venv/bin/python scripts/dashboard_currencies.py"
    )


def _run(script: str) -> object:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed (it also installs the dashboard's chart library with npm)")
    program = f'import * as f from "./format.js";\nconsole.log(JSON.stringify({script}));'
    result = subprocess.run(
        [node, "--no-warnings", "--input-type=module", "-e", program],
        cwd=STATIC,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={"LANG": "en_US.UTF-8", "PATH": "/usr/bin:/bin", "TZ": "UTC"},
    )
    return json.loads(result.stdout)


def test_every_fiat_currency_uses_the_apis_exponent() -> None:
    exponents = _run(
        f"Object.fromEntries({json.dumps(sorted(FIAT_EXPONENTS))}.map(c => [c, f.exponentOf(c)]))"
    )
    assert exponents == dict(FIAT_EXPONENTS)
    assert _run('[f.exponentOf("BTC"), f.exponentOf("usdttrc20")]') == [None, None]


def test_amounts_are_formatted_from_minor_units_and_crypto_strings_exactly() -> None:
    shown = _run(
        "[f.money(2500, 'KES'), f.money(2500, 'HUF'), f.money(2500, 'JPY'), f.money(1234, 'KWD'),"
        " f.money(-5, 'USD'), f.money(900719925474099, 'USD'), f.money('0.00012345', 'btc'),"
        " f.money(null, 'USD')]"
    )
    assert [text.replace("\xa0", " ") for text in shown] == [
        "KES 25.00",
        "HUF 25.00",
        "¥2,500",
        "KWD 1.234",
        "-$0.05",
        "$9,007,199,254,740.99",
        "0.00012345 BTC",
        "—",
    ]


def test_typed_major_units_become_exact_minor_units_or_are_refused() -> None:
    converted = _run(
        "[f.decimalToMinor('12.3', 2), f.decimalToMinor('0.07', 2), f.decimalToMinor('25', 0),"
        " f.decimalToMinor('1.234', 3), f.decimalToMinor('1.234', 2), f.decimalToMinor('-1', 2),"
        " f.decimalToMinor('1e3', 2), f.decimalToMinor('99999999999999999', 2)]"
    )
    assert converted == [1230, 7, 25, 1234, None, None, None, None]
