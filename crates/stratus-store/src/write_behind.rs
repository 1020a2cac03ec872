//! Write-behind: writes no caller waits for.
//!
//! Some writes need not be durable before anything answers — bookkeeping such
//! as deleting the row of a delivery that has finished, or recording a retry's
//! new due time (losing one only repeats work after a crash). Committing each
//! on its own would cost a store round trip apiece; a [`WriteBehind`] queues
//! them and one task ([`WriteBehind::run`]) applies whatever has accumulated
//! as one batch. [`WriteBehind::flush`] hands the queue to the store at
//! shutdown, before [`Store::close`], so a clean stop loses none of it.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::{Store, Write};

pub struct WriteBehind {
    store: Arc<dyn Store>,
    queue: Mutex<Vec<Write>>,
    wake: Notify,
}

impl WriteBehind {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            queue: Mutex::new(Vec::new()),
            wake: Notify::new(),
        }
    }

    /// Queue `write` for the next batch.
    pub fn push(&self, write: Write) {
        self.queue.lock().push(write);
        self.wake.notify_one();
    }

    /// Apply queued writes in batches until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            let batch = std::mem::take(&mut *self.queue.lock());
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = self.store.apply(batch).await {
                tracing::warn!(error = %e, "write-behind batch failed");
            }
        }
    }

    /// Hand what is queued to the store now, without waiting for the commit.
    /// Stores enqueue a batch when `apply` is called (the SQLite store commits
    /// every batch queued before `close`), so this is enough at shutdown.
    pub fn flush(&self) {
        let batch = std::mem::take(&mut *self.queue.lock());
        if !batch.is_empty() {
            drop(self.store.apply(batch));
        }
    }
}
