"""/v1/providers: the provider registry as the tenant sees it, and the tenant's own provider
credentials (stored, inspected, tested).

The registry is generated from the provider specs (services/registry.py). Credentials are
write-only: answers show them redacted, with what their last test found and the webhook URL the
tenant registers at the provider.
"""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from payments.api_models import (
    CredentialTestResultView,
    ProviderCredentialsView,
    ProviderList,
    ProviderView,
)
from payments.domain.events import rfc3339
from payments.http import (
    AUTHORIZED_ERRORS,
    BODY_ERRORS,
    Omittable,
    api_responses,
    create_resolver,
    id_path,
    tenant_id_of,
)
from payments.observability import observed
from payments.services import credentials, registry
from payments.services.credentials import StoredCredentials

app = create_resolver()

TAGS = ["providers"]
_ACCEPTED = credentials.accepted_fields()
_FIELDS = "; ".join(f"{provider}: {', '.join(names)}" for provider, names in _ACCEPTED.items())
Provider = Annotated[str, id_path(f"The provider: {', '.join(_ACCEPTED)}")]


class CredentialsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    values: Annotated[
        dict[str, Annotated[str, Field(max_length=4096)]],
        Field(
            max_length=32,
            description=f"Every credential field of the provider, by name ({_FIELDS})",
        ),
    ]
    enabled: Omittable[
        Annotated[StrictBool, Field(description="Whether payments may use them (default true)")]
    ] = True


def _view(stored: StoredCredentials) -> ProviderCredentialsView:
    result = stored.last_test_result
    return ProviderCredentialsView(
        provider=stored.provider,
        values=stored.values,
        enabled=stored.enabled,
        verified=stored.verified,
        last_tested_at=rfc3339(stored.last_tested_at) if stored.last_tested_at else None,
        last_test_result=(
            CredentialTestResultView(ok=result.ok, code=result.code, message=result.message)
            if result is not None
            else None
        ),
        webhook_url=stored.webhook_url,
    )


@app.get(
    "/v1/providers",
    summary="Every provider, as this tenant has it set up",
    description=(
        "Generated from the provider specs: each provider's name, icon, capabilities, whether "
        "this tenant has it configured / enabled / verified, the tenant's webhook URL for it, "
        "how its webhooks are signed (header and algorithm, or the checks of an unsigned "
        "one), the source networks accepted, and when its last webhook was accepted. "
        "Omnisend is listed as kind notifications: credentials, no payments, no webhooks."
    ),
    tags=TAGS,
    responses=api_responses(200, ProviderList, "The providers", *AUTHORIZED_ERRORS),
)
def list_providers() -> ProviderList:
    return ProviderList.model_validate(registry.provider_registry(tenant_id_of(app)))


@app.get(
    "/v1/providers/<provider>",
    summary="One provider, as this tenant has it set up",
    description="As in the list. 404 unknown_provider for a name no provider has.",
    tags=TAGS,
    responses=api_responses(200, ProviderView, "The provider", 400, 404, *AUTHORIZED_ERRORS),
)
def get_provider(provider: Provider) -> ProviderView:
    return ProviderView.model_validate(registry.provider_entry(tenant_id_of(app), provider))


@app.put(
    "/v1/providers/<provider>/credentials",
    summary="Store the tenant's credentials for a provider",
    description=(
        "Write-only: replaces what was stored (encrypted in Secrets Manager) and answers it "
        "redacted. New credentials are not verified until tested."
    ),
    tags=TAGS,
    responses=api_responses(
        200,
        ProviderCredentialsView,
        "The stored credentials, redacted",
        404,
        *BODY_ERRORS,
        *AUTHORIZED_ERRORS,
    ),
)
def put_credentials(provider: Provider, body: CredentialsBody) -> ProviderCredentialsView:
    enabled = True if body.enabled is None else body.enabled
    return _view(
        credentials.store_credentials(tenant_id_of(app), provider, body.values, enabled=enabled)
    )


@app.get(
    "/v1/providers/<provider>/credentials",
    summary="The tenant's credentials for a provider, redacted, and their last test",
    tags=TAGS,
    responses=api_responses(
        200, ProviderCredentialsView, "The stored credentials", 400, 404, *AUTHORIZED_ERRORS
    ),
)
def get_credentials(provider: Provider) -> ProviderCredentialsView:
    return _view(credentials.show_credentials(tenant_id_of(app), provider))


@app.post(
    "/v1/providers/<provider>/credentials/test",
    summary="Try the stored credentials on the provider and record the result",
    description=(
        "A cheap authenticated request to the provider. A refusal is a result (200 with "
        "verified false), not an error. 409 credential_test_not_supported for a provider that "
        "cannot be asked; rate-limited per tenant."
    ),
    tags=TAGS,
    responses=api_responses(
        200,
        ProviderCredentialsView,
        "The credentials with the test's result",
        400,
        404,
        409,
        *AUTHORIZED_ERRORS,
    ),
)
def test_credentials(provider: Provider) -> ProviderCredentialsView:
    return _view(credentials.run_credential_test(tenant_id_of(app), provider))


@observed("api")
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
