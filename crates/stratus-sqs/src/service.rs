//! `SqsService`: the queues of every account and region, and the operations on them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use base64::Engine;
use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use stratus_core::{AwsError, BoxFuture, RequestContext, Service};
use stratus_model::ServiceModel;
use stratus_store::{Store, StoreError, Write};
use tokio::sync::Notify;

use crate::attributes::{
    QueueConfig, READABLE, RedrivePolicy, apply_attributes, validate_queue_name,
};
use crate::errors::*;
use crate::generated::{self, *};
use crate::md5::{md5_bytes, md5_of_attributes};
use crate::message::*;
use crate::move_task::MoveTask;
use crate::persist::{self, QueueRecord, T_DEDUP, T_MESSAGES, T_QUEUES};
use crate::queue::{
    Attempt, Change, DEDUP_WINDOW_MS, DedupEntry, FIFO_INFLIGHT_LIMIT, QueueState,
    STANDARD_INFLIGHT_LIMIT, VisibilityError,
};
use crate::urls::{parse_queue_arn, parse_queue_url, queue_arn};
use stratus_core::clock::{Clock, SystemClock};

const MODEL_JSON: &str = include_str!("../../../models/sqs/service-2.json");
const QUERY_MODEL_JSON: &str = include_str!("../../../models/sqs-query/service-2.json");
/// Total payload limit of a batch request.
const BATCH_LIMIT: usize = 1_048_576;

/// One queue: immutable identity plus its state behind a short mutex.
pub(crate) struct QueueHandle {
    pub key: String,
    pub account: String,
    pub region: String,
    pub name: String,
    pub arn: String,
    pub uid: u64,
    pub fifo: bool,
    pub prefix: Vec<u8>,
    pub state: Mutex<QueueState>,
    pub notify: Notify,
    pub waiters: AtomicUsize,
}

impl QueueHandle {
    fn wake(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        }
    }

    pub(crate) fn record_write(&self, st: &QueueState) -> Write {
        let rec = QueueRecord {
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            uid: self.uid,
            cfg: st.cfg.clone(),
            tags: st.tags.clone(),
            created: st.created,
            last_modified: st.last_modified,
            last_purge: st.last_purge,
        };
        Write::Put {
            table: T_QUEUES,
            key: self.key.as_bytes().to_vec(),
            value: persist::encode(&rec),
        }
    }

    /// Turn the state's recorded changes into store writes.
    pub(crate) fn drain_writes(&self, st: &mut QueueState, out: &mut Vec<Write>) {
        if st.changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut st.changes);
        for c in changes {
            match c {
                Change::Put(id) => {
                    if let Some(m) = st.msgs.get(&id) {
                        out.push(Write::Put {
                            table: T_MESSAGES,
                            key: persist::message_key(&self.prefix, id),
                            value: persist::encode(&persist::msg_to_record(m)),
                        });
                    }
                }
                Change::Del(id) => out.push(Write::Delete {
                    table: T_MESSAGES,
                    key: persist::message_key(&self.prefix, id),
                }),
                Change::Purge => out.push(Write::DeletePrefix {
                    table: T_MESSAGES,
                    prefix: self.prefix.clone(),
                }),
            }
        }
    }
}

/// Amazon SQS.
pub struct SqsService {
    model: ServiceModel,
    query_model: ServiceModel,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) queues: RwLock<HashMap<String, Arc<QueueHandle>>>,
    pub(crate) tasks: Mutex<Vec<Arc<MoveTask>>>,
    pub(crate) me: Weak<SqsService>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

fn model_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("SQS model: {e}"))
}

/// What SendMessage needs to know about the queue, copied out of the lock.
struct SendCfg {
    fifo: bool,
    max_size: usize,
    delay: u32,
    cbd: bool,
    scope_group: bool,
}

/// A validated message ready to insert.
struct Prepared {
    msg: Msg,
    dedup_key: Option<Box<str>>,
    md5_body: String,
    md5_attrs: Option<String>,
    md5_sys: Option<String>,
}

struct SendOutcome {
    message_id: String,
    seq: Option<String>,
}

impl SqsService {
    /// Loads persisted state from `store` and starts background tasks (needs a running tokio runtime).
    pub fn new(store: Arc<dyn Store>) -> Result<Arc<Self>, StoreError> {
        Self::with_clock(store, Arc::new(SystemClock))
    }

