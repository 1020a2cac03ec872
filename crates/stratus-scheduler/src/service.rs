//! `SchedulerService`: state, start-up loading, the write path and the
//! `Service` / `SchedulerApi` plumbing. Operations live in `ops_*.rs`.

use std::cmp::Reverse;
use std::sync::Arc;

use parking_lot::Mutex;
use rand::Rng;
use serde_json::Value;
use stratus_core::{AwsError, BoxFuture, RegistryHandle, RequestContext, Service};
use stratus_model::ServiceModel;
use stratus_store::{Store, StoreError, Write, WriteBehind};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::delivery::{self, Invocation};
use crate::errors;
use crate::expression;
use crate::generated::{self, *};
use crate::pending;
use crate::persist::{self, T_GROUPS, T_SCHEDULES};
use crate::state::{
    DEFAULT_GROUP, GroupRecord, Planned, RegionState, Schedule, ScheduleKey, ScheduleRecord, State,
};
use stratus_core::clock::{Clock, SystemClock};

const MODEL_JSON: &str = include_str!("../../../models/scheduler/service-2.json");

/// Amazon EventBridge Scheduler.
pub struct SchedulerService {
    model: ServiceModel,
    store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) registry: RegistryHandle,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) state: Mutex<State>,
    /// Wakes the timer task when an earlier firing is planned.
    pub(crate) wake: Notify,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Deliveries in flight (aborted at shutdown; durable ones resume at the
    /// next start from their pending rows).
    deliveries: Mutex<JoinSet<()>>,
    /// Rewrites and deletions of `scheduler_pending` rows (awaited by no one).
    behind: Arc<WriteBehind>,
}

fn model_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("Scheduler model: {e}"))
}

impl SchedulerService {
    /// Loads persisted state, resumes the deliveries that were pending when the
    /// process stopped and starts the timer task (needs a running tokio runtime
    /// to fire schedules). `registry` reaches the targets once the server is up.
    pub fn new(store: Arc<dyn Store>, registry: RegistryHandle) -> Result<Arc<Self>, StoreError> {
        Self::with_clock(store, registry, Arc::new(SystemClock))
    }

    /// Like [`SchedulerService::new`] with an explicit clock.
    pub fn with_clock(
        store: Arc<dyn Store>,
        registry: RegistryHandle,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let model = ServiceModel::from_json(MODEL_JSON).map_err(model_error)?;
        let durable = store.is_durable();
        let behind = Arc::new(WriteBehind::new(store.clone()));
        let svc = Arc::new(SchedulerService {
            model,
            store,
            durable,
            registry,
            clock,
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            background: Mutex::new(Vec::new()),
            deliveries: Mutex::new(JoinSet::new()),
            behind,
        });
        let (resumed, unreadable) = if durable {
            svc.load()?;
            pending::load(svc.store.as_ref())?
        } else {
            (Vec::new(), Vec::new())
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            if durable {
                let writer = rt.spawn(svc.behind.clone().run());
                svc.background.lock().push(writer);
            }
            if !unreadable.is_empty() {
                tracing::warn!(
                    rows = unreadable.len(),
                    "scheduler: unreadable pending-delivery rows dropped"
                );
                for w in unreadable {
                    svc.behind.push(w);
                }
            }
            if !resumed.is_empty() {
                tracing::info!(
                    deliveries = resumed.len(),
                    "scheduler: resuming pending deliveries"
                );
            }
            for inv in resumed {
                svc.spawn_delivery(&rt, inv);
            }
            let h = rt.spawn(crate::timer::run(Arc::downgrade(&svc)));
            svc.background.lock().push(h);
        } else {
            tracing::warn!(
                "scheduler: no tokio runtime; schedules will not fire and pending deliveries wait for the next start"
            );
        }
        Ok(svc)
    }

    /// Run `inv`'s delivery as a task of its own, tracked for shutdown.
    pub(crate) fn spawn_delivery(self: &Arc<Self>, rt: &tokio::runtime::Handle, inv: Invocation) {
        let mut set = self.deliveries.lock();
        // Reap finished deliveries so the set holds only live ones.
        while let Some(done) = set.try_join_next() {
            if let Err(e) = done
                && e.is_panic()
            {
                tracing::error!(error = %e, "scheduler: a delivery task panicked");
            }
        }
        set.spawn_on(delivery::deliver(self.clone(), inv), rt);
    }

