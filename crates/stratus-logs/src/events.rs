//! Log events: PutLogEvents, GetLogEvents, FilterLogEvents.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::errors::{
    constraint, group_not_found, invalid_parameter, invalid_token, stream_not_found,
};
use crate::generated::*;
use crate::names::{check_group_name, check_limit, check_stream_name, resolve_group_param};
use crate::pattern::FilterPattern;
use crate::persist::{self, T_EVENTS};
use crate::service::LogsService;
use crate::state::{DAY_MS, Event, GroupState, Stream};
use crate::tokens::{self, PageToken};

/// Batch limit: message bytes plus 26 per event.
const MAX_BATCH_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
const MAX_BATCH_EVENTS: usize = 10_000;
const MAX_PAST_MS: i64 = 14 * DAY_MS;
const MAX_FUTURE_MS: i64 = 2 * 3_600_000;
const MAX_SPAN_MS: i64 = DAY_MS;
/// Read responses stop at this many message bytes (AWS: "up to 1 MB").
const MAX_RESPONSE_BYTES: usize = 1_048_576;
const MIN_KEY: (i64, u64) = (0, 0);

impl LogsService {
    pub(crate) async fn op_put_log_events(
        &self,
        ctx: &RequestContext,
        input: PutLogEventsRequest,
    ) -> Result<PutLogEventsResponse, AwsError> {
        check_group_name("logGroupName", &input.log_group_name)?;
        check_stream_name("logStreamName", &input.log_stream_name)?;
        let batch = input.log_events;
        if batch.is_empty() {
            return Err(constraint(
                "logEvents",
                "[]",
                "Member must have length greater than or equal to 1",
            ));
        }
        if batch.len() > MAX_BATCH_EVENTS {
            return Err(constraint(
                "logEvents",
                batch.len(),
                "Member must have length less than or equal to 10000",
            ));
        }
        let mut total = 0usize;
        for (i, e) in batch.iter().enumerate() {
            if e.message.is_empty() {
                return Err(constraint(
                    &format!("logEvents.{}.member.message", i + 1),
                    "",
                    "Member must have length greater than or equal to 1",
                ));
            }
            total += e.message.len() + EVENT_OVERHEAD;
        }
        if total > MAX_BATCH_BYTES {
            return Err(invalid_parameter(format!(
                "Upload too large: {total} bytes exceeds limit of {MAX_BATCH_BYTES}"
            )));
        }
        if batch.windows(2).any(|w| w[0].timestamp > w[1].timestamp) {
            return Err(invalid_parameter(
                "Log events in a single PutLogEvents request must be in chronological order.",
            ));
        }
        let h = self.group(ctx, &input.log_group_name)?;
        let now = self.now();
        let mut writes = Vec::new();
        let (last_seq, rejected) = {
            let mut guard = h.state.lock();
            let st: &mut GroupState = &mut guard;
            if st.deleted {
                return Err(group_not_found());
            }
            let cutoff = st.retention_cutoff(now);
            let Some(stream) = st.streams.get_mut(&input.log_stream_name) else {
                return Err(stream_not_found());
            };
            // The batch is sorted, so each rejected class is a prefix or suffix.
            let too_old_end = batch.partition_point(|e| e.timestamp < now - MAX_PAST_MS);
            let expired_end = cutoff.map_or(0, |c| batch.partition_point(|e| e.timestamp < c));
            let too_new_start = batch.partition_point(|e| e.timestamp <= now + MAX_FUTURE_MS);
            let first = too_old_end.max(expired_end);
            let end = too_new_start.max(first);
            if let (Some(a), Some(b)) = (batch.get(first), batch[first..end].last())
                && b.timestamp - a.timestamp > MAX_SPAN_MS
            {
                return Err(invalid_parameter(
                    "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
                ));
            }
            let rejected = (too_old_end > 0 || expired_end > 0 || too_new_start < batch.len())
                .then(|| RejectedLogEventsInfo {
                    too_old_log_event_end_index: (too_old_end > 0).then_some(too_old_end as i32),
                    expired_log_event_end_index: (expired_end > 0).then_some(expired_end as i32),
                    too_new_log_event_start_index: (too_new_start < batch.len())
                        .then_some(too_new_start as i32),
                });
            let n = end - first;
            if n > 0 {
                let base = self.alloc_seq(n as u64);
                let mut accepted = Vec::with_capacity(n);
                let mut bytes = 0i64;
                for (i, e) in batch.into_iter().skip(first).take(n).enumerate() {
                    let seq = base + i as u64;
                    if self.durable {
                        writes.push(Write::Put {
                            table: T_EVENTS,
                            key: persist::event_key(stream.uid, e.timestamp, seq),
                            value: persist::encode_event_value(now, &e.message),
                        });
                    }
                    bytes += e.message.len() as i64;
                    accepted.push(Event {
                        ts: e.timestamp,
                        seq,
                        ingest: now,
                        msg: e.message.into_boxed_str(),
                    });
                }
                stream.insert_sorted(accepted);
                stream.last_ingest = Some(now);
                stream.last_seq = base + n as u64 - 1;
                let last_seq = stream.last_seq;
                st.stored_bytes += bytes;
                (last_seq, rejected)
            } else {
                (stream.last_seq, rejected)
            }
        };
        self.persist(writes).await?;
        Ok(PutLogEventsResponse {
            next_sequence_token: Some(tokens::sequence_token(last_seq.max(1))),
            rejected_log_events_info: rejected,
            rejected_entity_info: None,
        })
    }

