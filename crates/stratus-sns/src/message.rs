//! A published message on its way out, and the documents built from it: the
//! JSON envelope (SQS, HTTP/S, email-json), the Lambda event, the email text.
//!
//! The envelope is built once per message text: everything up to the
//! subscription-specific `UnsubscribeURL` is cached, with the signature, so a
//! fan-out to many subscriptions signs once and copies bytes per subscriber.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use stratus_core::AwsError;

use crate::attributes::{self, Attr, json_string};
use crate::route::Route;
use crate::signing::{self, SigningKeys};
use crate::subscription::Protocol;

/// A message text with its signature and the cached head of its envelope.
pub(crate) struct Variant {
    pub message: String,
    pub signature: String,
    /// The envelope up to and including `"UnsubscribeURL" : "`.
    head: String,
}

pub(crate) struct Outgoing {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    /// The message for every protocol without its own entry.
    pub message: String,
    /// `MessageStructure=json`: protocol → message.
    pub structured: Option<BTreeMap<String, String>>,
    pub attrs: Vec<Attr>,
    attrs_block: Option<String>,
    pub timestamp: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence: Option<String>,
    pub signature_version: u8,
    /// `scheme://host` the publisher used: URLs in the message point there.
    pub endpoint: String,
    variants: tokio::sync::Mutex<Vec<(String, Arc<Variant>)>>,
    /// Attribute values as text, for filter policies (computed once).
    attr_texts: std::sync::OnceLock<Vec<String>>,
}

pub(crate) struct OutgoingParts {
    pub message_id: String,
    pub topic_arn: String,
    pub subject: Option<String>,
    pub message: String,
    pub structured: Option<BTreeMap<String, String>>,
    pub attrs: Vec<Attr>,
    pub timestamp: String,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
    pub sequence: Option<String>,
    pub signature_version: u8,
    pub endpoint: String,
}

impl Outgoing {
    pub(crate) fn new(p: OutgoingParts) -> Self {
        Self {
            attrs_block: attributes::envelope_block(&p.attrs),
            message_id: p.message_id,
            topic_arn: p.topic_arn,
            subject: p.subject,
            message: p.message,
            structured: p.structured,
            attrs: p.attrs,
            timestamp: p.timestamp,
            group_id: p.group_id,
            dedup_id: p.dedup_id,
            sequence: p.sequence,
            signature_version: p.signature_version,
            endpoint: p.endpoint.trim_end_matches('/').to_string(),
            variants: tokio::sync::Mutex::new(Vec::new()),
            attr_texts: std::sync::OnceLock::new(),
        }
    }

    /// `(name, data type, value as text)` of each attribute, for filter policies.
    pub(crate) fn attr_triples(&self) -> impl Iterator<Item = (&str, &str, &str)> {
        let texts = self
            .attr_texts
            .get_or_init(|| self.attrs.iter().map(Attr::text).collect());
        self.attrs
            .iter()
            .zip(texts)
            .map(|(a, t)| (a.name.as_str(), a.data_type.as_str(), t.as_str()))
    }

    /// The key of the message text `protocol` receives.
    fn key_for(&self, protocol: Protocol) -> &str {
        match &self.structured {
            Some(m) if m.contains_key(protocol.as_str()) => protocol.as_str(),
            _ => "default",
        }
    }

    /// The message text `protocol` receives.
    pub(crate) fn message_for(&self, protocol: Protocol) -> &str {
        match &self.structured {
            Some(m) => m.get(protocol.as_str()).unwrap_or(&self.message),
            None => &self.message,
        }
    }

    /// The signed variant for `protocol`, computed on first use.
    pub(crate) async fn variant(
        &self,
        protocol: Protocol,
        keys: &Arc<SigningKeys>,
    ) -> Result<Arc<Variant>, AwsError> {
        let key = self.key_for(protocol);
        let mut variants = self.variants.lock().await;
        if let Some((_, v)) = variants.iter().find(|(k, _)| k == key) {
            return Ok(v.clone());
        }
        let message = self.message_for(protocol).to_string();
        let canonical = signing::notification_string(
            &message,
            &self.message_id,
            self.subject.as_deref(),
            &self.timestamp,
            &self.topic_arn,
        );
        let signature = sign_off_thread(keys, self.signature_version, canonical).await?;
        let cert_url = cert_url(&self.endpoint, keys);
        let mut head = String::with_capacity(message.len() + 600);
        head.push_str("{\n  \"Type\" : \"Notification\",\n");
        field(&mut head, "MessageId", &self.message_id);
        if let Some(seq) = &self.sequence {
            field(&mut head, "SequenceNumber", seq);
        }
        field(&mut head, "TopicArn", &self.topic_arn);
        if let Some(subject) = &self.subject {
            field(&mut head, "Subject", subject);
        }
        field(&mut head, "Message", &message);
        field(&mut head, "Timestamp", &self.timestamp);
        field(
            &mut head,
            "SignatureVersion",
            &self.signature_version.to_string(),
        );
        field(&mut head, "Signature", &signature);
        field(&mut head, "SigningCertURL", &cert_url);
        head.push_str("  \"UnsubscribeURL\" : \"");
        let v = Arc::new(Variant {
            message,
            signature,
            head,
        });
        variants.push((key.to_string(), v.clone()));
        Ok(v)
    }

    /// The JSON envelope a subscription receives (non-raw delivery).
    pub(crate) fn envelope(&self, v: &Variant, route: &Route) -> String {
        let block = self.attrs_block.as_deref();
        let mut s = String::with_capacity(
            v.head.len()
                + self.endpoint.len()
                + route.sub_arn.len()
                + 64
                + block.map_or(0, str::len),
        );
        s.push_str(&v.head);
        // The URL's parts need no JSON escaping except the endpoint's.
        let unsubscribe = self.unsubscribe_url(&route.sub_arn);
        let quoted = json_string(&unsubscribe);
        s.push_str(&quoted[1..quoted.len() - 1]);
        s.push('"');
        if let Some(block) = block {
            s.push_str(",\n  ");
            s.push_str(block);
        }
        s.push_str("\n}");
        s
    }

