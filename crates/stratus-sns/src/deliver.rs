//! Fan-out and delivery: SQS (in process, awaited before Publish answers),
//! Lambda and HTTP/S (in the background, with retries; stored first with a
//! durable store, see `pending.rs`), email/SMS/mobile push (recorded),
//! subscription confirmations, and dead-letter queues.

use std::sync::Arc;

use base64::Engine;
use serde_json::{Map, Value, json};
use stratus_core::{AwsError, RequestContext};

use crate::delivery_policy::{Backoff, RetryPolicy};
use crate::http_client::Outcome;
use crate::message::{ConfirmationKind, ConfirmationParts, Outgoing, confirmation};
use crate::outbox::Kind;
use crate::pending::{self, PendingRec};
use crate::route::{QueueRef, Route, Target};
use crate::service::SnsService;
use crate::subscription::{Protocol, Subscription};
use crate::topic::Topic;

/// Retries for AWS-managed endpoints (SQS, Lambda) after server-side errors:
/// AWS's immediate, pre-backoff and backoff phases (its 100,000 post-backoff
/// retries over 23 days are not attempted).
const MANAGED_RETRIES: RetryPolicy = RetryPolicy {
    min_delay: 1,
    max_delay: 20,
    num_retries: 15,
    num_no_delay: 3,
    num_min_delay: 2,
    num_max_delay: 0,
    backoff: Backoff::Exponential,
};

/// Why a delivery failed.
struct Failure {
    code: String,
    message: String,
    /// Client-side failures are not retried.
    client: bool,
}

impl Failure {
    fn from_error(e: &AwsError) -> Self {
        Self {
            code: e.code.clone(),
            message: e.message.clone(),
            client: e.sender_fault,
        }
    }
}

/// What a delivery to a queue needs of its message.
pub(crate) struct MsgRef<'a> {
    message_id: &'a str,
    group_id: Option<&'a str>,
    dedup_id: Option<&'a str>,
    endpoint: &'a str,
}

impl<'a> MsgRef<'a> {
    fn of(out: &'a Outgoing) -> Self {
        Self {
            message_id: &out.message_id,
            group_id: out.group_id.as_deref(),
            dedup_id: out.dedup_id.as_deref(),
            endpoint: &out.endpoint,
        }
    }

    fn of_pending(rec: &'a PendingRec) -> Self {
        Self {
            message_id: &rec.message_id,
            group_id: rec.group_id.as_deref(),
            dedup_id: rec.dedup_id.as_deref(),
            endpoint: &rec.endpoint,
        }
    }
}

/// A Lambda or HTTP/S delivery in progress; `id` names its `sns_pending` row
/// (0: not stored, the memory store).
pub(crate) struct Background {
    pub id: u64,
    pub rec: PendingRec,
}

impl SnsService {
    /// Deliver `out` to every route of `topic` whose filter accepts it. SQS
    /// deliveries (and recorded email) complete before this returns; Lambda and
    /// HTTP/S deliveries continue in the background, stored first when the
    /// store is durable (an error here means the publish was not accepted).
    pub(crate) async fn fan_out(&self, topic: &Topic, out: &Arc<Outgoing>) -> Result<(), AwsError> {
        let fanout = topic.snapshot();
        if fanout.routes.is_empty() {
            return Ok(());
        }
        let mut inline = Vec::new();
        let mut background = Vec::new();
        for route in &fanout.routes {
            if !self.accepts(route, out) {
                continue;
            }
            match &route.target {
                Target::Sqs(q) => inline.push(self.deliver_sqs(out, route, q)),
                Target::Lambda { .. } | Target::Http { .. } => background.push(route.clone()),
                Target::Email { .. } | Target::Sms | Target::Application => {
                    self.record(topic, out, route).await
                }
                Target::Firehose => {
                    tracing::debug!(subscription = %route.sub_arn, "sns: firehose delivery is not performed");
                }
            }
        }
        let stored = self.start_background(out, background);
        if inline.is_empty() {
            return stored.await;
        }
        let (stored, _) =
            futures_util::future::join(stored, futures_util::future::join_all(inline)).await;
        stored
    }

