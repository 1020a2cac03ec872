//! Fires scheduled rules on time.
//!
//! Every second the task looks at the enabled rules with a ScheduleExpression
//! (default buses only, as on AWS), computes each one's next firing time when
//! it first sees the rule (or its expression changed), and sends a
//! "Scheduled Event" from `aws.events` to the rule's targets when it is due.
//! A rule that was disabled restarts from the next occurrence when enabled
//! again; occurrences missed while the process was stopped are not replayed.

use std::collections::HashSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::Value;

use crate::delivery::Job;
use crate::ops_events::{Envelope, Routed};
use crate::schedule::Schedule;
use crate::service::EventsService;
use crate::util::{DEFAULT_BUS, iso_secs, now_ms};

pub(crate) async fn run(svc: Weak<EventsService>) {
    loop {
        // Wake just after each whole second.
        let now = now_ms();
        tokio::time::sleep(Duration::from_millis(
            (1000 - now.rem_euclid(1000)) as u64 + 5,
        ))
        .await;
        let Some(s) = svc.upgrade() else { return };
        if s.is_stopping() {
            return;
        }
        s.tick(now_ms()).await;
    }
}

impl EventsService {
    pub(crate) async fn tick(&self, now: i64) {
        let routed = self.due_rules(now);
        if routed.jobs.is_empty() {
            return;
        }
        if let Err(e) = self.commit(routed).await {
            tracing::warn!(error = %e, "events: scheduled events could not be stored for delivery");
        }
    }

    /// The jobs of every scheduled rule due at `now`; advances their next times.
    fn due_rules(&self, now: i64) -> Routed {
        let mut routed = Routed::default();
        // (rule key, expression, created, rule runtime)
        let mut rules = Vec::new();
        {
            let st = self.state.read();
            for bus in st.buses.values().filter(|b| b.rec.name == DEFAULT_BUS) {
                for r in bus.rules.values() {
                    let Some(expr) = &r.schedule else { continue };
                    if r.state == "DISABLED" {
                        continue;
                    }
                    if let Some(rt) = bus.snap.rules.get(&r.name) {
                        let key = format!("{}/{}/{}", r.account, r.region, r.name);
                        rules.push((key, expr.clone(), r.created, rt.clone()));
                    }
                }
            }
        }
        let mut next = self.schedule_next.lock();
        let live: HashSet<&str> = rules.iter().map(|r| r.0.as_str()).collect();
        next.retain(|k, _| live.contains(k.as_str()));
        for (key, expr, created, rt) in &rules {
            let Ok(sched) = Schedule::parse(expr) else {
                continue;
            };
            let due = match next.get(key) {
                Some((e, due)) if e == expr => *due,
                _ => {
                    let Some(first) = sched.next_after(*created, now) else {
                        continue;
                    };
                    next.insert(key.clone(), (expr.clone(), first));
                    first
                }
            };
            if due > now {
                continue;
            }
            self.fire(rt, due, &mut routed);
            match sched.next_after(*created, now.max(due)) {
                Some(n) => {
                    next.insert(key.clone(), (expr.clone(), n));
                }
                None => {
                    next.insert(key.clone(), (expr.clone(), i64::MAX));
                }
            }
        }
        routed
    }

    fn fire(&self, rule: &Arc<crate::state::RuleRt>, at_ms: i64, out: &mut Routed) {
        let id = uuid::Uuid::new_v4().to_string();
        let time = iso_secs(at_ms);
        let resources = vec![rule.arn.clone()];
        let detail = Value::Object(Default::default());
        let event: Arc<str> = Arc::from(
            Envelope {
                version: "0",
                id: &id,
                detail_type: "Scheduled Event",
                source: "aws.events",
                account: &rule.account,
                time: &time,
                region: &rule.region,
                resources: &resources,
                detail: &detail,
                replay_name: None,
            }
            .to_json(),
        );
        tracing::debug!(rule = %rule.arn, "events: scheduled rule fired");
        for t in &rule.targets {
            out.jobs.push(Job {
                event: event.clone(),
                ingest_ms: now_ms(),
                rule: rule.clone(),
                target: t.clone(),
                attempt: 0,
                hops: 0,
                pending: 0,
                first_attempt: None,
            });
        }
    }
}
