//! Amazon EventBridge Scheduler for Stratus.
//!
//! All 12 operations of the 2021-06-30 API: CreateSchedule, GetSchedule,
//! UpdateSchedule, DeleteSchedule, ListSchedules (NamePrefix, State and
//! GroupName filters, pagination), CreateScheduleGroup, GetScheduleGroup,
//! DeleteScheduleGroup (deletes the group's schedules), ListScheduleGroups,
//! TagResource, UntagResource and ListTagsForResource (tags live on schedule
//! groups). The `default` group exists implicitly in every account and region.
//!
//! Schedules fire. `at(yyyy-mm-ddThh:mm:ss)`, `rate(value unit)` and
//! `cron(minutes hours day-of-month month day-of-week year)` are evaluated in
//! the schedule's IANA time zone (`chrono-tz`), within StartDate/EndDate, with
//! a random delay inside a FLEXIBLE time window. One timer task sleeps on a
//! min-heap of planned fire times; each due firing is written to the store
//! before the target is called, so a restart never fires an occurrence twice
//! (its delivery resumes instead, see below; a one-time schedule that came due
//! while the process was down fires once on start-up; recurring schedules skip
//! the occurrences they missed).
//! ActionAfterCompletion DELETE removes a schedule after its last occurrence.
//!
//! Targets are called in process through the registry: SQS queues
//! (`SendMessage`, SqsParameters.MessageGroupId for FIFO queues), SNS topics
//! (`Publish`), Lambda functions (`Invoke`, InvocationType Event), Step
//! Functions state machines (`StartExecution`), EventBridge buses (`PutEvents`
//! with EventBridgeParameters) and universal targets
//! `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>` (any registered service;
//! the Input JSON is the request document, `sendMessage` → `SendMessage`; SDK
//! names `sfn`, `eventbridge`, `cloudwatchlogs` map to `states`, `events`,
//! `logs`). The context attributes `<aws.scheduler.schedule-arn>`,
//! `<aws.scheduler.scheduled-time>`, `<aws.scheduler.execution-id>` and
//! `<aws.scheduler.attempt-number>` are substituted in the Input. A failed
//! invocation is retried with exponential backoff and jitter (1 s doubling to
//! 5 min) within the RetryPolicy (defaults 185 attempts, 86,400 s), then sent to
//! the DeadLetterConfig queue with the attributes ERROR_CODE, ERROR_MESSAGE,
//! EXECUTION_ID, EXHAUSTED_RETRY_CONDITION, IS_PAYLOAD_TRUNCATED,
//! RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN and TARGET_ARN.
//!
//! Persistence: groups (with tags) and schedules (with their next occurrence)
//! are written through the store and awaited before each response; writes are
//! handed to the store while the state lock is held, so they land in the order
//! the state changed.
//!
//! In-flight deliveries are durable (`pending.rs`): each fired occurrence gets
//! a `scheduler_pending` row (the target as it was at firing, execution id,
//! first-attempt time, attempt number, due time) in the same store batch as the
//! schedule's advanced next occurrence. The row is rewritten when a retry is
//! scheduled and deleted, off the timer's path through a `WriteBehind`, when the
//! occurrence is delivered, dead-lettered or dropped; at start-up the rows
//! resume at their due times with the same execution id and attempt count, and
//! MaximumEventAgeInSeconds keeps counting from the first attempt. Delivery
//! across a crash is at least once. With the memory store nothing is kept.
//!
//! Decisions where the documentation is silent, and known divergences:
//! - Occurrences fire at their exact second; AWS allows itself up to 60 s.
//! - An `at` time that is already past when the schedule is created or updated
//!   never fires. An `at` time inside a spring-forward gap moves forward by the
//!   gap. Cron times in the gap are skipped and repeated times fire once (as the
//!   user guide documents); `rate` days are 24 hours.
//! - A rate schedule without StartDate fires at once and then every interval
//!   from creation, or from the last UpdateSchedule that changed its expression
//!   or StartDate (other updates keep the cadence and do not fire it again).
//! - `rate` accepts singular and plural units for any value.
//! - Errors with status 5xx or throttling are retried; other target errors
//!   (missing queue, service not running) go straight to the dead-letter queue,
//!   without EXHAUSTED_RETRY_CONDITION unless the policy allowed no retries.
//!   ERROR_CODE is the target service's error code as Stratus names it (for
//!   example `QueueDoesNotExist`). The dead-letter body is the rendered target
//!   input.
//! - EXECUTION_ID / `<aws.scheduler.execution-id>` is one 16-hex-digit id per
//!   occurrence, shared by its retries (also across restarts).
//! - An occurrence whose schedule is updated or deleted while it is being
//!   retried keeps the target it fired with.
//! - Without Input, targets receive `{}`.
//! - GetSchedule reports defaults: ScheduleExpressionTimezone `UTC`,
//!   ActionAfterCompletion `NONE`, and the default RetryPolicy.
//! - Deleting a group is immediate (no DELETING state). The default group
//!   cannot be deleted; it can be tagged. Tags keep their insertion order.
//! - StartDate more than 5 minutes in the past is rejected on CreateSchedule
//!   only; EndDate must follow StartDate. Both are ignored for `at` schedules.
//! - Messages this crate writes itself where AWS's are not documented:
//!   invalid time zone, FLEXIBLE without MaximumWindowInMinutes, deleting the
//!   default group, malformed Input for Lambda/Step Functions/EventBridge
//!   targets, invalid NextToken.
//! - KmsKeyArn, RoleArn (checked against its pattern) and EcsParameters,
//!   KinesisParameters, SageMakerPipelineParameters are stored and returned; ECS,
//!   Kinesis, SageMaker and other unlisted target types fail at invocation.
mod cron;
mod delivery;
mod errors;
mod expression;
mod generated;
mod invoke;
mod ops_groups;
mod ops_schedules;
mod ops_tags;
mod paging;
mod pending;
mod persist;
mod service;
mod state;
mod timer;
mod validate;

pub use generated::SchedulerClient;
pub use service::SchedulerService;
pub use stratus_core::clock::{Clock, SystemClock};

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
