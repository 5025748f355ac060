"""One provider customer per tenant and e-mail, created on first use and remembered."""

from __future__ import annotations

import hashlib

from payments.domain.payment import Customer
from payments.providers.base import CheckoutCustomer, Credentials, CustomerProvider
from payments.store import repositories


def checkout_customer(
    tenant_id: str, provider: CustomerProvider, credentials: Credentials, customer: Customer
) -> CheckoutCustomer:
    """The provider customer for ``customer.email`` (found or created); none without e-mail."""
    if not customer.email:
        return CheckoutCustomer()
    email = customer.email.strip().lower()
    existing = repositories.get_customer_link(tenant_id, provider.name, email)
    if existing:
        return CheckoutCustomer(existing, email)
    digest = hashlib.sha256(f"{tenant_id}\x00{email}".encode()).hexdigest()[:40]
    created = provider.create_customer(
        credentials,
        email=email,
        name=customer.name,
        phone=customer.phone,
        # Concurrent first checkouts for one e-mail create one provider customer.
        idempotency_key=f"customer:{digest}",
    )
    linked = repositories.save_customer_link(tenant_id, provider.name, email, created)
    return CheckoutCustomer(linked, email)
