//! Archives (a managed rule on the source bus feeds each archive; retention
//! expires events) and replays (archived events sent back to the bus with a
//! `replay-name` field, to all rules or the chosen ones).

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use stratus_core::{AwsError, RequestContext};
use stratus_patterns::Pattern;
use stratus_store::Write;

use crate::generated::*;
use crate::persist::{self, ArchiveRec, ReplayRec, T_ARCHIVED, T_ARCHIVES, T_REPLAYS};
use crate::service::EventsService;
use crate::state::{ARCHIVE_RULE_PREFIX, Archive, Replay, key3};
use crate::util::*;

fn archive_arn(a: &ArchiveRec) -> String {
    format!(
        "arn:aws:events:{}:{}:archive/{}",
        a.region, a.account, a.name
    )
}

fn replay_arn(r: &ReplayRec) -> String {
    format!(
        "arn:aws:events:{}:{}:replay/{}",
        r.region, r.account, r.name
    )
}

fn archive_not_found(name: &str) -> AwsError {
    not_found(format!("Archive {name} does not exist."))
}

fn replay_not_found(name: &str) -> AwsError {
    not_found(format!("Replay {name} does not exist."))
}

fn archive_out(a: &Archive) -> crate::generated::Archive {
    crate::generated::Archive {
        archive_name: Some(a.rec.name.clone()),
        event_source_arn: Some(a.rec.source_arn.clone()),
        state: Some("ENABLED".into()),
        state_reason: None,
        retention_days: Some(a.rec.retention_days),
        size_bytes: Some(a.size),
        event_count: Some(a.events.len() as i64),
        creation_time: Some(secs(a.rec.created)),
    }
}

fn replay_out(r: &ReplayRec) -> crate::generated::Replay {
    crate::generated::Replay {
        replay_name: Some(r.name.clone()),
        event_source_arn: Some(r.source_arn.clone()),
        state: Some(r.state.clone()),
        state_reason: r.state_reason.clone(),
        event_start_time: Some(secs(r.start_ms)),
        event_end_time: Some(secs(r.end_ms)),
        event_last_replayed_time: r.last_replayed.map(secs),
        replay_start_time: Some(secs(r.replay_start)),
        replay_end_time: r.replay_end.map(secs),
    }
}

fn check_pattern(p: Option<&str>) -> Result<(), AwsError> {
    if let Some(p) = p {
        Pattern::parse(p)
            .map_err(|e| AwsError::new("InvalidEventPatternException", e.message()))?;
    }
    Ok(())
}

impl EventsService {
    pub(crate) async fn op_create_archive(
        &self,
        ctx: &RequestContext,
        input: CreateArchiveRequest,
    ) -> Result<CreateArchiveResponse, AwsError> {
        check_pattern(input.event_pattern.as_deref())?;
        let b = resolve_bus(ctx, Some(&input.event_source_arn))?;
        if !input.event_source_arn.starts_with("arn:")
            || b.account != ctx.account_id
            || b.region != ctx.region
        {
            return Err(validation(
                "Parameter EventSourceArn is not valid. Reason: Provided Arn is not in correct format.",
            ));
        }
        let key = key3(&ctx.account_id, &ctx.region, &input.archive_name);
        let now = now_ms();
        let (rec, writes) = {
            let mut st = self.state.write();
            if st.archives.contains_key(&key) {
                return Err(already_exists(format!(
                    "Archive {} already exists.",
                    input.archive_name
                )));
            }
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            let rule = Self::archive_rule(
                &b.account,
                &b.region,
                &b.name,
                &input.archive_name,
                input.event_pattern.as_deref(),
            );
            let mut w = Vec::new();
            if self.durable {
                w.push(Self::bus_write(bus));
                w.push(Self::rule_write(&rule));
            }
            bus.rules.insert(rule.name.clone(), rule);
            bus.rebuild();
            let rec = ArchiveRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.archive_name.clone(),
                source_arn: b.arn(),
                description: input.description.clone(),
                pattern: input.event_pattern.clone(),
                retention_days: input.retention_days.unwrap_or(0),
                kms: input.kms_key_identifier.clone(),
                created: now,
            };
            w.extend(self.put_write(T_ARCHIVES, &key, &rec));
            st.archives.insert(
                key,
                Archive {
                    rec: rec.clone(),
                    events: Default::default(),
                    size: 0,
                },
            );
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(CreateArchiveResponse {
            archive_arn: Some(archive_arn(&rec)),
            state: Some("ENABLED".into()),
            state_reason: None,
            creation_time: Some(secs(rec.created)),
        })
    }

