//! `LogsService`: the log groups of every account and region, loading from
//! and writing through the store, and the operation trait wiring.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use stratus_core::{AwsError, BoxFuture, RequestContext, Service};
use stratus_model::ServiceModel;
use stratus_store::{Store, StoreError, Write};

use crate::errors::{group_not_found, store_failure};
use crate::generated::{self, *};
use crate::names::{GroupRef, check_group_name};
use crate::persist::{self, GroupRecord, StreamRecord, T_EVENTS, T_GROUPS, T_STREAMS};
use crate::state::{Event, GroupHandle, GroupState, Stream};
use stratus_core::clock::{Clock, SystemClock};

const MODEL_JSON: &str = include_str!("../../../models/logs/service-2.json");

/// Amazon CloudWatch Logs.
pub struct LogsService {
    model: ServiceModel,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) clock: Arc<dyn Clock>,
    /// Every group of every account and region, by `account:region:name`
    /// (so one account-region's groups are a sorted range).
    pub(crate) groups: RwLock<BTreeMap<String, Arc<GroupHandle>>>,
    pub(crate) next_seq: AtomicU64,
    pub(crate) next_uid: AtomicU64,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn model_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("CloudWatch Logs model: {e}"))
}

impl LogsService {
    /// Loads persisted state from `store` and starts the retention sweeper
    /// (when called inside a tokio runtime).
    pub fn new(store: Arc<dyn Store>) -> Result<Arc<Self>, StoreError> {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    /// Like [`LogsService::new`] with an explicit clock (tests, tooling).
    pub fn with_clock(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let model = ServiceModel::from_json(MODEL_JSON).map_err(model_error)?;
        let durable = store.is_durable();
        let svc = Arc::new(LogsService {
            model,
            store,
            durable,
            clock,
            groups: RwLock::new(BTreeMap::new()),
            next_seq: AtomicU64::new(1),
            next_uid: AtomicU64::new(1),
            background: Mutex::new(Vec::new()),
        });
        let cleanup = if durable { svc.load()? } else { Vec::new() };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let weak = Arc::downgrade(&svc);
            let store = svc.store.clone();
            let h = rt.spawn(async move {
                if !cleanup.is_empty()
                    && let Err(e) = store.apply(cleanup).await
                {
                    tracing::warn!(error = %e, "logs: start-up cleanup failed");
                }
                crate::sweeper::run(weak).await
            });
            svc.background.lock().push(h);
        } else {
            tracing::warn!("logs: no tokio runtime; retention sweeper not started");
        }
        Ok(svc)
    }

