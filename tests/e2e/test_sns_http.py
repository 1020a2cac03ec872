"""SNS to HTTP endpoints and email end to end: the SubscriptionConfirmation
flow (SubscribeURL and ConfirmSubscription), signed notifications verified with
the certificate served at SigningCertURL, delivery policies with retries and
the dead-letter queue, unsubscribe links, raw HTTP delivery, recorded email,
SMS and mobile push."""
import json
import time

import pytest
import requests

from test_sns_support import (Endpoint, confirm_via_url, emails, expect_error, make_queue, receive_all,
                              verify_signature)

FAST_RETRIES = {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 2,
                                       "backoffFunction": "linear"}}


@pytest.fixture
def sns(stratus):
    return stratus.client("sns")


@pytest.fixture
def sqs(stratus):
    return stratus.client("sqs")


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.close()


def test_http_subscription_confirmation_and_signed_notifications(stratus, sns, endpoint, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    out = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    assert out["SubscriptionArn"] == "pending confirmation"
    conf_req = endpoint.wait_for("SubscriptionConfirmation")[0]
    assert conf_req["headers"]["x-amz-sns-topic-arn"] == topic
    assert conf_req["headers"]["content-type"] == "text/plain; charset=UTF-8"
    conf = json.loads(conf_req["body"])
    assert conf["Type"] == "SubscriptionConfirmation"
    assert conf["TopicArn"] == topic
    assert conf["Message"] == (f"You have chosen to subscribe to the topic {topic}.\n"
                               "To confirm the subscription, visit the SubscribeURL included in this message.")
    assert conf["SubscribeURL"].startswith(f"{stratus.endpoint}/?Action=ConfirmSubscription&TopicArn={topic}&Token=")
    assert len(conf["Token"]) >= 64
    verify_signature(conf)
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert listed[0]["SubscriptionArn"] == "PendingConfirmation"
    attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (attrs["SubscriptionsPending"], attrs["SubscriptionsConfirmed"]) == ("1", "0")
    # Nothing is delivered before confirmation.
    sns.publish(TopicArn=topic, Message="too early")
    # Visiting the SubscribeURL (no credentials) confirms.
    confirm_via_url(endpoint)
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    sub_attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert sub_attrs["PendingConfirmation"] == "false"
    out = sns.publish(TopicArn=topic, Message="hello http", Subject="Sub",
                      MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    note = endpoint.wait_for("Notification")
    assert len(note) == 1, "the message published before confirmation must not be delivered"
    h = note[0]["headers"]
    assert h["x-amz-sns-message-id"] == out["MessageId"]
    assert h["x-amz-sns-topic-arn"] == topic
    assert h["x-amz-sns-subscription-arn"] == sub
    assert h["content-type"] == "text/plain; charset=UTF-8"
    assert h["user-agent"] == "Amazon Simple Notification Service Agent"
    msg = json.loads(note[0]["body"])
    assert msg["Message"] == "hello http"
    assert msg["Subject"] == "Sub"
    assert msg["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    cert = verify_signature(msg)
    assert cert.public_key().key_size == 2048
    # SignatureVersion 2 signs with SHA256.
    sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=topic, Message="sha256 please")
    msg2 = json.loads(endpoint.wait_for("Notification", 2)[1]["body"])
    assert msg2["SignatureVersion"] == "2"
    verify_signature(msg2)
    # A tampered message does not verify.
    msg2["Message"] = "tampered"
    with pytest.raises(Exception):
        verify_signature(msg2)


def test_confirm_subscription_with_token_and_unsubscribe_url(sns, endpoint, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url,
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    conf = json.loads(endpoint.wait_for("SubscriptionConfirmation")[0]["body"])
    expect_error(sns.confirm_subscription, "InvalidParameter", "Invalid parameter: Token", TopicArn=topic,
                 Token="0" * 64)
    assert sns.confirm_subscription(TopicArn=topic, Token=conf["Token"],
                                    AuthenticateOnUnsubscribe="false")["SubscriptionArn"] == sub
    # Confirming twice is harmless.
    assert sns.confirm_subscription(TopicArn=topic, Token=conf["Token"])["SubscriptionArn"] == sub
    sns.publish(TopicArn=topic, Message="one")
    msg = json.loads(endpoint.wait_for("Notification")[0]["body"])
    # The UnsubscribeURL works without credentials.
    resp = requests.get(msg["UnsubscribeURL"], timeout=10)
    assert resp.status_code == 200, resp.text
    assert "<UnsubscribeResponse" in resp.text
    unsub = endpoint.wait_for("UnsubscribeConfirmation")[0]
    assert unsub["headers"]["x-amz-sns-subscription-arn"] == sub
    body = json.loads(unsub["body"])
    assert body["Message"].startswith(f"You have chosen to deactivate subscription {sub}.")
    verify_signature(body)
    expect_error(sns.get_subscription_attributes, "NotFound", SubscriptionArn=sub)
    sns.publish(TopicArn=topic, Message="two")
    time.sleep(0.5)
    assert len(endpoint.of_type("Notification")) == 1


def test_failing_endpoint_is_retried_then_dead_lettered(sns, sqs, unique_name):
    ep = Endpoint(status=500)
    try:
        topic = sns.create_topic(Name=unique_name())["TopicArn"]
        dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, Attributes={
            "DeliveryPolicy": json.dumps(FAST_RETRIES),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
        confirm_via_url(ep)
        sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
        effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
                               ["EffectiveDeliveryPolicy"])
        assert effective["healthyRetryPolicy"]["numRetries"] == 2
        assert effective["healthyRetryPolicy"]["minDelayTarget"] == 1
        out = sns.publish(TopicArn=topic, Message="will fail")
        dead = receive_all(sqs, dlq_url, 1, timeout=15)
        attempts = ep.of_type("Notification")
        # One attempt plus numRetries retries, minDelayTarget apart, same message id.
        assert len(attempts) == 3
        assert {a["headers"]["x-amz-sns-message-id"] for a in attempts} == {out["MessageId"]}
        gaps = [b["at"] - a["at"] for a, b in zip(attempts, attempts[1:])]
        assert all(0.8 <= g <= 3.0 for g in gaps), gaps
        assert len(dead) == 1
        body = json.loads(dead[0]["Body"])
        assert body["Message"] == "will fail"
        assert dead[0]["MessageAttributes"]["ErrorCode"]["StringValue"] == "DeliveryFailed"
    finally:
        ep.close()


def test_client_error_is_not_retried(sns, sqs, unique_name):
    ep = Endpoint(status=404)
    try:
        topic = sns.create_topic(Name=unique_name())["TopicArn"]
        dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=ep.url, Attributes={
            "DeliveryPolicy": json.dumps(FAST_RETRIES), "RawMessageDelivery": "true",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})})
        confirm_via_url(ep)
        sns.publish(TopicArn=topic, Message="rejected")
        dead = receive_all(sqs, dlq_url, 1, timeout=10)
        assert [d["Body"] for d in dead] == ["rejected"]
        time.sleep(1.5)
        attempts = ep.of_type("Notification")
        assert len(attempts) == 1
        assert attempts[0]["body"] == "rejected"
        assert attempts[0]["headers"]["x-amz-sns-rawdelivery"] == "true"
    finally:
        ep.close()


