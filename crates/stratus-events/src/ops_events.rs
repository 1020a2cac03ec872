//! Ingestion: PutEvents (entry checks, the event envelope, cross-account
//! policy), routing an event through a bus's compiled rules to delivery and
//! archives, and TestEventPattern.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use stratus_core::{AwsError, RequestContext};
use stratus_patterns::Pattern;
use stratus_store::Write;

use crate::delivery::Job;
use crate::generated::*;
use crate::persist::{self, T_ARCHIVED};
use crate::policy::{self, Decision, Request};
use crate::service::EventsService;
use crate::state::Snapshot;
use crate::util::*;

/// PutEvents accepts at most 256 KiB of entries per request.
pub(crate) const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// Events forwarded between buses stop after this many hops (loop guard).
pub(crate) const MAX_HOPS: u8 = 5;

#[derive(Serialize)]
pub(crate) struct Envelope<'a> {
    pub version: &'a str,
    pub id: &'a str,
    #[serde(rename = "detail-type")]
    pub detail_type: &'a str,
    pub source: &'a str,
    pub account: &'a str,
    pub time: &'a str,
    pub region: &'a str,
    pub resources: &'a [String],
    pub detail: &'a Value,
    #[serde(rename = "replay-name", skip_serializing_if = "Option::is_none")]
    pub replay_name: Option<&'a str>,
}

impl Envelope<'_> {
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// AWS's size of one entry: Time (14 bytes when given), Source, DetailType,
/// Detail and each resource, as UTF-8.
fn entry_size(e: &PutEventsRequestEntry) -> usize {
    e.time.map(|_| 14).unwrap_or(0)
        + e.source.as_deref().map(str::len).unwrap_or(0)
        + e.detail_type.as_deref().map(str::len).unwrap_or(0)
        + e.detail.as_deref().map(str::len).unwrap_or(0)
        + e.resources.iter().flatten().map(String::len).sum::<usize>()
}

fn entry_error(code: &str, msg: impl Into<String>) -> PutEventsResultEntry {
    PutEventsResultEntry {
        event_id: None,
        error_code: Some(code.into()),
        error_message: Some(msg.into()),
    }
}

fn missing(field: &str) -> PutEventsResultEntry {
    entry_error(
        "InvalidArgument",
        format!("Parameter {field} is not valid. Reason: {field} is a required argument."),
    )
}

/// Archive appends an ingestion produced: `(archive key, ingestion ms, event)`.
pub(crate) type ArchiveAppends = Vec<(String, i64, Arc<str>)>;

/// What routing events produced, committed together by [`EventsService::commit`].
#[derive(Default)]
pub(crate) struct Routed {
    pub appends: ArchiveAppends,
    pub jobs: Vec<Job>,
}

impl EventsService {
    pub(crate) async fn op_put_events(
        &self,
        ctx: &RequestContext,
        input: PutEventsRequest,
    ) -> Result<PutEventsResponse, AwsError> {
        let total: usize = input.entries.iter().map(entry_size).sum();
        if total > MAX_REQUEST_BYTES {
            return Err(validation(
                "Total size of the entries in the request is over the limit.",
            ));
        }
        let endpoint_buses = match input.endpoint_id.as_deref() {
            Some(id) => Some(self.endpoint_buses(ctx, id)?),
            None => None,
        };
        let now = now_ms();
        let mut results = Vec::with_capacity(input.entries.len());
        let mut routed = Routed::default();
        let mut failed = 0;
        // Snapshots are looked up once per distinct bus of the request.
        let mut snaps: HashMap<String, Option<Arc<Snapshot>>> = HashMap::new();
        for e in &input.entries {
            match self.put_one(
                ctx,
                e,
                now,
                endpoint_buses.as_deref(),
                &mut snaps,
                &mut routed,
            ) {
                Ok(id) => results.push(PutEventsResultEntry {
                    event_id: Some(id),
                    error_code: None,
                    error_message: None,
                }),
                Err(r) => {
                    failed += 1;
                    results.push(r);
                }
            }
        }
        self.commit(routed).await?;
        Ok(PutEventsResponse {
            failed_entry_count: Some(failed),
            entries: Some(results),
        })
    }

    fn snapshot_of(
        &self,
        b: &BusRef,
        cache: &mut HashMap<String, Option<Arc<Snapshot>>>,
    ) -> Option<Arc<Snapshot>> {
        let key = b.key();
        if let Some(s) = cache.get(&key) {
            return s.clone();
        }
        let s = {
            let st = self.state.read();
            st.buses.get(&key).map(|bus| bus.snap.clone())
        };
        // The implicit default bus exists even before anything was stored for it.
        let s = s.or_else(|| (b.name == DEFAULT_BUS).then(|| Arc::new(Snapshot::default())));
        cache.insert(key, s.clone());
        s
    }