    pub(crate) fn unsubscribe_url(&self, sub_arn: &str) -> String {
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={sub_arn}",
            self.endpoint
        )
    }

    /// The Lambda event (`{"Records":[...]}`) for `route`.
    pub(crate) fn lambda_event(&self, v: &Variant, route: &Route, keys: &SigningKeys) -> String {
        json!({
            "Records": [{
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": route.sub_arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": self.message_id,
                    "TopicArn": self.topic_arn,
                    "Subject": self.subject.as_deref().map_or(Value::Null, |s| Value::String(s.into())),
                    "Message": v.message,
                    "Timestamp": self.timestamp,
                    "SignatureVersion": self.signature_version.to_string(),
                    "Signature": v.signature,
                    "SigningCertUrl": cert_url(&self.endpoint, keys),
                    "UnsubscribeUrl": self.unsubscribe_url(&route.sub_arn),
                    "MessageAttributes": attributes::lambda_object(&self.attrs),
                }
            }]
        })
        .to_string()
    }

    /// Body of a plain-text email notification (AWS appends an unsubscribe footer).
    pub(crate) fn email_text(&self, route: &Route) -> String {
        format!(
            "{}\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below to unsubscribe:\n{}\n\nPlease do not reply directly to this email. If you have any questions or comments regarding this email, please contact us at https://aws.amazon.com/support",
            self.message_for(route.protocol),
            self.unsubscribe_url(&route.sub_arn)
        )
    }
}

pub(crate) fn cert_url(endpoint: &str, keys: &SigningKeys) -> String {
    format!(
        "{}/_stratus/sns/{}",
        endpoint.trim_end_matches('/'),
        keys.cert_file_name()
    )
}

fn field(s: &mut String, name: &str, value: &str) {
    s.push_str("  \"");
    s.push_str(name);
    s.push_str("\" : ");
    s.push_str(&json_string(value));
    s.push_str(",\n");
}

/// An RSA-2048 signature takes ~0.2 ms of CPU: keep it off the async workers.
pub(crate) async fn sign_off_thread(
    keys: &Arc<SigningKeys>,
    version: u8,
    canonical: String,
) -> Result<String, AwsError> {
    let keys = keys.clone();
    tokio::task::spawn_blocking(move || keys.sign(version, canonical.as_bytes()))
        .await
        .map_err(|e| AwsError::internal(format!("signing: {e}")))?
        .map_err(AwsError::internal)
}

/// Which confirmation message.
#[derive(Clone, Copy)]
pub(crate) enum ConfirmationKind {
    Subscribe,
    Unsubscribe,
}

impl ConfirmationKind {
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            Self::Subscribe => "SubscriptionConfirmation",
            Self::Unsubscribe => "UnsubscribeConfirmation",
        }
    }
}

/// A signed `SubscriptionConfirmation` / `UnsubscribeConfirmation` document.
pub(crate) struct Confirmation {
    pub message_id: String,
    pub token: String,
    pub topic_arn: String,
    pub subscribe_url: String,
    pub timestamp: String,
    pub body: String,
}

pub(crate) struct ConfirmationParts<'a> {
    pub kind: ConfirmationKind,
    pub token: &'a str,
    pub topic_arn: &'a str,
    pub sub_arn: &'a str,
    pub endpoint: &'a str,
    pub signature_version: u8,
    pub timestamp: String,
}

pub(crate) async fn confirmation(
    p: ConfirmationParts<'_>,
    keys: &Arc<SigningKeys>,
) -> Result<Confirmation, AwsError> {
    let endpoint = p.endpoint.trim_end_matches('/');
    let message = match p.kind {
        ConfirmationKind::Subscribe => format!(
            "You have chosen to subscribe to the topic {}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
            p.topic_arn
        ),
        ConfirmationKind::Unsubscribe => format!(
            "You have chosen to deactivate subscription {}.\nTo cancel this operation and restore the subscription, visit the SubscribeURL included in this message.",
            p.sub_arn
        ),
    };
    let subscribe_url = format!(
        "{endpoint}/?Action=ConfirmSubscription&TopicArn={}&Token={}",
        p.topic_arn, p.token
    );
    let message_id = uuid::Uuid::new_v4().to_string();
    let canonical = signing::confirmation_string(
        p.kind.type_name(),
        &message,
        &message_id,
        &subscribe_url,
        &p.timestamp,
        p.token,
        p.topic_arn,
    );
    let signature = sign_off_thread(keys, p.signature_version, canonical).await?;
    let mut body = String::with_capacity(1024);
    body.push_str("{\n");
    field(&mut body, "Type", p.kind.type_name());
    field(&mut body, "MessageId", &message_id);
    field(&mut body, "Token", p.token);
    field(&mut body, "TopicArn", p.topic_arn);
    field(&mut body, "Message", &message);
    field(&mut body, "SubscribeURL", &subscribe_url);
    field(&mut body, "Timestamp", &p.timestamp);
    field(
        &mut body,
        "SignatureVersion",
        &p.signature_version.to_string(),
    );
    field(&mut body, "Signature", &signature);
    body.push_str("  \"SigningCertURL\" : ");
    body.push_str(&json_string(&cert_url(endpoint, keys)));
    body.push_str("\n}");
    Ok(Confirmation {
        message_id,
        token: p.token.to_string(),
        topic_arn: p.topic_arn.to_string(),
        subscribe_url,
        timestamp: p.timestamp,
        body,
    })
}