def test_topic_delivery_policy_and_request_content_type(sns, endpoint, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="DeliveryPolicy", AttributeValue=json.dumps({
        "http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 2, "numRetries": 1},
                 "defaultRequestPolicy": {"headerContentType": "application/json"}}}))
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
    confirm_via_url(endpoint)
    sns.publish(TopicArn=topic, Message="{\"json\": true}")
    note = endpoint.wait_for("Notification")[0]
    assert note["headers"]["content-type"] == "application/json"
    expect_error(sns.set_topic_attributes, "InvalidParameter", TopicArn=topic, AttributeName="DeliveryPolicy",
                 AttributeValue=json.dumps({"http": {"defaultHealthyRetryPolicy": {"minDelayTarget": 0}}}))


def test_email_and_email_json_are_recorded(stratus, sns, unique_name):
    topic = sns.create_topic(Name=unique_name(), Attributes={"DisplayName": "Team"})["TopicArn"]
    addr = f"{unique_name('user')}@example.com"
    json_addr = f"{unique_name('json')}@example.com"
    assert sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=addr)["SubscriptionArn"] == "pending confirmation"
    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint=json_addr)
    deadline = time.time() + 10
    while time.time() < deadline and not (emails(stratus, to=addr) and emails(stratus, to=json_addr)):
        time.sleep(0.05)
    conf = emails(stratus, to=addr)[0]
    assert conf["Type"] == "SubscriptionConfirmation"
    assert conf["Subject"] == "AWS Notification - Subscription Confirmation"
    assert conf["SubscribeURL"] in conf["Body"]
    assert requests.get(conf["SubscribeURL"], timeout=10).status_code == 200
    json_conf = json.loads(emails(stratus, to=json_addr)[0]["Body"])
    sns.confirm_subscription(TopicArn=topic, Token=json_conf["Token"])
    sns.publish(TopicArn=topic, Message="weekly report", Subject="Report")
    deadline = time.time() + 10
    while time.time() < deadline and len(emails(stratus, to=addr)) < 2:
        time.sleep(0.05)
    note = emails(stratus, to=addr)[-1]
    assert note["Type"] == "Notification"
    assert note["From"] == "Team <no-reply@sns.amazonaws.com>"
    assert note["Subject"] == "Report"
    assert note["Body"].startswith("weekly report\n\n--\nIf you wish to stop receiving notifications")
    assert note["TopicArn"] == topic
    deadline = time.time() + 10
    while time.time() < deadline and len(emails(stratus, to=json_addr)) < 2:
        time.sleep(0.05)
    doc = json.loads(emails(stratus, to=json_addr)[-1]["Body"])
    assert doc["Type"] == "Notification" and doc["Message"] == "weekly report"
    verify_signature(doc)
    expect_error(sns.set_subscription_attributes, "InvalidParameter",
                 SubscriptionArn=emails(stratus, to=addr)[-1]["SubscriptionArn"],
                 AttributeName="RawMessageDelivery", AttributeValue="true")


