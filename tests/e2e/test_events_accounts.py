"""EventBridge resource policies across accounts.

Reproduces the three-account walkthrough of the amazon-eventbridge-resource-policy
samples (blog/): account A (web store) publishes to the central bus of account
B, whose policy lets A put only `newOrderCreated` events from
`com.exampleCorp.webStore` and lets account C manage rules of its own on the
bus for that source; C's rule forwards the orders to C's invoice-processing bus
(with a role, so C's bus needs no policy), where C's own rule delivers them.
"""
import json

import pytest
from botocore.exceptions import ClientError

from test_events_helpers import make_queue, new_account, receive

SOURCE = "com.exampleCorp.webStore"
DETAIL_TYPE = "newOrderCreated"


def central_policy(a, b, c):
    # central-event-bus-resource-policy.json with the accounts filled in.
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "WebStoreCrossAccountPublish", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{a}:root"}, "Action": "events:PutEvents",
             "Resource": f"arn:aws:events:us-east-1:{b}:event-bus/central-event-bus",
             "Condition": {"StringEquals": {"events:detail-type": DETAIL_TYPE, "events:source": SOURCE}}},
            {"Sid": "InvoiceProcessingRuleCreation", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{c}:root"},
             "Action": ["events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:DisableRule",
                        "events:EnableRule", "events:PutTargets", "events:RemoveTargets"],
             "Resource": f"arn:aws:events:us-east-1:{b}:rule/central-event-bus/*",
             "Condition": {"StringEqualsIfExists": {"events:creatorAccount": "${aws:PrincipalAccount}",
                                                    "events:source": SOURCE}}},
        ],
    }


def order(bus_arn, detail_type=DETAIL_TYPE, source=SOURCE):
    detail = {"orderNo": "123", "orderDate": "2020-09-09T22:01:02Z", "customerId": "789",
              "lineItems": [{"productCode": "P1", "quantityOrdered": 3, "unitPrice": 23.5, "currency": "USD"}]}
    return {"EventBusName": bus_arn, "Source": source, "DetailType": detail_type, "Detail": json.dumps(detail)}


