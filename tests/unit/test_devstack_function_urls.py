"""`!GetAtt <Function>Url.FunctionUrl` resolves to the local function-URL server's address."""

from __future__ import annotations

import pytest

from devstack.template import LocalStack, load_template


def test_a_function_url_is_the_local_server_then_the_function_name() -> None:
    stack = LocalStack(load_template(), function_urls_base="http://127.0.0.1:40123")
    url = stack.resolve({"Fn::GetAtt": ["WebhookStripeFunctionUrl", "FunctionUrl"]})
    assert url == "http://127.0.0.1:40123/WebhookStripeFunction/"
    # What ProvidersApiFunction is given, as its environment resolves.
    variables = stack.functions()["ProvidersApiFunction"]["Properties"]["Environment"]["Variables"]
    assert stack.resolve(variables["PROVIDER_WEBHOOK_URL_STRIPE"]) == url


def test_a_function_without_a_url_has_no_function_url() -> None:
    with pytest.raises(KeyError, match=r"CheckoutFunctionUrl\.FunctionUrl"):
        LocalStack(load_template()).resolve({"Fn::GetAtt": ["CheckoutFunctionUrl", "FunctionUrl"]})
