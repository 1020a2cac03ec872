use stratus_core::BoxFuture;

use crate::{Store, StoreError, Write};

/// `--store memory`: nothing is kept; services hold all state themselves.
#[derive(Debug, Default)]
pub struct MemoryStore;

impl Store for MemoryStore {
    fn apply(&self, _batch: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn scan(&self, _table: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(Vec::new())
    }

    fn is_durable(&self) -> bool {
        false
    }
}