    /// Rebuilds state from the store; returns writes that remove orphans
    /// (streams of deleted groups, events of deleted streams) left by a crash
    /// between a delete's writes.
    fn load(&self) -> Result<Vec<Write>, StoreError> {
        let mut cleanup = Vec::new();
        let mut groups = BTreeMap::new();
        for (k, v) in self.store.scan(T_GROUPS)? {
            let Ok(key) = String::from_utf8(k) else {
                continue;
            };
            let Some(rec) = persist::decode::<GroupRecord>(&v) else {
                tracing::warn!(key, "logs: unreadable group record skipped");
                continue;
            };
            groups.insert(key.clone(), Arc::new(handle_from_record(key, rec)));
        }
        let mut by_uid: HashMap<u64, (Arc<GroupHandle>, String)> = HashMap::new();
        let mut max_uid = 0;
        for (k, v) in self.store.scan(T_STREAMS)? {
            let rec = persist::decode::<StreamRecord>(&v);
            let group = String::from_utf8(k.clone()).ok().and_then(|key| {
                let rec = rec.as_ref()?;
                let gk = key.strip_suffix(&rec.name)?.strip_suffix(':')?;
                groups.get(gk).cloned()
            });
            match (rec, group) {
                (Some(rec), Some(g)) => {
                    max_uid = max_uid.max(rec.uid);
                    g.state
                        .lock()
                        .streams
                        .insert(rec.name.clone(), Stream::new(rec.uid, rec.created));
                    by_uid.insert(rec.uid, (g, rec.name));
                }
                (rec, _) => {
                    if let Some(rec) = rec {
                        cleanup.push(Write::DeletePrefix {
                            table: T_EVENTS,
                            prefix: persist::event_prefix(rec.uid),
                        });
                    }
                    cleanup.push(Write::Delete {
                        table: T_STREAMS,
                        key: k,
                    });
                }
            }
        }
        let mut max_seq = 0;
        let mut orphan_uids = Vec::new();
        // Events arrive in key order: per stream, sorted by (timestamp, seq).
        let mut current: Option<(u64, Vec<Event>)> = None;
        let flush = |cur: Option<(u64, Vec<Event>)>| {
            if let Some((uid, events)) = cur
                && let Some((g, name)) = by_uid.get(&uid)
            {
                let mut st = g.state.lock();
                let bytes: i64 = events.iter().map(|e| e.msg.len() as i64).sum();
                st.stored_bytes += bytes;
                if let Some(s) = st.streams.get_mut(name) {
                    s.last_ingest = events.iter().map(|e| e.ingest).max();
                    s.last_seq = events.iter().map(|e| e.seq).max().unwrap_or(0);
                    s.events = events;
                }
            }
        };
        for (k, v) in self.store.scan(T_EVENTS)? {
            let (Some((uid, ts, seq)), Some((ingest, msg))) = (
                persist::decode_event_key(&k),
                persist::decode_event_value(&v),
            ) else {
                cleanup.push(Write::Delete {
                    table: T_EVENTS,
                    key: k,
                });
                continue;
            };
            max_seq = max_seq.max(seq);
            if !by_uid.contains_key(&uid) {
                if orphan_uids.last() != Some(&uid) {
                    orphan_uids.push(uid);
                }
                continue;
            }
            if current.as_ref().is_none_or(|(u, _)| *u != uid) {
                flush(current.take());
                current = Some((uid, Vec::new()));
            }
            if let Some((_, events)) = current.as_mut() {
                events.push(Event {
                    ts,
                    seq,
                    ingest,
                    msg: msg.into_boxed_str(),
                });
            }
        }
        flush(current.take());
        for uid in orphan_uids {
            cleanup.push(Write::DeletePrefix {
                table: T_EVENTS,
                prefix: persist::event_prefix(uid),
            });
        }
        self.next_seq.store(max_seq + 1, Ordering::SeqCst);
        self.next_uid.store(max_uid + 1, Ordering::SeqCst);
        tracing::info!(
            groups = groups.len(),
            streams = by_uid.len(),
            "logs: state loaded"
        );
        *self.groups.write() = groups;
        Ok(cleanup)
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Writes `writes` durably (nothing with the memory store).
    pub(crate) async fn persist(&self, writes: Vec<Write>) -> Result<(), AwsError> {
        if !self.durable || writes.is_empty() {
            return Ok(());
        }
        self.store.apply(writes).await.map_err(store_failure)
    }

    /// `account:region:` — the map prefix of the caller's groups.
    pub(crate) fn scope(ctx: &RequestContext) -> String {
        format!("{}:{}:", ctx.account_id, ctx.region)
    }

    pub(crate) fn find_group(&self, ctx: &RequestContext, name: &str) -> Option<Arc<GroupHandle>> {
        let key = persist::group_key(&ctx.account_id, &ctx.region, name);
        self.groups.read().get(&key).cloned()
    }

    /// The named group, checking the name as AWS does.
    pub(crate) fn group(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<Arc<GroupHandle>, AwsError> {
        check_group_name("logGroupName", name)?;
        self.find_group(ctx, name).ok_or_else(group_not_found)
    }

    pub(crate) fn group_by_ref(
        &self,
        ctx: &RequestContext,
        r: GroupRef,
    ) -> Result<Arc<GroupHandle>, AwsError> {
        match r {
            GroupRef::Name(n) => self.find_group(ctx, &n).ok_or_else(group_not_found),
            GroupRef::Elsewhere => Err(group_not_found()),
        }
    }

    pub(crate) fn alloc_seq(&self, n: u64) -> u64 {
        self.next_seq.fetch_add(n, Ordering::SeqCst)
    }

    pub(crate) fn alloc_uid(&self) -> u64 {
        self.next_uid.fetch_add(1, Ordering::SeqCst)
    }
}

fn handle_from_record(key: String, rec: GroupRecord) -> GroupHandle {
    GroupHandle {
        key,
        account: rec.account,
        region: rec.region,
        name: rec.name,
        state: Mutex::new(GroupState {
            created: rec.created,
            retention: rec.retention,
            kms_key_id: rec.kms_key_id,
            class: rec.class,
            deletion_protection: rec.deletion_protection,
            tags: rec.tags,
            streams: BTreeMap::new(),
            metric_filters: rec
                .metric_filters
                .into_iter()
                .map(|f| (f.name.clone(), f))
                .collect(),
            subscription_filters: rec
                .subscription_filters
                .into_iter()
                .map(|f| (f.name.clone(), f))
                .collect(),
            stored_bytes: 0,
            deleted: false,
        }),
    }
}

impl Service for LogsService {
    fn model(&self) -> &ServiceModel {
        &self.model
    }

    fn validation_error_code(&self) -> Option<&'static str> {
        Some("InvalidParameterException")
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
    }
}

/// The trait methods delegate to the per-concern modules (`groups`,
/// `streams`, `events`, `filters`, `tags`).
impl LogsApi for LogsService {
    async fn create_log_group(
        &self,
        ctx: &RequestContext,
        input: CreateLogGroupRequest,
    ) -> Result<(), AwsError> {
        self.op_create_log_group(ctx, input).await
    }

    async fn delete_log_group(
        &self,
        ctx: &RequestContext,
        input: DeleteLogGroupRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_log_group(ctx, input).await
    }

