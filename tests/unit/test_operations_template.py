"""The template's alarms and dashboard watch what payments.observability emits: every metric an
alarm or the dashboard names exists, every DLQ and every provider's webhooks are alarmed, and
every alarm notifies the operator's topic when one is given."""

from __future__ import annotations

import json
import re
from typing import Any

from devstack.template import load_template
from payments.observability import Metric

TEMPLATE = load_template()
RESOURCES: dict[str, dict[str, Any]] = TEMPLATE["Resources"]
ALARMS = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
METRIC_NAMES = {metric.value for metric in Metric}
TOPIC_ACTIONS = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def _metric_stats(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    if "MetricName" in alarm:
        return [alarm]
    return [m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m]


def test_every_alarm_notifies_the_topic_parameter_on_alarm_and_on_ok() -> None:
    assert TEMPLATE["Parameters"]["AlarmTopicArn"]["Default"] == ""
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == TOPIC_ACTIONS, name
        assert alarm["OKActions"] == TOPIC_ACTIONS, name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_every_custom_metric_an_alarm_watches_is_one_we_emit_with_its_service() -> None:
    watched = set()
    for name, alarm in ALARMS.items():
        for stat in _metric_stats(alarm):
            if stat["Namespace"] != "Payments":
                continue
            assert stat["MetricName"] in METRIC_NAMES, name
            dimensions = {d["Name"]: d["Value"] for d in stat["Dimensions"]}
            # payments.observability writes every metric with service=<POWERTOOLS_SERVICE_NAME>.
            service = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
            assert dimensions["service"] == service["POWERTOOLS_SERVICE_NAME"], name
            watched.add(stat["MetricName"])
    assert {
        "WebhooksRejected",
        "PaymentsOpenPastSweeperAge",
        "CallbackAttempts",
        "CallbackFailures",
    } <= watched


def test_every_dead_letter_queue_has_a_depth_alarm() -> None:
    queues = {k for k, v in RESOURCES.items() if v["Type"] == "AWS::SQS::Queue"}
    dlqs = {q for q in queues if q.endswith("DLQ")}
    assert dlqs == {"NotifyDLQ", "CallbackDLQ", "OutboxPipeDLQ"}
    # Every other queue's redrive points at one of them.
    for queue in queues - dlqs:
        target = RESOURCES[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        assert target["Fn::GetAtt"][0] in dlqs
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in ALARMS.values()
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
        for dimension in alarm["Dimensions"]
    }
    assert alarmed == dlqs


def test_every_webhook_function_has_its_providers_rejection_and_sweeper_alarms() -> None:
    # The providers' receivers: a function URL each (WebhooksApiFunction is a REST route).
    webhook_functions = [
        k
        for k in RESOURCES
        if re.fullmatch(r"Webhook[A-Za-z]+Function", k)
        and "FunctionUrlConfig" in RESOURCES[k]["Properties"]
    ]
    assert len(webhook_functions) >= 2
    for function in webhook_functions:
        code = RESOURCES[function]["Properties"]["CodeUri"]
        provider = re.search(r'receive_webhook\("([a-z]+)"', open(f"{code}/app.py").read())  # noqa: SIM115
        assert provider is not None
        title = function.removeprefix("Webhook").removesuffix("Function")
        for alarm_name, metric in (
            (f"{title}WebhookRejectionsAlarm", "WebhooksRejected"),
            (f"{title}PaymentsPastSweeperAgeAlarm", "PaymentsOpenPastSweeperAge"),
        ):
            alarm = ALARMS[alarm_name]
            assert alarm["MetricName"] == metric
            dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
            assert dimensions["provider"] == provider.group(1)


def test_the_api_5xx_alarm_names_the_api_as_it_is_named() -> None:
    alarm = ALARMS["Api5xxAlarm"]
    dimensions = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dimensions["ApiName"] == RESOURCES["PaymentsApi"]["Properties"]["Name"]
    assert alarm["MetricName"] == "5XXError"


def test_the_dashboard_is_json_and_shows_every_metric_we_emit() -> None:
    body = RESOURCES["OperationsDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    # What !Sub leaves is JSON once its ${...} are filled in.
    filled = re.sub(r"\$\{[^}]+\}", "x", body)
    dashboard = json.loads(filled)
    shown = set()
    for widget in dashboard["widgets"]:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):
                shown |= set(re.findall(r'MetricName="([A-Za-z]+)"', line[0]["expression"]))
            elif line[0] == "Payments":
                shown.add(line[1])
    assert shown >= METRIC_NAMES