    /// Like [`SqsService::new`] with an explicit clock (tests, tooling).
    pub fn with_clock(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<Self>, StoreError> {
        let model = ServiceModel::from_json(MODEL_JSON).map_err(model_error)?;
        let query_model = ServiceModel::from_json(QUERY_MODEL_JSON).map_err(model_error)?;
        let durable = store.is_durable();
        let svc = Arc::new_cyclic(|me| SqsService {
            model,
            query_model,
            store,
            durable,
            clock,
            queues: RwLock::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            me: me.clone(),
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
                    tracing::warn!(error = %e, "sqs: start-up cleanup failed");
                }
                sweeper(weak).await
            });
            svc.background.lock().push(h);
        } else {
            tracing::warn!("sqs: no tokio runtime; retention sweeper not started");
        }
        Ok(svc)
    }

    /// Rebuild state from the store; returns cleanup writes.
    fn load(&self) -> Result<Vec<Write>, StoreError> {
        let now = self.clock.now_millis();
        let mut cleanup = Vec::new();
        let mut by_prefix: HashMap<Vec<u8>, Arc<QueueHandle>> = HashMap::new();
        {
            let mut queues = self.queues.write();
            for (_, v) in self.store.scan(T_QUEUES)? {
                let Some(rec) = persist::decode::<QueueRecord>(&v) else {
                    tracing::warn!("sqs: skipping unreadable queue record");
                    continue;
                };
                let h = self.make_handle(&rec.account, &rec.region, &rec.name, rec.uid, {
                    let mut st = QueueState::new(rec.cfg.clone(), now, false);
                    st.tags = rec.tags.clone();
                    st.created = rec.created;
                    st.last_modified = rec.last_modified;
                    st.last_purge = rec.last_purge;
                    st
                });
                by_prefix.insert(h.prefix.clone(), h.clone());
                queues.insert(h.key.clone(), h);
            }
        }
        let split = |k: &[u8]| -> Option<usize> {
            k.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'/')
                .nth(2)
                .map(|(i, _)| i + 1)
        };
        for (k, v) in self.store.scan(T_MESSAGES)? {
            let Some(cut) = split(&k) else { continue };
            let (prefix, idb) = k.split_at(cut);
            let (Some(h), Ok(idb)) = (by_prefix.get(prefix), <[u8; 8]>::try_from(idb)) else {
                cleanup.push(Write::Delete {
                    table: T_MESSAGES,
                    key: k.clone(),
                });
                continue;
            };
            let id = u64::from_be_bytes(idb);
            let Some(m) = persist::decode(&v).and_then(|r| persist::record_to_msg(r, now)) else {
                tracing::warn!("sqs: skipping unreadable message record");
                continue;
            };
            let mut st = h.state.lock();
            let seq = m.extra.as_ref().map(|e| e.seq).unwrap_or(0);
            st.last_seq = st.last_seq.max(seq);
            st.insert_with_id(id, m);
        }
        for (k, v) in self.store.scan(T_DEDUP)? {
            let Some(cut) = split(&k) else { continue };
            let (prefix, key) = k.split_at(cut);
            let rec = persist::decode::<persist::DedupRecord>(&v);
            match (by_prefix.get(prefix), rec) {
                (Some(h), Some(r)) if r.exp > now => {
                    let Some(mid) = parse_message_id(&r.mid) else {
                        continue;
                    };
                    let key: Box<str> = String::from_utf8_lossy(key).into();
                    let mut st = h.state.lock();
                    st.last_seq = st.last_seq.max(r.seq);
                    st.dedup_insert(
                        key,
                        DedupEntry {
                            expires_at: r.exp,
                            message_id: mid,
                            seq: r.seq,
                        },
                    );
                }
                _ => cleanup.push(Write::Delete {
                    table: T_DEDUP,
                    key: k.clone(),
                }),
            }
        }
        for h in by_prefix.values() {
            h.state.lock().track = true;
        }
        cleanup.extend(crate::move_task::load_tasks(self)?);
        Ok(cleanup)
    }

    fn make_handle(
        &self,
        account: &str,
        region: &str,
        name: &str,
        uid: u64,
        st: QueueState,
    ) -> Arc<QueueHandle> {
        let key = persist::queue_key(account, region, name);
        Arc::new(QueueHandle {
            prefix: persist::message_prefix(&key),
            key,
            account: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
            arn: queue_arn(region, account, name),
            uid,
            fifo: st.cfg.fifo,
            state: Mutex::new(st),
            notify: Notify::new(),
            waiters: AtomicUsize::new(0),
        })
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    pub(crate) async fn persist(&self, writes: Vec<Write>) -> Result<(), AwsError> {
        self.enqueue(writes).committed().await
    }

    /// Hands `writes` to the store at once. Call it while still holding the
    /// queue's lock: the store commits batches in the order they were handed
    /// over, so two requests on the same messages (a receive and a delete, say)
    /// reach the disk in the order they changed the state, and a restart never
    /// brings back a message whose deletion was acknowledged.
    pub(crate) fn enqueue(&self, writes: Vec<Write>) -> Pending<'_> {
        Pending((!writes.is_empty() && self.durable).then(|| self.store.apply(writes)))
    }

    fn queue(&self, ctx: &RequestContext, url: &str) -> Result<Arc<QueueHandle>, AwsError> {
        let (account, name) = parse_queue_url(url).ok_or_else(queue_does_not_exist)?;
        let account = account.unwrap_or(&ctx.account_id);
        let key = persist::queue_key(account, &ctx.region, name);
        self.queues
            .read()
            .get(&key)
            .cloned()
            .ok_or_else(queue_does_not_exist)
    }

    pub(crate) fn queue_by_arn(&self, arn: &str) -> Option<Arc<QueueHandle>> {
        let (region, account, name) = parse_queue_arn(arn)?;
        self.queues
            .read()
            .get(&persist::queue_key(account, region, name))
            .cloned()
    }

    fn url(ctx: &RequestContext, h: &QueueHandle) -> String {
        format!(
            "{}/{}/{}",
            ctx.endpoint.trim_end_matches('/'),
            h.account,
            h.name
        )
    }

    /// Cross-queue checks of a redrive policy.
    fn check_redrive(
        &self,
        source_arn: &str,
        fifo: bool,
        p: &RedrivePolicy,
    ) -> Result<(), AwsError> {
        let json = p.to_json();
        let dlq = self
            .queue_by_arn(&p.dead_letter_target_arn)
            .ok_or_else(|| {
                invalid_value("RedrivePolicy", &json, "Dead letter target does not exist.")
            })?;
        if dlq.fifo != fifo {
            return Err(invalid_value(
                "RedrivePolicy",
                &json,
                "Dead-letter queue must be same type of queue as the source.",
            ));
        }
        if dlq.arn != source_arn {
            let st = dlq.state.lock();
            if let Some(allow) = &st.cfg.redrive_allow
                && !allow.allows(source_arn)
            {
                return Err(invalid_value(
                    "RedrivePolicy",
                    &json,
                    "Dead-letter target owner does not allow this source queue to redrive messages to it.",
                ));
            }
        }
        Ok(())
    }

    // ----- sending -----

    fn send_cfg(h: &QueueHandle) -> SendCfg {
        let st = h.state.lock();
        SendCfg {
            fifo: st.cfg.fifo,
            max_size: st.cfg.max_message_size as usize,
            delay: st.cfg.delay_seconds,
            cbd: st.cfg.content_based_dedup,
            scope_group: st.cfg.dedup_scope == "messageGroup",
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare(
        ctx: &RequestContext,
        h: &QueueHandle,
        cfg: &SendCfg,
        body: String,
        delay: Option<i32>,
        attrs: Option<&BTreeMap<String, MessageAttributeValue>>,
        sys: Option<&BTreeMap<String, MessageSystemAttributeValue>>,
        dedup_id: Option<String>,
        group_id: Option<String>,
    ) -> Result<(Prepared, i64), AwsError> {
        validate_body(&body)?;
        let (attrs, attr_size) = match attrs {
            Some(a) if !a.is_empty() => validate_message_attributes(a)?,
            _ => (Vec::new(), 0),
        };
        let trace = match sys {
            Some(s) if !s.is_empty() => validate_system_attributes(s)?,
            _ => None,
        };
        if body.len() + attr_size > cfg.max_size {
            return Err(invalid_parameter(format!(
                "One or more parameters are invalid. Reason: Message must be shorter than {} bytes.",
                cfg.max_size
            )));
        }
        let delay_secs = match delay {
            Some(d) if !(0..=900).contains(&d) => {
                return Err(invalid_value(
                    "DelaySeconds",
                    d,
                    "DelaySeconds must be >= 0 and <= 900.",
                ));
            }
            Some(d) if cfg.fifo && d != 0 => {
                return Err(invalid_value(
                    "DelaySeconds",
                    d,
                    "The request include parameter that is not valid for this queue type.",
                ));
            }
            Some(d) if !cfg.fifo => d as u32,
            _ => cfg.delay,
        };
        if let Some(g) = &group_id {
            validate_token("MessageGroupId", g)?;
        }
        if let Some(d) = &dedup_id {
            validate_token("MessageDeduplicationId", d)?;
        }
        let mut dedup_key = None;
        if cfg.fifo {
            let Some(g) = &group_id else {
                return Err(missing_parameter("MessageGroupId"));
            };
            let dedup = match &dedup_id {
                Some(d) => d.clone(),
                None if cfg.cbd => {
                    use sha2::Digest;
                    hex::encode(sha2::Sha256::digest(body.as_bytes()))
                }
                None => {
                    return Err(invalid_parameter(
                        "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                    ));
                }
            };
            dedup_key = Some(if cfg.scope_group {
                format!("{g}\u{1}{dedup}").into_boxed_str()
            } else {
                dedup.into_boxed_str()
            });
        } else if let Some(d) = &dedup_id {
            return Err(invalid_value(
                "MessageDeduplicationId",
                d,
                "The request include parameter that is not valid for this queue type.",
            ));
        }
        let md5_body = md5_bytes(body.as_bytes());
        let md5_attrs =
            (!attrs.is_empty()).then(|| md5_of_attributes(attrs.iter().map(|(n, v)| (&**n, v))));
        let md5_sys = trace
            .as_ref()
            .map(|(n, v)| hex::encode(md5_of_attributes([(&**n, v)])));
        let sender = (ctx.account_id != h.account).then(|| ctx.account_id.as_str().into());
        let extra = if attrs.is_empty()
            && trace.is_none()
            && group_id.is_none()
            && sender.is_none()
            && !cfg.fifo
        {
            None
        } else {
            Some(Box::new(MsgExtra {
                attrs,
                md5_attrs,
                trace_header: trace.and_then(|(_, v)| match v.data {
                    AttrData::Str(s) => Some(s),
                    AttrData::Bin(_) => None,
                }),
                group_id: group_id.map(Into::into),
                dedup_id: if cfg.fifo {
                    dedup_key
                        .as_ref()
                        .map(|_| {
                            dedup_id.clone().unwrap_or_else(|| {
                                use sha2::Digest;
                                hex::encode(sha2::Sha256::digest(body.as_bytes()))
                            })
                        })
                        .map(Into::into)
                } else {
                    None
                },
                seq: 0,
                dlq_source_arn: None,
                sender_id: sender,
            }))
        };
        let msg = Msg {
            message_id: new_message_id(),
            body: body.into_boxed_str(),
            md5_body,
            extra,
            sent_at: 0,
            retention_base: 0,
            visible_at: 0,
            first_receive: 0,
            last_receive: 0,
            nonce: 0,
            receive_count: 0,
            generation: 0,
            state: MsgState::Visible,
        };
        Ok((
            Prepared {
                msg,
                dedup_key,
                md5_body: hex::encode(md5_body),
                md5_attrs: md5_attrs.map(hex::encode),
                md5_sys,
            },
            delay_secs as i64 * 1000,
        ))
    }

    /// Insert a prepared message (under the queue lock).
    fn commit(
        &self,
        h: &QueueHandle,
        st: &mut QueueState,
        p: Prepared,
        delay_ms: i64,
        now: i64,
        writes: &mut Vec<Write>,
    ) -> SendOutcome {
        let mut msg = p.msg;
        if st.cfg.fifo {
            if let Some(key) = &p.dedup_key
                && let Some(e) = st.dedup_lookup(key, now)
            {
                return SendOutcome {
                    message_id: format_message_id(&e.message_id),
                    seq: Some(format!("{:020}", e.seq)),
                };
            }
            let seq = st.next_seq(now);
            if let Some(e) = msg.extra.as_mut() {
                e.seq = seq;
            }
            if let Some(key) = p.dedup_key {
                let entry = DedupEntry {
                    expires_at: now + DEDUP_WINDOW_MS,
                    message_id: msg.message_id,
                    seq,
                };
                if st.track {
                    writes.push(Write::Put {
                        table: T_DEDUP,
                        key: persist::dedup_key(&h.prefix, &key),
                        value: persist::encode(&persist::DedupRecord {
                            exp: entry.expires_at,
                            mid: hex::encode(entry.message_id),
                            seq,
                        }),
                    });
                }
                st.dedup_insert(key, entry);
            }
        }
        msg.sent_at = now;
        msg.retention_base = now;
        msg.visible_at = now + delay_ms;
        msg.state = if delay_ms > 0 {
            MsgState::Delayed
        } else {
            MsgState::Visible
        };
        let message_id = format_message_id(&msg.message_id);
        let seq = msg
            .extra
            .as_ref()
            .filter(|e| e.seq != 0)
            .map(|e| format!("{:020}", e.seq));
        st.insert(msg);
        SendOutcome { message_id, seq }
    }

    /// Insert messages coming from another queue (dead-letter move or
    /// redrive), appending the destination's writes to `writes` (which holds
    /// the source's removals) and handing the whole batch to the store while
    /// the destination is still locked: the move commits atomically, and before
    /// anything a consumer of the destination does to the moved messages.
    pub(crate) fn insert_foreign(
        &self,
        dest: &QueueHandle,
        msgs: Vec<Msg>,
        source: Option<&QueueHandle>,
        now: i64,
        mut writes: Vec<Write>,
    ) -> Pending<'_> {
        let pending = {
            let mut st = dest.state.lock();
            if st.deleted {
                return self.enqueue(writes);
            }
            for mut m in msgs {
                m.generation = 0;
                m.nonce = 0;
                m.visible_at = now;
                m.state = MsgState::Visible;
                let extra = m.extra.get_or_insert_with(Default::default);
                match source {
                    Some(src) => {
                        extra.dlq_source_arn = Some(src.arn.as_str().into());
                        if src.fifo {
                            m.retention_base = now;
                        }
                    }
                    None => {
                        extra.dlq_source_arn = None;
                        m.receive_count = 0;
                        m.first_receive = 0;
                    }
                }
                if st.cfg.fifo {
                    let seq = st.next_seq(now);
                    if let Some(e) = m.extra.as_mut() {
                        e.seq = seq;
                    }
                }
                if m.extra.as_ref().is_some_and(|e| **e == MsgExtra::default()) {
                    m.extra = None;
                }
                st.insert(m);
            }
            dest.drain_writes(&mut st, &mut writes);
            self.enqueue(writes)
        };
        dest.wake();
        pending
    }

    fn render(
        h: &QueueHandle,
        id: u64,
        m: &Msg,
        want: &HashSet<&str>,
        all_sys: bool,
        filter: &AttrFilter,
    ) -> generated::Message {
        let mut out = generated::Message {
            message_id: Some(format_message_id(&m.message_id)),
            receipt_handle: Some(encode_receipt(h.uid, id, m.nonce)),
            md5_of_body: Some(hex::encode(m.md5_body)),
            body: Some(m.body.to_string()),
            ..Default::default()
        };
        let e = m.extra.as_deref();
        let wants = |n: &str| all_sys || want.contains(n);
        let mut a = BTreeMap::new();
        if wants("SenderId") {
            let s = e.and_then(|e| e.sender_id.as_deref()).unwrap_or(&h.account);
            a.insert("SenderId".to_string(), s.to_string());
        }
        if wants("SentTimestamp") {
            a.insert("SentTimestamp".to_string(), m.sent_at.to_string());
        }
        if wants("ApproximateReceiveCount") {
            a.insert(
                "ApproximateReceiveCount".to_string(),
                m.receive_count.to_string(),
            );
        }
        if wants("ApproximateFirstReceiveTimestamp") {
            a.insert(
                "ApproximateFirstReceiveTimestamp".to_string(),
                m.first_receive.to_string(),
            );
        }
        if let Some(e) = e {
            if let Some(g) = &e.group_id
                && wants("MessageGroupId")
            {
                a.insert("MessageGroupId".to_string(), g.to_string());
            }
            if let Some(d) = &e.dedup_id
                && wants("MessageDeduplicationId")
            {
                a.insert("MessageDeduplicationId".to_string(), d.to_string());
            }
            if e.seq != 0 && wants("SequenceNumber") {
                a.insert("SequenceNumber".to_string(), format!("{:020}", e.seq));
            }
            if let Some(t) = &e.trace_header
                && wants("AWSTraceHeader")
            {
                a.insert("AWSTraceHeader".to_string(), t.to_string());
            }
            if let Some(s) = &e.dlq_source_arn
                && wants("DeadLetterQueueSourceArn")
            {
                a.insert("DeadLetterQueueSourceArn".to_string(), s.to_string());
            }
            if !e.attrs.is_empty() && !filter.is_none() {
                let picked: Vec<&(Box<str>, AttrValue)> =
                    e.attrs.iter().filter(|(n, _)| filter.matches(n)).collect();
                if !picked.is_empty() {
                    let md5 = if picked.len() == e.attrs.len() {
                        e.md5_attrs.unwrap_or_else(|| {
                            md5_of_attributes(picked.iter().map(|(n, v)| (&**n, v)))
                        })
                    } else {
                        md5_of_attributes(picked.iter().map(|(n, v)| (&**n, v)))
                    };
                    out.md5_of_message_attributes = Some(hex::encode(md5));
                    out.message_attributes = Some(
                        picked
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_api()))
                            .collect(),
                    );
                }
            }
        }
        if !a.is_empty() {
            out.attributes = Some(a);
        }
        out
    }

    fn check_batch<'a>(
        ids: impl Iterator<Item = &'a str>,
        n: usize,
        entry: &str,
    ) -> Result<(), AwsError> {
        if n == 0 {
            return Err(AwsError::new(
                "EmptyBatchRequest",
                format!("There should be at least one {entry} in the request."),
            ));
        }
        if n > 10 {
            return Err(AwsError::new(
                "TooManyEntriesInBatchRequest",
                format!("Maximum number of entries per request are 10. You have sent {n}."),
            ));
        }
        let mut seen = HashSet::new();
        for id in ids {
            let ok = !id.is_empty()
                && id.len() <= 80
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(AwsError::new(
                    "InvalidBatchEntryId",
                    "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.",
                ));
            }
            if !seen.insert(id) {
                return Err(AwsError::new(
                    "BatchEntryIdsNotDistinct",
                    format!("Id {id} repeated."),
                ));
            }
        }
        Ok(())
    }

    fn failed(id: &str, e: AwsError) -> BatchResultErrorEntry {
        BatchResultErrorEntry {
            id: id.to_string(),
            sender_fault: e.sender_fault,
            code: e.code,
            message: Some(e.message),
        }
    }

    /// Where a receive sends messages that exceeded maxReceiveCount.
    fn redrive_target(&self, h: &QueueHandle) -> Option<(Arc<QueueHandle>, u32)> {
        let policy = h.state.lock().cfg.redrive.clone()?;
        let dlq = self.queue_by_arn(&policy.dead_letter_target_arn)?;
        if dlq.uid == h.uid || dlq.fifo != h.fifo {
            return None;
        }
        let allowed = dlq
            .state
            .lock()
            .cfg
            .redrive_allow
            .as_ref()
            .is_none_or(|a| a.allows(&h.arn));
        allowed.then_some((dlq, policy.max_receive_count))
    }

    fn shared_receive_check(h: &QueueHandle, st: &QueueState) -> Result<(), AwsError> {
        let limit = if h.fifo {
            FIFO_INFLIGHT_LIMIT
        } else {
            STANDARD_INFLIGHT_LIMIT
        };
        if st.count_inflight() >= limit {
            return Err(AwsError::new(
                "OverLimit",
                format!(
                    "Maximum number of inflight messages reached for queue {}: {limit}.",
                    h.name
                ),
            ));
        }
        Ok(())
    }
}

