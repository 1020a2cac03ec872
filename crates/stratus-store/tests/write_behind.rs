//! `WriteBehind`: batched writes applied by its task, and flushed at close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use stratus_store::{SqliteStore, Store, Write, WriteBehind};

fn put(k: &str) -> Write {
    Write::Put {
        table: "wb",
        key: k.as_bytes().to_vec(),
        value: b"v".to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_applies_and_flush_hands_over_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let wb = Arc::new(WriteBehind::new(store.clone()));
    let task = tokio::spawn(wb.clone().run());
    wb.push(put("a"));
    wb.push(put("b"));
    wb.push(Write::Delete {
        table: "wb",
        key: b"a".to_vec(),
    });
    // The task may apply the queue in several batches: `a` alone is a state
    // on the way, so wait for the final one.
    let want = vec![(b"b".to_vec(), b"v".to_vec())];
    let mut rows = Vec::new();
    for _ in 0..100 {
        rows = store.scan("wb").unwrap();
        if rows == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(rows, want);
    // Without the task, flush + close still commit what was queued.
    task.abort();
    wb.push(put("c"));
    wb.flush();
    store.close();
    let again = SqliteStore::open(dir.path()).unwrap();
    let keys: Vec<Vec<u8>> = again.scan("wb").unwrap().into_iter().map(|r| r.0).collect();
    assert_eq!(keys, vec![b"b".to_vec(), b"c".to_vec()]);
    again.close();
}
