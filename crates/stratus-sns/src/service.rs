//! `SnsService`: the topics, subscriptions and mobile/SMS settings of every
//! account and region, their persistence, and the `Service` plumbing.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use serde_json::{Value, json};
use stratus_core::{AwsError, BoxFuture, RegistryHandle, RequestContext, Service};
use stratus_model::ServiceModel;
use stratus_store::{Store, StoreError, Write};

use crate::arn;
use crate::errors::{
    invalid, not_authorized, store_failed, subscription_not_found, topic_not_found,
};
use crate::outbox::{Kind, Outbox};
use crate::persist::{self, T_DEDUP, T_KEYS, T_PLATFORM, T_SMS, T_SUBS, T_TOPICS};
use crate::platform::PlatformItem;
use crate::signing::{KEY_BITS, SigningKeys};
use crate::subscription::Subscription;
use crate::topic::{DedupEntry, Topic};

const MODEL_JSON: &str = include_str!("../../../models/sns/service-2.json");
const KEY_RECORD: &[u8] = b"signing";

/// Everything that lives in memory.
#[derive(Default)]
pub(crate) struct State {
    /// Topic ARN → topic.
    pub topics: HashMap<String, Arc<Topic>>,
    /// Subscription ARN → subscription.
    pub subs: HashMap<String, Arc<Subscription>>,
    /// Confirmation token → subscription ARN.
    pub tokens: HashMap<String, String>,
    /// Platform application / endpoint ARN → item.
    pub platform: HashMap<String, PlatformItem>,
    /// `account/region` → SMS settings.
    pub sms: HashMap<String, persist::SmsRecord>,
}

/// Amazon SNS.
pub struct SnsService {
    model: ServiceModel,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) registry: RegistryHandle,
    pub(crate) state: RwLock<State>,
    keys: tokio::sync::OnceCell<Arc<SigningKeys>>,
    key_bits: usize,
    pub(crate) outbox: Outbox,
    pub(crate) http: crate::http_client::HttpClient,
    pub(crate) me: Weak<SnsService>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Next id of an `sns_pending` row.
    pub(crate) pending_seq: std::sync::atomic::AtomicU64,
    /// Rewrites and deletions of `sns_pending` rows (not awaited by anyone).
    pub(crate) behind: Arc<stratus_store::WriteBehind>,
}

impl SnsService {
    /// Load persisted state from `store`. `registry` reaches SQS and Lambda for
    /// deliveries once the server is up. Background work (start-up cleanup,
    /// signing key generation) needs a running tokio runtime.
    pub fn new(store: Arc<dyn Store>, registry: RegistryHandle) -> Result<Arc<Self>, StoreError> {
        Self::with_key_bits(store, registry, KEY_BITS)
    }