/// Which message attributes a receive asked for.
pub(crate) struct AttrFilter {
    all: bool,
    names: Vec<String>,
    prefixes: Vec<String>,
}

impl AttrFilter {
    fn new(names: Option<&Vec<String>>) -> Self {
        let mut f = AttrFilter {
            all: false,
            names: Vec::new(),
            prefixes: Vec::new(),
        };
        for n in names.into_iter().flatten() {
            if n == "All" || n == ".*" {
                f.all = true;
            } else if let Some(p) = n.strip_suffix(".*") {
                f.prefixes.push(format!("{p}."));
            } else {
                f.names.push(n.clone());
            }
        }
        f
    }
    fn is_none(&self) -> bool {
        !self.all && self.names.is_empty() && self.prefixes.is_empty()
    }
    fn matches(&self, n: &str) -> bool {
        self.all
            || self.names.iter().any(|x| x == n)
            || self.prefixes.iter().any(|p| n.starts_with(p.as_str()))
    }
}

pub(crate) fn encode_receipt(uid: u64, id: u64, nonce: u64) -> String {
    let mut b = [0u8; 25];
    b[0] = 1;
    b[1..9].copy_from_slice(&uid.to_be_bytes());
    b[9..17].copy_from_slice(&id.to_be_bytes());
    b[17..25].copy_from_slice(&nonce.to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub(crate) fn decode_receipt(s: &str) -> Option<(u64, u64, u64)> {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim())
        .ok()?;
    if b.len() != 25 || b[0] != 1 {
        return None;
    }
    let u = |r: std::ops::Range<usize>| {
        b.get(r)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map(u64::from_be_bytes)
    };
    Some((u(1..9)?, u(9..17)?, u(17..25)?))
}

fn handle_for(h: &QueueHandle, receipt: &str) -> Result<(u64, u64), AwsError> {
    match decode_receipt(receipt) {
        Some((uid, id, nonce)) if uid == h.uid => Ok((id, nonce)),
        _ => Err(receipt_handle_invalid(receipt)),
    }
}

const SYSTEM_ATTRIBUTE_NAMES: &[&str] = &[
    "All",
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageDeduplicationId",
    "MessageGroupId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
];

const PERMISSION_ACTIONS: &[&str] = &[
    "*",
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
    "ListQueueTags",
    "SendMessageBatch",
    "DeleteMessageBatch",
    "ChangeMessageVisibilityBatch",
    "StartMessageMoveTask",
    "ListMessageMoveTasks",
    "CancelMessageMoveTask",
];

fn paginate(
    items: Vec<String>,
    next: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<String>, Option<String>), AwsError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    if let Some(m) = max
        && !(1..=1000).contains(&m)
    {
        return Err(invalid_value(
            "MaxResults",
            m,
            "MaxResults must be an integer between 1 and 1000.",
        ));
    }
    let start = match next {
        Some(t) if !t.is_empty() => {
            let after = b64
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| invalid_parameter("Invalid NextToken value."))?;
            items.partition_point(|x| x.as_str() <= after.as_str())
        }
        _ => 0,
    };
    let limit = max.unwrap_or(1000) as usize;
    let rest = &items[start.min(items.len())..];
    let page: Vec<String> = rest.iter().take(limit).cloned().collect();
    let token = (max.is_some() && rest.len() > limit)
        .then(|| page.last().map(|l| b64.encode(l)))
        .flatten();
    Ok((page, token))
}

