"""Outbound HTTPS: SNS HTTPS subscriptions and EventBridge API destinations
reach a local TLS server whose private CA is trusted through `--ca-bundle` or
`STRATUS_CA_BUNDLE`; an untrusted certificate fails the delivery."""
import base64
import json

import pytest

from outbound_helpers import Hook, confirm, make_ca_and_server_cert, sns_type
from test_events_helpers import make_queue, receive


@pytest.fixture
def pki(tmp_path):
    return make_ca_and_server_cert(tmp_path)


def test_sns_https_subscription_confirms_and_delivers(fresh_stratus, pki, monkeypatch, unique_name):
    ca, cert, key = pki
    monkeypatch.setenv("STRATUS_CA_BUNDLE", ca)
    s = fresh_stratus()
    sns = s.client("sns")
    hook = Hook(cert=cert, key=key).open()
    try:
        topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
        assert sns.subscribe(TopicArn=topic, Protocol="https",
                             Endpoint=hook.url + "/sns")["SubscriptionArn"] == "pending confirmation"
        conf = confirm(hook)
        assert conf["Type"] == "SubscriptionConfirmation" and conf["TopicArn"] == topic
        subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert subs[0]["Protocol"] == "https" and subs[0]["SubscriptionArn"].startswith(topic + ":")
        out = sns.publish(TopicArn=topic, Message="over tls", Subject="hello")
        got = hook.wait_for(sns_type("Notification"))
        assert got, s.log()
        msg = json.loads(got[0]["body"])
        assert msg["MessageId"] == out["MessageId"]
        assert msg["Message"] == "over tls" and msg["Subject"] == "hello"
        assert got[0]["headers"]["x-amz-sns-subscription-arn"] == subs[0]["SubscriptionArn"]
    finally:
        hook.close()


def test_api_destination_over_https_with_auth(fresh_stratus, pki, unique_name):
    ca, cert, key = pki
    s = fresh_stratus(extra_args=["--ca-bundle", ca])
    events = s.client("events")
    hook = Hook(cert=cert, key=key).open()
    try:
        source = unique_name("src")
        conn = events.create_connection(Name=unique_name("c"), AuthorizationType="BASIC", AuthParameters={
            "BasicAuthParameters": {"Username": "user", "Password": "pw"},
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-tenant", "Value": "t1"}]}})
        dest = events.create_api_destination(Name=unique_name("d"), ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=hook.url + "/orders/*", HttpMethod="PUT")
        rule = unique_name("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest["ApiDestinationArn"],
                                                "HttpParameters": {"PathParameterValues": ["42"]}}])
        out = events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": '{"k": "v"}'}])
        got = hook.wait_for(lambda r: r["path"] == "/orders/42")
        assert got, s.log()
        r = got[0]
        assert r["method"] == "PUT"
        assert r["headers"]["authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()
        assert r["headers"]["x-tenant"] == "t1"
        assert json.loads(r["body"])["id"] == out["Entries"][0]["EventId"]
    finally:
        hook.close()


def test_untrusted_certificate_fails_the_delivery(fresh_stratus, pki, monkeypatch, unique_name):
    _, cert, key = pki
    monkeypatch.delenv("STRATUS_CA_BUNDLE", raising=False)
    s = fresh_stratus()
    events, sqs = s.client("events"), s.client("sqs")
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    hook = Hook(cert=cert, key=key).open()
    try:
        source = unique_name("src")
        conn = events.create_connection(Name=unique_name("c"), AuthorizationType="API_KEY", AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-k", "ApiKeyValue": "v"}})
        dest = events.create_api_destination(Name=unique_name("d"), ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=hook.url + "/x", HttpMethod="POST")
        rule = unique_name("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest["ApiDestinationArn"],
                                                "RetryPolicy": {"MaximumRetryAttempts": 0},
                                                "DeadLetterConfig": {"Arn": dlq_arn}}])
        events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": "{}"}])
        msgs = receive(sqs, dlq_url, 1, timeout=15)
        assert len(msgs) == 1
        attrs = msgs[0]["MessageAttributes"]
        assert attrs["ERROR_CODE"]["StringValue"] == "CONNECTION_FAILURE"
        assert "certificate" in attrs["ERROR_MESSAGE"]["StringValue"].lower()
        assert hook.matching(lambda r: True) == []
    finally:
        hook.close()