def test_three_account_walkthrough(stratus):
    a, b, c, d = new_account(), new_account(), new_account(), new_account()
    ev_a, ev_b, ev_c = (stratus.client("events", access_key=x) for x in (a, b, c))
    ev_d = stratus.client("events", access_key=d)
    sqs_c = stratus.client("sqs", access_key=c)

    # Account B: the central bus and its policy.
    central = ev_b.create_event_bus(Name="central-event-bus")["EventBusArn"]
    assert central == f"arn:aws:events:us-east-1:{b}:event-bus/central-event-bus"
    ev_b.put_permission(EventBusName="central-event-bus", Policy=json.dumps(central_policy(a, b, c)))
    assert json.loads(ev_b.describe_event_bus(Name="central-event-bus")["Policy"])["Statement"][0]["Sid"] == "WebStoreCrossAccountPublish"

    # Account C: its own bus, a rule there (a queue stands in for the function), a DLQ.
    invoice_bus = ev_c.create_event_bus(Name="invoice-processing-event-bus")["EventBusArn"]
    inbox_url, inbox_arn = make_queue(sqs_c, "invoice-inbox")
    dlq_url, dlq_arn = make_queue(sqs_c, "InvoiceProcessingTargetDLQ")
    ev_c.put_rule(Name="NewOrderCreatedRule", EventBusName="invoice-processing-event-bus",
                  EventPattern=json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]}))
    ev_c.put_targets(Rule="NewOrderCreatedRule", EventBusName="invoice-processing-event-bus",
                     Targets=[{"Id": "fn", "Arn": inbox_arn}])

    # Account C creates its subscription rule on B's bus, by ARN.
    rule_arn = ev_c.put_rule(Name="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central,
                             Description="Cross account rule created by Invoice Processing service",
                             EventPattern=json.dumps({"source": [SOURCE], "detail-type": [DETAIL_TYPE]}),
                             State="ENABLED")["RuleArn"]
    assert rule_arn == f"arn:aws:events:us-east-1:{b}:rule/central-event-bus/InvoiceProcessingNewOrderCreatedSubscription"
    ev_c.put_targets(Rule="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central, Targets=[{
        "Id": "SendEventsToInvoiceProcessingEventBus", "Arn": invoice_bus,
        "RoleArn": f"arn:aws:iam::{c}:role/CentralEventBusToInvoiceProcessingEventBusRole",
        "DeadLetterConfig": {"Arn": dlq_arn}}])
    described = ev_c.describe_rule(Name="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central)
    assert described["CreatedBy"] == c and described["Arn"] == rule_arn
    owner_view = ev_b.describe_rule(Name="InvoiceProcessingNewOrderCreatedSubscription", EventBusName="central-event-bus")
    assert owner_view["CreatedBy"] == c

    # C may not create rules for other sources, A may not create rules at all.
    with pytest.raises(ClientError) as e:
        ev_c.put_rule(Name="Sneaky", EventBusName=central, EventPattern=json.dumps({"source": ["com.other"]}))
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    assert e.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{c}:root is not authorized to perform: events:PutRule on resource: "
        f"arn:aws:events:us-east-1:{b}:rule/central-event-bus/Sneaky because no resource-based policy allows the events:PutRule action")
    with pytest.raises(ClientError) as e:
        ev_a.put_rule(Name="FromA", EventBusName=central, EventPattern=json.dumps({"source": [SOURCE]}))
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"

    # A publishes: the allowed order goes through; other detail types and other accounts are refused.
    out = ev_a.put_events(Entries=[order(central), order(central, detail_type="orderCancelled")])
    assert out["FailedEntryCount"] == 1
    event_id = out["Entries"][0]["EventId"]
    assert out["Entries"][1]["ErrorCode"] == "AccessDeniedException"
    assert "events:PutEvents" in out["Entries"][1]["ErrorMessage"]
    denied = ev_d.put_events(Entries=[order(central)])
    assert denied["Entries"][0]["ErrorCode"] == "AccessDeniedException"

    msgs = receive(sqs_c, inbox_url, 1)
    assert len(msgs) == 1
    ev = json.loads(msgs[0]["Body"])
    assert ev["id"] == event_id and ev["account"] == a
    assert ev["source"] == SOURCE and ev["detail-type"] == DETAIL_TYPE and ev["detail"]["orderNo"] == "123"
    assert not receive(sqs_c, dlq_url, 1, timeout=1)

    # C manages its rule: disable stops the flow, remove targets and delete work.
    ev_c.disable_rule(Name="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central)
    ev_a.put_events(Entries=[order(central)])
    assert not receive(sqs_c, inbox_url, 1, timeout=1.5)
    ev_c.remove_targets(Rule="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central,
                        Ids=["SendEventsToInvoiceProcessingEventBus"])
    ev_c.delete_rule(Name="InvoiceProcessingNewOrderCreatedSubscription", EventBusName=central)
    assert not ev_b.list_rules(EventBusName="central-event-bus")["Rules"]


def test_put_permission_statement_form_and_removal(stratus):
    owner, sender = new_account(), new_account()
    ev_owner = stratus.client("events", access_key=owner)
    ev_sender = stratus.client("events", access_key=sender)
    bus = f"arn:aws:events:us-east-1:{owner}:event-bus/default"
    entry = {"EventBusName": bus, "Source": "com.sender", "DetailType": "t", "Detail": "{}"}
    assert ev_sender.put_events(Entries=[entry])["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    ev_owner.put_permission(Action="events:PutEvents", Principal=sender, StatementId="allow-sender")
    policy = json.loads(ev_owner.describe_event_bus()["Policy"])
    assert policy["Statement"] == [{"Sid": "allow-sender", "Effect": "Allow",
                                    "Principal": {"AWS": f"arn:aws:iam::{sender}:root"},
                                    "Action": "events:PutEvents", "Resource": bus}]
    assert ev_sender.put_events(Entries=[entry])["FailedEntryCount"] == 0
    with pytest.raises(ClientError) as e:
        ev_owner.remove_permission(StatementId="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    ev_owner.remove_permission(StatementId="allow-sender")
    assert "Policy" not in ev_owner.describe_event_bus()
    assert ev_sender.put_events(Entries=[entry])["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    ev_owner.put_permission(Action="events:PutEvents", Principal="*", StatementId="org",
                            Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-123"})
    # No organization is known for the sender: the condition does not hold.
    assert ev_sender.put_events(Entries=[entry])["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    ev_owner.remove_permission(RemoveAllPermissions=True)
    with pytest.raises(ClientError) as e:
        ev_owner.put_permission(Action="events:PutRule", Principal=sender, StatementId="x")
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_explicit_deny_and_string_like(stratus):
    owner, sender = new_account(), new_account()
    ev_owner = stratus.client("events", access_key=owner)
    ev_sender = stratus.client("events", access_key=sender)
    ev_owner.create_event_bus(Name="shared")
    bus = f"arn:aws:events:us-east-1:{owner}:event-bus/shared"
    ev_owner.put_permission(EventBusName="shared", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "all", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents", "Resource": bus,
         "Condition": {"StringLike": {"events:source": "com.partner.*"}}},
        {"Sid": "deny-debug", "Effect": "Deny", "Principal": {"AWS": sender}, "Action": "events:*", "Resource": bus,
         "Condition": {"StringEquals": {"events:detail-type": "debug"}}},
    ]}))
    out = ev_sender.put_events(Entries=[
        {"EventBusName": bus, "Source": "com.partner.x", "DetailType": "order", "Detail": "{}"},
        {"EventBusName": bus, "Source": "com.other", "DetailType": "order", "Detail": "{}"},
        {"EventBusName": bus, "Source": "com.partner.x", "DetailType": "debug", "Detail": "{}"},
    ])
    assert "EventId" in out["Entries"][0]
    assert out["Entries"][1]["ErrorCode"] == "AccessDeniedException"
    assert out["Entries"][2]["ErrorCode"] == "AccessDeniedException"
    assert "explicit deny" in out["Entries"][2]["ErrorMessage"]


def test_bus_target_in_another_account_needs_a_role_or_policy(stratus):
    b, c = new_account(), new_account()
    ev_b, ev_c = stratus.client("events", access_key=b), stratus.client("events", access_key=c)
    sqs_b, sqs_c = stratus.client("sqs", access_key=b), stratus.client("sqs", access_key=c)
    target_bus = ev_c.create_event_bus(Name="inbox")["EventBusArn"]
    inbox_url, inbox_arn = make_queue(sqs_c, "inbox")
    ev_c.put_rule(Name="all", EventBusName="inbox", EventPattern=json.dumps({"source": ["com.b"]}))
    ev_c.put_targets(Rule="all", EventBusName="inbox", Targets=[{"Id": "q", "Arn": inbox_arn}])
    dlq_url, dlq_arn = make_queue(sqs_b, "fwd-dlq")
    ev_b.put_rule(Name="fwd", EventPattern=json.dumps({"source": ["com.b"]}))
    ev_b.put_targets(Rule="fwd", Targets=[{"Id": "bus", "Arn": target_bus, "DeadLetterConfig": {"Arn": dlq_arn}}])
    ev_b.put_events(Entries=[{"Source": "com.b", "DetailType": "t", "Detail": "{}"}])
    dead = receive(sqs_b, dlq_url, 1)
    assert dead[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "NO_PERMISSIONS"
    assert not receive(sqs_c, inbox_url, 1, timeout=1)
    # C allows B, but only for events forwarded by a rule (events:eventBusInvocation).
    ev_c.put_permission(EventBusName="inbox", Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "from-b-rules", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
         "Action": "events:PutEvents", "Resource": target_bus,
         "Condition": {"StringEquals": {"events:eventBusInvocation": "true"}}}]}))
    direct = ev_b.put_events(Entries=[{"EventBusName": target_bus, "Source": "com.b", "DetailType": "t", "Detail": "{}"}])
    assert direct["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    out = ev_b.put_events(Entries=[{"Source": "com.b", "DetailType": "t", "Detail": '{"n": 2}'}])
    msgs = receive(sqs_c, inbox_url, 1)
    assert len(msgs) == 1
    ev = json.loads(msgs[0]["Body"])
    assert ev["id"] == out["Entries"][0]["EventId"] and ev["account"] == b