    /// Queue a pending-row rewrite or deletion (durable stores only).
    pub(crate) fn write_behind(&self, write: impl FnOnce() -> Write) {
        if self.durable {
            self.behind.push(write());
        }
    }

    /// Rebuild groups, schedules and the timer heap from the store.
    fn load(&self) -> Result<(), StoreError> {
        let now = self.clock.now_millis();
        let mut st = self.state.lock();
        for (_, v) in self.store.scan(T_GROUPS)? {
            let Some(g) = persist::decode::<GroupRecord>(&v) else {
                tracing::warn!("scheduler: skipping an unreadable group record");
                continue;
            };
            let region = st.region_mut(&g.account, &g.region);
            if g.name == DEFAULT_GROUP {
                region.default_persisted = true;
            }
            region.groups.insert(g.name.clone(), g);
        }
        let mut count = 0usize;
        for (_, v) in self.store.scan(T_SCHEDULES)? {
            let Some(rec) = persist::decode::<ScheduleRecord>(&v) else {
                tracing::warn!("scheduler: skipping an unreadable schedule record");
                continue;
            };
            let Some(expr) = expression::parse(&rec.expression) else {
                continue;
            };
            let tz = rec
                .timezone
                .as_deref()
                .and_then(expression::parse_tz)
                .unwrap_or(chrono_tz::UTC);
            let generation = st.bump();
            let mut s = Schedule {
                rec,
                expr,
                tz,
                generation,
            };
            // A one-time schedule that came due while the process was down fires
            // now (it was never fired: firing is recorded before the target is
            // called). Recurring schedules skip the occurrences they missed.
            let mut fire_at = None;
            if s.rec.enabled()
                && let Some(next) = s.rec.next
            {
                if next >= now || s.expr.is_one_time() {
                    fire_at = Some(next.max(now));
                } else {
                    s.rec.next = s.timing().next_after(now);
                }
            }
            let key = ScheduleKey::of(&s.rec);
            let plan = match fire_at {
                Some(at) => s.rec.next.map(|occ| (at, occ)),
                None => s.rec.next.filter(|_| s.rec.enabled()).map(|occ| (occ, occ)),
            };
            if let Some((at, occ)) = plan {
                let at = at + self.flex_offset(&s);
                st.push_plan(Planned {
                    fire_at: at,
                    occurrence: occ,
                    generation,
                    key: Arc::new(key.clone()),
                });
            }
            st.region_mut(&key.account, &key.region)
                .schedules
                .insert((key.group, key.name), s);
            count += 1;
        }
        if count > 0 {
            tracing::info!(schedules = count, "scheduler: state loaded");
        }
        Ok(())
    }

    pub(crate) fn now_millis(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Hand `writes` to the store now (so batches reach it in the order the
    /// state changed, while the caller still holds the state lock); the caller
    /// awaits the returned future after releasing the lock.
    pub(crate) fn persist(
        &self,
        writes: Vec<Write>,
    ) -> Option<BoxFuture<'_, Result<(), StoreError>>> {
        (self.durable && !writes.is_empty()).then(|| self.store.apply(writes))
    }

    pub(crate) async fn committed(
        fut: Option<BoxFuture<'_, Result<(), StoreError>>>,
    ) -> Result<(), AwsError> {
        match fut {
            Some(f) => f.await.map_err(errors::store),
            None => Ok(()),
        }
    }

    /// Random delay inside the schedule's flexible time window.
    pub(crate) fn flex_offset(&self, s: &Schedule) -> i64 {
        match (
            s.rec.window.mode.as_str(),
            s.rec.window.maximum_window_in_minutes,
        ) {
            ("FLEXIBLE", Some(m)) if m > 0 => rand::rng().random_range(0..i64::from(m) * 60_000),
            _ => 0,
        }
    }

    /// Queue the schedule's next occurrence on the timer heap.
    pub(crate) fn plan(&self, st: &mut State, key: &ScheduleKey) {
        let Some(s) = st.schedule(key) else {
            return;
        };
        if !s.rec.enabled() {
            return;
        }
        let Some(occurrence) = s.rec.next else {
            return;
        };
        let planned = Planned {
            fire_at: occurrence + self.flex_offset(s),
            occurrence,
            generation: s.generation,
            key: Arc::new(key.clone()),
        };
        let earliest = st
            .heap
            .peek()
            .is_none_or(|Reverse(p)| planned.fire_at < p.fire_at);
        st.push_plan(planned);
        if earliest {
            self.wake.notify_one();
        }
    }

    /// The default group exists implicitly; its record is written with the
    /// first change in its region.
    pub(crate) fn ensure_default(
        region: &mut RegionState,
        account: &str,
        region_name: &str,
        now_secs: f64,
        writes: &mut Vec<Write>,
    ) {
        let g = region
            .groups
            .entry(DEFAULT_GROUP.to_string())
            .or_insert_with(|| GroupRecord {
                account: account.to_string(),
                region: region_name.to_string(),
                name: DEFAULT_GROUP.to_string(),
                created: now_secs,
                modified: now_secs,
                tags: Vec::new(),
            });
        if !region.default_persisted {
            writes.push(persist::put_group(g));
            region.default_persisted = true;
        }
    }
}

pub(crate) fn secs(millis: i64) -> f64 {
    millis as f64 / 1000.0
}

impl Service for SchedulerService {
    fn model(&self) -> &ServiceModel {
        &self.model
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(generated::dispatch(self, ctx, operation, input))
    }

