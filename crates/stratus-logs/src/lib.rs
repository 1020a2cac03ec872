//! Amazon CloudWatch Logs for Stratus.
//!
//! Operations: CreateLogGroup, DeleteLogGroup, DescribeLogGroups,
//! ListLogGroups, PutRetentionPolicy, DeleteRetentionPolicy,
//! PutLogGroupDeletionProtection, CreateLogStream, DeleteLogStream,
//! DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents,
//! PutMetricFilter, DescribeMetricFilters, DeleteMetricFilter,
//! TestMetricFilter, PutSubscriptionFilter, DescribeSubscriptionFilters,
//! DeleteSubscriptionFilter, TagResource, UntagResource, ListTagsForResource,
//! TagLogGroup, UntagLogGroup, ListTagsLogGroup. Every other operation
//! (Logs Insights queries, exports, deliveries, destinations, anomaly
//! detection, ...) answers `NotImplemented` (HTTP 501) with its name.
//!
//! Groups live per (account, region) in a sorted map; each group holds its
//! streams, and each stream its events sorted by (timestamp, sequence number),
//! so reads are binary searches and FilterLogEvents is a k-way merge over the
//! selected streams. The filter pattern language is the pure [`pattern`]
//! module. In-process writers (Lambda, EventBridge) call through the registry
//! ([`LogsClient`]); [`append_events`] adds group/stream creation and batching.
//!
//! Persistence: groups (with settings, tags and filters) and streams are JSON
//! records; events are binary records keyed by stream id + timestamp +
//! sequence, written in one store batch per PutLogEvents and awaited before
//! the response (see `persist`). With the memory store nothing is written.
//!
//! Decisions where the documentation is silent, and known divergences:
//! - Sequence tokens are ignored (as AWS does now); `nextSequenceToken` and
//!   `uploadSequenceToken` are 56-digit numbers, event ids are the
//!   56-digit (timestamp, sequence) and sort like the events.
//! - PutLogEvents: events more than 14 days old, before the retention period,
//!   or more than 2 hours ahead are rejected by index (`tooOldLogEventEndIndex`
//!   and `expiredLogEventEndIndex` exclusive, `tooNewLogEventStartIndex`
//!   inclusive); the 24-hour span applies to the accepted events. Unsorted
//!   batches fail. Events older than already-stored ones are merged in order.
//! - Retention is computed on event timestamps: reads hide expired events at
//!   once, PutRetentionPolicy deletes them immediately and a sweeper every 30 s
//!   deletes what ages out (AWS takes up to 72 hours).
//! - `storedBytes` of a group is the UTF-8 size of its stored messages
//!   (uncompressed); streams report 0, as AWS has since 2019.
//! - Unquoted filter terms match whole words (`ERROR` does not match
//!   `ERRORS`; use `%regex%` for substrings); JSON patterns need the whole
//!   message to be JSON; a space-delimited pattern without `...` needs the
//!   exact column count. A missing JSON property never matches, even with
//!   `!=`. Regexes accept the documented character set and no parentheses.
//! - Metric filters publish no metrics and subscription filters deliver
//!   nothing (their destinations are not checked); both are stored and
//!   described. Destinations, KMS association and data protection are not
//!   implemented; `kmsKeyId` is stored and reported only.
//! - `logGroupIdentifier` ARNs of another account or region name nothing
//!   (no cross-account observability); `includeLinkedAccounts` is ignored.
//! - GetLogEvents and FilterLogEvents stop at 1 MB of messages per page.
//!   At the end of a stream GetLogEvents returns the token it was given.
//! - All events are held in memory (the store is their durable log), so a
//!   group without retention grows without bound.
//! - Input errors that the HTTP front validates from the model (lengths,
//!   ranges, enums) come back as `ValidationException` from the protocol
//!   layer, where AWS's CloudWatch Logs says `InvalidParameterException`;
//!   errors raised here (name patterns, limits on in-process calls) use
//!   `InvalidParameterException` with the Coral wording.
mod client;
mod errors;
mod events;
mod filters;
mod generated;
mod groups;
mod names;
pub mod pattern;
mod persist;
mod service;
mod state;
mod streams;
mod sweeper;
mod tags;
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
mod tokens;

pub use client::{append_events, ensure_stream};
/// The shapes in-process callers need with [`LogsClient`].
pub use generated::{
    CreateLogGroupRequest, CreateLogStreamRequest, DescribeLogGroupsRequest,
    DescribeLogGroupsResponse, DescribeLogStreamsRequest, DescribeLogStreamsResponse,
    FilterLogEventsRequest, FilterLogEventsResponse, FilteredLogEvent, GetLogEventsRequest,
    GetLogEventsResponse, InputLogEvent, LogGroup, LogStream, LogsClient, OutputLogEvent,
    PutLogEventsRequest, PutLogEventsResponse, PutRetentionPolicyRequest, RejectedLogEventsInfo,
};
pub use service::LogsService;
pub use stratus_core::clock::{Clock, ManualClock, SystemClock};