    /// Like [`SnsService::new`] with a chosen signing key size (tests use small
    /// keys because generating 2048-bit keys without optimizations is slow).
    pub fn with_key_bits(
        store: Arc<dyn Store>,
        registry: RegistryHandle,
        key_bits: usize,
    ) -> Result<Arc<Self>, StoreError> {
        let model = ServiceModel::from_json(MODEL_JSON)
            .map_err(|e| StoreError::Backend(format!("SNS model: {e}")))?;
        let durable = store.is_durable();
        let behind = Arc::new(stratus_store::WriteBehind::new(store.clone()));
        let svc = Arc::new_cyclic(|me| SnsService {
            model,
            store,
            durable,
            registry,
            state: RwLock::new(State::default()),
            keys: tokio::sync::OnceCell::new(),
            key_bits,
            outbox: Outbox::default(),
            http: crate::http_client::HttpClient::new(),
            me: me.clone(),
            background: Mutex::new(Vec::new()),
            pending_seq: std::sync::atomic::AtomicU64::new(1),
            behind,
        });
        let mut cleanup = if durable { svc.load()? } else { Vec::new() };
        if durable {
            let (rows, bad) = crate::pending::load(svc.store.as_ref())?;
            cleanup.extend(bad);
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let writer = rt.spawn(svc.behind.clone().run());
                    svc.background.lock().push(writer);
                    cleanup.extend(svc.resume_pending(&rt, rows));
                }
                Err(_) => tracing::warn!(
                    "sns: no tokio runtime; pending deliveries wait for the next start"
                ),
            }
        }
        if !cleanup.is_empty() {
            match tokio::runtime::Handle::try_current() {
                Ok(rt) => {
                    let store = svc.store.clone();
                    let h = rt.spawn(async move {
                        if let Err(e) = store.apply(cleanup).await {
                            tracing::warn!(error = %e, "sns: start-up cleanup failed");
                        }
                    });
                    svc.background.lock().push(h);
                }
                Err(_) => {
                    tracing::warn!("sns: no tokio runtime; stale records stay until the next start")
                }
            }
        }
        if !svc.state.read().topics.is_empty() {
            svc.warm_keys();
        }
        Ok(svc)
    }

    /// Start generating the signing key in the background so that the first
    /// signed message does not wait for it. Called once topics exist: a
    /// Stratus that never uses SNS never spends the CPU.
    pub(crate) fn warm_keys(&self) {
        if self.keys.initialized() {
            return;
        }
        let (Some(svc), Ok(rt)) = (self.arc(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let h = rt.spawn(async move {
            if let Err(e) = svc.keys().await {
                tracing::warn!(error = %e, "sns: signing key generation failed");
            }
        });
        self.background.lock().push(h);
    }

    /// Restart the background deliveries stored before the last stop; returns
    /// the deletions of rows whose subscription is gone (or not confirmed).
    fn resume_pending(
        &self,
        rt: &tokio::runtime::Handle,
        rows: crate::pending::Rows,
    ) -> Vec<Write> {
        let mut gone = Vec::new();
        let Some(svc) = self.arc() else {
            return gone;
        };
        let max_id = rows.iter().map(|(id, _)| *id).max().unwrap_or(0);
        self.pending_seq
            .store(max_id + 1, std::sync::atomic::Ordering::Relaxed);
        let mut resumed = 0usize;
        for (id, rec) in rows {
            let topic = self.state.read().topics.get(&rec.topic_arn).cloned();
            let route = topic.and_then(|t| {
                t.snapshot()
                    .routes
                    .iter()
                    .find(|r| r.sub_arn == rec.sub_arn)
                    .cloned()
            });
            let Some(route) = route else {
                gone.push(crate::pending::delete(id, &rec.sub_arn));
                continue;
            };
            resumed += 1;
            let svc = svc.clone();
            let b = crate::deliver::Background { id, rec };
            let h = rt.spawn(async move { svc.run_background(&route, b).await });
            self.background.lock().push(h);
        }
        if resumed > 0 {
            tracing::info!(deliveries = resumed, "sns: resuming pending deliveries");
        }
        gone
    }

    pub(crate) fn arc(&self) -> Option<Arc<Self>> {
        self.me.upgrade()
    }

    /// Rebuild the in-memory state; returns writes that drop stale records.
    fn load(&self) -> Result<Vec<Write>, StoreError> {
        let now = crate::clock::now_millis();
        let mut cleanup = Vec::new();
        let mut st = self.state.write();
        for (_, v) in self.store.scan(T_TOPICS)? {
            let Some(r) = persist::decode::<persist::TopicRecord>(&v) else {
                continue;
            };
            let topic = Topic::new(&r.account, &r.region, &r.name, r.attrs, r.created);
            {
                let mut ts = topic.state.lock();
                ts.tags = r.tags;
                ts.data_protection = r.data_protection;
                ts.seq_reserved = r.seq_reserved;
                ts.next_seq = r.seq_reserved.max(1);
                ts.archive_start = r.archive_start;
            }
            st.topics.insert(topic.arn.clone(), Arc::new(topic));
        }
        for (k, v) in self.store.scan(T_SUBS)? {
            let Some(r) = persist::decode::<persist::SubscriptionRecord>(&v) else {
                continue;
            };
            let Some(topic) = st.topics.get(&r.topic_arn).cloned() else {
                cleanup.push(Write::Delete {
                    table: T_SUBS,
                    key: k,
                });
                continue;
            };
            let Some(sub) = Subscription::from_record(String::from_utf8_lossy(&k).into_owned(), r)
            else {
                continue;
            };
            let sub = Arc::new(sub);
            if let Some(token) = sub.state.lock().token.clone() {
                st.tokens.insert(token, sub.arn.clone());
            }
            topic.state.lock().subs.insert(sub.arn.clone(), sub.clone());
            st.subs.insert(sub.arn.clone(), sub);
        }
        let by_key: HashMap<String, Arc<Topic>> = st
            .topics
            .values()
            .map(|t| (t.key.clone(), t.clone()))
            .collect();
        for (k, v) in self.store.scan(T_DEDUP)? {
            let rec = persist::decode::<persist::DedupRecord>(&v);
            let key = String::from_utf8_lossy(&k).into_owned();
            // Key: `<topic key>/<scope key>`; the topic key has three parts.
            let mut parts = key.splitn(4, '/');
            let topic_key = [parts.next(), parts.next(), parts.next()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/");
            let scope = parts.next().unwrap_or("").to_string();
            match (rec, by_key.get(&topic_key)) {
                (Some(r), Some(t)) if r.exp > now => {
                    let mut ts = t.state.lock();
                    ts.dedup_order.push_back((r.exp, scope.clone()));
                    ts.dedup.insert(
                        scope,
                        DedupEntry {
                            expires: r.exp,
                            message_id: r.mid,
                            sequence: r.seq,
                        },
                    );
                }
                _ => cleanup.push(Write::Delete {
                    table: T_DEDUP,
                    key: k,
                }),
            }
        }
        for t in st.topics.values() {
            let mut ts = t.state.lock();
            ts.dedup_order
                .make_contiguous()
                .sort_by_key(|(exp, _)| *exp);
            t.rebuild_fanout(&ts);
            // Sequence numbers handed out before a crash may reach the reserved
            // bound; start above it.
            ts.next_seq = ts.seq_reserved.max(1);
        }
        for (_, v) in self.store.scan(T_PLATFORM)? {
            if let Some(r) = persist::decode::<persist::PlatformRecord>(&v) {
                st.platform
                    .insert(r.arn.clone(), PlatformItem::from_record(r));
            }
        }
        for (k, v) in self.store.scan(T_SMS)? {
            if let Some(r) = persist::decode::<persist::SmsRecord>(&v) {
                st.sms.insert(String::from_utf8_lossy(&k).into_owned(), r);
            }
        }
        drop(st);
        for (k, v) in self.store.scan(T_KEYS)? {
            if k == KEY_RECORD
                && let Some(r) = persist::decode::<persist::KeyRecord>(&v)
            {
                match SigningKeys::from_record(&r) {
                    Ok(keys) => {
                        let _ = self.keys.set(Arc::new(keys));
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "sns: stored signing key unusable; generating a new one")
                    }
                }
            }
        }
        Ok(cleanup)
    }

    /// The signing key, generated (and stored) on first use.
    pub(crate) async fn keys(&self) -> Result<Arc<SigningKeys>, AwsError> {
        self.keys
            .get_or_try_init(|| async {
                let bits = self.key_bits;
                let (keys, record) =
                    tokio::task::spawn_blocking(move || SigningKeys::generate(bits))
                        .await
                        .map_err(|e| AwsError::internal(format!("signing key: {e}")))?
                        .map_err(AwsError::internal)?;
                if self.durable {
                    self.store
                        .apply(vec![Write::Put {
                            table: T_KEYS,
                            key: KEY_RECORD.to_vec(),
                            value: persist::encode(&record),
                        }])
                        .await
                        .map_err(store_failed)?;
                }
                tracing::info!(bits, "sns: generated the message signing key");
                Ok::<_, AwsError>(Arc::new(keys))
            })
            .await
            .cloned()
    }

    /// Write `batch` through the store (skipped for the memory store).
    pub(crate) async fn persist(&self, batch: Vec<Write>) -> Result<(), AwsError> {
        if !self.durable || batch.is_empty() {
            return Ok(());
        }
        self.store.apply(batch).await.map_err(store_failed)
    }

    /// The topic `arn` names, for `ctx` performing `action` (`Publish`, ...).
    pub(crate) fn topic_for(
        &self,
        ctx: &RequestContext,
        arn: &str,
        action: &str,
    ) -> Result<Arc<Topic>, AwsError> {
        let (region, _, _) = arn::parse_topic(arn).ok_or_else(|| invalid("TopicArn"))?;
        if region != ctx.region {
            return Err(invalid("TopicArn"));
        }
        let topic = self
            .state
            .read()
            .topics
            .get(arn)
            .cloned()
            .ok_or_else(topic_not_found)?;
        self.authorize(ctx, &topic, action)?;
        Ok(topic)
    }

    /// Another account may act on a topic only where its policy allows it.
    pub(crate) fn authorize(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        action: &str,
    ) -> Result<(), AwsError> {
        if ctx.account_id == topic.account {
            return Ok(());
        }
        let st = topic.state.lock();
        let policy = st.attrs.get("Policy").map(String::as_str).unwrap_or("");
        if crate::policy::allows(policy, &ctx.account_id, action, &topic.arn) {
            Ok(())
        } else {
            Err(not_authorized(&ctx.account_id, action, &topic.arn))
        }
    }

    /// The subscription `arn` names.
    pub(crate) fn subscription(&self, arn: &str) -> Result<Arc<Subscription>, AwsError> {
        if arn::parse_subscription(arn).is_none() {
            return Err(invalid("SubscriptionArn"));
        }
        self.state
            .read()
            .subs
            .get(arn)
            .cloned()
            .ok_or_else(subscription_not_found)
    }

    /// The topic of a subscription (`None` while it is being deleted).
    pub(crate) fn topic_of(&self, sub: &Subscription) -> Option<Arc<Topic>> {
        self.state.read().topics.get(&sub.topic_arn).cloned()
    }

    /// May `ctx` manage `sub`: its owner, the topic's owner, or an account the
    /// topic policy allows.
    pub(crate) fn authorize_subscription(
        &self,
        ctx: &RequestContext,
        sub: &Subscription,
        action: &str,
    ) -> Result<(), AwsError> {
        if ctx.account_id == sub.owner {
            return Ok(());
        }
        match self.topic_of(sub) {
            Some(topic) => self.authorize(ctx, &topic, action),
            None => Err(subscription_not_found()),
        }
    }

    fn internal_document(&self, path: &str, query: &str) -> Option<(String, Vec<u8>)> {
        let list = |member: &str, kind: Kind| {
            let body = json!({ member: self.outbox.list(kind, query) });
            Some((
                "application/json".to_string(),
                serde_json::to_vec_pretty(&body).unwrap_or_default(),
            ))
        };
        match path {
            "emails" => list("Emails", Kind::Email),
            "sms" => list("Messages", Kind::Sms),
            "platform-messages" => list("Messages", Kind::Platform),
            _ => {
                let keys = self.keys.get()?;
                (path == keys.cert_file_name()).then(|| {
                    (
                        "application/x-pem-file".to_string(),
                        keys.cert_pem().as_bytes().to_vec(),
                    )
                })
            }
        }
    }
}

impl Service for SnsService {
    fn model(&self) -> &ServiceModel {
        &self.model
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(crate::generated::dispatch(self, ctx, operation, input))
    }

    fn internal_get(&self, path: &str, query: &str) -> Option<(String, Vec<u8>)> {
        self.internal_document(path, query)
    }

    fn shutdown(&self) {
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        // Finished deliveries' row deletions reach the store before it closes.
        self.behind.flush();
    }
}
