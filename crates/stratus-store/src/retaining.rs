//! `RetainingStore`: keeps every write in memory and calls itself durable, so a
//! service's persistence paths run in process tests; a "restart" is a new
//! service built over the same store.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use stratus_core::BoxFuture;

use crate::{Rows, Store, StoreError, Write};

/// (table, key) → value.
type Tables = BTreeMap<(String, Vec<u8>), Vec<u8>>;

#[derive(Default)]
pub struct RetainingStore(Mutex<Tables>);

impl RetainingStore {
    /// How many rows `table` holds.
    pub fn rows(&self, table: &str) -> usize {
        self.0.lock().keys().filter(|(t, _)| t == table).count()
    }
}

impl Store for RetainingStore {
    fn apply(&self, batch: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
        let mut m = self.0.lock();
        for w in batch {
            match w {
                Write::Put { table, key, value } => {
                    m.insert((table.to_string(), key), value);
                }
                Write::Delete { table, key } => {
                    m.remove(&(table.to_string(), key));
                }
                Write::DeletePrefix { table, prefix } => {
                    m.retain(|(t, k), _| !(t == table && k.starts_with(&prefix)));
                }
            }
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn scan(&self, table: &str) -> Result<Rows, StoreError> {
        Ok(self
            .0
            .lock()
            .iter()
            .filter(|((t, _), _)| t == table)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn is_durable(&self) -> bool {
        true
    }
}
