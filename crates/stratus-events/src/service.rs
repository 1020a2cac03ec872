//! `EventsService`: construction, loading from the store, durable writes, the
//! cross-account permission check, and the `Service` glue.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use stratus_core::{AwsError, BoxFuture, RegistryHandle, RequestContext, Service};
use stratus_model::ServiceModel;
use stratus_store::{Store, StoreError, Write};

use crate::delivery::Delivery;
use crate::generated;
use crate::http::HttpInvoker;
use crate::persist::{self, *};
use crate::policy::{self, Decision, Request};
use crate::state::{Archive, Bus, Replay, State, key3};
use crate::util::{BusRef, DEFAULT_BUS, now_ms, store_error};

const MODEL_JSON: &str = include_str!("../../../models/events/service-2.json");

/// Amazon EventBridge.
pub struct EventsService {
    model: ServiceModel,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) registry: RegistryHandle,
    pub(crate) state: RwLock<State>,
    pub(crate) delivery: Delivery,
    pub(crate) http: HttpInvoker,
    pub(crate) me: Weak<EventsService>,
    /// Sequence for archived-event keys.
    pub(crate) archive_seq: AtomicU64,
    /// Next id for a pending-delivery row (see `pending.rs`).
    pub(crate) pending_seq: AtomicU64,
    /// Next firing time of each scheduled rule (rule key → (expression, ms)).
    pub(crate) schedule_next: Mutex<HashMap<String, (String, i64)>>,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stopping: AtomicBool,
}

