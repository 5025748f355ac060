"""Local stand-ins for the payment providers, speaking each provider's wire format on 127.0.0.1."""
