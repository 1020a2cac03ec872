//! The storage interface of Stratus.
//!
//! Services keep their working state in memory and write every change through a
//! [`Store`] before they acknowledge it: [`Store::apply`] resolves only once the
//! batch is durable, and [`Store::scan`] reads a table back at start-up. A store
//! is a set of named tables of `key → value` byte strings; keys sort bytewise.
//!
//! Implementations: [`MemoryStore`] (`--store memory`, keeps nothing) and
//! [`SqliteStore`] (the embedded durable default: one SQLite file in WAL mode,
//! written by a single writer thread that commits queued batches together —
//! group commit — so `apply` never blocks the async runtime, and every
//! acknowledged batch survives a `kill -9` of the process). A PostgreSQL
//! implementation will implement the same trait and pass the same conformance
//! suite (`tests/conformance.rs`).

mod memory;
mod retaining;
mod sqlite;
mod write_behind;

pub use memory::MemoryStore;
pub use retaining::RetainingStore;
pub use sqlite::SqliteStore;
pub use write_behind::WriteBehind;

use stratus_core::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("the store is closed")]
    Closed,
}

/// One change to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        table: &'static str,
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Delete {
        table: &'static str,
        key: Vec<u8>,
    },
    /// Delete every key of `table` that starts with `prefix`.
    DeletePrefix {
        table: &'static str,
        prefix: Vec<u8>,
    },
}

/// The rows of one table as [`Store::scan`] returns them: `(key, value)` in
/// key order.
pub type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// Read a table back at start-up with `decode`: the rows it understood, and a
/// deletion for each row it did not (a record from an incompatible build must
/// not be retried at every start).
pub fn scan_decoded<T>(
    store: &dyn Store,
    table: &'static str,
    mut decode: impl FnMut(&[u8], &[u8]) -> Option<T>,
) -> Result<(Vec<T>, Vec<Write>), StoreError> {
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (key, value) in store.scan(table)? {
        match decode(&key, &value) {
            Some(row) => rows.push(row),
            None => bad.push(Write::Delete { table, key }),
        }
    }
    Ok((rows, bad))
}

pub trait Store: Send + Sync + 'static {
    /// Apply `batch` atomically; resolves when it is durable. The batch is
    /// queued when `apply` is called, so batches keep call order and one
    /// handed over before [`Store::close`] is still applied.
    fn apply(&self, batch: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Every `(key, value)` of `table`, in key order.
    fn scan(&self, table: &str) -> Result<Rows, StoreError>;

    /// Whether writes survive a restart (false for the memory store).
    fn is_durable(&self) -> bool;

    /// Flush and close; later writes fail with [`StoreError::Closed`].
    fn close(&self) {}
}

#[cfg(test)]
mod scan_tests {
    use super::*;

    #[tokio::test]
    async fn scan_decoded_keeps_what_decodes_and_deletes_the_rest() {
        let store = RetainingStore::default();
        let put = |k: &[u8], v: &[u8]| Write::Put {
            table: "t",
            key: k.to_vec(),
            value: v.to_vec(),
        };
        store
            .apply(vec![put(b"a", b"1"), put(b"b", b"x"), put(b"c", b"3")])
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (rows, bad) = scan_decoded(&store, "t", |_, v| {
            std::str::from_utf8(v).ok()?.parse::<u32>().ok()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows, [1, 3]);
        assert_eq!(
            bad,
            [Write::Delete {
                table: "t",
                key: b"b".to_vec()
            }]
        );
    }
}
