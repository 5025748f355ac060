"""Which providers a tenant can use, with what credentials: checked, stored, shown and tested
by the provider's own spec (its credential fields and its credential_test capability), never by
rules written here per provider.

The credentials are a Secrets Manager secret; what their last test found is a small item of the
payments table (store/credential_status.py), reset whenever they are stored again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from payments.aws import kms
from payments.aws.secrets import read_provider_secret, write_provider_secret
from payments.config import get_settings
from payments.errors import ConflictError, NotFoundError, UnprocessableError
from payments.logs import function_logger
from payments.providers import SPECS, credential_tester, get_spec
from payments.providers.base import Credentials, CredentialTestResult, ProviderUnavailableError
from payments.providers.spec import Capability, ProviderSpec
from payments.providers.tokens import install_shared_store
from payments.services.rate_limits import CostlyOperation, enforce_rate_limit
from payments.store import credential_status
from payments.store.models import CredentialStatusItem
from payments.store.provider_tokens import DynamoTokenStore

# Every service that calls a provider gets its credentials here first: provider access tokens
# (Daraja's OAuth) are then shared by all containers through the table, encrypted with our key.
install_shared_store(lambda: DynamoTokenStore(kms.encrypt, kms.decrypt))

# Stored beside the fields: whether the tenant has the provider switched on.
ENABLED = "enabled"


class InvalidCredentialsError(UnprocessableError):
    code = "invalid_credentials"


class CredentialsNotFoundError(NotFoundError):
    code = "credentials_not_found"


class CredentialsChangedError(ConflictError):
    """The credentials were stored again while a test of the previous ones was running."""

    code = "credentials_changed"


@dataclass(frozen=True, slots=True)
class StoredCredentials:
    """A tenant's credentials for one provider as they may be shown: never a secret value."""

    provider: str
    values: dict[str, str]  # secret fields redacted
    enabled: bool
    verified: bool
    last_tested_at: datetime | None
    last_test_result: CredentialTestResult | None
    # Where the provider must send this tenant's webhooks; None when it sends none.
    webhook_url: str | None


def provider_credentials(tenant_id: str, provider: str) -> Credentials:
    """The tenant's enabled credentials for ``provider``; ProviderUnavailableError otherwise."""
    spec = get_spec(provider)
    secret = read_provider_secret(tenant_id, provider)
    if not secret or secret.get(ENABLED) is False:
        raise ProviderUnavailableError(f"{provider} is not enabled for this tenant")
    values = {k: str(v) for k, v in secret.items() if isinstance(v, str)}
    credentials = Credentials(values)
    for spec_field in spec.credential_fields:
        if spec_field.required:
            credentials.require(spec_field.name)
    return credentials


def validated_credentials(spec: ProviderSpec, values: Mapping[str, Any]) -> dict[str, str]:
    """The values as the spec wants them; InvalidCredentialsError names the first bad field.
    Messages never repeat a value (it may be a secret)."""
    known = {f.name for f in spec.credential_fields}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidCredentialsError(
            f"{spec.display_name} takes no credential {unknown[0]!r}; it takes "
            + ", ".join(sorted(known))
        )
    checked: dict[str, str] = {}
    for spec_field in spec.credential_fields:
        value = values.get(spec_field.name)
        if value is None and not spec_field.required:
            continue
        problem = spec_field.problem(value)
        if problem:
            raise InvalidCredentialsError(f"{spec.display_name} {spec_field.name} {problem}")
        checked[spec_field.name] = str(value)
    problem = spec.credentials_problem(checked) if spec.credentials_problem else None
    if problem:
        raise InvalidCredentialsError(f"{spec.display_name} {problem}")
    return checked


def set_provider_credentials(
    tenant_id: str, provider: str, values: Mapping[str, Any], *, enabled: bool = True
) -> str:
    """Check the values against the provider's spec and store them, not verified and never
    tested; returns the secret's name."""
    return _store(tenant_id, provider, values, enabled)[0]


def store_credentials(
    tenant_id: str, provider: str, values: Mapping[str, Any], *, enabled: bool = True
) -> StoredCredentials:
    """PUT /v1/providers/{provider}/credentials: store them and show what was stored."""
    stored = _store(tenant_id, provider, values, enabled)[1]
    return _stored(tenant_id, provider, stored, None)