    /// The body a background route receives: the Lambda event or the HTTP body.
    async fn background_body(&self, out: &Outgoing, route: &Route) -> Result<String, AwsError> {
        match &route.target {
            Target::Lambda { .. } => {
                let keys = self.keys().await?;
                let v = out.variant(route.protocol, &keys).await?;
                Ok(out.lambda_event(&v, route, &keys))
            }
            _ => self.body_for(out, route).await,
        }
    }

    /// Start the Lambda and HTTP/S deliveries of one message. With a durable
    /// store their rows are committed (one apply) before this returns.
    async fn start_background(
        &self,
        out: &Arc<Outgoing>,
        routes: Vec<Arc<Route>>,
    ) -> Result<(), AwsError> {
        if routes.is_empty() {
            return Ok(());
        }
        let Some(svc) = self.arc() else {
            return Ok(());
        };
        let record = |body: String| PendingRec {
            sub_arn: String::new(),
            topic_arn: out.topic_arn.clone(),
            message_id: out.message_id.clone(),
            group_id: out.group_id.clone(),
            dedup_id: out.dedup_id.clone(),
            endpoint: out.endpoint.clone(),
            body,
            attempt: 0,
            due_ms: crate::clock::now_millis(),
        };
        if !self.durable {
            // Nothing to store: signing and delivery happen off the request path.
            for route in routes {
                let (svc, out) = (svc.clone(), out.clone());
                let mut rec = record(String::new());
                tokio::spawn(async move {
                    match svc.background_body(&out, &route).await {
                        Ok(body) => {
                            rec.body = body;
                            rec.sub_arn = route.sub_arn.clone();
                            svc.run_background(&route, Background { id: 0, rec }).await;
                        }
                        Err(e) => tracing::warn!(error = %e, "sns: could not build the message"),
                    }
                });
            }
            return Ok(());
        }
        let mut jobs = Vec::with_capacity(routes.len());
        for route in routes {
            match self.background_body(out, &route).await {
                Ok(body) => {
                    let mut rec = record(body);
                    rec.sub_arn = route.sub_arn.clone();
                    let id = self
                        .pending_seq
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    jobs.push((route, Background { id, rec }));
                }
                Err(e) => tracing::warn!(error = %e, "sns: could not build the message"),
            }
        }
        let writes = jobs
            .iter()
            .map(|(_, b)| pending::put(b.id, &b.rec))
            .collect();
        self.persist(writes).await?;
        for (route, b) in jobs {
            let svc = svc.clone();
            tokio::spawn(async move { svc.run_background(&route, b).await });
        }
        Ok(())
    }

    /// Run a background delivery from its current attempt to its end.
    pub(crate) async fn run_background(&self, route: &Route, mut b: Background) {
        // Resumed at start-up, a delivery may run before the registry is bound.
        for _ in 0..100 {
            if self.registry.get().is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let wait = b.rec.due_ms - crate::clock::now_millis();
        if wait > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
        }
        let schedule = match &route.target {
            Target::Lambda { .. } => MANAGED_RETRIES.schedule(),
            _ => route.policy.retry.schedule(),
        };
        let failure = loop {
            let result = match &route.target {
                Target::Lambda {
                    function,
                    account,
                    region,
                } => self.invoke_lambda(function, account, region, &b.rec).await,
                Target::Http { url } => self.post_http(url, route, &b.rec).await,
                _ => Ok(()),
            };
            b.rec.attempt += 1;
            match result {
                Ok(()) => {
                    self.settle(&b);
                    return;
                }
                Err(f) if f.client => break f,
                Err(f) => match schedule.get(b.rec.attempt as usize - 1) {
                    Some(delay) => {
                        tracing::debug!(subscription = %route.sub_arn, reason = %f.message, ?delay, "sns: delivery failed; retrying");
                        b.rec.due_ms = crate::clock::now_millis() + delay.as_millis() as i64;
                        if b.id != 0 {
                            self.behind.push(pending::put(b.id, &b.rec));
                        }
                        tokio::time::sleep(*delay).await;
                    }
                    None => break f,
                },
            }
        };
        tracing::info!(subscription = %route.sub_arn, error = %failure.message, "sns: delivery failed");
        let body = std::mem::take(&mut b.rec.body);
        let m = MsgRef::of_pending(&b.rec);
        self.dead_letter(&m, route, body, None, &failure).await;
        self.settle(&b);
    }

