//! Durable HTTP/S and Lambda deliveries: "nothing acknowledged is ever lost".
//!
//! SQS deliveries complete (in SQS's store) before Publish answers. Lambda and
//! HTTP/S deliveries run in the background with retries, so with a durable
//! store Publish first writes one `sns_pending` row per such delivery (the
//! built body, the message's identifiers, the retry position), in one
//! `Store::apply` per publish, and answers after that commit. A row is
//! rewritten when a retry is scheduled and deleted when the delivery ends
//! (delivered, rejected, dead-lettered or dropped); those writes go through a
//! [`stratus_store::WriteBehind`] that groups what is queued (and hands it to
//! the store at shutdown). At start-up the rows of
//! subscriptions that still exist resume where their retry schedule stopped.
//! A delivery that succeeded just before a crash, whose row deletion had not
//! committed, is made again: delivery is at least once, as on AWS.
//!
//! Key: `<subscription arn>/` + 8-byte big-endian id.

use serde::{Deserialize, Serialize};
use stratus_store::{Store, Write};

use crate::persist;

pub(crate) const T_PENDING: &str = "sns_pending";

/// One background delivery, as stored.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct PendingRec {
    pub sub_arn: String,
    pub topic_arn: String,
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_id: Option<String>,
    /// The Stratus endpoint the message was published through.
    pub endpoint: String,
    /// The HTTP body, or the Lambda event.
    pub body: String,
    /// Attempts made so far (the next one uses the retry schedule's entry
    /// `attempt - 1`).
    pub attempt: u32,
    /// When the next attempt is due (Unix ms).
    pub due_ms: i64,
}

pub(crate) fn key(sub_arn: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(sub_arn.len() + 9);
    k.extend_from_slice(sub_arn.as_bytes());
    k.push(b'/');
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn id_of(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

pub(crate) fn put(id: u64, rec: &PendingRec) -> Write {
    Write::Put {
        table: T_PENDING,
        key: key(&rec.sub_arn, id),
        value: persist::encode(rec),
    }
}

pub(crate) fn delete(id: u64, sub_arn: &str) -> Write {
    Write::Delete {
        table: T_PENDING,
        key: key(sub_arn, id),
    }
}

/// Rows read back: `(id, record)`.
pub(crate) type Rows = Vec<(u64, PendingRec)>;

/// Rows read back at start-up, and deletions of unreadable rows.
pub(crate) fn load(store: &dyn Store) -> Result<(Rows, Vec<Write>), stratus_store::StoreError> {
    stratus_store::scan_decoded(store, T_PENDING, |k, v| {
        Some((id_of(k)?, persist::decode::<PendingRec>(v)?))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_records_round_trip() {
        let rec = PendingRec {
            sub_arn: "arn:aws:sns:us-east-1:1:t:abc".into(),
            topic_arn: "arn:aws:sns:us-east-1:1:t".into(),
            message_id: "m".into(),
            group_id: None,
            dedup_id: None,
            endpoint: "http://localhost:4566".into(),
            body: "{}".into(),
            attempt: 2,
            due_ms: 7,
        };
        let Write::Put { key, value, .. } = put(9, &rec) else {
            panic!("not a put");
        };
        assert_eq!(id_of(&key), Some(9));
        assert!(key.starts_with(rec.sub_arn.as_bytes()));
        assert_eq!(persist::decode::<PendingRec>(&value).unwrap(), rec);
    }
}