async fn sweeper(weak: Weak<SqsService>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(svc) = weak.upgrade() else { return };
        let handles: Vec<Arc<QueueHandle>> = svc.queues.read().values().cloned().collect();
        let now = svc.now();
        let mut pending = Vec::new();
        for h in handles {
            let mut writes = Vec::new();
            let mut st = h.state.lock();
            let before = st.count_visible();
            let expired = st.sweep(now);
            if st.track {
                h.drain_writes(&mut st, &mut writes);
                for k in expired {
                    writes.push(Write::Delete {
                        table: T_DEDUP,
                        key: persist::dedup_key(&h.prefix, &k),
                    });
                }
            }
            pending.push(svc.enqueue(writes));
            let woke = st.count_visible() > before;
            drop(st);
            if woke {
                h.wake();
            }
        }
        for p in pending {
            if let Err(e) = p.committed().await {
                tracing::warn!(error = %e, "sqs: sweeper write failed");
            }
        }
    }
}

impl Service for SqsService {
    fn model(&self) -> &ServiceModel {
        &self.model
    }

    fn query_model(&self) -> Option<&ServiceModel> {
        Some(&self.query_model)
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
        for t in self.tasks.lock().iter() {
            t.abort();
        }
    }
}

impl SqsApi for SqsService {
    async fn create_queue(
        &self,
        ctx: &RequestContext,
        input: CreateQueueRequest,
    ) -> Result<CreateQueueResult, AwsError> {
        let name = input.queue_name;
        let attrs = input.attributes.unwrap_or_default();
        let fifo = attrs
            .get("FifoQueue")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        validate_queue_name(&name, fifo)?;
        let mut cfg = QueueConfig::new(fifo);
        apply_attributes(&mut cfg, &attrs, true)?;
        let arn = queue_arn(&ctx.region, &ctx.account_id, &name);
        if let Some(p) = &cfg.redrive {
            self.check_redrive(&arn, fifo, p)?;
        }
        let tags = input.tags.unwrap_or_default();
        validate_tags(&tags, &name, 0)?;
        let key = persist::queue_key(&ctx.account_id, &ctx.region, &name);
        let now = self.now();
        let h = {
            let mut queues = self.queues.write();
            if let Some(existing) = queues.get(&key) {
                let st = existing.state.lock();
                for n in attrs.keys() {
                    if st.cfg.get(n) != cfg.get(n) {
                        return Err(AwsError::new(
                            "QueueNameExists",
                            format!(
                                "A queue already exists with the same name and a different value for attribute {n}"
                            ),
                        ));
                    }
                }
                return Ok(CreateQueueResult {
                    queue_url: Some(Self::url(ctx, existing)),
                });
            }
            let mut st = QueueState::new(cfg, now, self.durable);
            st.tags = tags;
            let h = self.make_handle(
                &ctx.account_id,
                &ctx.region,
                &name,
                rand::random::<u64>(),
                st,
            );
            queues.insert(key, h.clone());
            h
        };
        let w = h.record_write(&h.state.lock());
        self.persist(vec![w]).await?;
        tracing::debug!(queue = %h.arn, "sqs: created queue");
        Ok(CreateQueueResult {
            queue_url: Some(Self::url(ctx, &h)),
        })
    }

