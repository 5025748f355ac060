"""The small framework every sandbox is built on (see :mod:`devstack.sandboxes.kit.server`).

- :mod:`~devstack.sandboxes.kit.routing`: requests, method + path pattern routes, errors;
- :mod:`~devstack.sandboxes.kit.server`: :class:`Sandbox`, lifecycle, admin endpoints, pages;
- :mod:`~devstack.sandboxes.kit.switches`: chaos switches checked by type;
- :mod:`~devstack.sandboxes.kit.pages`: hosted HTML pages with action buttons;
- :mod:`~devstack.sandboxes.kit.delivery`: outbound notifications with retries, chaos, signing
  hooks and a configurable source address.
"""

from devstack.sandboxes.kit.delivery import Delivery, Outbox, Signer, arrange, is_loopback_url
from devstack.sandboxes.kit.routing import Json, Request, Router, SandboxError, json_response
from devstack.sandboxes.kit.server import Sandbox
from devstack.sandboxes.kit.switches import SwitchError, Switches

__all__ = [
    "Delivery",
    "Json",
    "Outbox",
    "Request",
    "Router",
    "Sandbox",
    "SandboxError",
    "Signer",
    "SwitchError",
    "Switches",
    "arrange",
    "is_loopback_url",
    "json_response",
]
