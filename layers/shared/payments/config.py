"""Typed settings read from the environment once per container, on first use.

Handlers never read ``os.environ`` themselves: they ask :func:`get_settings`. The first call
builds the settings object; later calls in the same container reuse it (Lambda keeps module
state between invocations, so this is read once per cold start).

:class:`Settings` is a plain pydantic model; ``Settings()`` fills it from the environment with
:func:`environment_values`, a small loader of ours that does what pydantic-settings did for us
(docs/decisions.md): one variable per field, its name in any case; complex fields (maps, nested
models) as JSON; the per-provider variables ``<PREFIX><PROVIDER>`` collected into their maps;
values given to ``Settings(...)`` win over the environment. pydantic validates the rest as
before (bools, numbers and their bounds, networks).
"""

from __future__ import annotations

import ipaddress
import json
import os
import typing
from collections.abc import Mapping
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, field_validator

SourceNetworks = tuple[IPv4Network | IPv6Network, ...]
WEBHOOK_SOURCE_CIDRS_PREFIX = "WEBHOOK_SOURCE_CIDRS_"
PROVIDER_API_BASE_PREFIX = "PROVIDER_API_BASE_"
PROVIDER_WEBHOOK_URL_PREFIX = "PROVIDER_WEBHOOK_URL_"
SWEEPER_PENDING_AGE_PREFIX = "SWEEPER_PENDING_AGE_MINUTES_"
# Settings that are one variable per provider, <PREFIX><PROVIDER>, collected into a map by
# provider name: a new provider needs its template parameter, never a settings field.
PER_PROVIDER_VARIABLES = {
    WEBHOOK_SOURCE_CIDRS_PREFIX: "webhook_source_cidrs",
    PROVIDER_API_BASE_PREFIX: "provider_api_bases",
    PROVIDER_WEBHOOK_URL_PREFIX: "provider_webhook_urls",
    SWEEPER_PENDING_AGE_PREFIX: "sweeper_pending_age_by_provider",
}


