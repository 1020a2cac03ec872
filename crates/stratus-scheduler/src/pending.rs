//! Durable in-flight deliveries: "nothing acknowledged is ever lost".
//!
//! With a durable store, every occurrence the timer fires gets a row in
//! `scheduler_pending`, written in the same `Store::apply` batch as the
//! schedule's advanced `next` (or its deletion after completion): a firing is
//! either recorded together with its delivery, or not recorded at all and fires
//! again after a restart. The row is rewritten when a retry is scheduled
//! (attempt and due time) and deleted once the occurrence is delivered,
//! dead-lettered or dropped; those writes are off the timer's path and go
//! through a [`stratus_store::WriteBehind`] (handed to the store at shutdown).
//!
//! At start-up the rows are read back and each occurrence resumes at its due
//! time with its execution id, attempt number and first-attempt time, so
//! RetryPolicy's MaximumEventAgeInSeconds keeps counting from the first
//! attempt. An invocation that succeeded just before a crash, whose row
//! deletion had not committed yet, is made again: delivery is at least once.
//!
//! Key: `<account>/<region>/<execution id>` (one id per occurrence). The value
//! carries the target as it was at firing, so an occurrence resumes even if its
//! schedule was updated or deleted meanwhile.

use stratus_store::{Store, StoreError, Write};

use crate::delivery::Invocation;
use crate::persist;

pub(crate) const T_PENDING: &str = "scheduler_pending";

fn key(inv: &Invocation) -> Vec<u8> {
    format!("{}/{}/{}", inv.account, inv.region, inv.execution_id).into_bytes()
}

/// The row of `inv` (its attempt and due time as they are now).
pub(crate) fn put(inv: &Invocation) -> Write {
    Write::Put {
        table: T_PENDING,
        key: key(inv),
        value: persist::encode(inv),
    }
}

pub(crate) fn delete(inv: &Invocation) -> Write {
    Write::Delete {
        table: T_PENDING,
        key: key(inv),
    }
}

/// Occurrences read back at start-up, and deletions of unreadable rows.
pub(crate) fn load(store: &dyn Store) -> Result<(Vec<Invocation>, Vec<Write>), StoreError> {
    stratus_store::scan_decoded(store, T_PENDING, |_, v| persist::decode::<Invocation>(v))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::generated::Target;

    #[test]
    fn rows_round_trip() {
        let inv = Invocation {
            schedule_arn: "arn:aws:scheduler:us-east-1:111111111111:schedule/default/s".into(),
            account: "111111111111".into(),
            region: "us-east-1".into(),
            target: Target {
                arn: "arn:aws:sqs:us-east-1:111111111111:q".into(),
                input: Some("x".into()),
                ..Target::default()
            },
            occurrence: 1_000,
            execution_id: "00112233aabbccdd".into(),
            first_ms: 1_500,
            attempt: 3,
            due_ms: 9_000,
        };
        let Write::Put { key, value, .. } = put(&inv) else {
            panic!("not a put");
        };
        assert_eq!(key, b"111111111111/us-east-1/00112233aabbccdd");
        assert_eq!(persist::decode::<Invocation>(&value).unwrap(), inv);
        assert!(matches!(delete(&inv), Write::Delete { key: k, .. } if k == key));
    }
}