    async fn get_queue_url(
        &self,
        ctx: &RequestContext,
        input: GetQueueUrlRequest,
    ) -> Result<GetQueueUrlResult, AwsError> {
        let account = input
            .queue_owner_aws_account_id
            .as_deref()
            .unwrap_or(&ctx.account_id);
        let key = persist::queue_key(account, &ctx.region, &input.queue_name);
        let h = self
            .queues
            .read()
            .get(&key)
            .cloned()
            .ok_or_else(queue_does_not_exist)?;
        Ok(GetQueueUrlResult {
            queue_url: Some(Self::url(ctx, &h)),
        })
    }

    async fn list_queues(
        &self,
        ctx: &RequestContext,
        input: ListQueuesRequest,
    ) -> Result<ListQueuesResult, AwsError> {
        let prefix = input.queue_name_prefix.unwrap_or_default();
        let mut names: Vec<String> = self
            .queues
            .read()
            .values()
            .filter(|h| {
                h.account == ctx.account_id && h.region == ctx.region && h.name.starts_with(&prefix)
            })
            .map(|h| h.name.clone())
            .collect();
        names.sort();
        let (page, token) = paginate(names, input.next_token.as_deref(), input.max_results)?;
        let base = ctx.endpoint.trim_end_matches('/');
        let urls: Vec<String> = page
            .into_iter()
            .map(|n| format!("{base}/{}/{n}", ctx.account_id))
            .collect();
        Ok(ListQueuesResult {
            queue_urls: (!urls.is_empty()).then_some(urls),
            next_token: token,
        })
    }

    async fn delete_queue(
        &self,
        ctx: &RequestContext,
        input: DeleteQueueRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        self.queues.write().remove(&h.key);
        {
            let mut st = h.state.lock();
            st.deleted = true;
            st.track = false;
            st.purge();
            st.changes.clear();
        }
        h.notify.notify_waiters();
        self.persist(vec![
            Write::Delete {
                table: T_QUEUES,
                key: h.key.as_bytes().to_vec(),
            },
            Write::DeletePrefix {
                table: T_MESSAGES,
                prefix: h.prefix.clone(),
            },
            Write::DeletePrefix {
                table: T_DEDUP,
                prefix: h.prefix.clone(),
            },
        ])
        .await
    }