    pub(crate) async fn op_describe_archive(
        &self,
        ctx: &RequestContext,
        input: DescribeArchiveRequest,
    ) -> Result<DescribeArchiveResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.archive_name);
        let st = self.state.read();
        let a = st
            .archives
            .get(&key)
            .ok_or_else(|| archive_not_found(&input.archive_name))?;
        Ok(DescribeArchiveResponse {
            archive_arn: Some(archive_arn(&a.rec)),
            archive_name: Some(a.rec.name.clone()),
            event_source_arn: Some(a.rec.source_arn.clone()),
            description: a.rec.description.clone(),
            event_pattern: a.rec.pattern.clone(),
            state: Some("ENABLED".into()),
            state_reason: None,
            kms_key_identifier: a.rec.kms.clone(),
            retention_days: Some(a.rec.retention_days),
            size_bytes: Some(a.size),
            event_count: Some(a.events.len() as i64),
            creation_time: Some(secs(a.rec.created)),
        })
    }

    pub(crate) async fn op_update_archive(
        &self,
        ctx: &RequestContext,
        input: UpdateArchiveRequest,
    ) -> Result<UpdateArchiveResponse, AwsError> {
        check_pattern(input.event_pattern.as_deref())?;
        let key = key3(&ctx.account_id, &ctx.region, &input.archive_name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let a = st
                .archives
                .get_mut(&key)
                .ok_or_else(|| archive_not_found(&input.archive_name))?;
            if let Some(d) = &input.description {
                a.rec.description = Some(d.clone());
            }
            if let Some(r) = input.retention_days {
                a.rec.retention_days = r;
            }
            if let Some(k) = &input.kms_key_identifier {
                a.rec.kms = Some(k.clone()).filter(|k| !k.is_empty());
            }
            let pattern_changed = input.event_pattern.is_some();
            if pattern_changed {
                a.rec.pattern = input.event_pattern.clone();
            }
            let rec = a.rec.clone();
            let mut w = self.put_write(T_ARCHIVES, &key, &rec);
            if pattern_changed {
                let b = resolve_bus(ctx, Some(&rec.source_arn))?;
                if let Some(bus) = Self::bus_entry(&mut st, &b) {
                    let rule = Self::archive_rule(
                        &b.account,
                        &b.region,
                        &b.name,
                        &rec.name,
                        rec.pattern.as_deref(),
                    );
                    if self.durable {
                        w.push(Self::rule_write(&rule));
                    }
                    bus.rules.insert(rule.name.clone(), rule);
                    bus.rebuild();
                }
            }
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(UpdateArchiveResponse {
            archive_arn: Some(archive_arn(&rec)),
            state: Some("ENABLED".into()),
            state_reason: None,
            creation_time: Some(secs(rec.created)),
        })
    }

    pub(crate) async fn op_delete_archive(
        &self,
        ctx: &RequestContext,
        input: DeleteArchiveRequest,
    ) -> Result<DeleteArchiveResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.archive_name);
        let writes = {
            let mut st = self.state.write();
            let a = st
                .archives
                .remove(&key)
                .ok_or_else(|| archive_not_found(&input.archive_name))?;
            let mut w = self.del_write(T_ARCHIVES, &key);
            if self.durable {
                w.push(Write::DeletePrefix {
                    table: T_ARCHIVED,
                    prefix: format!("{key}/").into_bytes(),
                });
            }
            if let Ok(b) = resolve_bus(ctx, Some(&a.rec.source_arn))
                && let Some(bus) = st.buses.get_mut(&b.key())
            {
                let rule_name = format!("{ARCHIVE_RULE_PREFIX}{}", a.rec.name);
                if let Some(r) = bus.rules.remove(&rule_name) {
                    if self.durable {
                        w.push(Self::rule_delete(&r));
                    }
                    bus.rebuild();
                }
            }
            w
        };
        self.persist(writes).await?;
        Ok(DeleteArchiveResponse {})
    }

    pub(crate) async fn op_list_archives(
        &self,
        ctx: &RequestContext,
        input: ListArchivesRequest,
    ) -> Result<ListArchivesResponse, AwsError> {
        let items: Vec<(String, crate::generated::Archive)> = {
            let st = self.state.read();
            st.archives
                .values()
                .filter(|a| a.rec.account == ctx.account_id && a.rec.region == ctx.region)
                .filter(|a| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| a.rec.name.starts_with(p))
                })
                .filter(|a| {
                    input
                        .event_source_arn
                        .as_deref()
                        .is_none_or(|s| a.rec.source_arn == s)
                })
                .filter(|_| input.state.as_deref().is_none_or(|s| s == "ENABLED"))
                .map(|a| (a.rec.name.clone(), archive_out(a)))
                .collect()
        };
        let (archives, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListArchivesResponse {
            archives: Some(archives),
            next_token,
        })
    }

    pub(crate) async fn op_start_replay(
        &self,
        ctx: &RequestContext,
        input: StartReplayRequest,
    ) -> Result<StartReplayResponse, AwsError> {
        let start_ms = (input.event_start_time * 1000.0) as i64;
        let end_ms = (input.event_end_time * 1000.0) as i64;
        if start_ms >= end_ms {
            return Err(validation(
                "Parameter EventStartTime is not valid. Reason: EventStartTime must be before EventEndTime.",
            ));
        }
        let archive_name = input
            .event_source_arn
            .rsplit_once(":archive/")
            .map(|(_, n)| n.to_string())
            .ok_or_else(|| validation("Parameter EventSourceArn is not valid. Reason: Provided Arn is not in correct format."))?;
        let key = key3(&ctx.account_id, &ctx.region, &input.replay_name);
        let archive_key = key3(&ctx.account_id, &ctx.region, &archive_name);
        let now = now_ms();
        let (rec, writes) = {
            let mut st = self.state.write();
            if st.replays.contains_key(&key) {
                return Err(already_exists(format!(
                    "Replay {} already exists.",
                    input.replay_name
                )));
            }
            let a = st
                .archives
                .get(&archive_key)
                .ok_or_else(|| archive_not_found(&archive_name))?;
            if input.destination.arn != a.rec.source_arn {
                return Err(validation(
                    "Parameter Destination.Arn is not valid. Reason: Cross event bus replay is not permitted.",
                ));
            }
            let rec = ReplayRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: input.replay_name.clone(),
                description: input.description.clone(),
                source_arn: input.event_source_arn.clone(),
                start_ms,
                end_ms,
                destination: input.destination.clone(),
                state: "STARTING".into(),
                state_reason: None,
                last_replayed: None,
                replay_start: now,
                replay_end: None,
            };
            let cancel = Arc::new(AtomicBool::new(false));
            st.replays.insert(
                key.clone(),
                Replay {
                    rec: rec.clone(),
                    cancel: cancel.clone(),
                },
            );
            let w = self.put_write(T_REPLAYS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        if let Some(me) = self.me.upgrade() {
            tokio::spawn(run_replay(me, key, archive_key));
        }
        Ok(StartReplayResponse {
            replay_arn: Some(replay_arn(&rec)),
            state: Some(rec.state),
            state_reason: None,
            replay_start_time: Some(secs(rec.replay_start)),
        })
    }

    pub(crate) async fn op_describe_replay(
        &self,
        ctx: &RequestContext,
        input: DescribeReplayRequest,
    ) -> Result<DescribeReplayResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.replay_name);
        let st = self.state.read();
        let r = &st
            .replays
            .get(&key)
            .ok_or_else(|| replay_not_found(&input.replay_name))?
            .rec;
        Ok(DescribeReplayResponse {
            replay_name: Some(r.name.clone()),
            replay_arn: Some(replay_arn(r)),
            description: r.description.clone(),
            state: Some(r.state.clone()),
            state_reason: r.state_reason.clone(),
            event_source_arn: Some(r.source_arn.clone()),
            destination: Some(r.destination.clone()),
            event_start_time: Some(secs(r.start_ms)),
            event_end_time: Some(secs(r.end_ms)),
            event_last_replayed_time: r.last_replayed.map(secs),
            replay_start_time: Some(secs(r.replay_start)),
            replay_end_time: r.replay_end.map(secs),
        })
    }

    pub(crate) async fn op_cancel_replay(
        &self,
        ctx: &RequestContext,
        input: CancelReplayRequest,
    ) -> Result<CancelReplayResponse, AwsError> {
        let key = key3(&ctx.account_id, &ctx.region, &input.replay_name);
        let (rec, writes) = {
            let mut st = self.state.write();
            let r = st
                .replays
                .get_mut(&key)
                .ok_or_else(|| replay_not_found(&input.replay_name))?;
            if !matches!(r.rec.state.as_str(), "STARTING" | "RUNNING") {
                return Err(AwsError::new(
                    "IllegalStatusException",
                    format!(
                        "Replay {} is not in a state that can be cancelled.",
                        input.replay_name
                    ),
                ));
            }
            r.cancel.store(true, Ordering::SeqCst);
            r.rec.state = "CANCELLING".into();
            let rec = r.rec.clone();
            let w = self.put_write(T_REPLAYS, &key, &rec);
            (rec, w)
        };
        self.persist(writes).await?;
        Ok(CancelReplayResponse {
            replay_arn: Some(replay_arn(&rec)),
            state: Some("CANCELLING".into()),
            state_reason: None,
        })
    }

    pub(crate) async fn op_list_replays(
        &self,
        ctx: &RequestContext,
        input: ListReplaysRequest,
    ) -> Result<ListReplaysResponse, AwsError> {
        let items: Vec<(String, crate::generated::Replay)> = {
            let st = self.state.read();
            st.replays
                .values()
                .map(|r| &r.rec)
                .filter(|r| r.account == ctx.account_id && r.region == ctx.region)
                .filter(|r| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| r.name.starts_with(p))
                })
                .filter(|r| input.state.as_deref().is_none_or(|s| r.state == s))
                .filter(|r| {
                    input
                        .event_source_arn
                        .as_deref()
                        .is_none_or(|s| r.source_arn == s)
                })
                .map(|r| (r.name.clone(), replay_out(r)))
                .collect()
        };
        let (replays, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListReplaysResponse {
            replays: Some(replays),
            next_token,
        })
    }

    /// Update a replay record and store it.
    async fn replay_update(&self, key: &str, f: impl FnOnce(&mut ReplayRec)) {
        let writes = {
            let mut st = self.state.write();
            let Some(r) = st.replays.get_mut(key) else {
                return;
            };
            f(&mut r.rec);
            self.put_write(T_REPLAYS, key, &r.rec)
        };
        if let Err(e) = self.persist(writes).await {
            tracing::warn!(error = %e, "events: could not store the replay state");
        }
    }

    /// Replays that were running when the process stopped cannot resume.
    pub(crate) async fn fail_interrupted_replays(&self, keys: Vec<String>) {
        for k in keys {
            self.replay_update(&k, |r| {
                r.state = "FAILED".into();
                r.state_reason = Some("The replay was interrupted by a restart of Stratus.".into());
                r.replay_end = Some(now_ms());
            })
            .await;
        }
    }
}

