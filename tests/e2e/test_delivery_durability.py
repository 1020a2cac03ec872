"""Accepted deliveries survive `kill -9`: EventBridge targets and SNS HTTP
subscriptions whose endpoint is down resume after a restart, and events
acknowledged just before the kill reach their SQS target. Delivery across a
crash is at least once: every acknowledged event arrives, and one whose
delivery completed just before the kill may arrive twice."""
import json
import time

from outbound_helpers import Hook, confirm, sns_type
from test_events_helpers import make_queue, receive


def api_destination_rule(events, unique_name, url, **target):
    source = unique_name("src")
    conn = events.create_connection(Name=unique_name("c"), AuthorizationType="API_KEY",
                                    AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key",
                                                                              "ApiKeyValue": "k1"}})
    dest = events.create_api_destination(Name=unique_name("d"), ConnectionArn=conn["ConnectionArn"],
                                         InvocationEndpoint=url, HttpMethod="POST")
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest["ApiDestinationArn"], **target}])
    return source


def test_events_retry_to_down_api_destination_survives_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    events = s.client("events")
    hook = Hook()  # not listening yet: connections are refused
    source = api_destination_rule(events, unique_name, hook.url + "/in", RetryPolicy={
        "MaximumRetryAttempts": 20, "MaximumEventAgeInSeconds": 3600})
    out = events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": '{"n": 1}'}])
    assert out["FailedEntryCount"] == 0
    event_id = out["Entries"][0]["EventId"]
    time.sleep(0.5)  # the first attempt fails; a retry is scheduled
    s.kill9()
    s.start()
    hook.open()
    try:
        got = hook.wait_for(lambda r: r["path"] == "/in", timeout=30)
        assert got, f"the event never arrived after the restart\n{s.log()}"
        body = json.loads(got[0]["body"])
        assert body["id"] == event_id and body["detail"] == {"n": 1}
        assert got[0]["headers"]["x-api-key"] == "k1"
        # Delivered once: the pending row is gone, so another restart sends nothing.
        time.sleep(0.5)
        s.restart()
        time.sleep(1.5)
        assert len(hook.matching(lambda r: r["path"] == "/in")) == 1
    finally:
        hook.close()


def test_events_pending_retry_reaches_dlq_after_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    events, sqs = s.client("events"), s.client("sqs")
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    hook = Hook()  # stays down
    source = api_destination_rule(events, unique_name, hook.url + "/in", RetryPolicy={
        "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}, DeadLetterConfig={"Arn": dlq_arn})
    out = events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": "{}"}])
    s.kill9()
    s.start()
    msgs = receive(sqs, dlq_url, 1, timeout=20)
    assert len(msgs) == 1, s.log()
    assert json.loads(msgs[0]["Body"])["id"] == out["Entries"][0]["EventId"]
    attrs = msgs[0]["MessageAttributes"]
    assert attrs["ERROR_CODE"]["StringValue"] == "CONNECTION_FAILURE"
    assert attrs["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "MaximumRetryAttempts"
    assert attrs["RETRY_ATTEMPTS"]["StringValue"] == "2"


def test_events_acknowledged_then_kill9_reach_sqs(fresh_stratus, unique_name):
    s = fresh_stratus()
    events, sqs = s.client("events"), s.client("sqs")
    url, arn = make_queue(sqs, unique_name("q"))
    source = unique_name("src")
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    acked = set()
    for i in range(30):
        out = events.put_events(Entries=[{"Source": source, "DetailType": "d", "Detail": json.dumps({"i": i * 10 + j})}
                                         for j in range(10)])
        assert out["FailedEntryCount"] == 0
        acked.update(e["EventId"] for e in out["Entries"])
    s.kill9()  # at once: some deliveries are still queued in memory
    s.start()
    got = receive(sqs, url, len(acked), timeout=30)
    ids = [json.loads(m["Body"])["id"] for m in got]
    assert set(ids) == acked, f"missing {len(acked - set(ids))} acknowledged events"
    # At least once: duplicates are possible, strays are not.
    assert len(ids) >= len(acked)


def test_sns_http_retry_survives_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    sns, sqs = s.client("sns"), s.client("sqs")
    hook = Hook().open()
    try:
        topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url + "/sns", Attributes={
            "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                "minDelayTarget": 1, "maxDelayTarget": 2, "numRetries": 50, "backoffFunction": "linear"}})})
        confirm(hook)
        hook.close()  # the endpoint goes down
        out = sns.publish(TopicArn=topic, Message="survives", Subject="s")
        time.sleep(0.5)
        s.kill9()
        s.start()
        hook.open()
        got = hook.wait_for(sns_type("Notification"), timeout=30)
        assert got, f"the notification never arrived after the restart\n{s.log()}"
        msg = json.loads(got[0]["body"])
        assert msg["MessageId"] == out["MessageId"] and msg["Message"] == "survives"
        assert got[0]["headers"]["x-amz-sns-message-id"] == out["MessageId"]
        time.sleep(0.5)
        s.restart()
        time.sleep(1.5)
        assert len(hook.matching(sns_type("Notification"))) == 1
    finally:
        hook.close()


def test_sns_http_pending_delivery_dead_letters_after_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    sns, sqs = s.client("sns"), s.client("sqs")
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    hook = Hook().open()
    try:
        topic = sns.create_topic(Name=unique_name("t"))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url + "/sns", Attributes={
            "DeliveryPolicy": json.dumps({"healthyRetryPolicy": {
                "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 3, "backoffFunction": "linear"}}),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
        confirm(hook)
    finally:
        hook.close()
    out = sns.publish(TopicArn=topic, Message="to the dlq")
    s.kill9()
    s.start()
    msgs = receive(sqs, dlq_url, 1, timeout=20)
    assert len(msgs) == 1, s.log()
    body = json.loads(msgs[0]["Body"])
    assert body["MessageId"] == out["MessageId"] and body["Message"] == "to the dlq"
    assert msgs[0]["MessageAttributes"]["ErrorCode"]["StringValue"] == "DeliveryFailed"
