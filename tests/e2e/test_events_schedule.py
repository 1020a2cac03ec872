"""Scheduled EventBridge rules really fire (AWS's shortest rate is one minute)."""
import json
import time

import pytest

from test_events_helpers import make_queue, receive


@pytest.mark.slow
def test_rate_one_minute_rule_fires(stratus, unique_name):
    events, sqs = stratus.client("events"), stratus.client("sqs")
    url, arn = make_queue(sqs, unique_name("tick"))
    rule = unique_name("every-minute")
    created = time.time()
    rule_arn = events.put_rule(Name=rule, ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    msgs = receive(sqs, url, 1, timeout=75)
    assert len(msgs) == 1, "the rate(1 minute) rule did not fire within 75 s"
    fired_after = time.time() - created
    assert 55 <= fired_after <= 75, fired_after
    ev = json.loads(msgs[0]["Body"])
    assert ev["source"] == "aws.events" and ev["detail-type"] == "Scheduled Event"
    assert ev["detail"] == {} and ev["resources"] == [rule_arn]
    assert ev["account"] == "000000000000" and ev["region"] == "us-east-1" and ev["version"] == "0"
    assert ev["time"].endswith("Z")
    events.remove_targets(Rule=rule, Ids=["q"])
    events.delete_rule(Name=rule)


def test_schedule_expressions_are_stored(stratus, unique_name):
    events = stratus.client("events")
    for expr in ["rate(5 minutes)", "rate(1 hour)", "rate(2 days)", "cron(0 10 * * ? *)", "cron(15 12 ? * MON-FRI *)",
                 "cron(0 8 L * ? *)", "cron(0 9 ? * 6L 2030-2035)", "cron(0 9 ? * 2#1 *)", "cron(0/5 8-17 1W * ? *)"]:
        name = unique_name("s")
        events.put_rule(Name=name, ScheduleExpression=expr, State="DISABLED")
        assert events.describe_rule(Name=name)["ScheduleExpression"] == expr
        events.delete_rule(Name=name)