    async fn get_queue_attributes(
        &self,
        ctx: &RequestContext,
        input: GetQueueAttributesRequest,
    ) -> Result<GetQueueAttributesResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let names = input.attribute_names.unwrap_or_default();
        let mut wanted: Vec<&str> = Vec::new();
        for n in &names {
            if n == "All" {
                wanted = READABLE.to_vec();
                break;
            }
            match READABLE.iter().find(|r| **r == n.as_str()) {
                Some(r) => wanted.push(r),
                None => return Err(unknown_attribute(n)),
            }
        }
        let now = self.now();
        let mut out = BTreeMap::new();
        let mut writes = Vec::new();
        {
            let mut st = h.state.lock();
            st.promote(now);
            for n in wanted {
                let v = match n {
                    "ApproximateNumberOfMessages" => Some(st.count_visible().to_string()),
                    "ApproximateNumberOfMessagesNotVisible" => {
                        Some(st.count_inflight().to_string())
                    }
                    "ApproximateNumberOfMessagesDelayed" => Some(st.count_delayed().to_string()),
                    "CreatedTimestamp" => Some(st.created.to_string()),
                    "LastModifiedTimestamp" => Some(st.last_modified.to_string()),
                    "QueueArn" => Some(h.arn.clone()),
                    other => st.cfg.get(other),
                };
                if let Some(v) = v {
                    out.insert(n.to_string(), v);
                }
            }
            h.drain_writes(&mut st, &mut writes);
            self.enqueue(writes)
        }
        .committed()
        .await?;
        Ok(GetQueueAttributesResult {
            attributes: (!out.is_empty()).then_some(out),
        })
    }

    async fn set_queue_attributes(
        &self,
        ctx: &RequestContext,
        input: SetQueueAttributesRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let mut cfg = h.state.lock().cfg.clone();
        apply_attributes(&mut cfg, &input.attributes, false)?;
        if input.attributes.contains_key("RedrivePolicy")
            && let Some(p) = &cfg.redrive
        {
            self.check_redrive(&h.arn, h.fifo, p)?;
        }
        let w = {
            let mut st = h.state.lock();
            // Re-apply onto the current config so concurrent changes are not lost.
            let mut cur = st.cfg.clone();
            apply_attributes(&mut cur, &input.attributes, false)?;
            st.cfg = cur;
            st.last_modified = self.now() / 1000;
            h.record_write(&st)
        };
        self.persist(vec![w]).await
    }

    async fn purge_queue(
        &self,
        ctx: &RequestContext,
        input: PurgeQueueRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let now = self.now();
        let mut writes = Vec::new();
        {
            let mut st = h.state.lock();
            if let Some(t) = st.last_purge
                && now - t < 60_000
            {
                return Err(AwsError::new(
                    "PurgeQueueInProgress",
                    format!(
                        "Only one PurgeQueue operation on {} is allowed every 60 seconds.",
                        h.name
                    ),
                ));
            }
            st.purge();
            st.last_purge = Some(now);
            h.drain_writes(&mut st, &mut writes);
            writes.push(h.record_write(&st));
            self.enqueue(writes)
        }
        .committed()
        .await
    }

    async fn tag_queue(
        &self,
        ctx: &RequestContext,
        input: TagQueueRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let w = {
            let mut st = h.state.lock();
            let new_keys = input
                .tags
                .keys()
                .filter(|k| !st.tags.contains_key(*k))
                .count();
            validate_tags(
                &input.tags,
                &h.name,
                st.tags.len() + new_keys - input.tags.len(),
            )?;
            st.tags.extend(input.tags);
            h.record_write(&st)
        };
        self.persist(vec![w]).await
    }

    async fn untag_queue(
        &self,
        ctx: &RequestContext,
        input: UntagQueueRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let w = {
            let mut st = h.state.lock();
            for k in &input.tag_keys {
                st.tags.remove(k);
            }
            h.record_write(&st)
        };
        self.persist(vec![w]).await
    }

    async fn list_queue_tags(
        &self,
        ctx: &RequestContext,
        input: ListQueueTagsRequest,
    ) -> Result<ListQueueTagsResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let tags = h.state.lock().tags.clone();
        Ok(ListQueueTagsResult {
            tags: (!tags.is_empty()).then_some(tags),
        })
    }

    async fn add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let label = input.label;
        if label.is_empty()
            || label.len() > 80
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(invalid_value(
                "Label",
                &label,
                "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
            ));
        }
        if input.aws_account_ids.is_empty() {
            return Err(missing_parameter("AWSAccountIds"));
        }
        if input.actions.is_empty() {
            return Err(missing_parameter("Actions"));
        }
        for a in &input.actions {
            if !PERMISSION_ACTIONS.contains(&a.as_str()) {
                return Err(invalid_value(
                    "ActionName",
                    format!("SQS:{a}"),
                    "Please refer to the appropriate WSDL for a list of valid actions.",
                ));
            }
        }
        let principals: Vec<Value> = input
            .aws_account_ids
            .iter()
            .map(|a| Value::String(format!("arn:aws:iam::{a}:root")))
            .collect();
        let actions: Vec<Value> = input
            .actions
            .iter()
            .map(|a| Value::String(format!("SQS:{a}")))
            .collect();
        let one_or_many = |v: Vec<Value>| {
            if v.len() == 1 {
                v.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(v)
            }
        };
        let statement = serde_json::json!({
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": one_or_many(principals)},
            "Action": one_or_many(actions),
            "Resource": h.arn,
        });
        let w = {
            let mut st = h.state.lock();
            let mut doc: Value = st
                .cfg
                .policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or_else(|| serde_json::json!({"Version": "2008-10-17", "Id": format!("{}/SQSDefaultPolicy", h.arn), "Statement": []}));
            let Some(obj) = doc.as_object_mut() else {
                return Err(AwsError::internal("stored policy is not an object"));
            };
            let stmts = obj
                .entry("Statement")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Object(_) = stmts {
                *stmts = Value::Array(vec![stmts.take()]);
            }
            let Some(list) = stmts.as_array_mut() else {
                return Err(AwsError::internal(
                    "stored policy statements are not a list",
                ));
            };
            if list
                .iter()
                .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label.as_str()))
            {
                return Err(invalid_value("Label", &label, "Already exists."));
            }
            list.push(statement);
            st.cfg.policy = Some(doc.to_string());
            st.last_modified = self.now() / 1000;
            h.record_write(&st)
        };
        self.persist(vec![w]).await
    }

    async fn remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let not_found = || {
            invalid_value(
                "Label",
                &input.label,
                "can't find label on existing policy.",
            )
        };
        let w = {
            let mut st = h.state.lock();
            let mut doc: Value = st
                .cfg
                .policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok())
                .ok_or_else(not_found)?;
            let list = match doc.get_mut("Statement") {
                Some(Value::Array(l)) => l,
                _ => return Err(not_found()),
            };
            let before = list.len();
            list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(input.label.as_str()));
            if list.len() == before {
                return Err(not_found());
            }
            st.cfg.policy = if list.is_empty() {
                None
            } else {
                Some(doc.to_string())
            };
            st.last_modified = self.now() / 1000;
            h.record_write(&st)
        };
        self.persist(vec![w]).await
    }

    async fn list_dead_letter_source_queues(
        &self,
        ctx: &RequestContext,
        input: ListDeadLetterSourceQueuesRequest,
    ) -> Result<ListDeadLetterSourceQueuesResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let handles: Vec<Arc<QueueHandle>> = self
            .queues
            .read()
            .values()
            .filter(|q| q.region == h.region)
            .cloned()
            .collect();
        let mut names: Vec<String> = handles
            .iter()
            .filter(|q| {
                q.state
                    .lock()
                    .cfg
                    .redrive
                    .as_ref()
                    .is_some_and(|r| r.dead_letter_target_arn == h.arn)
            })
            .map(|q| format!("{}/{}", q.account, q.name))
            .collect();
        names.sort();
        let (page, token) = paginate(names, input.next_token.as_deref(), input.max_results)?;
        let base = ctx.endpoint.trim_end_matches('/');
        Ok(ListDeadLetterSourceQueuesResult {
            queue_urls: page.into_iter().map(|p| format!("{base}/{p}")).collect(),
            next_token: token,
        })
    }

    async fn send_message(
        &self,
        ctx: &RequestContext,
        input: SendMessageRequest,
    ) -> Result<SendMessageResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let cfg = Self::send_cfg(&h);
        let (p, delay_ms) = Self::prepare(
            ctx,
            &h,
            &cfg,
            input.message_body,
            input.delay_seconds,
            input.message_attributes.as_ref(),
            input.message_system_attributes.as_ref(),
            input.message_deduplication_id,
            input.message_group_id,
        )?;
        let (md5_body, md5_attrs, md5_sys) =
            (p.md5_body.clone(), p.md5_attrs.clone(), p.md5_sys.clone());
        let now = self.now();
        let mut writes = Vec::new();
        let (out, pending) = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(queue_does_not_exist());
            }
            let out = self.commit(&h, &mut st, p, delay_ms, now, &mut writes);
            h.drain_writes(&mut st, &mut writes);
            (out, self.enqueue(writes))
        };
        h.wake();
        pending.committed().await?;
        Ok(SendMessageResult {
            md5_of_message_body: Some(md5_body),
            md5_of_message_attributes: md5_attrs,
            md5_of_message_system_attributes: md5_sys,
            message_id: Some(out.message_id),
            sequence_number: out.seq,
        })
    }

    async fn send_message_batch(
        &self,
        ctx: &RequestContext,
        input: SendMessageBatchRequest,
    ) -> Result<SendMessageBatchResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let entries = input.entries;
        Self::check_batch(
            entries.iter().map(|e| e.id.as_str()),
            entries.len(),
            "SendMessageBatchRequestEntry",
        )?;
        let total: usize = entries
            .iter()
            .map(|e| {
                e.message_body.len()
                    + e.message_attributes.as_ref().map_or(0, |m| {
                        m.iter()
                            .map(|(k, v)| {
                                k.len()
                                    + v.data_type.len()
                                    + v.string_value.as_ref().map_or(0, |s| s.len())
                                    + v.binary_value.as_ref().map_or(0, |b| b.0.len())
                            })
                            .sum()
                    })
            })
            .sum();
        if total > BATCH_LIMIT {
            return Err(AwsError::new(
                "BatchRequestTooLong",
                format!(
                    "Batch requests cannot be longer than {BATCH_LIMIT} bytes. You have sent {total} bytes."
                ),
            ));
        }
        let cfg = Self::send_cfg(&h);
        // On a FIFO queue a missing group id fails the whole request, not the entry
        // (as AWS answers).
        if cfg.fifo && entries.iter().any(|e| e.message_group_id.is_none()) {
            return Err(invalid_parameter(
                "The request must contain the parameter MessageGroupId.",
            ));
        }
        let mut result = SendMessageBatchResult::default();
        let mut prepared = Vec::with_capacity(entries.len());
        for e in entries {
            match Self::prepare(
                ctx,
                &h,
                &cfg,
                e.message_body,
                e.delay_seconds,
                e.message_attributes.as_ref(),
                e.message_system_attributes.as_ref(),
                e.message_deduplication_id,
                e.message_group_id,
            ) {
                Ok(p) => prepared.push((e.id, p)),
                Err(err) => result.failed.push(Self::failed(&e.id, err)),
            }
        }
        let now = self.now();
        let mut writes = Vec::new();
        let pending = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(queue_does_not_exist());
            }
            for (id, (p, delay_ms)) in prepared {
                let (md5_body, md5_attrs, md5_sys) =
                    (p.md5_body.clone(), p.md5_attrs.clone(), p.md5_sys.clone());
                let out = self.commit(&h, &mut st, p, delay_ms, now, &mut writes);
                result.successful.push(SendMessageBatchResultEntry {
                    id,
                    message_id: out.message_id,
                    md5_of_message_body: md5_body,
                    md5_of_message_attributes: md5_attrs,
                    md5_of_message_system_attributes: md5_sys,
                    sequence_number: out.seq,
                });
            }
            h.drain_writes(&mut st, &mut writes);
            self.enqueue(writes)
        };
        if !result.successful.is_empty() {
            h.wake();
        }
        pending.committed().await?;
        Ok(result)
    }

    async fn receive_message(
        &self,
        ctx: &RequestContext,
        input: ReceiveMessageRequest,
    ) -> Result<ReceiveMessageResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let max = input.max_number_of_messages.unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(invalid_value(
                "MaxNumberOfMessages",
                max,
                "Must be between 1 and 10, if provided.",
            ));
        }
        if let Some(w) = input.wait_time_seconds
            && !(0..=20).contains(&w)
        {
            return Err(invalid_value(
                "WaitTimeSeconds",
                w,
                "Must be >= 0 and <= 20, if provided.",
            ));
        }
        if let Some(v) = input.visibility_timeout
            && !(0..=43_200).contains(&v)
        {
            return Err(invalid_value(
                "VisibilityTimeout",
                v,
                "Must be >= 0 and <= 43200, if provided.",
            ));
        }
        let mut want: HashSet<&str> = HashSet::new();
        for n in input
            .attribute_names
            .iter()
            .flatten()
            .chain(input.message_system_attribute_names.iter().flatten())
        {
            match SYSTEM_ATTRIBUTE_NAMES.iter().find(|x| **x == n.as_str()) {
                Some(x) => {
                    want.insert(x);
                }
                None => return Err(unknown_attribute(n)),
            }
        }
        let all_sys = want.contains("All");
        let filter = AttrFilter::new(input.message_attribute_names.as_ref());
        let attempt = if h.fifo {
            input.receive_request_attempt_id.filter(|a| !a.is_empty())
        } else {
            None
        };
        let (wait_s, vis_s) = {
            let st = h.state.lock();
            (
                input
                    .wait_time_seconds
                    .map(|w| w as i64)
                    .unwrap_or(st.cfg.receive_wait_seconds as i64),
                input
                    .visibility_timeout
                    .map(|v| v as i64)
                    .unwrap_or(st.cfg.visibility_timeout as i64),
            )
        };
        let mut now = self.now();
        let deadline = now + wait_s * 1000;
        let real_deadline =
            tokio::time::Instant::now() + Duration::from_millis(wait_s as u64 * 1000);
        loop {
            let redrive = self.redrive_target(&h);
            let notified = h.notify.notified();
            tokio::pin!(notified);
            let mut to_dlq = Vec::new();
            let mut writes = Vec::new();
            let mut messages = Vec::new();
            let mut next_timer = None;
            let mut waiting = false;
            let mut pending = None;
            {
                let mut st = h.state.lock();
                if st.deleted {
                    return Err(queue_does_not_exist());
                }
                let mut replay = None;
                if let Some(a) = &attempt
                    && let Some(prev) = st.attempts.get(a.as_str()).filter(|p| p.expires_at > now)
                {
                    let same = prev.received.iter().all(|(id, nonce)| {
                        st.msgs.get(id).is_some_and(|m| {
                            m.state == MsgState::InFlight && m.nonce == *nonce && m.visible_at > now
                        })
                    });
                    if same && !prev.received.is_empty() {
                        replay = Some(prev.received.iter().map(|(id, _)| *id).collect::<Vec<_>>());
                    }
                }
                let ids = match replay {
                    Some(ids) => ids,
                    None => {
                        Self::shared_receive_check(&h, &st)?;
                        let ids = st.receive(
                            max as usize,
                            vis_s * 1000,
                            now,
                            redrive.as_ref().map(|r| r.1),
                            &mut to_dlq,
                        );
                        if let Some(a) = &attempt
                            && !ids.is_empty()
                        {
                            let received = ids
                                .iter()
                                .filter_map(|id| st.msgs.get(id).map(|m| (*id, m.nonce)))
                                .collect();
                            st.attempts.insert(
                                a.as_str().into(),
                                Attempt {
                                    expires_at: now + DEDUP_WINDOW_MS,
                                    received,
                                },
                            );
                        }
                        ids
                    }
                };
                for id in &ids {
                    if let Some(m) = st.msgs.get(id) {
                        messages.push(Self::render(&h, *id, m, &want, all_sys, &filter));
                    }
                }
                h.drain_writes(&mut st, &mut writes);
                // Moves to a dead-letter queue commit in one batch with the
                // source's changes (after the DLQ's lock is taken, below);
                // everything else is handed over in the order of the state.
                if to_dlq.is_empty() {
                    pending = Some(self.enqueue(std::mem::take(&mut writes)));
                }
                if messages.is_empty() && now < deadline {
                    next_timer = st.next_timer();
                    h.waiters.fetch_add(1, Ordering::SeqCst);
                    notified.as_mut().enable();
                    waiting = true;
                }
            }
            if !to_dlq.is_empty()
                && let Some((dlq, _)) = &redrive
            {
                tracing::debug!(source = %h.arn, dlq = %dlq.arn, n = to_dlq.len(), "sqs: moving messages to dead-letter queue");
                pending = Some(self.insert_foreign(dlq, to_dlq, Some(&h), now, writes));
            }
            let pending = pending.unwrap_or_else(|| self.enqueue(Vec::new()));
            if let Err(e) = pending.committed().await {
                if waiting {
                    h.waiters.fetch_sub(1, Ordering::SeqCst);
                }
                return Err(e);
            }
            if !waiting {
                return Ok(ReceiveMessageResult {
                    messages: (!messages.is_empty()).then_some(messages),
                });
            }
            let wake_at = next_timer.map_or(deadline, |t| t.min(deadline));
            let sleep_ms = (wake_at - now).max(1) as u64;
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(Duration::from_millis(sleep_ms)) => {}
            }
            h.waiters.fetch_sub(1, Ordering::SeqCst);
            now = self.now();
            if tokio::time::Instant::now() >= real_deadline {
                // The next pass is the last: it returns whatever it finds.
                now = now.max(deadline);
            }
        }
    }

    async fn delete_message(
        &self,
        ctx: &RequestContext,
        input: DeleteMessageRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        let (id, nonce) = handle_for(&h, &input.receipt_handle)?;
        let mut writes = Vec::new();
        let pending = {
            let mut st = h.state.lock();
            st.delete(id, nonce);
            h.drain_writes(&mut st, &mut writes);
            self.enqueue(writes)
        };
        pending.committed().await
    }

    async fn delete_message_batch(
        &self,
        ctx: &RequestContext,
        input: DeleteMessageBatchRequest,
    ) -> Result<DeleteMessageBatchResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        Self::check_batch(
            input.entries.iter().map(|e| e.id.as_str()),
            input.entries.len(),
            "DeleteMessageBatchRequestEntry",
        )?;
        let mut result = DeleteMessageBatchResult::default();
        let mut writes = Vec::new();
        let pending = {
            let mut st = h.state.lock();
            for e in input.entries {
                match handle_for(&h, &e.receipt_handle) {
                    Ok((id, nonce)) => {
                        st.delete(id, nonce);
                        result
                            .successful
                            .push(DeleteMessageBatchResultEntry { id: e.id });
                    }
                    Err(err) => result.failed.push(Self::failed(&e.id, err)),
                }
            }
            h.drain_writes(&mut st, &mut writes);
            self.enqueue(writes)
        };
        pending.committed().await?;
        Ok(result)
    }

    async fn change_message_visibility(
        &self,
        ctx: &RequestContext,
        input: ChangeMessageVisibilityRequest,
    ) -> Result<(), AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        self.change_one(&h, &input.receipt_handle, Some(input.visibility_timeout))?
            .committed()
            .await
    }

    async fn change_message_visibility_batch(
        &self,
        ctx: &RequestContext,
        input: ChangeMessageVisibilityBatchRequest,
    ) -> Result<ChangeMessageVisibilityBatchResult, AwsError> {
        let h = self.queue(ctx, &input.queue_url)?;
        Self::check_batch(
            input.entries.iter().map(|e| e.id.as_str()),
            input.entries.len(),
            "ChangeMessageVisibilityBatchRequestEntry",
        )?;
        let mut result = ChangeMessageVisibilityBatchResult::default();
        let mut pending = Vec::new();
        for e in input.entries {
            match self.change_one(&h, &e.receipt_handle, e.visibility_timeout) {
                Ok(p) => {
                    pending.push(p);
                    result
                        .successful
                        .push(ChangeMessageVisibilityBatchResultEntry { id: e.id })
                }
                Err(err) => result.failed.push(Self::failed(&e.id, err)),
            }
        }
        for p in pending {
            p.committed().await?;
        }
        Ok(result)
    }

    async fn start_message_move_task(
        &self,
        ctx: &RequestContext,
        input: StartMessageMoveTaskRequest,
    ) -> Result<StartMessageMoveTaskResult, AwsError> {
        crate::move_task::start(self, ctx, input).await
    }

    async fn list_message_move_tasks(
        &self,
        ctx: &RequestContext,
        input: ListMessageMoveTasksRequest,
    ) -> Result<ListMessageMoveTasksResult, AwsError> {
        crate::move_task::list(self, ctx, input)
    }

    async fn cancel_message_move_task(
        &self,
        ctx: &RequestContext,
        input: CancelMessageMoveTaskRequest,
    ) -> Result<CancelMessageMoveTaskResult, AwsError> {
        crate::move_task::cancel(self, ctx, input).await
    }
}

