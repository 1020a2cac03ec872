//! Amazon SNS for Stratus.
//!
//! All 42 operations of the 2010-03-31 API are implemented. Topics,
//! subscriptions and message delivery behave as on AWS; mobile push and SMS
//! settings (platform applications and endpoints, SMS attributes, opt-outs,
//! sandbox numbers) are stored and managed, and their messages are recorded
//! instead of sent.
//!
//! - Topics: CreateTopic (standard and FIFO, idempotent, attributes, tags,
//!   data protection policy), DeleteTopic (removes its subscriptions),
//!   Get/SetTopicAttributes (DisplayName, Policy — AWS's default policy
//!   document —, DeliveryPolicy, EffectiveDeliveryPolicy, KmsMasterKeyId,
//!   TracingConfig, SignatureVersion, MaximumMessageSize, FIFO's
//!   ContentBasedDeduplication, FifoThroughputScope and ArchivePolicy /
//!   BeginningArchiveTime, delivery-status feedback attributes, computed
//!   SubscriptionsConfirmed/Pending/Deleted and Owner), ListTopics,
//!   AddPermission/RemovePermission, Tag/Untag/ListTagsForResource,
//!   Get/PutDataProtectionPolicy.
//! - Subscriptions: Subscribe (sqs, lambda, http, https, email, email-json,
//!   sms, application, firehose; idempotent per protocol and endpoint),
//!   ConfirmSubscription, Unsubscribe, Get/SetSubscriptionAttributes
//!   (RawMessageDelivery, FilterPolicy and FilterPolicyScope via
//!   `stratus-patterns`, DeliveryPolicy, RedrivePolicy, SubscriptionRoleArn,
//!   ReplayPolicy), ListSubscriptions and ListSubscriptionsByTopic (100 per
//!   page).
//! - Publish and PublishBatch: TopicArn, TargetArn (topics and platform
//!   endpoints) or PhoneNumber; Subject rules; message attributes (String,
//!   String.Array, Number, Binary); MessageStructure=json; the size limit
//!   (message plus attributes, `MaximumMessageSize`, 256 KiB by default);
//!   FIFO topics with per-topic ordering, SequenceNumber and deduplication
//!   (explicit ids or content-based, 5-minute window, topic or message-group
//!   scope).
//!
//! Delivery. Each topic keeps a precomputed list of routes (its confirmed
//! subscriptions with parsed endpoints, compiled filter policies and delivery
//! policies), rebuilt when a subscription changes. A publish builds its
//! envelope head and signature once per message text and copies bytes per
//! subscriber. SQS deliveries are SendMessage calls through the registry, in
//! the queue's own account and region, awaited before Publish answers (so an
//! acknowledged publish is in the queues, durably); FIFO topics pass
//! MessageGroupId and MessageDeduplicationId through. Lambda (registry
//! `lambda` Invoke, InvocationType Event, the SNS event record) and HTTP/S
//! deliveries run in the background with retries: HTTP/S per the effective
//! delivery policy (immediate, pre-backoff, backoff and post-backoff phases),
//! SQS and Lambda after server-side errors per AWS's managed-endpoint phases.
//! Client-side failures (a missing queue or function, a 4xx answer) and
//! exhausted retries go to the subscription's dead-letter queue (with
//! `ErrorCode`, `ErrorMessage` and `RequestID` message attributes) when it has
//! one, and are dropped otherwise. HTTP/S endpoints receive AWS's headers
//! (`x-amz-sns-message-type`, `-message-id`, `-topic-arn`, `-subscription-arn`,
//! `Content-Type: text/plain; charset=UTF-8` unless the request policy says
//! otherwise) and the SubscriptionConfirmation flow with a real token and
//! SubscribeURL. Email, email-json, SMS and mobile-push messages (and email
//! confirmations) are recorded and listed at `GET /_stratus/sns/emails`,
//! `/_stratus/sns/sms` and `/_stratus/sns/platform-messages` (filters `to`,
//! `topic_arn`, `subscription_arn`).
//!
//! Signatures. An RSA-2048 key and a self-signed certificate are generated in
//! the background when the first topic is created, and stored; every message
//! is signed as
//! AWS documents (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA over the
//! canonical field string) and SigningCertURL points to
//! `{endpoint}/_stratus/sns/SimpleNotificationService-<id>.pem`, which serves
//! the PEM. UnsubscribeURL and SubscribeURL use the query API of the same
//! endpoint and work without credentials, as on AWS.
//!
//! Cost: RSA-2048 signing (about 1 ms of CPU with the pure-Rust `rsa` crate)
//! happens once per message text, off the async workers, and only when some
//! subscriber receives an envelope; raw SQS/HTTP deliveries never sign. So a
//! fan-out of non-raw messages is bounded by signatures per second, whatever
//! the number of subscribers (see `examples/publish_load.rs`).
//!
//! Persistence: topics (attributes, tags, policies, the FIFO sequence bound),
//! subscriptions (attributes, confirmation state and tokens), FIFO
//! deduplication entries, platform applications and endpoints, SMS settings
//! and the signing key are written through the store before a request is
//! acknowledged. With the memory store nothing is written.
//!
//! Decisions where the documentation is silent, and divergences from AWS:
//! - Another account may act on a topic when the topic policy allows it (see
//!   `policy`); the owner always may. IAM policies are not evaluated.
//! - Cross-account SQS subscriptions made by the topic owner are pending until
//!   confirmed; the SubscriptionConfirmation is sent to the queue. HTTP/S and
//!   email subscriptions always need confirmation; others are confirmed at once.
//! - Confirmation tokens do not expire. UnsubscribeConfirmation messages are
//!   sent to HTTP/S endpoints, but their SubscribeURL cannot restore the
//!   subscription.
//! - With a durable store, Lambda and HTTP/S deliveries and their retry state
//!   are stored before Publish answers and resume after a restart (at least
//!   once; `pending.rs`). SQS deliveries are in SQS before Publish answers;
//!   only their rare server-side-error retries are held in memory.
//!   `throttlePolicy.maxReceivesPerSecond` spaces one subscription's HTTP/S
//!   attempts (its state restarts when the topic's subscriptions change).
//!   HTTPS endpoints are verified against the platform and webpki roots plus
//!   `--ca-bundle` / `STRATUS_CA_BUNDLE` (`stratus-http-out`).
//! - Subscriptions left unconfirmed are kept (AWS deletes them after 3 days).
//! - ConfirmationWasAuthenticated is true for subscriptions confirmed by a
//!   signed ConfirmSubscription or confirmed automatically; unsigned
//!   Unsubscribe (the UnsubscribeURL) works unless the subscription was
//!   confirmed with AuthenticateOnUnsubscribe=true.
//! - HTTP answers 2xx/3xx are deliveries; 4xx other than 429 are client errors
//!   (no retry); 429, 5xx, timeouts (15 s) and connection errors are retried.
//! - The backoff curves (linear, arithmetic, geometric, exponential) run from
//!   minDelayTarget to maxDelayTarget; AWS's exact curves and jitter are not
//!   reproduced. Retries of SQS/Lambda stop after AWS's first three phases
//!   (about two minutes) instead of 23 days.
//! - SubscriptionsDeleted is always 0 (deleted subscriptions vanish at once).
//! - MessageGroupId is accepted on standard topics and passed to standard
//!   queues (SQS fair queues).
//! - Firehose subscriptions are stored; nothing is delivered. KMS settings and
//!   data protection policies are stored, not applied. Archive policies are
//!   stored (with BeginningArchiveTime); messages are not archived or replayed.
//! - Publish with PhoneNumber, sms subscriptions and platform endpoints record
//!   their messages; CreateSMSSandboxPhoneNumber records the one-time password
//!   as an SMS; accounts are always in the SMS sandbox.
//! - Error messages follow AWS's `Invalid parameter: ...` wording where it is
//!   known; the rarer validation messages are Stratus's own.

mod api;
mod arn;
mod attributes;
mod clock;
mod deliver;
mod delivery_policy;
mod errors;
mod generated;
mod http_client;
mod message;
mod ops_subs;
mod ops_topics;
mod outbox;
mod pagination;
mod pending;
mod persist;
mod platform;
mod policy;
mod publish;
mod route;
mod service;
mod signing;
mod sms;
mod subscription;
mod topic;

pub use generated::SnsClient;
pub use service::SnsService;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
