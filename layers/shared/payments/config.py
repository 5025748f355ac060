"""Typed settings read from the environment once per container, on first use.

Handlers never read ``os.environ`` themselves: they ask :func:`get_settings`. The first call
builds the settings object; later calls in the same container reuse it (Lambda keeps module
state between invocations, so this is read once per cold start).
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Names of the resources this deployment uses, as `template.yaml` passes them in."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    payments_table_name: str = Field(default="payments", min_length=3, max_length=255)
    idempotency_table_name: str = Field(default="payments-idempotency", min_length=3)
    event_bus_name: str = Field(default="payments", min_length=1)
    kms_key_id: str = ""
    stage: str = "dev"
    secrets_prefix: str = "payments/dev/"
    # Where the Stripe SDK sends API calls; empty means Stripe itself (the devstack sets its
    # sandbox here).
    stripe_api_base: str | None = None
    # Largest amount a checkout accepts, in minor units (Stripe's own ceiling is 99,999,999).
    max_checkout_amount: int = Field(default=99_999_999, ge=1)
    # Merchant callbacks: the queue that carries delivery retries and its dead-letter queue.
    callback_queue_url: str = ""
    callback_dlq_url: str = ""
    # Local development only: lets callback endpoints be http://localhost / 127.0.0.1.
    allow_local_callback_urls: bool = False
    # Multiplies every retry delay; tests compress three days of retries into seconds.
    callback_retry_time_scale: float = Field(default=1.0, gt=0, le=1.0)
    # How long a merchant endpoint may take to answer one delivery.
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # Where Omnisend API calls go (the devstack sets its sandbox).
    omnisend_api_base: str = "https://api.omnisend.com"
    # Payments still open this long after their last change are re-checked by the sweeper.
    sweeper_pending_age_minutes: int = Field(default=30, ge=0)
    # Page size bounds for list endpoints.
    default_page_size: int = Field(default=25, ge=1, le=100)
    max_page_size: int = Field(default=100, ge=1, le=1000)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings, created on first use."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the devstack change the environment)."""
    get_settings.cache_clear()