class RateLimit(BaseModel):
    """At most ``capacity`` calls per tenant in each ``window_seconds`` window (0: none)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: int = Field(ge=0)
    window_seconds: int = Field(ge=1, le=86_400)


class SettingsError(ValueError):
    """A variable of the environment that cannot be read as its setting (e.g. bad JSON)."""


class Settings(BaseModel):
    """Names of the resources this deployment uses, as `template.yaml` passes them in.

    ``Settings()`` reads the environment (:func:`environment_values`); keyword arguments
    (or ``model_validate``'s mapping, which pydantic passes to ``__init__``) override it."""

    # validate_default: defaults are checked as the environment's values are (as
    # pydantic-settings did).
    model_config = ConfigDict(extra="ignore", frozen=True, validate_default=True)

    def __init__(self, **values: Any) -> None:
        super().__init__(**_deep_merge(environment_values(type(self)), values))

    payments_table_name: str = Field(default="payments", min_length=3, max_length=255)
    idempotency_table_name: str = Field(default="payments-idempotency", min_length=3)
    event_bus_name: str = Field(default="payments", min_length=1)
    kms_key_id: str = ""
    stage: str = "dev"
    secrets_prefix: str = "payments/dev/"
    # Where a provider's API calls go instead of its own (the devstack points them at its
    # sandboxes), by provider, from PROVIDER_API_BASE_<PROVIDER>. Absent or empty: the
    # provider's own URL (its spec's base_urls).
    provider_api_bases: dict[str, str] = Field(default_factory=dict)
    # The function URL of each provider's webhook function (PROVIDER_WEBHOOK_URL_<PROVIDER>),
    # to which a tenant's id is appended: what the tenant registers at the provider.
    provider_webhook_urls: dict[str, str] = Field(default_factory=dict)
    # Merchant callbacks: the queue that carries delivery retries and its dead-letter queue.
    callback_queue_url: str = ""
    callback_dlq_url: str = ""
    # The other dead-letter queues, whose depth the operator API shows (GET /v1/admin/dlq):
    # e-mail notifications that kept failing, and outbox batches the pipe could not publish.
    notify_dlq_url: str = ""
    outbox_dlq_url: str = ""
    # Local development only: lets callback endpoints be http://localhost / 127.0.0.1.
    allow_local_callback_urls: bool = False
    # Multiplies every retry delay; tests compress three days of retries into seconds.
    callback_retry_time_scale: float = Field(default=1.0, gt=0, le=1.0)
    # How long a merchant endpoint may take to answer one delivery.
    callback_timeout_seconds: float = Field(default=10.0, gt=0, le=30)
    # host:port of the Lambda runtime API (Lambda sets it); a callback may never go there.
    aws_lambda_runtime_api: str = ""
    # Rejected (unverified) webhook deliveries stored per tenant per hour; beyond that they are
    # logged and counted, not stored.
    webhook_rejections_per_tenant_hour: int = Field(default=100, ge=1)
    # Networks each provider's webhooks may come from, by provider, from the variables
    # WEBHOOK_SOURCE_CIDRS_<PROVIDER> (comma-separated CIDRs or addresses). Absent or empty:
    # from anywhere. See webhook_source_networks().
    webhook_source_cidrs: dict[str, SourceNetworks] = Field(default_factory=dict)
    # Payments still open this long after their last change are re-checked by the sweeper.
    sweeper_pending_age_minutes: int = Field(default=30, ge=0)
    # The same for one provider (SWEEPER_PENDING_AGE_MINUTES_<NAME>), before its spec's own
    # default (sweep_after_minutes) and the one above.
    sweeper_pending_age_by_provider: dict[str, NonNegativeInt] = Field(default_factory=dict)
    # Page size bounds for list endpoints.
    # Days that are not business days for settlement (ISO dates, comma-separated): a trade is
    # due to settle 2 business days after it clears (payments.domain.settlement).
    settlement_holidays: str = Field(default="", max_length=4096)
    default_page_size: int = Field(default=25, ge=1, le=100)
    max_page_size: int = Field(default=100, ge=1, le=1000)
    # Per-tenant budgets of costly operations (services/rate_limits.py). From the environment
    # as JSON, e.g. RATE_LIMIT_CHECKOUT='{"capacity": 5, "window_seconds": 60}'.
    rate_limit_secret_rotation: RateLimit = RateLimit(capacity=10, window_seconds=3600)
    rate_limit_delivery_retry: RateLimit = RateLimit(capacity=30, window_seconds=600)
    rate_limit_credential_test: RateLimit = RateLimit(capacity=10, window_seconds=600)
    rate_limit_checkout: RateLimit = RateLimit(capacity=300, window_seconds=60)
    rate_limit_payment_refresh: RateLimit = RateLimit(capacity=600, window_seconds=60)
    # The API Gateway usage plan new tenants' usage keys join (payctl and the devstack only;
    # the stack's DefaultUsagePlanId output).
    default_usage_plan_id: str = ""
    # Its name, where its id cannot be given (the operator API's function: the plan depends on
    # the API stage, the stage on the functions); looked up when a tenant is created.
    default_usage_plan_name: str = ""

    @field_validator("webhook_source_cidrs", mode="before")
    @classmethod
    def _parse_webhook_source_cidrs(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {
            str(provider).lower(): _source_networks(str(provider), cidrs)
            if isinstance(cidrs, str)
            else cidrs
            for provider, cidrs in value.items()
        }

    @field_validator(
        "provider_api_bases",
        "provider_webhook_urls",
        "sweeper_pending_age_by_provider",
        mode="before",
    )
    @classmethod
    def _lower_provider_names(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        return {str(provider).lower(): base for provider, base in value.items() if base}

    def provider_api_base(self, provider: str) -> str | None:
        """Where ``provider``'s API calls go when not to the provider itself; None: its own."""
        return self.provider_api_bases.get(provider) or None

    def provider_webhook_url(self, provider: str) -> str | None:
        """The base URL of ``provider``'s webhook function; None where it has none here."""
        return self.provider_webhook_urls.get(provider) or None

    def sweeper_pending_age(self, provider: str, default: int | None) -> int:
        """Minutes an open payment of ``provider`` waits before the sweeper asks about it:
        the deployment's setting for it, else the provider's ``default``, else the general
        SWEEPER_PENDING_AGE_MINUTES."""
        configured = self.sweeper_pending_age_by_provider.get(provider)
        if configured is not None:
            return configured
        return default if default is not None else self.sweeper_pending_age_minutes

    @field_validator("settlement_holidays")
    @classmethod
    def _check_holidays(cls, value: str) -> str:
        from payments.domain.settlement import parse_holidays

        parse_holidays(value)
        return value

    def holidays(self) -> frozenset[Any]:
        from payments.domain.settlement import parse_holidays

        return parse_holidays(self.settlement_holidays)

    def webhook_source_networks(self, provider: str) -> SourceNetworks:
        """The networks ``provider``'s webhooks must come from; empty: any source."""
        return self.webhook_source_cidrs.get(provider, ())


def _source_networks(provider: str, cidrs: str) -> SourceNetworks:
    """Strict: every comma-separated entry must be a network (no host bits set) or an address;
    an empty entry or a typo fails the settings with the variable named, at load time."""
    if not cidrs.strip():
        return ()
    networks = []
    for entry in cidrs.split(","):
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=True))
        except ValueError as error:
            raise ValueError(
                f"{WEBHOOK_SOURCE_CIDRS_PREFIX}{provider.upper()}: {entry.strip()!r} is not a"
                f" network ({error}); expected comma-separated CIDRs such as"
                " 3.18.12.63/32, 2001:db8::/32"
            ) from None
    return tuple(networks)


def environment_values(
    settings_cls: type[BaseModel], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The raw values of ``settings_cls``'s fields found in ``environ`` (``os.environ``), for
    pydantic to validate:

    - a field's variable is its name in any case (``PAYMENTS_TABLE_NAME``); where two variables
      differ only in case, the last one in the environment wins;
    - a complex field (a map, a list or tuple, a nested model such as ``RateLimit``) is JSON:
      ``RATE_LIMIT_CHECKOUT='{"capacity": 5, "window_seconds": 60}'``; JSON that does not
      parse raises :class:`SettingsError` naming the variable;
    - the per-provider variables (``PER_PROVIDER_VARIABLES``, ``<PREFIX><PROVIDER>``, the
      prefix in any case) are collected into their maps by provider name, lower case
      (``WEBHOOK_SOURCE_CIDRS_STRIPE`` into ``webhook_source_cidrs["stripe"]``); they win over
      a JSON map given for the whole field, key by key.
    """
    environ = os.environ if environ is None else environ
    by_name = {name.lower(): (name, value) for name, value in environ.items()}
    complex_fields = _complex_fields(settings_cls)
    values: dict[str, Any] = {}
    for field in settings_cls.model_fields:
        found = by_name.get(field)
        if found is None:
            continue
        name, value = found
        if field in complex_fields:
            try:
                values[field] = json.loads(value)
            except ValueError as error:
                raise SettingsError(f"{name}: not JSON ({error}): {_preview(value)}") from None
        else:
            values[field] = value
    per_provider: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        for prefix, setting in PER_PROVIDER_VARIABLES.items():
            if name.upper().startswith(prefix):
                per_provider.setdefault(setting, {})[name[len(prefix) :].lower()] = value
    return _deep_merge(values, per_provider)


def _preview(value: str) -> str:
    """The start of a value for an error message (settings hold no secrets, but stay short)."""
    return repr(value if len(value) <= 40 else value[:40] + "...")


_COMPLEX_ORIGINS = (dict, list, tuple, set, frozenset, Mapping)


def _complex_fields(settings_cls: type[BaseModel]) -> frozenset[str]:
    """The fields whose variables are JSON: maps, collections and nested models."""
    complex_fields = set()
    for name, field in settings_cls.model_fields.items():
        annotation = field.annotation
        origin = typing.get_origin(annotation) or annotation
        if (isinstance(origin, type) and issubclass(origin, _COMPLEX_ORIGINS)) or (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            complex_fields.add(name)
    return frozenset(complex_fields)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated with ``override``; where both hold a map, the maps are merged."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _deep_merge(current, value)
        else:
            merged[key] = value
    return merged


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings, created on first use."""
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the devstack change the environment)."""
    get_settings.cache_clear()
