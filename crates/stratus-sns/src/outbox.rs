//! What SNS "sent" without a real transport: email, SMS and mobile-push
//! messages are recorded here and listed at `/_stratus/sns/emails`,
//! `/_stratus/sns/sms` and `/_stratus/sns/platform-messages`.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde_json::{Map, Value, json};

/// The most recent messages kept per process.
const CAPACITY: usize = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Email,
    Sms,
    Platform,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::Sms => "sms",
            Kind::Platform => "application",
        }
    }
}

#[derive(Default)]
pub(crate) struct Outbox {
    entries: Mutex<VecDeque<(Kind, Value)>>,
    next_id: Mutex<u64>,
}

impl Outbox {
    /// Record a message; `fields` become the entry's members.
    pub(crate) fn record(&self, kind: Kind, fields: Map<String, Value>) {
        let id = {
            let mut n = self.next_id.lock();
            *n += 1;
            *n
        };
        let mut entry = Map::new();
        entry.insert("Id".into(), json!(id));
        entry.insert("Kind".into(), json!(kind.as_str()));
        entry.extend(fields);
        let mut entries = self.entries.lock();
        if entries.len() >= CAPACITY {
            entries.pop_front();
        }
        entries.push_back((kind, Value::Object(entry)));
    }

    /// Entries of `kind`, oldest first, filtered by the query parameters
    /// (`to`, `topic_arn`, `subscription_arn`: exact matches on `To`,
    /// `TopicArn`, `SubscriptionArn`).
    pub(crate) fn list(&self, kind: Kind, query: &str) -> Vec<Value> {
        let filters: Vec<(&'static str, String)> = form_urlencoded::parse(query.as_bytes())
            .filter_map(|(k, v)| {
                let field = match k.as_ref() {
                    "to" => "To",
                    "topic_arn" => "TopicArn",
                    "subscription_arn" => "SubscriptionArn",
                    _ => return None,
                };
                Some((field, v.into_owned()))
            })
            .collect();
        self.entries
            .lock()
            .iter()
            .filter(|(k, _)| *k == kind)
            .filter(|(_, v)| {
                filters
                    .iter()
                    .all(|(f, want)| v.get(*f).and_then(Value::as_str) == Some(want.as_str()))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_filters() {
        let o = Outbox::default();
        let mut f = Map::new();
        f.insert("To".into(), json!("a@example.com"));
        o.record(Kind::Email, f.clone());
        f.insert("To".into(), json!("b@example.com"));
        o.record(Kind::Email, f);
        o.record(Kind::Sms, Map::new());
        assert_eq!(o.list(Kind::Email, "").len(), 2);
        let only = o.list(Kind::Email, "to=b%40example.com");
        assert_eq!(only.len(), 1);
        assert_eq!(only[0]["Id"], 2);
        assert_eq!(o.list(Kind::Sms, "").len(), 1);
    }
}
