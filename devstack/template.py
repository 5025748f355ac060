"""Reads `template.yaml`: the one description of the stack that the devstack plays locally.

The CloudFormation short-form tags (``!Ref``, ``!Sub``, ``!GetAtt`` ...) are loaded as their
long forms, and :class:`LocalStack` resolves the intrinsics the devstack needs against local
names, so resources, routes and environment all come from the template itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
ACCOUNT_ID = "123456789012"


class _CfnLoader(yaml.SafeLoader):
    pass


def _intrinsic(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return construct


for _tag in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))
for _tag in (
    "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr",
):  # fmt: skip
    _CfnLoader.add_constructor(f"!{_tag}", _intrinsic(f"Fn::{_tag}"))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a template")
    return document


@dataclass(frozen=True)
class ApiRoute:
    function: str  # logical id
    method: str
    path: str  # template form: /v1/payments/{payment_id}
    authorized: bool


@dataclass
class LocalStack:
    """The template, resolved against one local deployment (stack name, stage, region)."""

    template: dict[str, Any]
    stack_name: str = "payments-local"
    region: str = "us-east-1"
    parameters: dict[str, str] = field(default_factory=dict)
    # logical id -> physical id / attributes, filled in as resources are created.
    physical_ids: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    # Where the local function-URL server (devstack/gateway.py FunctionUrlGateway) listens: a
    # function's URL is ``<base>/<LogicalId>/``. The devstack sets the address its server got;
    # the default is that server's default port.
    function_urls_base: str = "http://127.0.0.1:3001"

    def __post_init__(self) -> None:
        for name, spec in (self.template.get("Parameters") or {}).items():
            self.parameters.setdefault(name, str(spec.get("Default", "")))

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources") or {})

    def resources_of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, spec in self.resources.items():
            if spec.get("Type") == resource_type:
                yield logical_id, spec

    def default_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}"

    # --- intrinsics ------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
                return self._get_att(logical_id, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return str(separator).join(str(self.resolve(i)) for i in items)
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::StackName": self.stack_name,
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": "",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical_ids:
            return self.physical_ids[name]
        raise KeyError(f"!Ref {name}: not created locally (yet)")

    def _get_att(self, logical_id: str, attribute: str) -> str:
        # SAM names a function's URL resource <Function>Url; its FunctionUrl ends with "/".
        function = logical_id.removesuffix("Url")
        if attribute == "FunctionUrl" and function in self.function_urls():
            return f"{self.function_urls_base.rstrip('/')}/{function}/"
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise KeyError(f"!GetAtt {logical_id}.{attribute}: not available locally") from None

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], {k: self.resolve(v) for k, v in arg[1].items()}
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                logical_id, attribute = name.split(".", 1)
                return self._get_att(logical_id, attribute)
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, str(text))

    # --- functions and routes --------------------------------------------------------------

    def functions(self) -> dict[str, dict[str, Any]]:
        return dict(self.resources_of_type("AWS::Serverless::Function"))

    def function_code_dir(self, logical_id: str) -> Path:
        code_uri = str(self.functions()[logical_id]["Properties"]["CodeUri"])
        return ROOT / code_uri

    def function_handler(self, logical_id: str) -> str:
        properties = self.functions()[logical_id]["Properties"]
        globals_ = (self.template.get("Globals") or {}).get("Function") or {}
        return str(properties.get("Handler") or globals_.get("Handler") or "app.handler")

    def environment(self) -> dict[str, str]:
        """Globals' environment plus every function's own, resolved to local names."""
        globals_ = (self.template.get("Globals") or {}).get("Function") or {}
        variables: dict[str, str] = {}
        sources = [globals_] + [spec.get("Properties") or {} for spec in self.functions().values()]
        for source in sources:
            for name, value in ((source.get("Environment") or {}).get("Variables") or {}).items():
                variables[name] = str(self.resolve(value))
        return variables

    def api_routes(self) -> list[ApiRoute]:
        routes: list[ApiRoute] = []
        for logical_id, spec in self.functions().items():
            for event in ((spec.get("Properties") or {}).get("Events") or {}).values():
                if event.get("Type") != "Api":
                    continue
                properties = event.get("Properties") or {}
                auth = (properties.get("Auth") or {}).get("Authorizer")
                routes.append(
                    ApiRoute(
                        function=logical_id,
                        method=str(properties["Method"]).upper(),
                        path=str(properties["Path"]),
                        authorized=auth != "NONE",
                    )
                )
        return routes

    def function_urls(self) -> list[str]:
        """Logical ids of the functions that have a function URL."""
        return [
            logical_id
            for logical_id, spec in self.functions().items()
            if "FunctionUrlConfig" in (spec.get("Properties") or {})
        ]

    def authorizer_function(self) -> str | None:
        """Logical id of the REST API's default Lambda authorizer function."""
        for _, spec in self.resources_of_type("AWS::Serverless::Api"):
            auth = (spec.get("Properties") or {}).get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            authorizer = (auth.get("Authorizers") or {}).get(default) or {}
            arn = authorizer.get("FunctionArn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                target = arn["Fn::GetAtt"]
                return str(target[0] if isinstance(target, list) else target.split(".")[0])
        return None

    def authorizer_ttl(self) -> int:
        for _, spec in self.resources_of_type("AWS::Serverless::Api"):
            auth = (spec.get("Properties") or {}).get("Auth") or {}
            for authorizer in (auth.get("Authorizers") or {}).values():
                identity = authorizer.get("Identity") or {}
                return int(identity.get("ReauthorizeEvery", 300))
        return 300

    def gateway_responses(self) -> dict[str, dict[str, Any]]:
        """The REST API's GatewayResponses (API Gateway's own errors), by response type."""
        for _, spec in self.resources_of_type("AWS::Serverless::Api"):
            return dict((spec.get("Properties") or {}).get("GatewayResponses") or {})
        return {}

    def stage(self) -> str:
        for _, spec in self.resources_of_type("AWS::Serverless::Api"):
            return str(self.resolve((spec.get("Properties") or {}).get("StageName", "dev")))
        return "dev"