/// Send the archived events of the window back to the bus.
async fn run_replay(svc: Arc<EventsService>, key: String, archive_key: String) {
    svc.replay_update(&key, |r| r.state = "RUNNING".into())
        .await;
    let (rec, cancel) = {
        let st = svc.state.read();
        match st.replays.get(&key) {
            Some(r) => (r.rec.clone(), r.cancel.clone()),
            None => return,
        }
    };
    let events: Vec<(i64, Arc<str>)> = {
        let st = svc.state.read();
        st.archives
            .get(&archive_key)
            .map(|a| {
                a.events
                    .range((rec.start_ms, 0)..(rec.end_ms, 0))
                    .map(|((ms, _), e)| (*ms, e.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let bus_key = {
        let ctx = RequestContext::new(rec.account.clone(), rec.region.clone());
        resolve_bus(&ctx, Some(&rec.destination.arn)).map(|b| b.key())
    };
    let Ok(bus_key) = bus_key else { return };
    let filter = rec
        .destination
        .filter_arns
        .clone()
        .filter(|f| !f.is_empty());
    let mut last = None;
    let mut routed = crate::ops_events::Routed::default();
    for (i, (ms, ev)) in events.into_iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            commit_replayed(&svc, std::mem::take(&mut routed)).await;
            svc.replay_update(&key, |r| {
                r.state = "CANCELLED".into();
                r.last_replayed = last.or(r.last_replayed);
                r.replay_end = Some(now_ms());
            })
            .await;
            return;
        }
        let snap = svc.state.read().buses.get(&bus_key).map(|b| b.snap.clone());
        let Some(snap) = snap else { break };
        let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(&ev) else {
            continue;
        };
        m.insert("replay-name".into(), Value::String(rec.name.clone()));
        let replayed: Arc<str> = Arc::from(Value::Object(m).to_string());
        svc.route(
            &snap,
            &replayed,
            now_ms(),
            0,
            filter.as_deref(),
            &mut routed,
        );
        // Replayed events are not archived again (the archive rule excludes them).
        routed.appends.clear();
        last = Some(ms);
        if i % 64 == 63 {
            commit_replayed(&svc, std::mem::take(&mut routed)).await;
            tokio::task::yield_now().await;
        }
    }
    commit_replayed(&svc, routed).await;
    svc.replay_update(&key, |r| {
        if r.state == "CANCELLING" {
            r.state = "CANCELLED".into();
        } else {
            r.state = "COMPLETED".into();
        }
        r.last_replayed = last.or(r.last_replayed);
        r.replay_end = Some(now_ms());
    })
    .await;
}

/// Replayed events are committed in groups of 64 (one store write each).
async fn commit_replayed(svc: &EventsService, routed: crate::ops_events::Routed) {
    if let Err(e) = svc.commit(routed).await {
        tracing::warn!(error = %e, "events: replayed events could not be stored for delivery");
    }
}

impl EventsService {
    /// Drop archived events older than their archive's retention; returns the
    /// store deletions.
    pub(crate) fn expire_archived(&self, now: i64) -> Vec<Write> {
        let mut st = self.state.write();
        let mut w = Vec::new();
        for (key, a) in st.archives.iter_mut() {
            if a.rec.retention_days <= 0 {
                continue;
            }
            let cutoff = now - a.rec.retention_days as i64 * 86_400_000;
            let expired: Vec<(i64, u64)> = a.events.range(..(cutoff, 0)).map(|(k, _)| *k).collect();
            let prefix = format!("{key}/");
            for k in expired {
                if let Some(ev) = a.events.remove(&k) {
                    a.size -= ev.len() as i64;
                }
                if self.durable {
                    w.push(Write::Delete {
                        table: T_ARCHIVED,
                        key: persist::archived_key(prefix.as_bytes(), k.0, k.1),
                    });
                }
            }
        }
        w
    }
}

/// Deletes archived events older than their archive's retention, every minute.
pub(crate) async fn retention_sweeper(svc: Weak<EventsService>) {
    loop {
        let Some(s) = svc.upgrade() else { return };
        if s.is_stopping() {
            return;
        }
        let writes = s.expire_archived(now_ms());
        if let Err(e) = s.persist(writes).await {
            tracing::warn!(error = %e, "events: archive retention sweep failed");
        }
        drop(s);
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}