    pub(crate) fn op_get_log_events(
        &self,
        ctx: &RequestContext,
        input: GetLogEventsRequest,
    ) -> Result<GetLogEventsResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 10_000)?;
        check_stream_name("logStreamName", &input.log_stream_name)?;
        let r = resolve_group_param(
            ctx,
            input.log_group_name.as_deref(),
            input.log_group_identifier.as_deref(),
        )?;
        let token = match &input.next_token {
            Some(t) => Some(PageToken::parse(t).ok_or_else(invalid_token)?),
            None => None,
        };
        let h = self.group_by_ref(ctx, r)?;
        let now = self.now();
        let st = h.state.lock();
        let stream = st
            .streams
            .get(&input.log_stream_name)
            .ok_or_else(stream_not_found)?;
        let floor = match (input.start_time, st.retention_cutoff(now)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let lo = floor.map_or(0, |t| stream.first_at_or_after_time(t));
        // endTime is exclusive for GetLogEvents.
        let hi = input
            .end_time
            .map_or(stream.events.len(), |t| stream.first_at_or_after_time(t))
            .max(lo);
        let from_head = input.start_from_head.unwrap_or(false);
        let (from, to) = match token {
            Some(PageToken::Forward(k)) => {
                let s = stream.after(k).clamp(lo, hi);
                (s, forward_end(stream, s, hi, limit))
            }
            Some(PageToken::Backward(k)) => {
                let e = stream.at_or_after(k).clamp(lo, hi);
                (backward_start(stream, lo, e, limit), e)
            }
            None if from_head => (lo, forward_end(stream, lo, hi, limit)),
            None => (backward_start(stream, lo, hi, limit), hi),
        };
        let page = &stream.events[from..to];
        let events: Vec<OutputLogEvent> = page
            .iter()
            .map(|e| OutputLogEvent {
                timestamp: Some(e.ts),
                message: Some(e.msg.to_string()),
                ingestion_time: Some(e.ingest),
            })
            .collect();
        // At the end of the stream in the token's direction AWS hands the
        // same token back.
        let (fwd, bwd) = match (page.is_empty(), &input.next_token, token) {
            (true, Some(t), Some(PageToken::Forward(_))) => (t.clone(), backward_at(stream, from)),
            (true, Some(t), Some(PageToken::Backward(_))) => (forward_at(stream, to), t.clone()),
            _ => (forward_at(stream, to), backward_at(stream, from)),
        };
        Ok(GetLogEventsResponse {
            events: Some(events),
            next_forward_token: Some(fwd),
            next_backward_token: Some(bwd),
        })
    }

    pub(crate) fn op_filter_log_events(
        &self,
        ctx: &RequestContext,
        input: FilterLogEventsRequest,
    ) -> Result<FilterLogEventsResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 10_000)?;
        if input.log_stream_names.is_some() && input.log_stream_name_prefix.is_some() {
            return Err(invalid_parameter(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters.",
            ));
        }
        let pattern = FilterPattern::parse(input.filter_pattern.as_deref().unwrap_or_default())
            .map_err(|e| invalid_parameter(format!("Invalid filter pattern: {e}")))?;
        let r = resolve_group_param(
            ctx,
            input.log_group_name.as_deref(),
            input.log_group_identifier.as_deref(),
        )?;
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_filter_token(t).ok_or_else(invalid_token)?),
            None => None,
        };
        let h = self.group_by_ref(ctx, r)?;
        let now = self.now();
        let st = h.state.lock();
        let floor = match (input.start_time, st.retention_cutoff(now)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let selected: Vec<(&String, &Stream)> =
            match (&input.log_stream_names, &input.log_stream_name_prefix) {
                (Some(names), _) => names
                    .iter()
                    .filter_map(|n| st.streams.get_key_value(n))
                    .collect(),
                (None, Some(p)) => st
                    .streams
                    .range(p.clone()..)
                    .take_while(|(n, _)| n.starts_with(p.as_str()))
                    .collect(),
                (None, None) => st.streams.iter().collect(),
            };
        // Per stream, the index range inside the time window and after the token.
        let mut heap = BinaryHeap::new();
        let mut ends = Vec::with_capacity(selected.len());
        for (i, (_, s)) in selected.iter().enumerate() {
            let mut lo = floor.map_or(0, |t| s.first_at_or_after_time(t));
            if let Some(k) = after {
                lo = lo.max(s.after(k));
            }
            // endTime is inclusive for FilterLogEvents.
            let hi = input
                .end_time
                .map_or(s.events.len(), |t| {
                    s.first_at_or_after_time(t.saturating_add(1))
                })
                .max(lo);
            ends.push(hi);
            if lo < hi {
                heap.push(Reverse((s.events[lo].key(), i, lo)));
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut more = false;
        let mut last_key = None;
        while let Some(Reverse((key, i, pos))) = heap.pop() {
            let (name, s) = selected[i];
            let e = &s.events[pos];
            if pattern.matches(&e.msg) {
                if out.len() == limit
                    || (bytes + e.msg.len() > MAX_RESPONSE_BYTES && !out.is_empty())
                {
                    more = true;
                    break;
                }
                bytes += e.msg.len();
                last_key = Some(key);
                out.push(FilteredLogEvent {
                    log_stream_name: Some(name.clone()),
                    timestamp: Some(e.ts),
                    message: Some(e.msg.to_string()),
                    ingestion_time: Some(e.ingest),
                    event_id: Some(tokens::event_id(key)),
                });
            }
            if pos + 1 < ends[i] {
                heap.push(Reverse((s.events[pos + 1].key(), i, pos + 1)));
            }
        }
        let next_token = more.then_some(last_key).flatten().map(tokens::filter_token);
        Ok(FilterLogEventsResponse {
            events: Some(out),
            searched_log_streams: Some(Vec::new()),
            next_token,
        })
    }
}

/// End of a forward page from `start`: at most `limit` events and about 1 MB.
fn forward_end(s: &Stream, start: usize, hi: usize, limit: usize) -> usize {
    let mut bytes = 0;
    let mut end = start;
    while end < hi && end - start < limit {
        bytes += s.events[end].msg.len();
        if bytes > MAX_RESPONSE_BYTES && end > start {
            break;
        }
        end += 1;
    }
    end
}

/// Start of a backward page ending at `end` (the newest events first fill it).
fn backward_start(s: &Stream, lo: usize, end: usize, limit: usize) -> usize {
    let mut bytes = 0;
    let mut start = end;
    while start > lo && end - start < limit {
        bytes += s.events[start - 1].msg.len();
        if bytes > MAX_RESPONSE_BYTES && start < end {
            break;
        }
        start -= 1;
    }
    start
}

/// Forward token for the boundary before index `p`.
fn forward_at(s: &Stream, p: usize) -> String {
    let k = p
        .checked_sub(1)
        .and_then(|i| s.events.get(i))
        .map_or(MIN_KEY, Event::key);
    PageToken::Forward(k).encode()
}

/// Backward token for the boundary before index `p`.
fn backward_at(s: &Stream, p: usize) -> String {
    let k = match s.events.get(p) {
        Some(e) => e.key(),
        None => s.events.last().map_or(MIN_KEY, |e| (e.ts, e.seq + 1)),
    };
    PageToken::Backward(k).encode()
}
