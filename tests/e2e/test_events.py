"""Amazon EventBridge end to end: buses, rules, targets, PutEvents, delivery."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import raw_post, wait_until
from test_events_helpers import Recorder, bodies, make_queue, receive


@pytest.fixture
def events(stratus):
    return stratus.client("events")


def put_rule_to_queue(events, sqs, unique_name, pattern, bus="default", fifo=False, **target):
    qname = unique_name("q") + (".fifo" if fifo else "")
    url, arn = make_queue(sqs, qname, fifo=fifo)
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern), EventBusName=bus)
    events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "t1", "Arn": arn, **target}])
    return rule, url, arn


def test_event_bus_lifecycle(events, unique_name):
    name = unique_name("bus")
    arn = events.create_event_bus(Name=name, Description="orders",
                                  Tags=[{"Key": "team", "Value": "a"}])["EventBusArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:event-bus/{name}"
    with pytest.raises(ClientError) as e:
        events.create_event_bus(Name=name)
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    d = events.describe_event_bus(Name=name)
    assert d["Name"] == name and d["Arn"] == arn and d["Description"] == "orders"
    assert "CreationTime" in d and "LastModifiedTime" in d
    assert events.describe_event_bus(Name=arn)["Name"] == name
    events.update_event_bus(Name=name, Description="changed")
    assert events.describe_event_bus(Name=name)["Description"] == "changed"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    names = [b["Name"] for b in events.list_event_buses()["EventBuses"]]
    assert "default" in names and name in names
    assert [b["Name"] for b in events.list_event_buses(NamePrefix=name)["EventBuses"]] == [name]
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as e:
        events.describe_event_bus(Name=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Event bus {name} does not exist."
    with pytest.raises(ClientError) as e:
        events.delete_event_bus(Name="default")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert events.describe_event_bus()["Name"] == "default"


def test_list_event_buses_paginates(events, unique_name):
    prefix = unique_name("pg")
    for i in range(5):
        events.create_event_bus(Name=f"{prefix}-{i}")
    seen, token = [], None
    while True:
        kw = {"NamePrefix": prefix, "Limit": 2}
        if token:
            kw["NextToken"] = token
        out = events.list_event_buses(**kw)
        assert len(out["EventBuses"]) <= 2
        seen += [b["Name"] for b in out["EventBuses"]]
        token = out.get("NextToken")
        if not token:
            break
    assert seen == [f"{prefix}-{i}" for i in range(5)]


def test_rules_crud_and_errors(events, unique_name):
    rule = unique_name("r")
    arn = events.put_rule(Name=rule, EventPattern='{"source":["a"]}', Description="d",
                          Tags=[{"Key": "k", "Value": "v"}])["RuleArn"]
    assert arn == f"arn:aws:events:us-east-1:000000000000:rule/{rule}"
    d = events.describe_rule(Name=rule)
    assert d["State"] == "ENABLED" and d["EventBusName"] == "default" and d["Arn"] == arn
    assert d["CreatedBy"] == "000000000000"
    events.disable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "DISABLED"
    events.enable_rule(Name=rule)
    assert events.describe_rule(Name=rule)["State"] == "ENABLED"
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "x", "Value": "y"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["k"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "x", "Value": "y"}]
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=unique_name("bad"), EventPattern='{"source": []}')
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"
    assert e.value.response["Error"]["Message"].startswith("Event pattern is not valid. Reason:")
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=unique_name("bad"), EventPattern="{not json")
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=unique_name("bad"))
    assert e.value.response["Error"]["Code"] == "ValidationException"
    for bad in ["rate(1 minutes)", "rate(0 minutes)", "cron(0 12 * * * *)", "cron(0 12 * *)"]:
        with pytest.raises(ClientError) as e:
            events.put_rule(Name=unique_name("bad"), ScheduleExpression=bad)
        assert e.value.response["Error"]["Message"] == "Parameter ScheduleExpression is not valid.", bad
    bus = unique_name("bus")
    events.create_event_bus(Name=bus)
    with pytest.raises(ClientError) as e:
        events.put_rule(Name=unique_name("s"), ScheduleExpression="rate(5 minutes)", EventBusName=bus)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as e:
        events.describe_rule(Name="missing-rule", EventBusName=bus)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["Error"]["Message"] == f"Rule missing-rule does not exist on EventBus {bus}."
    events.put_targets(Rule=rule, Targets=[{"Id": "a", "Arn": "arn:aws:sqs:us-east-1:000000000000:nowhere"}])
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name=rule)
    assert e.value.response["Error"]["Message"] == "Rule can't be deleted since it has targets."
    events.remove_targets(Rule=rule, Ids=["a"])
    events.delete_rule(Name=rule)
    assert not events.list_rules(NamePrefix=rule)["Rules"]


def test_list_rules_targets_and_rule_names_by_target(events, unique_name):
    prefix = unique_name("lr")
    target = "arn:aws:sqs:us-east-1:000000000000:" + unique_name("q")
    for i in range(4):
        events.put_rule(Name=f"{prefix}-{i}", EventPattern='{"source":["nothing"]}')
        if i % 2 == 0:
            events.put_targets(Rule=f"{prefix}-{i}", Targets=[{"Id": "t", "Arn": target}])
    page1 = events.list_rules(NamePrefix=prefix, Limit=3)
    assert [r["Name"] for r in page1["Rules"]] == [f"{prefix}-{i}" for i in range(3)]
    page2 = events.list_rules(NamePrefix=prefix, Limit=3, NextToken=page1["NextToken"])
    assert [r["Name"] for r in page2["Rules"]] == [f"{prefix}-3"]
    assert "NextToken" not in page2
    assert events.list_rule_names_by_target(TargetArn=target)["RuleNames"] == [f"{prefix}-0", f"{prefix}-2"]
    targets = [{"Id": f"t{i}", "Arn": target} for i in range(5)]
    events.put_targets(Rule=f"{prefix}-1", Targets=targets)
    out = events.list_targets_by_rule(Rule=f"{prefix}-1", Limit=2)
    assert [t["Id"] for t in out["Targets"]] == ["t0", "t1"]
    out = events.list_targets_by_rule(Rule=f"{prefix}-1", NextToken=out["NextToken"])
    assert [t["Id"] for t in out["Targets"]] == ["t2", "t3", "t4"]
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule=f"{prefix}-1", Targets=[{"Id": "t6", "Arn": target}])
    assert e.value.response["Error"]["Code"] == "LimitExceededException"
    with pytest.raises(ClientError) as e:
        events.list_targets_by_rule(Rule="no-such-rule")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_put_events_delivers_the_envelope_to_sqs(events, sqs, unique_name):
    source = unique_name("src")
    rule, url, _ = put_rule_to_queue(events, sqs, unique_name, {"source": [source], "detail": {"n": [{"numeric": [">", 5]}]}})
    out = events.put_events(Entries=[
        {"Source": source, "DetailType": "order", "Detail": json.dumps({"n": 7, "s": "x"}),
         "Resources": ["arn:aws:s3:::b"], "Time": "2024-05-01T10:20:30Z"},
        {"Source": source, "DetailType": "order", "Detail": json.dumps({"n": 1})},
    ])
    assert out["FailedEntryCount"] == 0
    msgs = receive(sqs, url, 1)
    assert len(msgs) == 1
    ev = json.loads(msgs[0]["Body"])
    assert list(ev) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert ev["id"] == out["Entries"][0]["EventId"]
    assert ev["version"] == "0" and ev["source"] == source and ev["detail-type"] == "order"
    assert ev["account"] == "000000000000" and ev["region"] == "us-east-1"
    assert ev["time"] == "2024-05-01T10:20:30Z"
    assert ev["resources"] == ["arn:aws:s3:::b"]
    assert ev["detail"] == {"n": 7, "s": "x"}
    assert not receive(sqs, url, 1, timeout=1.5)
    # Disabled rules deliver nothing.
    events.disable_rule(Name=rule)
    events.put_events(Entries=[{"Source": source, "DetailType": "order", "Detail": '{"n": 9}'}])
    assert not receive(sqs, url, 1, timeout=1.5)


def test_put_events_entry_errors(events):
    out = events.put_events(Entries=[
        {"DetailType": "t", "Detail": "{}"},
        {"Source": "s", "Detail": "{}"},
        {"Source": "s", "DetailType": "t"},
        {"Source": "s", "DetailType": "t", "Detail": "not json"},
        {"Source": "s", "DetailType": "t", "Detail": "[1, 2]"},
        {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "no-such-bus-xyz"},
        {"Source": "aws.ec2", "DetailType": "t", "Detail": "{}"},
        {"Source": "s", "DetailType": "t", "Detail": "{}"},
    ])
    assert out["FailedEntryCount"] == 7
    e = out["Entries"]
    assert e[0] == {"ErrorCode": "InvalidArgument", "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument."}
    assert e[1]["ErrorMessage"] == "Parameter DetailType is not valid. Reason: DetailType is a required argument."
    assert e[2]["ErrorMessage"] == "Parameter Detail is not valid. Reason: Detail is a required argument."
    assert e[3] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert e[4]["ErrorCode"] == "MalformedDetail"
    assert e[5]["ErrorCode"] == "ResourceNotFoundException"
    assert e[6]["ErrorCode"] == "NotAuthorizedForSourceException"
    assert "EventId" in e[7] and "ErrorCode" not in e[7]
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}"}] * 11)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    big = json.dumps({"x": "a" * (256 * 1024)})
    with pytest.raises(ClientError) as err:
        events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": big}])
    assert err.value.response["Error"]["Message"] == "Total size of the entries in the request is over the limit."


def test_test_event_pattern(events):
    event = {"id": "1", "account": "123456789012", "source": "com.shop", "time": "2024-01-01T00:00:00Z",
             "region": "us-east-1", "resources": [], "detail-type": "order", "detail": {"total": 120, "ip": "10.0.0.7"}}
    ok = events.test_event_pattern(EventPattern=json.dumps({"source": [{"prefix": "com."}], "detail": {"total": [{"numeric": [">=", 100]}], "ip": [{"cidr": "10.0.0.0/24"}]}}),
                                   Event=json.dumps(event))
    assert ok["Result"] is True
    no = events.test_event_pattern(EventPattern='{"detail-type": [{"anything-but": "order"}]}', Event=json.dumps(event))
    assert no["Result"] is False
    with pytest.raises(ClientError) as e:
        events.test_event_pattern(EventPattern='{"source": "x"}', Event=json.dumps(event))
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"


def test_input_input_path_and_transformer(events, sqs, unique_name):
    source = unique_name("src")
    url, arn = make_queue(sqs, unique_name("q"))
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[
        {"Id": "const", "Arn": arn, "Input": '{"fixed": true}'},
        {"Id": "path", "Arn": arn, "InputPath": "$.detail.order"},
        {"Id": "json", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.order.id", "items": "$.detail.order.items", "missing": "$.detail.nope"},
            "InputTemplate": '{"order": <id>, "text": "order <id> has <items>", "items": <items>, "m": <missing>, "rule": "<aws.events.rule-name>", "arn": <aws.events.rule-arn>, "ev": <aws.events.event>}'}},
        {"Id": "string", "Arn": arn, "InputTransformer": {
            "InputPathsMap": {"id": "$.detail.order.id"}, "InputTemplate": '"Order <id> received"'}},
    ])
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"order": {"id": "o-1", "items": [1, 2]}})}])
    msgs = receive(sqs, url, 4)
    got = sorted(m["Body"] for m in msgs)
    assert '{"fixed": true}' in got
    assert '{"id":"o-1","items":[1,2]}' in got
    assert '"Order o-1 received"' in got
    transformed = [json.loads(b) for b in got if b.startswith('{"order"')]
    assert len(transformed) == 1
    t = transformed[0]
    assert t["order"] == "o-1" and t["text"] == "order o-1 has [1,2]" and t["items"] == [1, 2]
    assert t["m"] is None and t["rule"] == rule
    assert t["arn"] == f"arn:aws:events:us-east-1:000000000000:rule/{rule}"
    assert t["ev"]["source"] == source and "detail" not in t["ev"]
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule=rule, Targets=[{"Id": "bad", "Arn": arn, "Input": "{}", "InputPath": "$.detail"}])
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_fifo_queue_target(events, sqs, unique_name):
    source = unique_name("src")
    qname = unique_name("q") + ".fifo"
    url, arn = make_queue(sqs, qname, fifo=True)
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    with pytest.raises(ClientError) as e:
        events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": arn}])
    assert e.value.response["Error"]["Code"] == "ValidationException"
    events.put_targets(Rule=rule, Targets=[{"Id": "f", "Arn": arn, "SqsParameters": {"MessageGroupId": "orders"}}])
    for i in range(5):
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"i": i})}])
    msgs = receive(sqs, url, 5)
    assert [b["detail"]["i"] for b in bodies(msgs)] == [0, 1, 2, 3, 4]
    assert all(m["Attributes"]["MessageGroupId"] == "orders" for m in msgs)


def test_custom_bus_and_bus_to_bus_target(events, sqs, unique_name):
    source = unique_name("src")
    first, second = unique_name("b1"), unique_name("b2")
    events.create_event_bus(Name=first)
    second_arn = events.create_event_bus(Name=second)["EventBusArn"]
    _, url, _ = put_rule_to_queue(events, sqs, unique_name, {"source": [source]}, bus=second)
    fwd = unique_name("fwd")
    events.put_rule(Name=fwd, EventPattern=json.dumps({"source": [source]}), EventBusName=first)
    events.put_targets(Rule=fwd, EventBusName=first, Targets=[{"Id": "bus", "Arn": second_arn}])
    out = events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}", "EventBusName": first}])
    msgs = receive(sqs, url, 1)
    assert len(msgs) == 1
    assert json.loads(msgs[0]["Body"])["id"] == out["Entries"][0]["EventId"]


def test_missing_services_go_to_the_dead_letter_queue(events, sqs, unique_name):
    source = unique_name("src")
    dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    missing_queue = f"arn:aws:sqs:us-east-1:000000000000:{unique_name('gone')}"
    events.put_targets(Rule=rule, Targets=[
        {"Id": "q", "Arn": missing_queue, "DeadLetterConfig": {"Arn": dlq_arn}},
        {"Id": "fn", "Arn": "arn:aws:lambda:us-east-1:000000000000:function:nope", "DeadLetterConfig": {"Arn": dlq_arn},
         "RetryPolicy": {"MaximumRetryAttempts": 0}},
    ])
    out = events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": "{}"}])
    msgs = receive(sqs, dlq_url, 2)
    assert len(msgs) == 2
    by_target = {m["MessageAttributes"]["TARGET_ARN"]["StringValue"]: m for m in msgs}
    q = by_target[missing_queue]["MessageAttributes"]
    assert q["RULE_ARN"]["StringValue"] == f"arn:aws:events:us-east-1:000000000000:rule/{rule}"
    assert q["ERROR_CODE"]["StringValue"] == "NO_RESOURCE"
    assert q["RETRY_ATTEMPTS"]["StringValue"] == "0"
    assert "ERROR_MESSAGE" in q
    assert json.loads(by_target[missing_queue]["Body"])["id"] == out["Entries"][0]["EventId"]


def test_api_destination_retries_then_dead_letters(events, sqs, unique_name):
    server = Recorder(status=500, body=b'{"error": "boom"}')
    try:
        source = unique_name("src")
        dlq_url, dlq_arn = make_queue(sqs, unique_name("dlq"))
        conn = events.create_connection(Name=unique_name("c"), AuthorizationType="API_KEY",
                                        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret"}})
        assert conn["ConnectionState"] == "AUTHORIZED"
        dest = events.create_api_destination(Name=unique_name("d"), ConnectionArn=conn["ConnectionArn"],
                                             InvocationEndpoint=server.url + "/hook", HttpMethod="POST")
        rule = unique_name("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=rule, Targets=[{"Id": "api", "Arn": dest["ApiDestinationArn"],
                                                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
                                                "DeadLetterConfig": {"Arn": dlq_arn}}])
        start = time.time()
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"a": 1}'}])
        msgs = receive(sqs, dlq_url, 1, timeout=20)
        assert len(msgs) == 1
        assert len(server.requests) == 3  # first try and two retries
        assert server.times[1] - server.times[0] >= 0.5  # backed off
        assert all(r["headers"]["x-api-key"] == "secret" for r in server.requests)
        attrs = msgs[0]["MessageAttributes"]
        assert attrs["EXHAUSTED_RETRY_CONDITION"]["StringValue"] == "MaximumRetryAttempts"
        assert attrs["RETRY_ATTEMPTS"]["StringValue"] == "2"
        assert attrs["TARGET_ARN"]["StringValue"] == dest["ApiDestinationArn"]
        assert "500" in attrs["ERROR_MESSAGE"]["StringValue"]
        assert time.time() - start < 20
    finally:
        server.close()


def test_api_destination_auth_kinds_and_rate_limit(events, unique_name):
    server = Recorder(status=200)
    try:
        source = unique_name("src")
        basic = events.create_connection(Name=unique_name("basic"), AuthorizationType="BASIC",
                                         AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"},
                                                         "InvocationHttpParameters": {"HeaderParameters": [{"Key": "x-extra", "Value": "1"}]}})
        oauth = events.create_connection(Name=unique_name("oauth"), AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
                                         AuthParameters={"OAuthParameters": {
                                             "ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
                                             "AuthorizationEndpoint": server.url + "/oauth/token", "HttpMethod": "POST",
                                             "OAuthHttpParameters": {"BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}]}}})
        assert oauth["ConnectionState"] == "AUTHORIZING"
        assert wait_until(lambda: events.describe_connection(Name=oauth["ConnectionArn"].split("/")[1])["ConnectionState"] == "AUTHORIZED")
        d = events.describe_connection(Name=oauth["ConnectionArn"].split("/")[1])
        assert d["AuthParameters"]["OAuthParameters"]["ClientParameters"] == {"ClientID": "cid"}
        assert d["SecretArn"].startswith("arn:aws:secretsmanager:us-east-1:000000000000:secret:events!connection/")
        d1 = events.create_api_destination(Name=unique_name("d1"), ConnectionArn=basic["ConnectionArn"],
                                           InvocationEndpoint=server.url + "/basic/*", HttpMethod="PUT",
                                           InvocationRateLimitPerSecond=2)
        d2 = events.create_api_destination(Name=unique_name("d2"), ConnectionArn=oauth["ConnectionArn"],
                                           InvocationEndpoint=server.url + "/oauth-call", HttpMethod="POST")
        rule = unique_name("r")
        events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
        events.put_targets(Rule=rule, Targets=[
            {"Id": "b", "Arn": d1["ApiDestinationArn"], "HttpParameters": {"PathParameterValues": ["v1"], "QueryStringParameters": {"q": "1"}}},
            {"Id": "o", "Arn": d2["ApiDestinationArn"]},
        ])
        events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": json.dumps({"i": i})} for i in range(4)])
        assert server.wait(1 + 4 + 4, timeout=15)
        basic_calls = [r for r in server.requests if r["path"].startswith("/basic")]
        oauth_calls = [r for r in server.requests if r["path"] == "/oauth-call"]
        token_calls = [r for r in server.requests if r["path"] == "/oauth/token"]
        assert len(basic_calls) == 4 and len(oauth_calls) == 4 and len(token_calls) >= 1
        assert token_calls[0]["headers"]["authorization"].startswith("Basic ")
        assert "grant_type=client_credentials" in token_calls[0]["body"]
        assert all(r["headers"]["authorization"] == "Bearer tok-123" for r in oauth_calls)
        b = basic_calls[0]
        assert b["method"] == "PUT" and b["path"] == "/basic/v1?q=1"
        assert b["headers"]["authorization"] == "Basic dTpw" and b["headers"]["x-extra"] == "1"
        assert json.loads(b["body"])["source"] == source
        basic_times = [t for r, t in zip(server.requests, server.times) if r["path"].startswith("/basic")]
        assert basic_times[-1] - basic_times[0] >= 1.2  # 4 calls at 2 per second
        listed = events.list_api_destinations(NamePrefix=d1["ApiDestinationArn"].split("/")[1])["ApiDestinations"]
        assert listed[0]["InvocationRateLimitPerSecond"] == 2
    finally:
        server.close()


def test_connections_and_api_destinations_crud(events, unique_name):
    name = unique_name("c")
    arn = events.create_connection(Name=name, AuthorizationType="API_KEY", Description="d",
                                   AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})["ConnectionArn"]
    assert arn.startswith(f"arn:aws:events:us-east-1:000000000000:connection/{name}/")
    with pytest.raises(ClientError) as e:
        events.create_connection(Name=name, AuthorizationType="API_KEY",
                                 AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "k", "ApiKeyValue": "v"}})
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    d = events.describe_connection(Name=name)
    assert d["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "k"}
    events.update_connection(Name=name, Description="e")
    assert events.describe_connection(Name=name)["Description"] == "e"
    assert events.deauthorize_connection(Name=name)["ConnectionState"] == "DEAUTHORIZING"
    assert events.describe_connection(Name=name)["ConnectionState"] == "DEAUTHORIZED"
    assert [c["Name"] for c in events.list_connections(NamePrefix=name)["Connections"]] == [name]
    dname = unique_name("d")
    events.create_api_destination(Name=dname, ConnectionArn=arn, InvocationEndpoint="http://127.0.0.1:9/x", HttpMethod="GET")
    events.update_api_destination(Name=dname, HttpMethod="POST", InvocationRateLimitPerSecond=10)
    d = events.describe_api_destination(Name=dname)
    assert d["HttpMethod"] == "POST" and d["InvocationRateLimitPerSecond"] == 10 and d["ApiDestinationState"] == "ACTIVE"
    assert [x["Name"] for x in events.list_api_destinations(ConnectionArn=arn)["ApiDestinations"]] == [dname]
    events.delete_api_destination(Name=dname)
    with pytest.raises(ClientError) as e:
        events.describe_api_destination(Name=dname)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    events.delete_connection(Name=name)
    with pytest.raises(ClientError) as e:
        events.describe_connection(Name=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_global_endpoint_routes_to_the_primary_bus(stratus, events, sqs, unique_name):
    source = unique_name("src")
    bus = unique_name("gb")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    _, url, _ = put_rule_to_queue(events, sqs, unique_name, {"source": [source]}, bus=bus)
    name = unique_name("ep")
    events.create_endpoint(Name=name, RoutingConfig={"FailoverConfig": {"Primary": {"HealthCheck": "arn:aws:route53:::healthcheck/x"},
                                                                       "Secondary": {"Route": "us-west-2"}}},
                           ReplicationConfig={"State": "DISABLED"},
                           EventBuses=[{"EventBusArn": bus_arn}, {"EventBusArn": bus_arn.replace("us-east-1", "us-west-2")}])
    ep = events.describe_endpoint(Name=name)
    assert ep["State"] == "ACTIVE" and ep["EndpointUrl"].startswith("https://")
    # boto3 signs endpoint calls with SigV4a (needs awscrt): send the request as JSON directly.
    resp = raw_post(stratus.endpoint, "AWSEvents.PutEvents",
                    {"EndpointId": ep["EndpointId"], "Entries": [{"Source": source, "DetailType": "t", "Detail": "{}"}]},
                    headers={"Content-Type": "application/x-amz-json-1.1"})
    assert resp.status_code == 200 and resp.json()["FailedEntryCount"] == 0
    assert len(receive(sqs, url, 1)) == 1
    assert [e["Name"] for e in events.list_endpoints(NamePrefix=name)["Endpoints"]] == [name]
    events.delete_endpoint(Name=name)


def test_cli_put_events(stratus, sqs, unique_name):
    events = stratus.client("events")
    source = unique_name("src")
    _, url, _ = put_rule_to_queue(events, sqs, unique_name, {"source": [source]})
    out = stratus.cli("events", "put-events", "--entries",
                      json.dumps([{"Source": source, "DetailType": "cli", "Detail": '{"via": "cli"}'}]))
    assert out.json["FailedEntryCount"] == 0
    assert json.loads(receive(sqs, url, 1)[0]["Body"])["detail"] == {"via": "cli"}


def test_sqs_target_message_is_there_when_put_events_returns(events, stratus, unique_name):
    """PutEvents answers after its SQS deliveries' first attempt: one short
    ReceiveMessage (no long polling) right after the call finds the event,
    also while other connections put events at the same time."""
    from concurrent.futures import ThreadPoolExecutor
    sqs = stratus.client("sqs")
    urls = [put_rule_to_queue(events, sqs, unique_name, {"source": [f"at.once.{k}"]})[1] for k in range(4)]

    def worker(k):
        ev, q = stratus.client("events"), stratus.client("sqs")
        for i in range(10):
            ev.put_events(Entries=[{"Source": f"at.once.{k}", "DetailType": "t",
                                    "Detail": json.dumps({"i": i})}])
            got = q.receive_message(QueueUrl=urls[k], MaxNumberOfMessages=10,
                                    WaitTimeSeconds=0).get("Messages", [])
            assert [json.loads(m["Body"])["detail"]["i"] for m in got] == [i], \
                f"event {i} of worker {k} not receivable when PutEvents returned: {got}"
            q.delete_message(QueueUrl=urls[k], ReceiptHandle=got[0]["ReceiptHandle"])
        return k

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(worker, range(4))) == [0, 1, 2, 3]
