"""SNS state across restarts: topics, attributes, tags, subscriptions with
their confirmation state and tokens, FIFO deduplication and sequence numbers,
and the signing certificate survive a graceful stop and a kill -9."""
import json
import time

import requests

from test_sns_support import Endpoint, make_queue, receive_all, verify_signature


def test_state_survives_kill9(fresh_stratus, unique_name):
    server = fresh_stratus()
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=unique_name("kept"), Attributes={"DisplayName": "Kept"},
                             Tags=[{"Key": "owner", "Value": "qa"}])["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.add_permission(TopicArn=topic, Label="share", AWSAccountId=["111122223333"], ActionName=["Publish"])
    url, qarn = make_queue(sqs, unique_name("q"))
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn,
                        Attributes={"RawMessageDelivery": "true",
                                    "FilterPolicy": json.dumps({"kind": ["keep"]})})["SubscriptionArn"]
    addr = f"{unique_name('mail')}@example.com"
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=addr)
    fifo = sns.create_topic(Name=unique_name("f") + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    first = sns.publish(TopicArn=fifo, Message="1", MessageGroupId="g", MessageDeduplicationId="once")
    app = sns.create_platform_application(Name=unique_name("app"), Platform="APNS",
                                          Attributes={"PlatformCredential": "k", "PlatformPrincipal": "c"})
    sns.set_sms_attributes(attributes={"MonthlySpendLimit": "5"})
    # The token of the pending email subscription, from the recorded email.
    conf = None
    for _ in range(200):
        mails = requests.get(f"{server.endpoint}/_stratus/sns/emails", params={"to": addr}, timeout=5).json()["Emails"]
        if mails:
            conf = json.loads(mails[0]["Body"])
            break
        time.sleep(0.05)
    assert conf is not None
    # A signed message, to compare certificates after the restart.
    sns.publish(TopicArn=topic, Message="before", MessageAttributes={"kind": {"DataType": "String",
                                                                             "StringValue": "keep"}})
    assert [m["Body"] for m in receive_all(sqs, url, 1)] == ["before"]

    server.kill9()
    server.start()
    sns, sqs = server.client("sns"), server.client("sqs")

    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attrs["DisplayName"] == "Kept"
    assert attrs["SignatureVersion"] == "2"
    assert "share" in attrs["Policy"]
    assert attrs["SubscriptionsConfirmed"] == "1" and attrs["SubscriptionsPending"] == "1"
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "owner", "Value": "qa"}]
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert sub_attrs["RawMessageDelivery"] == "true"
    assert json.loads(sub_attrs["FilterPolicy"]) == {"kind": ["keep"]}
    # The filter policy still applies.
    sns.publish(TopicArn=topic, Message="dropped", MessageAttributes={"kind": {"DataType": "String",
                                                                              "StringValue": "other"}})
    sns.publish(TopicArn=topic, Message="after", MessageAttributes={"kind": {"DataType": "String",
                                                                            "StringValue": "keep"}})
    assert [m["Body"] for m in receive_all(sqs, url, 2, timeout=3)] == ["after"]
    # The pending subscription's token still confirms it; the new message is
    # signed by the same certificate as before.
    confirmed = sns.confirm_subscription(TopicArn=topic, Token=conf["Token"])["SubscriptionArn"]
    assert confirmed.startswith(topic)
    sns.publish(TopicArn=topic, Message="for mail", MessageAttributes={"kind": {"DataType": "String",
                                                                               "StringValue": "keep"}})
    doc = None
    for _ in range(200):
        mails = requests.get(f"{server.endpoint}/_stratus/sns/emails", params={"to": addr}, timeout=5).json()["Emails"]
        notes = [m for m in mails if m["Type"] == "Notification"]
        if notes:
            doc = json.loads(notes[0]["Body"])
            break
        time.sleep(0.05)
    assert doc is not None
    assert doc["SigningCertURL"] == conf["SigningCertURL"]
    verify_signature(doc)
    verify_signature(conf)
    # FIFO deduplication and sequence numbers survive too.
    again = sns.publish(TopicArn=fifo, Message="1", MessageGroupId="g", MessageDeduplicationId="once")
    assert again["MessageId"] == first["MessageId"]
    later = sns.publish(TopicArn=fifo, Message="2", MessageGroupId="g", MessageDeduplicationId="twice")
    assert int(later["SequenceNumber"]) > int(first["SequenceNumber"])
    assert app["PlatformApplicationArn"] in [a["PlatformApplicationArn"]
                                             for a in sns.list_platform_applications()["PlatformApplications"]]
    assert sns.get_sms_attributes()["attributes"]["MonthlySpendLimit"] == "5"


def test_http_subscription_pending_across_restart(fresh_stratus, unique_name):
    server = fresh_stratus()
    ep = Endpoint()
    try:
        sns = server.client("sns")
        topic = sns.create_topic(Name=unique_name())["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url)
        conf = json.loads(ep.wait_for("SubscriptionConfirmation")[0]["body"])
        server.stop()
        server.start()
        # The SubscribeURL handed out before the restart still confirms.
        resp = requests.get(conf["SubscribeURL"], timeout=10)
        assert resp.status_code == 200, resp.text
        sns = server.client("sns")
        sns.publish(TopicArn=topic, Message="after restart")
        note = ep.wait_for("Notification")
        assert json.loads(note[0]["body"])["Message"] == "after restart"
    finally:
        ep.close()
