"""Bookings: the reference consumer of the payments API (see README.md in this folder)."""

from examples.bookings.app import (
    CALLBACK_EVENT_TYPES,
    Booking,
    BookingsApp,
    PaymentsApiError,
    PaymentsClient,
    WebhookVerifier,
    main,
)

__all__ = [
    "CALLBACK_EVENT_TYPES",
    "Booking",
    "BookingsApp",
    "PaymentsApiError",
    "PaymentsClient",
    "WebhookVerifier",
    "main",
]