def _store(
    tenant_id: str, provider: str, values: Mapping[str, Any], enabled: bool
) -> tuple[str, dict[str, Any]]:
    checked: dict[str, Any] = {**validated_credentials(get_spec(provider), values)}
    checked[ENABLED] = enabled
    name = write_provider_secret(tenant_id, provider, checked)
    # After the secret: a test that read the old one can then no longer record its result.
    credential_status.reset_status(tenant_id, provider)
    return name, checked


def show_credentials(tenant_id: str, provider: str) -> StoredCredentials:
    """The tenant's credentials for ``provider``, redacted, with what their last test found."""
    get_spec(provider)
    secret = read_provider_secret(tenant_id, provider, fresh=True)
    if secret is None:
        raise CredentialsNotFoundError(f"no {provider} credentials are stored for this tenant")
    return _stored(tenant_id, provider, secret, credential_status.get_status(tenant_id, provider))


def run_credential_test(tenant_id: str, provider: str) -> StoredCredentials:
    """Ask the provider with the stored credentials and record what it said (rate-limited)."""
    spec = get_spec(provider)
    tester = credential_tester(provider)
    enforce_rate_limit(tenant_id, CostlyOperation.CREDENTIAL_TEST)
    # The status first, then the secret: a store in between changes the revision, so this
    # test's result is refused rather than recorded for credentials it did not try.
    before = credential_status.get_status(tenant_id, provider)
    secret = read_provider_secret(tenant_id, provider, fresh=True)
    if secret is None:
        raise CredentialsNotFoundError(f"no {provider} credentials are stored for this tenant")
    missing = [
        f.name
        for f in spec.credential_fields
        if f.required and not isinstance(secret.get(f.name), str)
    ]
    if missing:
        result = CredentialTestResult(
            False, "incomplete_credentials", f"{spec.display_name} {missing[0]} is not stored"
        )
    else:
        values = {k: v for k, v in secret.items() if isinstance(v, str)}
        result = tester.test_credentials(Credentials(values))
    status = credential_status.record_test(
        tenant_id,
        provider,
        before.revision if before is not None else None,
        ok=result.ok,
        code=result.code,
        message=result.message,
        tested_at=datetime.now(UTC),
    )
    if status is None:
        raise CredentialsChangedError(
            f"the {provider} credentials were replaced during the test; test them again"
        )
    function_logger().info(
        "credentials tested", extra={"provider": provider, "ok": result.ok, "code": result.code}
    )
    return _stored(tenant_id, provider, secret, status)


def webhook_url(tenant_id: str, provider: str) -> str | None:
    """What the tenant registers at the provider for its webhooks: the provider's webhook
    function URL followed by the tenant id. None when the provider sends none (or this
    deployment does not say where its function is)."""
    if Capability.WEBHOOKS not in get_spec(provider).capabilities:
        return None
    base = get_settings().provider_webhook_url(provider)
    return f"{base.rstrip('/')}/{tenant_id}" if base else None


def accepted_fields() -> dict[str, list[str]]:
    """Each provider's credential field names (for documentation)."""
    return {name: [f.name for f in spec.credential_fields] for name, spec in SPECS.items()}


def _stored(
    tenant_id: str,
    provider: str,
    secret: Mapping[str, Any],
    status: CredentialStatusItem | None,
) -> StoredCredentials:
    view = redacted_view(provider, secret)
    result = None
    if status is not None and status.last_test_code is not None:
        result = CredentialTestResult(
            bool(status.verified),
            status.last_test_code,
            status.last_test_message or "",
        )
    return StoredCredentials(
        provider=provider,
        values={k: str(v) for k, v in view.items() if k != ENABLED},
        enabled=bool(view[ENABLED]),
        verified=bool(status.verified) if status is not None else False,
        last_tested_at=status.last_tested_at if status is not None else None,
        last_test_result=result,
        webhook_url=webhook_url(tenant_id, provider),
    )


def redacted_view(provider: str, secret: Mapping[str, Any]) -> dict[str, str | bool]:
    """The stored credentials as they may be shown: secret fields redacted, others as they are,
    values the spec does not know left out."""
    spec = get_spec(provider)
    view: dict[str, str | bool] = {}
    for spec_field in spec.credential_fields:
        value = secret.get(spec_field.name)
        if isinstance(value, str):
            view[spec_field.name] = redacted(value) if spec_field.secret else value
    view[ENABLED] = secret.get(ENABLED) is not False
    return view


def redacted(value: str) -> str:
    """How a credential may appear in output: its kind and last four characters."""
    if len(value) <= 8:
        return "****"
    prefix = value.split("_")[0] + "_" if "_" in value[:8] else ""
    return f"{prefix}****{value[-4:]}"
