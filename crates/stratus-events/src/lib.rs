//! Amazon EventBridge for Stratus.
//!
//! Operations: event buses (CreateEventBus, UpdateEventBus, DeleteEventBus,
//! DescribeEventBus, ListEventBuses; the `default` bus of every account and
//! region exists implicitly), resource policies (PutPermission with
//! Principal/Action/StatementId/Condition or a whole Policy, RemovePermission),
//! rules (PutRule, DescribeRule, DeleteRule, EnableRule, DisableRule,
//! ListRules, ListRuleNamesByTarget), targets (PutTargets, RemoveTargets,
//! ListTargetsByRule), PutEvents, TestEventPattern, tags (TagResource,
//! UntagResource, ListTagsForResource on buses and rules), archives
//! (CreateArchive, DescribeArchive, UpdateArchive, DeleteArchive,
//! ListArchives), replays (StartReplay, DescribeReplay, CancelReplay,
//! ListReplays), connections (CreateConnection, DescribeConnection,
//! UpdateConnection, DeauthorizeConnection, DeleteConnection, ListConnections),
//! API destinations (Create/Describe/Update/Delete/ListApiDestinations) and
//! global endpoints (Create/Describe/Update/Delete/ListEndpoints). The partner
//! event-source operations answer "not implemented".
//!
//! How it works: every bus keeps a compiled [`stratus_patterns::RuleSet`] of
//! its enabled rules in an immutable snapshot, so PutEvents builds the event
//! envelope, matches it once and hands (event, rule, target) jobs to delivery
//! without holding locks. Delivery runs in one worker task per target type;
//! SQS deliveries are batched per queue with SendMessageBatch, and PutEvents
//! answers once the first attempt of its SQS deliveries is made (so the
//! message is receivable when the call returns); every other target, and
//! every retry, is asynchronous. Other services are called through the registry (`sqs`,
//! `sns` Publish, `lambda` Invoke with InvocationType Event, `states`
//! StartExecution, `logs` CreateLogStream + PutLogEvents); when a service is not
//! registered the delivery fails (NO_RESOURCE) and follows the retry/DLQ path.
//! Scheduled rules are fired by a scheduler task (`schedule.rs` holds the pure
//! rate/cron parser and next-fire computation). Archives are fed by the managed
//! rule `Events-Archive-<name>` (ManagedBy `prod.vhs.events.aws.internal`, its
//! pattern excludes replayed events); archived events are written to the store
//! before PutEvents answers. Replays send archived events back to the bus with
//! a `replay-name` field, to every rule or to Destination.FilterArns.
//!
//! Cross-account access: `EventBusName` takes a name or the ARN of any
//! account's bus. Calls by another account (PutEvents, PutRule, PutTargets,
//! RemoveTargets, DeleteRule, DescribeRule, EnableRule, DisableRule,
//! ListRules, ListTargetsByRule, DescribeEventBus) are checked against the
//! bus's resource policy (see `policy.rs` for the condition operators; keys
//! `events:source`, `events:detail-type`, `events:creatorAccount`,
//! `events:eventBusInvocation`, `aws:PrincipalAccount`). Rules put on another
//! account's bus belong to the bus owner and record the creator (`CreatedBy`).
//! Deliveries to another account's bus need a RoleArn on the rule or target
//! or that bus's policy allowing the rule's account.
//!
//! Persistence: buses, rules with targets, archives and their events, replays,
//! connections, API destinations and endpoints are written through the store
//! before the response. So is every accepted delivery: PutEvents (and a
//! scheduled rule firing, a bus-to-bus hop, a replay) stores a pending row per
//! (event, rule, target) in the same batch as its archived events, and the rows
//! are resumed after a restart (`pending.rs`; at-least-once delivery).
//!
//! Benchmarks: `benches/put_events.rs` (in process, service path only) and
//! `benches/put_events_http.rs` (over HTTP against a running server).
//!
//! Known divergences and decisions where the documentation is silent:
//! - Deliveries are at least once across a crash: a delivery that succeeded
//!   just before a `kill -9`, whose pending row was not yet deleted, is made
//!   again after the restart (FIFO queue targets drop it as a duplicate).
//! - PutEvents over 256 KiB in total is refused as a whole
//!   (ValidationException), which is how an oversized entry is reported.
//! - PutEvents with a source starting with `aws.` fails the entry with
//!   NotAuthorizedForSourceException; to a missing bus with
//!   ResourceNotFoundException; cross-account denials with
//!   AccessDeniedException and IAM's wording.
//! - The event's `account` is the sender's account, `region` the caller's region.
//! - Retry backoff: 1 s doubling to 3 minutes with ±25 % jitter. The DLQ
//!   message body is the original event; attributes RULE_ARN, TARGET_ARN,
//!   ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION (only when a retry
//!   limit ended delivery) and RETRY_ATTEMPTS.
//! - FIFO SQS targets get `<event id>-<target id>[-<replay name>]` as
//!   MessageDeduplicationId, so retries are deduplicated and replays are not.
//! - API destinations call `http://` and `https://` endpoints (trust roots:
//!   platform, webpki, `--ca-bundle`/`STRATUS_CA_BUNDLE`); OAuth token
//!   requests send body parameters form-encoded.
//! - Rates count from the rule's creation; missed schedule occurrences while
//!   the process is down are not fired afterwards.
//! - Replays use the ingestion time for the window and run at full speed;
//!   replays interrupted by a restart are FAILED.
//! - The model has no Policy member on CreateEventBus/UpdateEventBus, so a
//!   policy is set with PutPermission (Policy or statement form).
//! - Bus-to-bus forwarding stops after 5 hops.
//! - TestEventPattern requires the event fields id, account, source, time,
//!   region and detail-type.

mod api;
mod archive;
mod delivery;
mod generated;
mod http;
mod ops_bus;
mod ops_conn;
mod ops_endpoints;
mod ops_events;
mod ops_rules;
mod pending;
mod persist;
mod policy;
mod schedule;
mod scheduler;
mod service;
mod state;
mod transform;
mod util;

pub use generated::EventsClient;
pub use schedule::{Schedule, ScheduleError};
pub use service::EventsService;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