impl EventsService {
    /// Loads persisted state and starts the delivery, retry, scheduler and
    /// archive-retention tasks (needs a running tokio runtime for those).
    pub fn new(store: Arc<dyn Store>, registry: RegistryHandle) -> Result<Arc<Self>, StoreError> {
        let model = ServiceModel::from_json(MODEL_JSON)
            .map_err(|e| StoreError::Backend(format!("EventBridge model: {e}")))?;
        let durable = store.is_durable();
        let delivery = Delivery::new(store.clone());
        let svc = Arc::new_cyclic(|me: &Weak<EventsService>| EventsService {
            model,
            store,
            durable,
            registry,
            state: RwLock::new(State::default()),
            delivery,
            http: HttpInvoker::new(),
            me: me.clone(),
            archive_seq: AtomicU64::new(now_ms() as u64 * 1000),
            pending_seq: AtomicU64::new(1),
            schedule_next: Mutex::new(HashMap::new()),
            background: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
        });
        let interrupted = if durable { svc.load()? } else { Vec::new() };
        let (resumed, unreadable) = if durable {
            svc.load_pending()?
        } else {
            (Vec::new(), Vec::new())
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let mut bg = svc.background.lock();
            bg.extend(svc.delivery.start(&rt, Arc::downgrade(&svc)));
            if !unreadable.is_empty() {
                // Rows no build of this version can read would be skipped at
                // every start: drop them, as SNS and Scheduler do.
                let weak = Arc::downgrade(&svc);
                bg.push(rt.spawn(async move {
                    if let Some(s) = weak.upgrade()
                        && let Err(e) = s.persist(unreadable).await
                    {
                        tracing::warn!(error = %e.message, "events: could not delete unreadable pending rows");
                    }
                }));
            }
            if !resumed.is_empty() {
                let weak = Arc::downgrade(&svc);
                bg.push(rt.spawn(async move {
                    // Deliveries need the registry, which is bound after every
                    // service is built.
                    for _ in 0..100 {
                        match weak.upgrade() {
                            Some(s) if s.registry.get().is_none() => {}
                            _ => break,
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                    if let Some(s) = weak.upgrade() {
                        for (due, job) in resumed {
                            s.delivery.resume(due, job);
                        }
                    }
                }));
            }
            bg.push(rt.spawn(crate::scheduler::run(Arc::downgrade(&svc))));
            bg.push(rt.spawn(crate::archive::retention_sweeper(Arc::downgrade(&svc))));
            let weak = Arc::downgrade(&svc);
            bg.push(rt.spawn(async move {
                if let Some(s) = weak.upgrade() {
                    s.fail_interrupted_replays(interrupted).await;
                    s.resume_oauth().await;
                }
            }));
        } else {
            tracing::warn!("events: no tokio runtime; delivery and schedules are not running");
        }
        Ok(svc)
    }

    /// Rebuild state from the store; returns replays that were running.
    fn load(&self) -> Result<Vec<String>, StoreError> {
        let mut st = self.state.write();
        for (_, v) in self.store.scan(T_BUSES)? {
            if let Some(rec) = persist::decode::<BusRec>(&v) {
                let key = key3(&rec.account, &rec.region, &rec.name);
                st.buses.insert(key, Bus::new(rec));
            }
        }
        for (_, v) in self.store.scan(T_RULES)? {
            let Some(rec) = persist::decode::<RuleRec>(&v) else {
                continue;
            };
            let key = key3(&rec.account, &rec.region, &rec.bus);
            let bus = st.buses.entry(key).or_insert_with(|| {
                Bus::new(BusRec {
                    account: rec.account.clone(),
                    region: rec.region.clone(),
                    name: rec.bus.clone(),
                    created: rec.created,
                    modified: rec.created,
                    ..Default::default()
                })
            });
            bus.rules.insert(rec.name.clone(), rec);
        }
        for bus in st.buses.values_mut() {
            bus.rebuild();
        }
        for (_, v) in self.store.scan(T_ARCHIVES)? {
            if let Some(rec) = persist::decode::<ArchiveRec>(&v) {
                let key = key3(&rec.account, &rec.region, &rec.name);
                st.archives.insert(
                    key,
                    Archive {
                        rec,
                        events: BTreeMap::new(),
                        size: 0,
                    },
                );
            }
        }
        for (k, v) in self.store.scan(T_ARCHIVED)? {
            let Some((ms, seq)) = persist::archived_key_parts(&k) else {
                continue;
            };
            let Some(text) = persist::decode_raw(&v) else {
                continue;
            };
            let prefix = String::from_utf8_lossy(&k[..k.len() - 17]).to_string();
            if let Some(a) = st.archives.get_mut(&prefix) {
                a.size += text.len() as i64;
                a.events.insert((ms, seq), Arc::from(text));
            }
        }
        let mut interrupted = Vec::new();
        for (_, v) in self.store.scan(T_REPLAYS)? {
            if let Some(rec) = persist::decode::<ReplayRec>(&v) {
                let key = key3(&rec.account, &rec.region, &rec.name);
                if matches!(rec.state.as_str(), "STARTING" | "RUNNING" | "CANCELLING") {
                    interrupted.push(key.clone());
                }
                st.replays.insert(
                    key,
                    Replay {
                        rec,
                        cancel: Arc::new(AtomicBool::new(false)),
                    },
                );
            }
        }
        for (_, v) in self.store.scan(T_CONNECTIONS)? {
            if let Some(rec) = persist::decode::<ConnectionRec>(&v) {
                st.connections
                    .insert(key3(&rec.account, &rec.region, &rec.name), rec);
            }
        }
        for (_, v) in self.store.scan(T_API_DESTINATIONS)? {
            if let Some(rec) = persist::decode::<ApiDestRec>(&v) {
                st.api_destinations
                    .insert(key3(&rec.account, &rec.region, &rec.name), rec);
            }
        }
        for (_, v) in self.store.scan(T_ENDPOINTS)? {
            if let Some(rec) = persist::decode::<EndpointRec>(&v) {
                st.endpoints
                    .insert(key3(&rec.account, &rec.region, &rec.name), rec);
            }
        }
        tracing::info!(
            buses = st.buses.len(),
            archives = st.archives.len(),
            "events: state loaded"
        );
        Ok(interrupted)
    }

    /// Deliveries that were pending when the process stopped, with their due
    /// times, and deletions of the rows that could not be read; later row ids
    /// continue after the highest one found.
    #[allow(clippy::type_complexity)]
    fn load_pending(&self) -> Result<(Vec<(i64, crate::delivery::Job)>, Vec<Write>), StoreError> {
        let (jobs, bad) = stratus_store::scan_decoded(
            &*self.store,
            crate::pending::T_PENDING,
            crate::pending::decode,
        )?;
        if !bad.is_empty() {
            tracing::warn!(
                rows = bad.len(),
                "events: unreadable pending-delivery rows dropped"
            );
        }
        let max_id = jobs.iter().map(|(_, j)| j.pending).max().unwrap_or(0);
        self.pending_seq
            .store(max_id + 1, std::sync::atomic::Ordering::Relaxed);
        if !jobs.is_empty() {
            tracing::info!(
                deliveries = jobs.len(),
                "events: resuming pending deliveries"
            );
        }
        Ok((jobs, bad))
    }

    /// Apply `writes` durably (no-op on the memory store).
    pub(crate) async fn persist(&self, writes: Vec<Write>) -> Result<(), AwsError> {
        if !self.durable || writes.is_empty() {
            return Ok(());
        }
        self.store.apply(writes).await.map_err(store_error)
    }

    pub(crate) fn put_write<T: serde::Serialize>(
        &self,
        table: &'static str,
        key: &str,
        rec: &T,
    ) -> Vec<Write> {
        if !self.durable {
            return Vec::new();
        }
        vec![Write::Put {
            table,
            key: key.as_bytes().to_vec(),
            value: persist::encode(rec),
        }]
    }

    pub(crate) fn del_write(&self, table: &'static str, key: &str) -> Vec<Write> {
        if !self.durable {
            return Vec::new();
        }
        vec![Write::Delete {
            table,
            key: key.as_bytes().to_vec(),
        }]
    }

    pub(crate) fn bus_write(bus: &Bus) -> Write {
        Write::Put {
            table: T_BUSES,
            key: key3(&bus.rec.account, &bus.rec.region, &bus.rec.name).into_bytes(),
            value: persist::encode(&bus.rec),
        }
    }

    pub(crate) fn rule_write(rec: &RuleRec) -> Write {
        Write::Put {
            table: T_RULES,
            key: format!("{}/{}/{}/{}", rec.account, rec.region, rec.bus, rec.name).into_bytes(),
            value: persist::encode(rec),
        }
    }

    pub(crate) fn rule_delete(rec: &RuleRec) -> Write {
        Write::Delete {
            table: T_RULES,
            key: format!("{}/{}/{}/{}", rec.account, rec.region, rec.bus, rec.name).into_bytes(),
        }
    }

    /// The bus, creating the implicit `default` bus on first use.
    pub(crate) fn bus_entry<'s>(st: &'s mut State, b: &BusRef) -> Option<&'s mut Bus> {
        let key = b.key();
        if b.name == DEFAULT_BUS && !st.buses.contains_key(&key) {
            let now = now_ms();
            st.buses.insert(
                key.clone(),
                Bus::new(BusRec {
                    account: b.account.clone(),
                    region: b.region.clone(),
                    name: DEFAULT_BUS.into(),
                    created: now,
                    modified: now,
                    ..Default::default()
                }),
            );
        }
        st.buses.get_mut(&key)
    }

    /// Refuse a call on another account's resource unless the bus policy allows it.
    pub(crate) fn authorize(
        &self,
        ctx: &RequestContext,
        owner: &str,
        policy: Option<&Value>,
        action: &str,
        resource: &str,
        context: HashMap<&'static str, Vec<String>>,
    ) -> Result<(), AwsError> {
        if ctx.account_id == owner {
            return Ok(());
        }
        let req = Request {
            principal_account: &ctx.account_id,
            action,
            resource,
            context,
        };
        match policy::evaluate(policy, &req) {
            Decision::Allow => Ok(()),
            d => Err(AwsError::new(
                "AccessDeniedException",
                policy::denied_message(&req, &d),
            )),
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Service for EventsService {
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
        self.stopping
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for h in self.background.lock().drain(..) {
            h.abort();
        }
        // Finished deliveries' row deletions reach the store before it closes.
        self.delivery.behind.flush();
    }
}
