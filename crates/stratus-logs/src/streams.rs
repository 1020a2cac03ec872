//! Log stream operations: create, delete, describe.

use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::errors::{
    group_not_found, invalid_parameter, invalid_token, stream_exists, stream_not_found,
};
use crate::generated::*;
use crate::names::{check_limit, check_stream_name, resolve_group_param, stream_arn};
use crate::persist::{self, T_EVENTS, T_STREAMS};
use crate::service::LogsService;
use crate::state::Stream;
use crate::tokens;

impl LogsService {
    pub(crate) async fn op_create_log_stream(
        &self,
        ctx: &RequestContext,
        input: CreateLogStreamRequest,
    ) -> Result<(), AwsError> {
        check_stream_name("logStreamName", &input.log_stream_name)?;
        let h = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            if st.streams.contains_key(&input.log_stream_name) {
                return Err(stream_exists());
            }
            let stream = Stream::new(self.alloc_uid(), self.now());
            let w = h.stream_write(&input.log_stream_name, &stream);
            st.streams.insert(input.log_stream_name, stream);
            w
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_delete_log_stream(
        &self,
        ctx: &RequestContext,
        input: DeleteLogStreamRequest,
    ) -> Result<(), AwsError> {
        check_stream_name("logStreamName", &input.log_stream_name)?;
        let h = self.group(ctx, &input.log_group_name)?;
        let writes = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            let Some(stream) = st.streams.remove(&input.log_stream_name) else {
                return Err(stream_not_found());
            };
            let bytes: i64 = stream.events.iter().map(|e| e.msg.len() as i64).sum();
            st.stored_bytes -= bytes;
            vec![
                Write::Delete {
                    table: T_STREAMS,
                    key: persist::stream_key(&h.key, &input.log_stream_name).into_bytes(),
                },
                Write::DeletePrefix {
                    table: T_EVENTS,
                    prefix: persist::event_prefix(stream.uid),
                },
            ]
        };
        self.persist(writes).await
    }

    pub(crate) fn op_describe_log_streams(
        &self,
        ctx: &RequestContext,
        input: DescribeLogStreamsRequest,
    ) -> Result<DescribeLogStreamsResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 50)?;
        let by_time = match input.order_by.as_deref() {
            None | Some("LogStreamName") => false,
            Some("LastEventTime") => true,
            Some(other) => {
                return Err(crate::errors::constraint(
                    "orderBy",
                    other,
                    "Member must satisfy enum value set: [LogStreamName, LastEventTime]",
                ));
            }
        };
        if by_time && input.log_stream_name_prefix.is_some() {
            return Err(invalid_parameter(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ));
        }
        let descending = input.descending.unwrap_or(false);
        let r = resolve_group_param(
            ctx,
            input.log_group_name.as_deref(),
            input.log_group_identifier.as_deref(),
        )?;
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_list_token("streams", t).ok_or_else(invalid_token)?),
            None => None,
        };
        let h = self.group_by_ref(ctx, r)?;
        let now = self.now();
        let st = h.state.lock();
        let cutoff = st.retention_cutoff(now);
        let prefix = input.log_stream_name_prefix.as_deref().unwrap_or_default();
        let mut rows: Vec<(String, LogStream)> = st
            .streams
            .range(prefix.to_string()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, s)| {
                let row = describe_stream(&h.region, &h.account, &h.name, name, s, cutoff);
                let sort_key = if by_time {
                    format!(
                        "{:020}/{name}",
                        row.last_event_timestamp.unwrap_or(0).max(0)
                    )
                } else {
                    name.clone()
                };
                (sort_key, row)
            })
            .collect();
        drop(st);
        if by_time {
            rows.sort_by(|a, b| a.0.cmp(&b.0));
        }
        if descending {
            rows.reverse();
        }
        let mut out = Vec::new();
        let mut next_token = None;
        for (sort_key, row) in rows {
            if let Some(a) = &after {
                let past = if descending {
                    sort_key >= *a
                } else {
                    sort_key <= *a
                };
                if past {
                    continue;
                }
            }
            if out.len() == limit {
                next_token = out
                    .last()
                    .map(|(k, _): &(String, LogStream)| tokens::list_token("streams", k));
                break;
            }
            out.push((sort_key, row));
        }
        Ok(DescribeLogStreamsResponse {
            log_streams: Some(out.into_iter().map(|(_, r)| r).collect()),
            next_token,
        })
    }
}

fn describe_stream(
    region: &str,
    account: &str,
    group: &str,
    name: &str,
    s: &Stream,
    cutoff: Option<i64>,
) -> LogStream {
    let visible = &s.events[cutoff.map_or(0, |c| s.first_at_or_after_time(c))..];
    LogStream {
        log_stream_name: Some(name.to_string()),
        creation_time: Some(s.created),
        first_event_timestamp: visible.first().map(|e| e.ts),
        last_event_timestamp: visible.last().map(|e| e.ts),
        last_ingestion_time: s.last_ingest,
        upload_sequence_token: (s.last_seq > 0).then(|| tokens::sequence_token(s.last_seq)),
        arn: Some(stream_arn(region, account, group, name)),
        // AWS has reported zero for streams since 2019.
        stored_bytes: Some(0),
    }
}
