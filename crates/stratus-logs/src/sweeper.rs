//! Retention: a background task deletes events older than their group's
//! retention period (reads already hide them, so the sweep only reclaims
//! memory and storage).

use std::sync::{Arc, Weak};
use std::time::Duration;

use stratus_store::Write;

use crate::persist::{self, T_EVENTS};
use crate::service::LogsService;
use crate::state::GroupHandle;

const SWEEP_EVERY: Duration = Duration::from_secs(30);

pub(crate) async fn run(weak: Weak<LogsService>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(svc) = weak.upgrade() else { return };
        let handles: Vec<Arc<GroupHandle>> = svc.groups.read().values().cloned().collect();
        for h in handles {
            svc.expire_group(&h).await;
        }
    }
}

impl LogsService {
    /// Deletes the group's events that are past its retention period.
    pub(crate) async fn expire_group(&self, h: &GroupHandle) {
        let now = self.now();
        let mut writes = Vec::new();
        let mut count = 0usize;
        {
            let mut st = h.state.lock();
            let Some(cutoff) = st.retention_cutoff(now) else {
                return;
            };
            if st.deleted {
                return;
            }
            let mut freed = 0i64;
            for s in st.streams.values_mut() {
                for e in s.expire_before(cutoff) {
                    freed += e.msg.len() as i64;
                    count += 1;
                    if self.durable {
                        writes.push(Write::Delete {
                            table: T_EVENTS,
                            key: persist::event_key(s.uid, e.ts, e.seq),
                        });
                    }
                }
            }
            st.stored_bytes -= freed;
        }
        if count > 0 {
            tracing::debug!(group = %h.name, count, "logs: expired events deleted");
        }
        if let Err(e) = self.persist(writes).await {
            tracing::warn!(error = %e, group = %h.name, "logs: retention sweep write failed");
        }
    }
}
