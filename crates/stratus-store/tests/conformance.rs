//! The store conformance suite, run against every implementation, plus the
//! SQLite store's own tests (reopen, close, failed batches, crash survival).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stratus_store::{MemoryStore, SqliteStore, Store, StoreError, Write};

// ---------------------------------------------------------------------------
// The conformance suite
// ---------------------------------------------------------------------------

fn put(table: &'static str, key: &[u8], value: &[u8]) -> Write {
    Write::Put {
        table,
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

fn delete(table: &'static str, key: &[u8]) -> Write {
    Write::Delete {
        table,
        key: key.to_vec(),
    }
}

fn delete_prefix(table: &'static str, prefix: &[u8]) -> Write {
    Write::DeletePrefix {
        table,
        prefix: prefix.to_vec(),
    }
}

/// The reference semantics: what every durable store must read back.
#[derive(Default)]
struct Model {
    tables: BTreeMap<&'static str, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl Model {
    fn apply(&mut self, batch: &[Write]) {
        for write in batch {
            match write {
                Write::Put { table, key, value } => {
                    self.tables
                        .entry(table)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                Write::Delete { table, key } => {
                    self.tables.entry(table).or_default().remove(key);
                }
                Write::DeletePrefix { table, prefix } => {
                    self.tables
                        .entry(table)
                        .or_default()
                        .retain(|k, _| !k.starts_with(prefix));
                }
            }
        }
    }

    fn rows(&self, table: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.tables
            .get(table)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// Applies batches to the store under test and to the model, and checks that
/// the store reads back what the model says (a non-durable store reads back
/// nothing).
struct Harness<'a> {
    store: &'a dyn Store,
    model: Model,
}

impl<'a> Harness<'a> {
    fn new(store: &'a dyn Store) -> Self {
        Self {
            store,
            model: Model::default(),
        }
    }

    async fn apply(&mut self, batch: Vec<Write>) {
        self.model.apply(&batch);
        self.store.apply(batch).await.expect("apply");
    }

    #[track_caller]
    fn check(&self, table: &str) {
        let got = self.store.scan(table).expect("scan");
        if self.store.is_durable() {
            assert_eq!(got, self.model.rows(table), "table {table}");
        } else {
            assert!(got.is_empty(), "a non-durable store read back {got:?}");
        }
    }

    /// Also check the expected contents literally, so the model itself is
    /// checked.
    #[track_caller]
    fn check_keys(&self, table: &str, keys: &[&[u8]]) {
        self.check(table);
        if self.store.is_durable() {
            let got: Vec<Vec<u8>> = self.model.rows(table).into_iter().map(|(k, _)| k).collect();
            let want: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
            assert_eq!(got, want, "table {table}");
        }
    }
}

/// Every store must pass this. Uses the tables `conf_*`.
async fn conformance(store: Arc<dyn Store>) {
    put_and_scan_in_key_order(&*store).await;
    tables_are_independent(&*store).await;
    overwrite(&*store).await;
    delete_keys(&*store).await;
    delete_prefix_ranges(&*store).await;
    delete_prefix_with_ff_bytes(&*store).await;
    ordering_within_a_batch(&*store).await;
    empty_batch(&*store).await;
    concurrent_applies(store.clone()).await;
}

async fn put_and_scan_in_key_order(store: &dyn Store) {
    let mut h = Harness::new(store);
    h.check_keys("conf_order", &[]);
    // Inserted out of order; includes the empty key, an empty value, NUL and
    // 0xFF bytes and keys that are prefixes of one another.
    h.apply(vec![
        put("conf_order", b"b", b"2"),
        put("conf_order", b"a\xff", b"5"),
        put("conf_order", b"", b"empty key"),
        put("conf_order", b"a", b""),
        put("conf_order", b"a\x00", b"4"),
        put("conf_order", b"\xff\xff", b"6"),
        put("conf_order", b"ab", b"3"),
    ])
    .await;
    h.check_keys(
        "conf_order",
        &[b"", b"a", b"a\x00", b"ab", b"a\xff", b"b", b"\xff\xff"],
    );
    // Values are byte strings, not text.
    h.apply(vec![put("conf_order", b"bin", &[0, 159, 146, 150, 255])])
        .await;
    h.check("conf_order");
}

async fn tables_are_independent(store: &dyn Store) {
    let mut h = Harness::new(store);
    h.apply(vec![
        put("conf_t1", b"k", b"one"),
        put("conf_t2", b"k", b"two"),
    ])
    .await;
    h.apply(vec![delete_prefix("conf_t1", b"")]).await;
    h.check_keys("conf_t1", &[]);
    h.check_keys("conf_t2", &[b"k"]);
    // A table name that is a prefix of another is a different table.
    h.check_keys("conf_t", &[]);
    h.check_keys("conf_never_written", &[]);
}

async fn overwrite(store: &dyn Store) {
    let mut h = Harness::new(store);
    h.apply(vec![put("conf_over", b"k", b"v1")]).await;
    h.apply(vec![put("conf_over", b"k", b"v2 longer")]).await;
    h.check_keys("conf_over", &[b"k"]);
    h.apply(vec![put("conf_over", b"k", b"")]).await;
    h.check_keys("conf_over", &[b"k"]);
}

async fn delete_keys(store: &dyn Store) {
    let mut h = Harness::new(store);
    h.apply(vec![
        put("conf_del", b"a", b"1"),
        put("conf_del", b"b", b"2"),
        put("conf_del", b"c", b"3"),
    ])
    .await;
    h.apply(vec![delete("conf_del", b"b")]).await;
    h.check_keys("conf_del", &[b"a", b"c"]);
    // Deleting a missing key is not an error.
    h.apply(vec![delete("conf_del", b"b"), delete("conf_del", b"zzz")])
        .await;
    h.check_keys("conf_del", &[b"a", b"c"]);
    // A delete only touches its own table.
    h.apply(vec![put("conf_del2", b"a", b"x")]).await;
    h.apply(vec![delete("conf_del2", b"a")]).await;
    h.check_keys("conf_del", &[b"a", b"c"]);
    h.check_keys("conf_del2", &[]);
}

async fn delete_prefix_ranges(store: &dyn Store) {
    let mut h = Harness::new(store);
    let keys: [&[u8]; 8] = [b"a", b"a/", b"a/x", b"a/x/y", b"a0", b"a.", b"b", b"a/\xff"];
    h.apply(keys.iter().map(|k| put("conf_dp", k, k)).collect())
        .await;
    h.apply(vec![delete_prefix("conf_dp", b"a/")]).await;
    h.check_keys("conf_dp", &[b"a", b"a.", b"a0", b"b"]);
    // A prefix that matches nothing.
    h.apply(vec![delete_prefix("conf_dp", b"zz")]).await;
    h.check_keys("conf_dp", &[b"a", b"a.", b"a0", b"b"]);
    // A whole key is its own prefix.
    h.apply(vec![delete_prefix("conf_dp", b"a0")]).await;
    h.check_keys("conf_dp", &[b"a", b"a.", b"b"]);
    // The empty prefix empties the table, and only that table.
    h.apply(vec![put("conf_dp_other", b"a", b"kept")]).await;
    h.apply(vec![delete_prefix("conf_dp", b"")]).await;
    h.check_keys("conf_dp", &[]);
    h.check_keys("conf_dp_other", &[b"a"]);
}

async fn delete_prefix_with_ff_bytes(store: &dyn Store) {
    let mut h = Harness::new(store);
    let keys: [&[u8]; 10] = [
        b"a",
        b"a\xfe\xff",
        b"a\xff",
        b"a\xff\x00",
        b"a\xff\xff\x01",
        b"b",
        b"\xfe",
        b"\xff",
        b"\xff\xff",
        b"\xff\xff\x01",
    ];
    h.apply(keys.iter().map(|k| put("conf_ff", k, b"v")).collect())
        .await;
    // Last byte 0xFF: the end of the range is "b", which must survive.
    h.apply(vec![delete_prefix("conf_ff", b"a\xff")]).await;
    h.check_keys(
        "conf_ff",
        &[
            b"a",
            b"a\xfe\xff",
            b"b",
            b"\xfe",
            b"\xff",
            b"\xff\xff",
            b"\xff\xff\x01",
        ],
    );
    // All 0xFF: no upper bound.
    h.apply(vec![delete_prefix("conf_ff", b"\xff\xff")]).await;
    h.check_keys("conf_ff", &[b"a", b"a\xfe\xff", b"b", b"\xfe", b"\xff"]);
    h.apply(vec![delete_prefix("conf_ff", b"\xff")]).await;
    h.check_keys("conf_ff", &[b"a", b"a\xfe\xff", b"b", b"\xfe"]);
    // Inner 0xFF, last byte not: an ordinary increment.
    h.apply(vec![delete_prefix("conf_ff", b"a\xfe")]).await;
    h.check_keys("conf_ff", &[b"a", b"b", b"\xfe"]);
}

async fn ordering_within_a_batch(store: &dyn Store) {
    let mut h = Harness::new(store);
    h.apply(vec![
        put("conf_seq", b"put-then-delete", b"v"),
        delete("conf_seq", b"put-then-delete"),
    ])
    .await;
    h.check_keys("conf_seq", &[]);
    h.apply(vec![
        delete("conf_seq", b"delete-then-put"),
        put("conf_seq", b"delete-then-put", b"v"),
    ])
    .await;
    h.apply(vec![
        put("conf_seq", b"last-put-wins", b"first"),
        put("conf_seq", b"last-put-wins", b"second"),
    ])
    .await;
    h.apply(vec![
        put("conf_seq", b"p/1", b"gone"),
        put("conf_seq", b"p/2", b"gone"),
        delete_prefix("conf_seq", b"p/"),
        put("conf_seq", b"p/3", b"kept"),
    ])
    .await;
    h.check_keys("conf_seq", &[b"delete-then-put", b"last-put-wins", b"p/3"]);
    if store.is_durable() {
        let rows = store.scan("conf_seq").unwrap();
        assert_eq!(rows[1].1, b"second");
    }
}

async fn empty_batch(store: &dyn Store) {
    store.apply(Vec::new()).await.expect("empty batch");
}

/// Many tasks apply at once; every batch resolves Ok and all are read back.
async fn concurrent_applies(store: Arc<dyn Store>) {
    const TASKS: usize = 32;
    const BATCHES: usize = 50;
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            for b in 0..BATCHES {
                let key = format!("{t:02}/{b:03}").into_bytes();
                store
                    .apply(vec![
                        put("conf_conc", &key, &key),
                        put("conf_conc_mirror", &key, b"m"),
                    ])
                    .await
                    .expect("concurrent apply");
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap();
    }
    let rows = store.scan("conf_conc").unwrap();
    let mirror = store.scan("conf_conc_mirror").unwrap();
    if store.is_durable() {
        assert_eq!(rows.len(), TASKS * BATCHES);
        assert_eq!(mirror.len(), TASKS * BATCHES);
        assert!(rows.windows(2).all(|w| w[0].0 < w[1].0), "key order");
        assert!(rows.iter().all(|(k, v)| k == v));
    } else {
        assert!(rows.is_empty() && mirror.is_empty());
    }
}

// ---------------------------------------------------------------------------
// Running it
// ---------------------------------------------------------------------------

#[tokio::test]
async fn memory_store_conformance() {
    let store = Arc::new(MemoryStore);
    assert!(!store.is_durable());
    conformance(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    assert!(store.is_durable());
    conformance(store.clone()).await;
    store.close();
}

/// On a single-threaded runtime, an `apply` that blocked the thread would
/// deadlock: the writer thread does the work and the future only waits.
#[tokio::test(flavor = "current_thread")]
async fn sqlite_store_conformance_on_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    conformance(store).await;
}

// ---------------------------------------------------------------------------
// SQLite store
// ---------------------------------------------------------------------------

fn rows_of(store: &dyn Store, table: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    store.scan(table).unwrap().into_iter().collect()
}

#[tokio::test]
async fn sqlite_creates_the_directory_and_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("b");
    let store = SqliteStore::open(&nested).unwrap();
    assert_eq!(store.path(), nested.join("stratus.db"));
    store.apply(vec![put("t", b"k", b"v")]).await.unwrap();

    let conn = rusqlite::Connection::open(store.path()).unwrap();
    let version: i64 = conn
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(version, 1);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let sql: String = conn
        .query_row("SELECT sql FROM sqlite_schema WHERE name = 'kv'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(sql.contains("WITHOUT ROWID"), "{sql}");
    drop(conn);
    store.close();
}

#[test]
fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    drop(SqliteStore::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join("stratus.db")).unwrap();
    conn.execute(
        "UPDATE meta SET value = 99 WHERE name = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reopen_after_drop_returns_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::default();
    {
        let store = SqliteStore::open(dir.path()).unwrap();
        for i in 0u32..500 {
            let batch = vec![
                put(
                    "reopen_a",
                    &i.to_be_bytes(),
                    format!("value {i}").as_bytes(),
                ),
                put("reopen_b", &i.to_le_bytes(), b"b"),
            ];
            model.apply(&batch);
            store.apply(batch).await.unwrap();
        }
        let batch = vec![
            delete_prefix("reopen_a", &[0, 0, 1]),
            delete("reopen_b", &7u32.to_le_bytes()),
        ];
        model.apply(&batch);
        store.apply(batch).await.unwrap();
        // Dropped without close().
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.scan("reopen_a").unwrap(), model.rows("reopen_a"));
    assert_eq!(store.scan("reopen_b").unwrap(), model.rows("reopen_b"));
    assert_eq!(store.scan("reopen_a").unwrap().len(), 256);
    // The reopened store keeps working and still reopens.
    store
        .apply(vec![put("reopen_a", b"new", b"1")])
        .await
        .unwrap();
    store.close();
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.scan("reopen_a").unwrap().len(), 257);
    assert_eq!(store.scan("reopen_b").unwrap(), model.rows("reopen_b"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_close_commits_queued_batches_then_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    // apply() hands the batch over when it is called; close() must commit
    // everything handed over before it.
    let pending: Vec<_> = (0u32..2000)
        .map(|i| store.apply(vec![put("close", &i.to_be_bytes(), b"v")]))
        .collect();
    store.close();
    for result in futures_join(pending).await {
        result.unwrap();
    }
    assert!(matches!(
        store.apply(vec![put("close", b"late", b"v")]).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(store.scan("close"), Err(StoreError::Closed)));
    store.close(); // idempotent
    // The final checkpoint emptied the WAL into the database file.
    let wal = dir.path().join("stratus.db-wal");
    assert!(
        !wal.exists() || std::fs::metadata(&wal).unwrap().len() == 0,
        "WAL left behind"
    );
    drop(store);

    let store = SqliteStore::open(dir.path()).unwrap();
    let rows = rows_of(&store, "close");
    assert_eq!(rows.len(), 2000);
    assert!(!rows.contains_key(b"late".as_slice()));
}

/// The checkpointer copies the WAL into the database file while the store is
/// open, without any close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_checkpoints_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let db_len = || std::fs::metadata(store.path()).unwrap().len();
    let initial = db_len();
    for chunk in 0u32..20 {
        let batch = (0u32..500)
            .map(|i| put("ckpt", &(chunk * 500 + i).to_be_bytes(), &[1u8; 200]))
            .collect();
        store.apply(batch).await.unwrap();
    }
    // 10,000 rows of ~200 bytes: about 2 MB once checkpointed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while db_len() < initial + 1_000_000 {
        assert!(
            Instant::now() < deadline,
            "no checkpoint: {} bytes",
            db_len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.scan("ckpt").unwrap().len(), 10_000);
}

#[test]
fn sqlite_concurrent_closes_all_wait_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pending: Vec<_> = (0u32..5000)
        .map(|i| store.apply(vec![put("cc", &i.to_be_bytes(), b"v")]))
        .collect();
    let closers: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || store.close())
        })
        .collect();
    for closer in closers {
        closer.join().unwrap();
    }
    // Every close has returned: all queued batches are resolved and Ok.
    for result in runtime.block_on(futures_join(pending)) {
        result.unwrap();
    }
    drop(store);
    let store = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(store.scan("cc").unwrap().len(), 5000);
}

/// Await futures in order (they were all enqueued already).
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}

