"""e2e: `make dev` started for real, driven over HTTP on localhost."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, expect, sync_playwright

from tests.conftest import ROOT

STARTUP_TIMEOUT = 120
# The browser tests drive Debian's chromium through Playwright (`make e2e` installs chromium
# when it is missing; Playwright never downloads a browser here).
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# What a page's answer may take on a busy machine (the API answers within seconds, a webhook's
# effect within ten): every Playwright expectation's default, instead of its 5 s.
BROWSER_TIMEOUT_MS = 20_000
expect.set_options(timeout=BROWSER_TIMEOUT_MS)
# The printed line that sets $BASE and $KEY (and the other keys) for the commands after it.
EXPORT_LINE = re.compile(r"^  (export BASE=\S+ KEY=\S+(?: [A-Z0-9]+=\S+)*)$", re.MULTILINE)


def eventually(check: Callable[[], Any], timeout: float = 15.0, interval: float = 0.25) -> Any:
    """``check()``'s first truthy value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@dataclass
class RunningDevStack:
    info: dict[str, str]
    state_file: Path
    log_file: Path
    process: subprocess.Popen[str]

    def printed(self) -> str:
        """Everything `make dev` printed so far."""
        return self.log_file.read_text(encoding="utf-8")

    @property
    def base_url(self) -> str:
        return self.info["api_base_url"]

    def printed_command(self, route: str) -> str:
        """The printed ``export BASE=... KEY=...`` line and the printed ``curl -s -X POST``
        command that ends with ``route`` (e.g. ``$BASE/v1/crypto/payments``), as one script
        to run with bash: what a reader of `make dev`'s output would paste."""
        printed = self.printed()
        export = EXPORT_LINE.search(printed)
        end = printed.find(route)
        start = printed.rfind("  curl -s -X POST", 0, end)
        command = printed[start + 2 : end + len(route)] if 0 <= start < end else ""
        assert export, printed
        assert command.count("curl") == 1, printed
        return f"{export.group(1)}\n{command}"

    def run_printed_curl(self, curl_pattern: str) -> Any:
        """The printed ``export BASE=... KEY=...`` line and the printed one-line curl that
        ``curl_pattern`` matches (a regex of the whole line after its indent), run with bash
        as pasted; its JSON answer."""
        printed = self.printed()
        export = EXPORT_LINE.search(printed)
        curl = re.search(rf"^  ({curl_pattern})$", printed, re.MULTILINE)
        assert export, printed
        assert curl, printed
        result = subprocess.run(
            ["bash", "-c", f"{export.group(1)}\n{curl.group(1)}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return json.loads(result.stdout)

    def run_printed(self, route: str) -> dict[str, Any]:
        """Run :meth:`printed_command` with bash, as pasted; its JSON answer."""
        result = subprocess.run(
            ["bash", "-c", self.printed_command(route)],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    def payment(
        self, payment_id: str, *, api_key: str | None = None, refresh: bool = False
    ) -> dict[str, Any]:
        """``GET /v1/payments/{id}`` with the demo tenant's key (or ``api_key``): 200 or fail."""
        response = requests.get(
            f"{self.base_url}/v1/payments/{payment_id}",
            params={"refresh": "true"} if refresh else None,
            headers={"Authorization": f"Bearer {api_key or self.info['api_key']}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        payment: dict[str, Any] = response.json()
        return payment

    def book(self, **fields: Any) -> requests.Response:
        """``POST /bookings`` to the bookings reference app, as a customer's browser would."""
        return requests.post(f"{self.info['bookings_app_url']}/bookings", json=fields, timeout=30)

    def booked(self, **fields: Any) -> dict[str, Any]:
        """A booking made with ``fields``: 201 or fail."""
        response = self.book(**fields)
        assert response.status_code == 201, response.text
        booking: dict[str, Any] = response.json()
        return booking

    def booking(self, booking_id: str) -> dict[str, Any]:
        """The bookings reference app's booking, as JSON."""
        response = requests.get(
            f"{self.info['bookings_app_url']}/bookings/{booking_id}", timeout=10
        )
        assert response.status_code == 200, response.text
        booking: dict[str, Any] = response.json()
        return booking

    def payctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(ROOT / ".venv/bin/payctl"),
                "--local",
                "--state-file",
                str(self.state_file),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=ROOT,
        )


@pytest.fixture(scope="session")
def devstack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDevStack]:
    folder = tmp_path_factory.mktemp("devstack")
    state_file, log_file = folder / "state.json", folder / "make-dev.log"
    args = f"--free-ports --schedule-interval 2 --sweeper-age-minutes 0 --state-file {state_file}"
    with log_file.open("w", encoding="utf-8") as log:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "dev", f"DEVSTACK_ARGS={args}"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, like a terminal's foreground job
        )
    running = RunningDevStack({}, state_file, log_file, process)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while "Press Ctrl-C to stop." not in running.printed():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"devstack did not start:\n{running.printed()}")
        time.sleep(0.2)
    running.info = json.loads(state_file.read_text(encoding="utf-8"))
    yield running
    # Ctrl-C, as a developer would: the whole foreground group gets SIGINT.
    os.killpg(process.pid, signal.SIGINT)
    process.wait(timeout=60)
    assert "Stopped." in running.printed(), running.printed()
    assert not state_file.exists(), "the state file (it holds the demo key) must be removed"


@pytest.fixture
def devstack_aws(devstack: RunningDevStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this process's boto3/pynamodb at the devstack's embedded AWS."""
    from devstack.stack import aws_environment
    from payments.config import reset_settings

    for name, value in {
        **aws_environment(devstack.info["aws_endpoint"]),
        **devstack.info["environment"],  # type: ignore[dict-item]
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    yield
    reset_settings()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, for one test module."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's chromium. `make e2e` installs "
            "it (apt-get install -y chromium, as root); or set CHROMIUM to another chromium."
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# Screenshots the browser tests wrote in this run (tests/e2e/test_dashboard.py), named at the end.
SCREENSHOTS_WRITTEN: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCREENSHOTS_WRITTEN:
        folders = sorted({str(shot.parent) for shot in SCREENSHOTS_WRITTEN})
        terminalreporter.write_sep("-", "dashboard screenshots")
        terminalreporter.write_line(
            f"{len(SCREENSHOTS_WRITTEN)} screenshots in {', '.join(folders)}: "
            + ", ".join(shot.name for shot in SCREENSHOTS_WRITTEN)
        )