impl SqsService {
    fn change_one(
        &self,
        h: &QueueHandle,
        receipt: &str,
        timeout: Option<i32>,
    ) -> Result<Pending<'_>, AwsError> {
        let t = timeout.unwrap_or(0);
        if !(0..=43_200).contains(&t) {
            return Err(invalid_value(
                "VisibilityTimeout",
                t,
                "Must be between 0 and 43200, if provided.",
            ));
        }
        let (id, nonce) = handle_for(h, receipt)?;
        let now = self.now();
        let mut st = h.state.lock();
        let r = st.change_visibility(id, nonce, t as i64, now);
        let mut writes = Vec::new();
        h.drain_writes(&mut st, &mut writes);
        let pending = self.enqueue(writes);
        drop(st);
        match r {
            Ok(()) => {
                if t == 0 {
                    h.wake();
                }
                Ok(pending)
            }
            Err(VisibilityError::NotInflight) => Err(message_not_inflight()),
            Err(VisibilityError::TooLong) => Err(invalid_value(
                "VisibilityTimeout",
                t,
                "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]",
            )),
        }
    }
}

fn validate_tags(
    tags: &BTreeMap<String, String>,
    queue: &str,
    existing: usize,
) -> Result<(), AwsError> {
    if existing + tags.len() > 50 {
        return Err(invalid_parameter(format!(
            "Too many tags added for queue {queue}."
        )));
    }
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(invalid_parameter(format!(
                "Tag key must be between 1 and 128 characters: {k}"
            )));
        }
        if v.chars().count() > 256 {
            return Err(invalid_parameter(format!(
                "Tag value for key {k} must be at most 256 characters."
            )));
        }
    }
    Ok(())
}

/// A batch already handed to the store; waiting on it waits for its commit.
pub(crate) struct Pending<'a>(Option<BoxFuture<'a, Result<(), StoreError>>>);

impl Pending<'_> {
    pub(crate) async fn committed(self) -> Result<(), AwsError> {
        match self.0 {
            Some(commit) => commit.await.map_err(store_failure),
            None => Ok(()),
        }
    }
}