    fn put_one(
        &self,
        ctx: &RequestContext,
        e: &PutEventsRequestEntry,
        now: i64,
        endpoint_buses: Option<&[BusRef]>,
        snaps: &mut HashMap<String, Option<Arc<Snapshot>>>,
        routed: &mut Routed,
    ) -> Result<String, PutEventsResultEntry> {
        let source = e
            .source
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("Source"))?;
        let detail_type = e
            .detail_type
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("DetailType"))?;
        let detail_text = e
            .detail
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| missing("Detail"))?;
        let detail: Value = serde_json::from_str(detail_text)
            .map_err(|_| entry_error("MalformedDetail", "Detail is malformed."))?;
        if !detail.is_object() {
            return Err(entry_error("MalformedDetail", "Detail is malformed."));
        }
        if source.starts_with("aws.") {
            return Err(entry_error(
                "NotAuthorizedForSourceException",
                "Not authorized for the source.",
            ));
        }
        let targets: Vec<BusRef> = match endpoint_buses {
            Some(b) => b.to_vec(),
            None => vec![
                resolve_bus(ctx, e.event_bus_name.as_deref())
                    .map_err(|err| entry_error("InvalidArgument", err.message))?,
            ],
        };
        let id = uuid::Uuid::new_v4().to_string();
        let time_ms = e.time.map(|t| (t * 1000.0) as i64).unwrap_or(now);
        let time = iso_secs(time_ms);
        let resources: Vec<String> = e.resources.clone().unwrap_or_default();
        let event: Arc<str> = Arc::from(
            Envelope {
                version: "0",
                id: &id,
                detail_type,
                source,
                account: &ctx.account_id,
                time: &time,
                region: &ctx.region,
                resources: &resources,
                detail: &detail,
                replay_name: None,
            }
            .to_json(),
        );
        for b in &targets {
            let snap = self.snapshot_of(b, snaps).ok_or_else(|| {
                entry_error(
                    "ResourceNotFoundException",
                    format!("Event bus {} does not exist.", b.name),
                )
            })?;
            if b.account != ctx.account_id {
                let mut context: HashMap<&'static str, Vec<String>> = HashMap::new();
                context.insert("events:source", vec![source.to_string()]);
                context.insert("events:detail-type", vec![detail_type.to_string()]);
                context.insert("events:eventbusinvocation", vec!["false".to_string()]);
                let arn = b.arn();
                let req = Request {
                    principal_account: &ctx.account_id,
                    action: "events:PutEvents",
                    resource: &arn,
                    context,
                };
                let d = policy::evaluate(snap.policy.as_ref(), &req);
                if d != Decision::Allow {
                    return Err(entry_error(
                        "AccessDeniedException",
                        policy::denied_message(&req, &d),
                    ));
                }
            }
            self.route(&snap, &event, now, 0, None, routed);
        }
        Ok(id)
    }

    /// Match `event` against the bus's rules: archive rules collect it into
    /// `out.appends`, other rules into `out.jobs` for delivery. `only` limits
    /// delivery to the given rule ARNs (replays).
    pub(crate) fn route(
        &self,
        snap: &Snapshot,
        event: &Arc<str>,
        ingest_ms: i64,
        hops: u8,
        only: Option<&[String]>,
        out: &mut Routed,
    ) {
        if snap.ruleset.is_empty() {
            return;
        }
        let mut names = Vec::new();
        if let Err(err) = snap.ruleset.matches_json_into(event, &mut names) {
            tracing::warn!(error = %err, "events: event could not be matched");
            return;
        }
        for name in names {
            let Some(rule) = snap.rules.get(name) else {
                continue;
            };
            if let Some(a) = &rule.archive {
                out.appends.push((a.clone(), ingest_ms, event.clone()));
                continue;
            }
            if only.is_some_and(|arns| !arns.iter().any(|a| *a == rule.arn)) {
                continue;
            }
            for t in &rule.targets {
                out.jobs.push(Job {
                    event: event.clone(),
                    ingest_ms,
                    rule: rule.clone(),
                    target: t.clone(),
                    attempt: 0,
                    hops,
                    pending: 0,
                    first_attempt: None,
                });
            }
        }
    }

    /// Make what routing produced durable, then start its deliveries: the
    /// archived events and (durable store only) a pending row per job go in
    /// one store batch, awaited before the ingesting call answers.
    pub(crate) async fn commit(&self, routed: Routed) -> Result<(), AwsError> {
        let Routed { appends, mut jobs } = routed;
        let mut writes = self.archive_writes(appends);
        if self.durable && !jobs.is_empty() {
            writes.reserve(jobs.len());
            let first = self
                .pending_seq
                .fetch_add(jobs.len() as u64, std::sync::atomic::Ordering::Relaxed);
            for (i, j) in jobs.iter_mut().enumerate() {
                j.pending = first + i as u64;
                writes.push(crate::pending::put(j, j.ingest_ms));
            }
        }
        self.persist(writes).await?;
        let (first, done) = crate::delivery::FirstAttempt::new();
        for mut j in jobs {
            if matches!(j.target.kind, crate::state::TargetKind::Sqs { .. }) {
                j.first_attempt = Some(first.clone());
            }
            self.delivery.dispatch(j);
        }
        drop(first);
        // Err(Closed) is the signal: every SQS job's first attempt is over
        // (or the job was dropped at shutdown).
        let _ = done.await;
        Ok(())
    }

    /// Add archived events to their archives; returns the store writes.
    fn archive_writes(&self, appends: ArchiveAppends) -> Vec<Write> {
        let mut writes: Vec<Write> = Vec::new();
        if appends.is_empty() {
            return writes;
        }
        let mut st = self.state.write();
        for (key, ms, ev) in appends {
            let Some(a) = st.archives.get_mut(&key) else {
                continue;
            };
            let seq = self
                .archive_seq
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            a.size += ev.len() as i64;
            if self.durable {
                let prefix = format!("{key}/");
                writes.push(Write::Put {
                    table: T_ARCHIVED,
                    key: persist::archived_key(prefix.as_bytes(), ms, seq),
                    value: persist::encode_raw(&ev),
                });
            }
            a.events.insert((ms, seq), ev);
        }
        writes
    }

    /// Deliver an event one bus forwarded to another (a bus target).
    pub(crate) async fn forward_to_bus(
        &self,
        job: &Job,
        b: &BusRef,
    ) -> Result<(), crate::delivery::Failure> {
        use crate::delivery::Failure;
        if job.hops >= MAX_HOPS {
            return Err(Failure::permanent(
                "THIRD_ACCOUNT_HOP_DETECTED",
                "The event went through too many event buses.",
            ));
        }
        let snap = {
            let st = self.state.read();
            st.buses.get(&b.key()).map(|bus| bus.snap.clone())
        };
        let snap = match snap {
            Some(s) => s,
            None if b.name == DEFAULT_BUS => Arc::new(Snapshot::default()),
            None => {
                return Err(Failure::permanent(
                    "NO_RESOURCE",
                    format!("Event bus {} does not exist.", b.name),
                ));
            }
        };
        if b.account != job.rule.account
            && job.rule.role_arn.is_none()
            && job.target.target.role_arn.is_none()
        {
            let ev: Value = serde_json::from_str(&job.event).unwrap_or_default();
            let mut context: HashMap<&'static str, Vec<String>> = HashMap::new();
            for (k, f) in [
                ("events:source", "source"),
                ("events:detail-type", "detail-type"),
            ] {
                if let Some(s) = ev.get(f).and_then(Value::as_str) {
                    context.insert(k, vec![s.to_string()]);
                }
            }
            context.insert("events:eventbusinvocation", vec!["true".into()]);
            let arn = b.arn();
            let req = Request {
                principal_account: &job.rule.account,
                action: "events:PutEvents",
                resource: &arn,
                context,
            };
            let d = policy::evaluate(snap.policy.as_ref(), &req);
            if d != Decision::Allow {
                return Err(Failure::permanent(
                    "NO_PERMISSIONS",
                    policy::denied_message(&req, &d),
                ));
            }
        }
        let mut routed = Routed::default();
        self.route(&snap, &job.event, now_ms(), job.hops + 1, None, &mut routed);
        self.commit(routed)
            .await
            .map_err(|e| Failure::retryable("INTERNAL_ERROR", e.message))
    }

    pub(crate) async fn op_test_event_pattern(
        &self,
        _ctx: &RequestContext,
        input: TestEventPatternRequest,
    ) -> Result<TestEventPatternResponse, AwsError> {
        let pattern = Pattern::parse(&input.event_pattern)
            .map_err(|e| AwsError::new("InvalidEventPatternException", e.message()))?;
        let event: Value = serde_json::from_str(&input.event)
            .map_err(|_| validation("Parameter Event is not valid."))?;
        for field in ["id", "account", "source", "time", "region", "detail-type"] {
            if event.get(field).is_none() {
                return Err(validation(format!(
                    "Parameter Event is not valid. Reason: Field {field} is required."
                )));
            }
        }
        Ok(TestEventPatternResponse {
            result: Some(pattern.matches(&event)),
        })
    }
}
