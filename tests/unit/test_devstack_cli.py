"""`make dev`'s command line: which port each server gets."""

from __future__ import annotations

import json
from pathlib import Path

from devstack.__main__ import DEFAULT_PORTS, parse_args
from devstack.stack import DevStackInfo


def _ports(*argv: str) -> dict[str, int]:
    args = parse_args(list(argv))
    return {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}


def test_without_options_every_server_gets_its_default_port() -> None:
    assert _ports() == DEFAULT_PORTS
    assert DEFAULT_PORTS["api"] == 3000


def test_free_ports_lets_the_system_pick_every_port() -> None:
    assert _ports("--free-ports") == dict.fromkeys(DEFAULT_PORTS, 0)


def test_an_explicit_port_wins_over_free_ports_whatever_the_order() -> None:
    expected = {**dict.fromkeys(DEFAULT_PORTS, 0), "api": 3999, "bookings": 8081}
    assert _ports("--free-ports", "--api-port", "3999", "--bookings-port", "8081") == expected
    assert _ports("--api-port", "3999", "--bookings-port", "8081", "--free-ports") == expected


def test_an_explicit_port_without_free_ports_leaves_the_other_defaults() -> None:
    assert _ports("--pages-port", "0") == {**DEFAULT_PORTS, "pages": 0}


def test_the_marketplace_app_has_its_own_port_next_to_the_bookings_app() -> None:
    assert (DEFAULT_PORTS["bookings"], DEFAULT_PORTS["marketplace"]) == (8080, 8081)
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)  # no two servers share one
    assert _ports("--free-ports", "--marketplace-port", "8181")["marketplace"] == 8181


def test_a_state_file_written_before_the_marketplace_still_loads(tmp_path: Path) -> None:
    info = DevStackInfo(
        aws_endpoint="http://127.0.0.1:5000",
        api_base_url="http://127.0.0.1:3000/dev",
        function_urls_base="http://127.0.0.1:3001",
        sandbox_urls={},
        bookings_app_url="http://127.0.0.1:8080",
        return_pages_url="http://127.0.0.1:3002",
        region="us-east-1",
        environment={},
        tenant_id="ten_1",
        tenant_name="Demo",
        api_key_id="key_1",
        api_key="pk_1",
        demo_payment_id="pay_1",
        demo_mpesa_shortcode="174379",
        marketplace_app_url="http://127.0.0.1:8081",
    )
    old = json.loads(info.to_json())
    del old["marketplace_app_url"]
    state = tmp_path / "state.json"
    state.write_text(json.dumps(old), encoding="utf-8")
    assert DevStackInfo.from_file(state).marketplace_app_url == ""
    state.write_text(info.to_json(), encoding="utf-8")
    assert DevStackInfo.from_file(state) == info