    fn shutdown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        // Aborted deliveries keep their pending rows: the next start resumes them.
        self.deliveries.lock().abort_all();
        // Finished deliveries' row deletions reach the store before it closes.
        self.behind.flush();
    }
}

impl SchedulerApi for SchedulerService {
    async fn create_schedule(
        &self,
        ctx: &RequestContext,
        input: CreateScheduleInput,
    ) -> Result<CreateScheduleOutput, AwsError> {
        self.op_create_schedule(ctx, input).await
    }

    async fn get_schedule(
        &self,
        ctx: &RequestContext,
        input: GetScheduleInput,
    ) -> Result<GetScheduleOutput, AwsError> {
        self.op_get_schedule(ctx, input)
    }

    async fn update_schedule(
        &self,
        ctx: &RequestContext,
        input: UpdateScheduleInput,
    ) -> Result<UpdateScheduleOutput, AwsError> {
        self.op_update_schedule(ctx, input).await
    }

    async fn delete_schedule(
        &self,
        ctx: &RequestContext,
        input: DeleteScheduleInput,
    ) -> Result<DeleteScheduleOutput, AwsError> {
        self.op_delete_schedule(ctx, input).await
    }

    async fn list_schedules(
        &self,
        ctx: &RequestContext,
        input: ListSchedulesInput,
    ) -> Result<ListSchedulesOutput, AwsError> {
        self.op_list_schedules(ctx, input)
    }

    async fn create_schedule_group(
        &self,
        ctx: &RequestContext,
        input: CreateScheduleGroupInput,
    ) -> Result<CreateScheduleGroupOutput, AwsError> {
        self.op_create_schedule_group(ctx, input).await
    }

    async fn get_schedule_group(
        &self,
        ctx: &RequestContext,
        input: GetScheduleGroupInput,
    ) -> Result<GetScheduleGroupOutput, AwsError> {
        self.op_get_schedule_group(ctx, input)
    }

    async fn delete_schedule_group(
        &self,
        ctx: &RequestContext,
        input: DeleteScheduleGroupInput,
    ) -> Result<DeleteScheduleGroupOutput, AwsError> {
        self.op_delete_schedule_group(ctx, input).await
    }

    async fn list_schedule_groups(
        &self,
        ctx: &RequestContext,
        input: ListScheduleGroupsInput,
    ) -> Result<ListScheduleGroupsOutput, AwsError> {
        self.op_list_schedule_groups(ctx, input)
    }

    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceInput,
    ) -> Result<TagResourceOutput, AwsError> {
        self.op_tag_resource(ctx, input).await
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceInput,
    ) -> Result<UntagResourceOutput, AwsError> {
        self.op_untag_resource(ctx, input).await
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceInput,
    ) -> Result<ListTagsForResourceOutput, AwsError> {
        self.op_list_tags_for_resource(ctx, input)
    }
}