    async fn describe_log_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeLogGroupsRequest,
    ) -> Result<DescribeLogGroupsResponse, AwsError> {
        self.op_describe_log_groups(ctx, input)
    }

    async fn list_log_groups(
        &self,
        ctx: &RequestContext,
        input: ListLogGroupsRequest,
    ) -> Result<ListLogGroupsResponse, AwsError> {
        self.op_list_log_groups(ctx, input)
    }

    async fn put_retention_policy(
        &self,
        ctx: &RequestContext,
        input: PutRetentionPolicyRequest,
    ) -> Result<(), AwsError> {
        self.op_put_retention_policy(ctx, input).await
    }

    async fn delete_retention_policy(
        &self,
        ctx: &RequestContext,
        input: DeleteRetentionPolicyRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_retention_policy(ctx, input).await
    }

    async fn put_log_group_deletion_protection(
        &self,
        ctx: &RequestContext,
        input: PutLogGroupDeletionProtectionRequest,
    ) -> Result<(), AwsError> {
        self.op_put_log_group_deletion_protection(ctx, input).await
    }

    async fn create_log_stream(
        &self,
        ctx: &RequestContext,
        input: CreateLogStreamRequest,
    ) -> Result<(), AwsError> {
        self.op_create_log_stream(ctx, input).await
    }

    async fn delete_log_stream(
        &self,
        ctx: &RequestContext,
        input: DeleteLogStreamRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_log_stream(ctx, input).await
    }

    async fn describe_log_streams(
        &self,
        ctx: &RequestContext,
        input: DescribeLogStreamsRequest,
    ) -> Result<DescribeLogStreamsResponse, AwsError> {
        self.op_describe_log_streams(ctx, input)
    }

    async fn put_log_events(
        &self,
        ctx: &RequestContext,
        input: PutLogEventsRequest,
    ) -> Result<PutLogEventsResponse, AwsError> {
        self.op_put_log_events(ctx, input).await
    }

    async fn get_log_events(
        &self,
        ctx: &RequestContext,
        input: GetLogEventsRequest,
    ) -> Result<GetLogEventsResponse, AwsError> {
        self.op_get_log_events(ctx, input)
    }

    async fn filter_log_events(
        &self,
        ctx: &RequestContext,
        input: FilterLogEventsRequest,
    ) -> Result<FilterLogEventsResponse, AwsError> {
        self.op_filter_log_events(ctx, input)
    }

    async fn put_metric_filter(
        &self,
        ctx: &RequestContext,
        input: PutMetricFilterRequest,
    ) -> Result<(), AwsError> {
        self.op_put_metric_filter(ctx, input).await
    }

    async fn describe_metric_filters(
        &self,
        ctx: &RequestContext,
        input: DescribeMetricFiltersRequest,
    ) -> Result<DescribeMetricFiltersResponse, AwsError> {
        self.op_describe_metric_filters(ctx, input)
    }

    async fn delete_metric_filter(
        &self,
        ctx: &RequestContext,
        input: DeleteMetricFilterRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_metric_filter(ctx, input).await
    }

    async fn test_metric_filter(
        &self,
        _ctx: &RequestContext,
        input: TestMetricFilterRequest,
    ) -> Result<TestMetricFilterResponse, AwsError> {
        crate::filters::test_metric_filter(input)
    }

    async fn put_subscription_filter(
        &self,
        ctx: &RequestContext,
        input: PutSubscriptionFilterRequest,
    ) -> Result<(), AwsError> {
        self.op_put_subscription_filter(ctx, input).await
    }

    async fn describe_subscription_filters(
        &self,
        ctx: &RequestContext,
        input: DescribeSubscriptionFiltersRequest,
    ) -> Result<DescribeSubscriptionFiltersResponse, AwsError> {
        self.op_describe_subscription_filters(ctx, input)
    }

    async fn delete_subscription_filter(
        &self,
        ctx: &RequestContext,
        input: DeleteSubscriptionFilterRequest,
    ) -> Result<(), AwsError> {
        self.op_delete_subscription_filter(ctx, input).await
    }

    async fn tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<(), AwsError> {
        self.op_tag_resource(ctx, input).await
    }

    async fn untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<(), AwsError> {
        self.op_untag_resource(ctx, input).await
    }

    async fn list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        self.op_list_tags_for_resource(ctx, input)
    }

    async fn tag_log_group(
        &self,
        ctx: &RequestContext,
        input: TagLogGroupRequest,
    ) -> Result<(), AwsError> {
        self.op_tag_log_group(ctx, input).await
    }

    async fn untag_log_group(
        &self,
        ctx: &RequestContext,
        input: UntagLogGroupRequest,
    ) -> Result<(), AwsError> {
        self.op_untag_log_group(ctx, input).await
    }

    async fn list_tags_log_group(
        &self,
        ctx: &RequestContext,
        input: ListTagsLogGroupRequest,
    ) -> Result<ListTagsLogGroupResponse, AwsError> {
        self.op_list_tags_log_group(ctx, input)
    }
}
