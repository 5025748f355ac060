"""The settings loader (payments.config): what pydantic-settings did for us, done by our own
small loader so that no function pays pydantic-settings at its cold start."""

from __future__ import annotations

import json
import os

import pytest
from pydantic import ValidationError

from payments.config import (
    PER_PROVIDER_VARIABLES,
    RateLimit,
    Settings,
    SettingsError,
    environment_values,
    get_settings,
    reset_settings,
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting of the machine or of another test reaches these."""
    fields = set(Settings.model_fields)
    for name in list(os.environ):
        if name.lower() in fields or any(
            name.upper().startswith(p) for p in PER_PROVIDER_VARIABLES
        ):
            monkeypatch.delenv(name)
    reset_settings()


def test_without_variables_every_default_holds() -> None:
    settings = Settings()
    assert settings.payments_table_name == "payments"
    assert settings.idempotency_table_name == "payments-idempotency"
    assert settings.stage == "dev"
    assert settings.allow_local_callback_urls is False
    assert settings.callback_retry_time_scale == 1.0
    assert settings.rate_limit_checkout == RateLimit(capacity=300, window_seconds=60)
    assert settings.provider_api_bases == {}
    assert settings.webhook_source_cidrs == {}
    assert settings.sweeper_pending_age("mpesa", None) == 30


def test_a_fields_variable_is_its_name_in_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", "payments-prod")
    monkeypatch.setenv("Stage", "prod")
    monkeypatch.setenv("event_bus_name", "bus")
    settings = Settings()
    assert (settings.payments_table_name, settings.stage, settings.event_bus_name) == (
        "payments-prod",
        "prod",
        "bus",
    )


def test_values_are_validated_as_the_fields_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", "true")
    monkeypatch.setenv("CALLBACK_RETRY_TIME_SCALE", "0.001")
    monkeypatch.setenv("DEFAULT_PAGE_SIZE", "10")
    settings = Settings()
    assert settings.allow_local_callback_urls is True
    assert settings.callback_retry_time_scale == 0.001
    assert settings.default_page_size == 10
    for text, value in [("1", True), ("yes", True), ("on", True), ("0", False), ("false", False)]:
        monkeypatch.setenv("ALLOW_LOCAL_CALLBACK_URLS", text)
        assert Settings().allow_local_callback_urls is value, text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ALLOW_LOCAL_CALLBACK_URLS", "maybe"),
        ("CALLBACK_TIMEOUT_SECONDS", "31"),
        ("DEFAULT_PAGE_SIZE", "many"),
        ("PAYMENTS_TABLE_NAME", "ab"),
        ("SWEEPER_PENDING_AGE_MINUTES_MPESA", "-1"),
        ("RATE_LIMIT_CHECKOUT", '{"capacity": 5}'),
        ("RATE_LIMIT_CHECKOUT", '{"capacity": 5, "window_seconds": 60, "burst": 9}'),
    ],
)
def test_a_value_its_field_refuses_fails_the_settings(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError):
        Settings()


def test_complex_values_are_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_CHECKOUT", '{"capacity": 5, "window_seconds": 60}')
    monkeypatch.setenv("PROVIDER_API_BASES", json.dumps({"Stripe": "http://127.0.0.1:9"}))
    settings = Settings()
    assert settings.rate_limit_checkout == RateLimit(capacity=5, window_seconds=60)
    assert settings.provider_api_base("stripe") == "http://127.0.0.1:9"


@pytest.mark.parametrize("value", ["capacity=5", "", "{'capacity': 5}"])
def test_a_complex_value_that_is_not_json_fails_naming_its_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RATE_LIMIT_CHECKOUT", value)
    with pytest.raises(SettingsError, match=r"^RATE_LIMIT_CHECKOUT: not JSON"):
        Settings()


def test_per_provider_variables_fill_their_maps_by_provider(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", "http://127.0.0.1:1")
    monkeypatch.setenv("provider_api_base_MPesa", "http://127.0.0.1:2")
    monkeypatch.setenv("PROVIDER_API_BASE_NEOBANK", "")  # empty: the provider's own
    monkeypatch.setenv("PROVIDER_WEBHOOK_URL_STRIPE", "https://fn.example/")
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES_MPESA", "3")
    monkeypatch.setenv("SWEEPER_PENDING_AGE_MINUTES", "45")
    monkeypatch.setenv("WEBHOOK_SOURCE_CIDRS_MPESA", "196.201.214.200/32")
    settings = Settings()
    assert settings.provider_api_bases == {
        "stripe": "http://127.0.0.1:1",
        "mpesa": "http://127.0.0.1:2",
    }
    assert settings.provider_api_base("neobank") is None
    assert settings.provider_webhook_url("stripe") == "https://fn.example/"
    assert settings.sweeper_pending_age("mpesa", 10) == 3
    assert settings.sweeper_pending_age("stripe", None) == 45
    assert [str(n) for n in settings.webhook_source_networks("mpesa")] == ["196.201.214.200/32"]


def test_a_per_provider_variable_wins_over_the_whole_maps_json_key_by_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "PROVIDER_API_BASES", json.dumps({"stripe": "http://a", "mpesa": "http://b"})
    )
    monkeypatch.setenv("PROVIDER_API_BASE_STRIPE", "http://c")
    assert Settings().provider_api_bases == {"stripe": "http://c", "mpesa": "http://b"}


def test_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("PAYMENTS_TABLE_NAME", "from-env")
    settings = Settings(stage="test")
    assert (settings.stage, settings.payments_table_name) == ("test", "from-env")


def test_model_validate_reads_the_environment_too_as_pydantic_settings_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.setenv("KMS_KEY_ID", "key")
    settings = Settings.model_validate({"stage": "test"})
    assert (settings.stage, settings.kms_key_id) == ("test", "key")


def test_the_loader_reads_a_given_mapping_and_leaves_validation_to_pydantic() -> None:
    values = environment_values(
        Settings,
        {
            "STAGE": "prod",
            "RATE_LIMIT_CHECKOUT": '{"capacity": 1, "window_seconds": 2}',
            "WEBHOOK_SOURCE_CIDRS_STRIPE": "3.18.12.63",
            "UNRELATED": "x",
        },
    )
    assert values == {
        "stage": "prod",
        "rate_limit_checkout": {"capacity": 1, "window_seconds": 2},
        "webhook_source_cidrs": {"stripe": "3.18.12.63"},
    }


def test_settings_are_read_once_until_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAGE", "one")
    first = get_settings()
    monkeypatch.setenv("STAGE", "two")
    assert get_settings() is first
    reset_settings()
    assert get_settings().stage == "two"
    reset_settings()


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().stage = "prod"  # type: ignore[misc]