/// A batch that fails part-way leaves nothing behind, and the batches
/// committed in the same group are unaffected. The failure is injected with a
/// trigger on the database, from outside the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_failed_batch_is_atomic_and_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    store
        .apply(vec![put("atomic", b"before", b"1")])
        .await
        .unwrap();
    {
        let conn = rusqlite::Connection::open(store.path()).unwrap();
        conn.execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON kv WHEN NEW.tbl = 'poison'
             BEGIN SELECT RAISE(ABORT, 'poisoned write'); END;",
        )
        .unwrap();
    }

    for round in 0..20u8 {
        // Enqueue good and bad batches back to back so that they share
        // group commits.
        let mut futures = Vec::new();
        for i in 0..10u8 {
            let bad = i % 3 == 1;
            let mut batch = vec![
                put("atomic", &[round, i, 0], b"a"),
                delete("atomic", b"before"),
                put("atomic", &[round, i, 1], b"b"),
            ];
            if bad {
                batch.push(put("poison", b"x", b"x"));
                batch.push(put("atomic", &[round, i, 2], b"c"));
            }
            futures.push((bad, store.apply(batch)));
        }
        for (bad, future) in futures {
            let result = future.await;
            if bad {
                let err = result.unwrap_err();
                assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
                assert!(err.to_string().contains("poisoned write"), "{err}");
            } else {
                result.unwrap();
            }
        }
        // The delete of "before" was in both good and bad batches; put it
        // back so the next round's bad batches have something to not delete.
        store
            .apply(vec![put("atomic", b"before", b"1")])
            .await
            .unwrap();
    }

    let rows = rows_of(&store, "atomic");
    for round in 0..20u8 {
        for i in 0..10u8 {
            let bad = i % 3 == 1;
            for part in 0..3u8 {
                let present = rows.contains_key([round, i, part].as_slice());
                let expected = !bad && part < 2;
                assert_eq!(present, expected, "round {round} batch {i} part {part}");
            }
        }
    }
    assert!(store.scan("poison").unwrap().is_empty());
    // The store still works after failures.
    store
        .apply(vec![put("atomic", b"after", b"1")])
        .await
        .unwrap();
    assert!(rows_of(&store, "atomic").contains_key(b"after".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_large_batches_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path()).unwrap());
    // One batch larger than a whole group, and values larger than a page.
    let big: Vec<Write> = (0u32..25_000)
        .map(|i| put("large", &i.to_be_bytes(), &[7u8; 16]))
        .collect();
    store.apply(big).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0u8..8 {
        let store = store.clone();
        tasks.spawn(async move {
            for i in 0u8..20 {
                store
                    .apply(vec![put("large_values", &[t, i], &vec![t; 300_000])])
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(store.scan("large").unwrap().len(), 25_000);
    let values = store.scan("large_values").unwrap();
    assert_eq!(values.len(), 160);
    assert!(
        values
            .iter()
            .all(|(k, v)| v.len() == 300_000 && v[0] == k[0])
    );
}

// ---------------------------------------------------------------------------
// Crash test: acknowledged writes survive SIGKILL
// ---------------------------------------------------------------------------

const CRASH_CHILD_ENV: &str = "STRATUS_STORE_CRASH_CHILD_DIR";
const CRASH_TASKS: usize = 8;

fn crash_key(task: usize, seq: u64) -> String {
    format!("t{task:02}-{seq:010}")
}

/// Not a test on its own: when the parent test re-executes this binary with
/// [`CRASH_CHILD_ENV`] set, this writes batches from several tasks for as
/// long as it lives, printing `ACK <key>` once each batch is acknowledged.
#[test]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CRASH_CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = Arc::new(SqliteStore::open(Path::new(&dir)).unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..CRASH_TASKS {
            let store = store.clone();
            tasks.spawn(async move {
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    let key = crash_key(task, seq);
                    // Two tables and a churned key in one batch: after the
                    // crash the batch must be all there or not at all.
                    store
                        .apply(vec![
                            put("crash_a", key.as_bytes(), key.as_bytes()),
                            put("crash_b", key.as_bytes(), b"b"),
                            put("crash_last", &[task as u8], key.as_bytes()),
                        ])
                        .await
                        .unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {key}").unwrap();
                    out.flush().unwrap();
                    seq += 1;
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap();
        }
    });
}

#[test]
fn sqlite_acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "crash_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = BufReader::new(stdout).lines();

    let mut acked: BTreeSet<String> = BTreeSet::new();
    let mut killed = false;
    let started = Instant::now();
    for line in lines {
        let line = line.unwrap();
        let Some(key) = line.strip_prefix("ACK ") else {
            continue; // the test harness's own output
        };
        assert_eq!(key.len(), crash_key(0, 0).len(), "partial line {line:?}");
        acked.insert(key.to_owned());
        // Kill it mid-run, with writes in flight.
        if !killed && acked.len() >= 5_000 {
            child.kill().unwrap(); // SIGKILL
            killed = true;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "child too slow"
        );
    }
    // Lines already in the pipe were acknowledged before the kill; read above.
    let status = child.wait().unwrap();
    assert!(killed, "the child exited by itself: {status:?}");
    assert!(!status.success());

    let store = SqliteStore::open(dir.path()).unwrap();
    let a = rows_of(&store, "crash_a");
    let b = rows_of(&store, "crash_b");
    let last = rows_of(&store, "crash_last");
    for key in &acked {
        assert_eq!(
            a.get(key.as_bytes()).map(Vec::as_slice),
            Some(key.as_bytes()),
            "acknowledged key {key} lost"
        );
    }
    // Batches are atomic across the crash: both tables hold the same keys,
    // and each task's last-written key is the greatest of its keys.
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "half-applied batch"
    );
    for (task_byte, key) in &last {
        let task = task_byte[0] as usize;
        let prefix = format!("t{task:02}-");
        let newest = a
            .keys()
            .rfind(|k| k.starts_with(prefix.as_bytes()))
            .unwrap();
        assert_eq!(newest, key, "task {task}");
    }
    eprintln!(
        "crash test: {} acknowledged, {} present after SIGKILL",
        acked.len(),
        a.len()
    );
    // The recovered database is usable.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(store.apply(vec![put("crash_a", b"after", b"1")]))
        .unwrap();
    assert!(rows_of(&store, "crash_a").contains_key(b"after".as_slice()));
}