def test_sms_and_mobile_push_are_stored_and_recorded(stratus, unique_name):
    sns = stratus.client("sns", access_key="345634563456")
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "DefaultSenderID": "Stratus"})
    assert sns.get_sms_attributes(attributes=["DefaultSMSType"])["attributes"] == {"DefaultSMSType": "Transactional"}
    assert sns.check_if_phone_number_is_opted_out(phoneNumber="+15555550123")["isOptedOut"] is False
    assert sns.list_phone_numbers_opted_out()["phoneNumbers"] == []
    sns.opt_in_phone_number(phoneNumber="+15555550123")
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is True
    sns.create_sms_sandbox_phone_number(PhoneNumber="+15555550124", LanguageCode="en-US")
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [
        {"PhoneNumber": "+15555550124", "Status": "Pending"}]
    sms = requests.get(f"{stratus.endpoint}/_stratus/sns/sms", params={"to": "+15555550124"}, timeout=10).json()
    otp = sms["Messages"][-1]["OneTimePassword"]
    wrong = "111111" if otp != "111111" else "222222"
    expect_error(sns.verify_sms_sandbox_phone_number, "VerificationException", PhoneNumber="+15555550124",
                 OneTimePassword=wrong)
    sns.verify_sms_sandbox_phone_number(PhoneNumber="+15555550124", OneTimePassword=otp)
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"][0]["Status"] == "Verified"
    sns.delete_sms_sandbox_phone_number(PhoneNumber="+15555550124")
    expect_error(sns.delete_sms_sandbox_phone_number, "ResourceNotFound", PhoneNumber="+15555550124")
    assert sns.list_origination_numbers()["PhoneNumbers"] == []
    msg_id = sns.publish(PhoneNumber="+15555550125", Message="your code is 42")["MessageId"]
    sms = requests.get(f"{stratus.endpoint}/_stratus/sns/sms", params={"to": "+15555550125"}, timeout=10).json()
    assert sms["Messages"][-1]["Message"] == "your code is 42"
    assert sms["Messages"][-1]["MessageId"] == msg_id
    expect_error(sns.publish, "InvalidParameter", PhoneNumber="12345", Message="x")

    app = sns.create_platform_application(Name=unique_name("app"), Platform="GCM",
                                          Attributes={"PlatformCredential": "server-key"})["PlatformApplicationArn"]
    assert ":app/GCM/" in app
    attrs = sns.get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"]
    assert attrs["Enabled"] == "true" and "PlatformCredential" not in attrs
    assert app in [a["PlatformApplicationArn"] for a in sns.list_platform_applications()["PlatformApplications"]]
    sns.set_platform_application_attributes(PlatformApplicationArn=app,
                                            Attributes={"EventEndpointCreated": "arn:aws:sns:us-east-1:1:t"})
    assert sns.get_platform_application_attributes(PlatformApplicationArn=app)["Attributes"][
        "EventEndpointCreated"] == "arn:aws:sns:us-east-1:1:t"
    ep = sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token",
                                      CustomUserData="user-1")["EndpointArn"]
    assert sns.create_platform_endpoint(PlatformApplicationArn=app, Token="device-token",
                                        CustomUserData="user-1")["EndpointArn"] == ep
    expect_error(sns.create_platform_endpoint, "InvalidParameter", PlatformApplicationArn=app,
                 Token="device-token", CustomUserData="someone else")
    assert sns.get_endpoint_attributes(EndpointArn=ep)["Attributes"] == {
        "Token": "device-token", "CustomUserData": "user-1", "Enabled": "true"}
    assert [e["EndpointArn"] for e in sns.list_endpoints_by_platform_application(PlatformApplicationArn=app)
            ["Endpoints"]] == [ep]
    sns.publish(TargetArn=ep, MessageStructure="json",
                Message=json.dumps({"default": "d", "GCM": json.dumps({"data": {"k": "v"}})}))
    pushed = requests.get(f"{stratus.endpoint}/_stratus/sns/platform-messages", timeout=10).json()["Messages"]
    assert [p for p in pushed if p["EndpointArn"] == ep][-1]["Message"] == json.dumps({"data": {"k": "v"}})
    # An application subscription records deliveries too.
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="application", Endpoint=ep)
    sns.publish(TopicArn=topic, Message="via topic")
    pushed = requests.get(f"{stratus.endpoint}/_stratus/sns/platform-messages", timeout=10).json()["Messages"]
    assert [p for p in pushed if p["EndpointArn"] == ep][-1]["Message"] == "via topic"
    sns.set_endpoint_attributes(EndpointArn=ep, Attributes={"Enabled": "false"})
    expect_error(sns.publish, "EndpointDisabled", TargetArn=ep, Message="x")
    sns.delete_endpoint(EndpointArn=ep)
    sns.delete_endpoint(EndpointArn=ep)
    sns.delete_platform_application(PlatformApplicationArn=app)
    expect_error(sns.get_platform_application_attributes, "NotFound", PlatformApplicationArn=app)


def test_throttle_policy_spaces_deliveries(sns, endpoint, unique_name):
    topic = sns.create_topic(Name=unique_name())["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url, Attributes={
        "DeliveryPolicy": json.dumps({"throttlePolicy": {"maxReceivesPerSecond": 4}})})
    confirm_via_url(endpoint)
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
                           ["EffectiveDeliveryPolicy"])
    assert effective["throttlePolicy"] == {"maxReceivesPerSecond": 4}
    for i in range(5):
        sns.publish(TopicArn=topic, Message=f"t{i}")
    notes = endpoint.wait_for("Notification", 5)
    assert len(notes) == 5
    times = sorted(n["at"] for n in notes)
    # Five deliveries at 4 per second take at least a second.
    assert times[-1] - times[0] >= 0.9, times
