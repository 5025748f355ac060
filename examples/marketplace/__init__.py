"""Marketplace: a reference consumer of the payments API's NEO Bank trades (see README.md in
this folder)."""

from examples.marketplace.app import (
    CALLBACK_EVENT_TYPES,
    Buyer,
    MarketClient,
    MarketplaceApp,
    Order,
    main,
)

__all__ = [
    "CALLBACK_EVENT_TYPES",
    "Buyer",
    "MarketClient",
    "MarketplaceApp",
    "Order",
    "main",
]