    fn settle(&self, b: &Background) {
        if b.id != 0 {
            self.behind.push(pending::delete(b.id, &b.rec.sub_arn));
        }
    }

    fn accepts(&self, route: &Route, out: &Outgoing) -> bool {
        match &route.filter {
            None => true,
            Some(filter) => {
                filter.matches_message(out.message_for(route.protocol), out.attr_triples())
            }
        }
    }

    /// The body a route receives: the message itself (raw) or the envelope.
    async fn body_for(&self, out: &Outgoing, route: &Route) -> Result<String, AwsError> {
        if route.raw {
            return Ok(out.message_for(route.protocol).to_string());
        }
        let keys = self.keys().await?;
        let v = out.variant(route.protocol, &keys).await?;
        Ok(out.envelope(&v, route))
    }

    fn queue_ctx(q: &QueueRef, m: &MsgRef) -> RequestContext {
        RequestContext {
            account_id: q.account.clone(),
            region: q.region.clone(),
            request_id: m.message_id.to_string(),
            access_key: String::new(),
            endpoint: m.endpoint.to_string(),
        }
    }

    /// SendMessage document for a delivery to `q`.
    fn sqs_document(
        q: &QueueRef,
        m: &MsgRef,
        body: String,
        attrs: Option<Map<String, Value>>,
    ) -> Value {
        let mut doc = Map::new();
        doc.insert("QueueUrl".into(), Value::String(q.url.clone()));
        doc.insert("MessageBody".into(), Value::String(body));
        if let Some(attrs) = attrs.filter(|a| !a.is_empty()) {
            doc.insert("MessageAttributes".into(), Value::Object(attrs));
        }
        if let Some(g) = m.group_id {
            doc.insert("MessageGroupId".into(), Value::String(g.to_string()));
        }
        if q.fifo
            && let Some(d) = m.dedup_id
        {
            doc.insert(
                "MessageDeduplicationId".into(),
                Value::String(d.to_string()),
            );
        }
        Value::Object(doc)
    }

    async fn send_to_queue(&self, q: &QueueRef, m: &MsgRef<'_>, doc: Value) -> Result<(), Failure> {
        let Some(registry) = self.registry.get() else {
            return Err(Failure {
                code: "ServiceUnavailable".into(),
                message: "SQS is not available".into(),
                client: false,
            });
        };
        registry
            .call("sqs", &Self::queue_ctx(q, m), "SendMessage", doc)
            .await
            .map(|_| ())
            .map_err(|e| Failure::from_error(&e))
    }

