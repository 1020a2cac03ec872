//! The one timer task: sleeps until the earliest planned firing on the heap
//! (or until woken by a newly planned earlier one), records each due firing
//! durably (with its pending deliveries, see `pending.rs`), then hands the
//! invocations to delivery tasks.

use std::cmp::Reverse;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::delivery::Invocation;
use crate::service::SchedulerService;
use crate::state::ScheduleKey;
use crate::{pending, persist};

/// Upper bound on one sleep, so a wall-clock jump is noticed within a minute.
const MAX_SLEEP_MS: i64 = 60_000;

pub(crate) async fn run(weak: Weak<SchedulerService>) {
    loop {
        let Some(svc) = weak.upgrade() else {
            return;
        };
        let next = svc.fire_due().await;
        let wait = next
            .map(|t| (t - svc.now_millis()).clamp(0, MAX_SLEEP_MS))
            .unwrap_or(MAX_SLEEP_MS);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
            _ = svc.wake.notified() => {}
        }
    }
}

impl SchedulerService {
    /// Fire every planned occurrence that is due; returns when the next one is.
    pub(crate) async fn fire_due(self: &Arc<Self>) -> Option<i64> {
        let now = self.now_millis();
        let mut due = Vec::new();
        let (fut, next_fire) = {
            let mut st = self.state.lock();
            let mut writes = Vec::new();
            let mut replan: Vec<ScheduleKey> = Vec::new();
            while st.heap.peek().is_some_and(|Reverse(p)| p.fire_at <= now) {
                let Some(Reverse(p)) = st.heap.pop() else {
                    break;
                };
                let Some(s) = st.schedule_mut(&p.key) else {
                    continue; // deleted since it was planned
                };
                if s.generation != p.generation
                    || !s.rec.enabled()
                    || s.rec.next != Some(p.occurrence)
                {
                    continue; // changed since it was planned
                }
                // Advance before calling the target, and write it down first: after
                // a restart an occurrence never fires twice.
                let timing = s.timing();
                let mut next = timing.next_after(p.occurrence);
                if let Some(n) = next
                    && n <= now
                {
                    // Fell behind (stalled process): skip to the future.
                    next = timing.next_after(now);
                }
                s.rec.next = next;
                let inv = Invocation::fired(
                    s.rec.arn(),
                    s.rec.account.clone(),
                    s.rec.region.clone(),
                    s.rec.target.clone(),
                    p.occurrence,
                    now,
                );
                // The pending delivery goes in the same batch as the advanced
                // schedule: a firing is recorded with it or not at all.
                if self.durable {
                    writes.push(pending::put(&inv));
                }
                due.push(inv);
                let finished = next.is_none();
                if finished && s.rec.action_after_completion == "DELETE" {
                    let key = p.key.as_ref();
                    writes.push(persist::delete_schedule(
                        &key.account,
                        &key.region,
                        &key.group,
                        &key.name,
                    ));
                    st.region_mut(&key.account, &key.region)
                        .schedules
                        .remove(&(key.group.clone(), key.name.clone()));
                    tracing::debug!(schedule = %key.name, "scheduler: completed schedule deleted");
                } else {
                    writes.push(persist::put_schedule(&s.rec));
                    if !finished {
                        replan.push(p.key.as_ref().clone());
                    }
                }
            }
            for key in &replan {
                self.plan(&mut st, key);
            }
            let fut = self.persist(writes);
            (fut, st.heap.peek().map(|Reverse(p)| p.fire_at))
        };
        if let Some(f) = fut
            && let Err(e) = f.await
        {
            // The firings stay recorded in memory; the next successful write of
            // the schedule carries them. Their deliveries still run (a retry's
            // rewrite records the pending row then).
            tracing::error!(error = %e, "scheduler: could not record firings");
        }
        let rt = tokio::runtime::Handle::current();
        for inv in due {
            tracing::debug!(schedule = %inv.schedule_arn, "scheduler: firing");
            self.spawn_delivery(&rt, inv);
        }
        next_fire
    }
}
