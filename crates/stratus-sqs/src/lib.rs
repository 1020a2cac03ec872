//! Amazon SQS for Stratus.
//!
//! All 23 operations of the 2012-11-05 API are implemented: CreateQueue,
//! GetQueueUrl, ListQueues, DeleteQueue, GetQueueAttributes, SetQueueAttributes,
//! PurgeQueue, TagQueue, UntagQueue, ListQueueTags, AddPermission,
//! RemovePermission, ListDeadLetterSourceQueues, SendMessage, SendMessageBatch,
//! ReceiveMessage, DeleteMessage, DeleteMessageBatch, ChangeMessageVisibility,
//! ChangeMessageVisibilityBatch, StartMessageMoveTask, ListMessageMoveTasks and
//! CancelMessageMoveTask. Inputs arrive validated against the model by the
//! protocol layer; this crate applies SQS's own rules and error messages.
//!
//! Queues live per (account, region). Queue URLs are `{endpoint}/{account}/{name}`;
//! incoming URLs are matched on their last two path segments, whatever the host.
//! Standard queues keep a deque of visible messages and a timer heap for delayed
//! and in-flight ones; FIFO queues keep per-group deques and a deque of available
//! groups, so receive cost does not grow with queue depth. Receipt handles encode
//! the queue's unique id, the message's internal id and a per-receive nonce.
//!
//! Persistence: with a durable [`stratus_store::Store`] every mutation (queue
//! records, messages with receive counts and visibility deadlines as absolute
//! epoch millis, FIFO deduplication entries, move tasks) is written and awaited
//! before the response. With the memory store no writes are built at all.
//!
//! Decisions where the documentation is silent or where Stratus diverges:
//! - `MaximumMessageSize` accepts 1,024–1,048,576 bytes (the 2025 1 MiB limit);
//!   new queues default to 1,048,576 bytes, as the current API reference says. Batch requests may total 1 MiB.
//! - A deleted queue's name can be reused immediately (AWS asks for 60 s);
//!   `QueueDeletedRecently` is never returned.
//! - CreateQueue with an existing name compares only the attributes given in the
//!   request; tags are not compared.
//! - Deleting with an out-of-date receipt handle deletes the message on standard
//!   queues; on FIFO queues it succeeds without deleting (the message is held by
//!   a newer receive). ChangeMessageVisibility requires the current handle.
//! - `MD5OfMessageAttributes` on receive is computed over the attributes actually
//!   returned (the SDKs verify it against those).
//! - Dead-letter moves keep the message id, body, attributes, SentTimestamp and
//!   receive count; retention keeps counting from the original enqueue for
//!   standard queues and restarts for FIFO queues. If the dead-letter queue is
//!   missing or its RedriveAllowPolicy denies the source, messages stay put.
//! - Message move tasks: without DestinationArn each message returns to the
//!   queue recorded in its DeadLetterQueueSourceArn; moved messages keep their
//!   ids and get a fresh receive count. A task moves the messages that are visible
//!   and completes when none are left (at most the count present at start). Tasks
//!   that were running when the process stopped are FAILED after a restart.
//!   Cancelling a task that is not RUNNING gives `UnsupportedOperation`.
//! - `MessageGroupId` is accepted on standard queues (fair queues) and returned as
//!   an attribute; it does not change delivery order in Stratus.
//! - SenderId is the sending account id. SequenceNumber is a 20-digit number,
//!   increasing per queue across restarts.
//! - KMS settings are stored and reported; no encryption takes place.
//! - Batch entry failures carry the error shape name as `Code`.
//! - Long polling is woken by sends and by the earliest visibility timer.
//! - Ordering of durable writes relies on the store applying batches in the
//!   order `apply` is awaited for a queue; concurrent operations on the same
//!   message (receive racing delete) could in theory persist out of order.
mod attributes;
mod errors;
pub mod generated;
mod md5;
mod message;
mod move_task;
mod persist;
mod queue;
mod service;
mod urls;

pub use generated::SqsClient;
pub use service::SqsService;
pub use stratus_core::clock::{Clock, ManualClock, SystemClock};
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
