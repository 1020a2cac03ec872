//! Helpers for services that write logs in process (Lambda, EventBridge).
//!
//! They go through the registry like any caller ([`LogsClient`]); they only
//! add what every writer needs: creating the group and stream on first use
//! and splitting a long run of lines into batches PutLogEvents accepts.

use stratus_core::AwsError;

use crate::generated::{
    CreateLogGroupRequest, CreateLogStreamRequest, InputLogEvent, LogsClient, PutLogEventsRequest,
};

const BATCH_BYTES: usize = 1_048_576;
const BATCH_EVENTS: usize = 10_000;
const EVENT_OVERHEAD: usize = 26;
const SPAN_MS: i64 = 86_400_000;

/// Appends `events` (timestamp in epoch millis, message) to
/// `group`/`stream`, creating both when missing. Events are sorted by
/// timestamp and sent in as few PutLogEvents calls as the limits allow;
/// empty messages are skipped (AWS rejects them). Returns the number of
/// events the service accepted.
pub async fn append_events(
    client: &LogsClient<'_>,
    group: &str,
    stream: &str,
    mut events: Vec<(i64, String)>,
) -> Result<usize, AwsError> {
    events.retain(|(_, m)| !m.is_empty());
    events.sort_by_key(|(ts, _)| *ts);
    let mut accepted = 0;
    for batch in batches(events) {
        let n = batch.len();
        let req = PutLogEventsRequest {
            log_group_name: group.to_string(),
            log_stream_name: stream.to_string(),
            log_events: batch,
            sequence_token: None,
            entity: None,
        };
        let out = match client.put_log_events(&req).await {
            Err(e) if e.code == "ResourceNotFoundException" => {
                ensure_stream(client, group, stream).await?;
                client.put_log_events(&req).await?
            }
            other => other?,
        };
        let rejected = out.rejected_log_events_info.map_or(0, |r| {
            let old = r
                .too_old_log_event_end_index
                .max(r.expired_log_event_end_index)
                .unwrap_or(0) as usize;
            let new = r
                .too_new_log_event_start_index
                .map_or(0, |s| n.saturating_sub(s as usize));
            old + new
        });
        accepted += n.saturating_sub(rejected);
    }
    Ok(accepted)
}

/// Creates the group and the stream unless they exist.
pub async fn ensure_stream(
    client: &LogsClient<'_>,
    group: &str,
    stream: &str,
) -> Result<(), AwsError> {
    let created = client
        .create_log_group(&CreateLogGroupRequest {
            log_group_name: group.to_string(),
            ..Default::default()
        })
        .await;
    match created {
        Err(e) if e.code != "ResourceAlreadyExistsException" => return Err(e),
        _ => {}
    }
    let created = client
        .create_log_stream(&CreateLogStreamRequest {
            log_group_name: group.to_string(),
            log_stream_name: stream.to_string(),
        })
        .await;
    match created {
        Err(e) if e.code != "ResourceAlreadyExistsException" => Err(e),
        _ => Ok(()),
    }
}

/// Splits sorted events into batches within the count, size and 24-hour limits.
fn batches(events: Vec<(i64, String)>) -> Vec<Vec<InputLogEvent>> {
    let mut out = Vec::new();
    let mut cur: Vec<InputLogEvent> = Vec::new();
    let mut bytes = 0;
    for (ts, mut message) in events {
        // One event alone may not exceed the batch limit.
        if message.len() + EVENT_OVERHEAD > BATCH_BYTES {
            let mut cut = BATCH_BYTES - EVENT_OVERHEAD;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let size = message.len() + EVENT_OVERHEAD;
        let span_ok = cur.first().is_none_or(|f| ts - f.timestamp <= SPAN_MS);
        if !cur.is_empty() && (cur.len() == BATCH_EVENTS || bytes + size > BATCH_BYTES || !span_ok)
        {
            out.push(std::mem::take(&mut cur));
            bytes = 0;
        }
        bytes += size;
        cur.push(InputLogEvent {
            timestamp: ts,
            message,
        });
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_limits() {
        let events: Vec<(i64, String)> = (0..25_000).map(|i| (i, "x".to_string())).collect();
        let b = batches(events);
        assert_eq!(
            b.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10_000, 10_000, 5_000]
        );
        let big = "y".repeat(600_000);
        let b = batches(vec![(1, big.clone()), (2, big)]);
        assert_eq!(b.len(), 2);
        let b = batches(vec![(0, "a".into()), (SPAN_MS + 1, "b".into())]);
        assert_eq!(b.len(), 2);
        let b = batches(vec![(0, "z".repeat(2_000_000))]);
        assert_eq!(b[0][0].message.len(), BATCH_BYTES - EVENT_OVERHEAD);
    }
}