    async fn deliver_sqs(&self, out: &Arc<Outgoing>, route: &Arc<Route>, q: &QueueRef) {
        let raw_attrs = || {
            route
                .raw
                .then(|| crate::attributes::sqs_document(&out.attrs))
        };
        let body = match self.body_for(out, route).await {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "sns: could not build the message");
                return;
            }
        };
        // The first attempt moves the body; failures (rare) rebuild it.
        let doc = Self::sqs_document(q, &MsgRef::of(out), body, raw_attrs());
        let mut failure = match self.send_to_queue(q, &MsgRef::of(out), doc).await {
            Ok(()) => return,
            Err(f) => f,
        };
        let Ok(body) = self.body_for(out, route).await else {
            return;
        };
        let attrs = raw_attrs();
        // Server-side errors are retried, in the background.
        if !failure.client {
            let Some(svc) = self.arc() else { return };
            let (out, route, q) = (out.clone(), route.clone(), q.clone());
            tokio::spawn(async move {
                for delay in MANAGED_RETRIES.schedule() {
                    tokio::time::sleep(delay).await;
                    let m = MsgRef::of(&out);
                    let doc = Self::sqs_document(&q, &m, body.clone(), attrs.clone());
                    match svc.send_to_queue(&q, &m, doc).await {
                        Ok(()) => return,
                        Err(f) => {
                            let client = f.client;
                            failure = f;
                            if client {
                                break;
                            }
                        }
                    }
                }
                svc.dead_letter(&MsgRef::of(&out), &route, body, attrs, &failure)
                    .await;
            });
            return;
        }
        self.dead_letter(&MsgRef::of(out), route, body, attrs, &failure)
            .await;
    }

    async fn invoke_lambda(
        &self,
        function: &str,
        account: &str,
        region: &str,
        rec: &PendingRec,
    ) -> Result<(), Failure> {
        let ctx = RequestContext {
            account_id: account.to_string(),
            region: region.to_string(),
            request_id: rec.message_id.clone(),
            access_key: String::new(),
            endpoint: rec.endpoint.clone(),
        };
        let doc = json!({
            "FunctionName": function,
            "InvocationType": "Event",
            "Payload": base64::engine::general_purpose::STANDARD.encode(rec.body.as_bytes()),
        });
        match self.registry.get() {
            Some(r) if r.get("lambda").is_some() => r
                .call("lambda", &ctx, "Invoke", doc)
                .await
                .map(|_| ())
                .map_err(|e| Failure::from_error(&e)),
            _ => Err(Failure {
                code: "ServiceNotAvailable".into(),
                message: "Lambda is not enabled in this Stratus".into(),
                client: true,
            }),
        }
    }

    async fn post_http(&self, url: &str, route: &Route, rec: &PendingRec) -> Result<(), Failure> {
        let mut headers = vec![
            ("x-amz-sns-message-type", "Notification"),
            ("x-amz-sns-message-id", rec.message_id.as_str()),
            ("x-amz-sns-topic-arn", rec.topic_arn.as_str()),
            ("x-amz-sns-subscription-arn", route.sub_arn.as_str()),
            ("content-type", route.policy.content_type()),
            ("user-agent", "Amazon Simple Notification Service Agent"),
        ];
        if route.raw {
            headers.push(("x-amz-sns-rawdelivery", "true"));
        }
        if let Some(t) = &route.throttle {
            t.wait().await;
        }
        match self.http.post(url, &headers, rec.body.clone()).await {
            Outcome::Delivered => Ok(()),
            Outcome::Rejected(status) => Err(Failure {
                code: format!("HTTP{status}"),
                message: format!("The endpoint answered HTTP {status}"),
                client: true,
            }),
            Outcome::Failed(reason) => Err(Failure {
                code: "DeliveryFailed".into(),
                message: reason,
                client: false,
            }),
        }
    }

    /// Email, SMS and mobile push: recorded in the outbox.
    async fn record(&self, topic: &Topic, out: &Arc<Outgoing>, route: &Arc<Route>) {
        let mut f = Map::new();
        f.insert("Timestamp".into(), json!(out.timestamp));
        f.insert("MessageId".into(), json!(out.message_id));
        f.insert("TopicArn".into(), json!(out.topic_arn));
        f.insert("SubscriptionArn".into(), json!(route.sub_arn));
        match &route.target {
            Target::Email { json } => {
                let display = topic
                    .state
                    .lock()
                    .attrs
                    .get("DisplayName")
                    .filter(|d| !d.is_empty())
                    .cloned()
                    .unwrap_or_else(|| "AWS Notifications".into());
                let body = if *json {
                    match self.body_for(out, route).await {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::warn!(error = %e, "sns: could not build the message");
                            return;
                        }
                    }
                } else {
                    out.email_text(route)
                };
                f.insert("Type".into(), json!("Notification"));
                f.insert("Protocol".into(), json!(route.protocol.as_str()));
                f.insert(
                    "From".into(),
                    json!(format!("{display} <no-reply@sns.amazonaws.com>")),
                );
                f.insert("To".into(), json!(route.endpoint));
                f.insert(
                    "Subject".into(),
                    json!(out.subject.as_deref().unwrap_or("AWS Notification Message")),
                );
                f.insert("Body".into(), json!(body));
                self.outbox.record(Kind::Email, f);
            }
            Target::Sms => {
                f.insert("To".into(), json!(route.endpoint));
                f.insert("Message".into(), json!(out.message_for(Protocol::Sms)));
                self.outbox.record(Kind::Sms, f);
            }
            Target::Application => {
                f.insert("EndpointArn".into(), json!(route.endpoint));
                f.insert(
                    "Message".into(),
                    json!(out.message_for(Protocol::Application)),
                );
                if let Some(s) = &out.structured {
                    f.insert("MessageStructure".into(), json!(s));
                }
                self.outbox.record(Kind::Platform, f);
            }
            _ => {}
        }
    }

    /// Send a failed delivery to the subscription's dead-letter queue (or drop
    /// it, as AWS does without one).
    async fn dead_letter(
        &self,
        m: &MsgRef<'_>,
        route: &Route,
        body: String,
        attrs: Option<Map<String, Value>>,
        failure: &Failure,
    ) {
        let Some(dlq) = &route.dlq else {
            tracing::info!(subscription = %route.sub_arn, code = %failure.code, "sns: delivery failed; message discarded (no dead-letter queue)");
            return;
        };
        let mut attrs = attrs.unwrap_or_default();
        // SQS takes at most 10 attributes; the error details come last.
        if attrs.len() + 3 <= 10 {
            attrs.insert(
                "ErrorCode".into(),
                json!({"DataType": "String", "StringValue": failure.code}),
            );
            attrs.insert(
                "ErrorMessage".into(),
                json!({"DataType": "String", "StringValue": failure.message}),
            );
            attrs.insert(
                "RequestID".into(),
                json!({"DataType": "String", "StringValue": m.message_id}),
            );
        }
        let doc = Self::sqs_document(dlq, m, body, Some(attrs));
        if let Err(f) = self.send_to_queue(dlq, m, doc).await {
            tracing::warn!(subscription = %route.sub_arn, dlq = %dlq.arn, code = %f.code, "sns: dead-letter delivery failed");
        }
    }

    /// Send a subscription or unsubscribe confirmation in the background.
    pub(crate) fn spawn_confirmation(
        &self,
        ctx: &RequestContext,
        sub: &Arc<Subscription>,
        kind: ConfirmationKind,
    ) {
        let Some(svc) = self.arc() else { return };
        let sub = sub.clone();
        let endpoint = ctx.endpoint.clone();
        tokio::spawn(async move {
            if let Err(e) = svc.send_confirmation(&sub, kind, &endpoint).await {
                tracing::warn!(subscription = %sub.arn, error = %e, "sns: confirmation not sent");
            }
        });
    }

    async fn send_confirmation(
        &self,
        sub: &Subscription,
        kind: ConfirmationKind,
        endpoint: &str,
    ) -> Result<(), AwsError> {
        let topic = self.state.read().topics.get(&sub.topic_arn).cloned();
        let (signature_version, display, policy) = match &topic {
            Some(t) => {
                let st = t.state.lock();
                (
                    Topic::signature_version(&st),
                    st.attrs.get("DisplayName").cloned().unwrap_or_default(),
                    crate::delivery_policy::effective(
                        st.delivery.as_ref(),
                        sub.state.lock().delivery.as_ref(),
                    ),
                )
            }
            None => (
                1,
                String::new(),
                crate::delivery_policy::effective(None, None),
            ),
        };
        let token = match kind {
            ConfirmationKind::Subscribe => sub.state.lock().token.clone().unwrap_or_default(),
            // Unsubscribe confirmations carry a fresh token.
            ConfirmationKind::Unsubscribe => uuid::Uuid::new_v4().simple().to_string(),
        };
        let keys = self.keys().await?;
        let c = confirmation(
            ConfirmationParts {
                kind,
                token: &token,
                topic_arn: &sub.topic_arn,
                sub_arn: &sub.arn,
                endpoint,
                signature_version,
                timestamp: crate::clock::iso_millis(crate::clock::now_millis()),
            },
            &keys,
        )
        .await?;
        match sub.protocol {
            Protocol::Http | Protocol::Https => {
                let mut headers = vec![
                    ("x-amz-sns-message-type", kind.type_name()),
                    ("x-amz-sns-message-id", c.message_id.as_str()),
                    ("x-amz-sns-topic-arn", c.topic_arn.as_str()),
                    ("content-type", crate::delivery_policy::DEFAULT_CONTENT_TYPE),
                    ("user-agent", "Amazon Simple Notification Service Agent"),
                ];
                if matches!(kind, ConfirmationKind::Unsubscribe) {
                    headers.push(("x-amz-sns-subscription-arn", sub.arn.as_str()));
                }
                let mut schedule = match kind {
                    ConfirmationKind::Subscribe => policy.retry.schedule().into_iter(),
                    ConfirmationKind::Unsubscribe => Vec::new().into_iter(),
                };
                loop {
                    match self
                        .http
                        .post(&sub.endpoint, &headers, c.body.clone())
                        .await
                    {
                        Outcome::Delivered | Outcome::Rejected(_) => break,
                        Outcome::Failed(reason) => match schedule.next() {
                            Some(delay) => tokio::time::sleep(delay).await,
                            None => {
                                tracing::info!(subscription = %sub.arn, %reason, "sns: confirmation delivery failed");
                                break;
                            }
                        },
                    }
                }
            }
            Protocol::Email | Protocol::EmailJson => {
                let mut f = Map::new();
                f.insert("Timestamp".into(), json!(c.timestamp));
                f.insert("MessageId".into(), json!(c.message_id));
                f.insert("Type".into(), json!(kind.type_name()));
                f.insert("Protocol".into(), json!(sub.protocol.as_str()));
                f.insert("TopicArn".into(), json!(c.topic_arn));
                f.insert("SubscriptionArn".into(), json!(sub.arn));
                f.insert(
                    "From".into(),
                    json!("AWS Notifications <no-reply@sns.amazonaws.com>"),
                );
                f.insert("To".into(), json!(sub.endpoint));
                f.insert(
                    "Subject".into(),
                    json!("AWS Notification - Subscription Confirmation"),
                );
                let body = if sub.protocol == Protocol::EmailJson {
                    c.body.clone()
                } else {
                    let name = if display.is_empty() {
                        sub.topic_arn.rsplit(':').next().unwrap_or("")
                    } else {
                        display.as_str()
                    };
                    format!(
                        "You have chosen to subscribe to the topic: \n{}\n\nTo confirm this subscription, click or visit the link below (If this was in error no action is necessary): \nConfirm subscription: {}\n\n({name})",
                        c.topic_arn, c.subscribe_url
                    )
                };
                f.insert("Body".into(), json!(body));
                f.insert("SubscribeURL".into(), json!(c.subscribe_url));
                f.insert("Token".into(), json!(c.token));
                self.outbox.record(Kind::Email, f);
            }
            Protocol::Sqs => {
                if let Some(q) = QueueRef::parse(&sub.endpoint) {
                    let doc = json!({"QueueUrl": q.url, "MessageBody": c.body});
                    let ctx = RequestContext {
                        account_id: q.account.clone(),
                        region: q.region.clone(),
                        request_id: c.message_id.clone(),
                        access_key: String::new(),
                        endpoint: endpoint.to_string(),
                    };
                    if let Some(r) = self.registry.get()
                        && let Err(e) = r.call("sqs", &ctx, "SendMessage", doc).await
                    {
                        tracing::info!(subscription = %sub.arn, error = %e, "sns: confirmation delivery failed");
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
