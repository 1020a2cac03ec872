//! The embedded durable store: one SQLite database, `<dir>/stratus.db`.
//!
//! # Layout
//!
//! Every logical table lives in one SQLite table,
//! `kv(tbl TEXT, k BLOB, v BLOB, PRIMARY KEY (tbl, k)) WITHOUT ROWID`. One
//! physical table rather than one per logical table because the set of logical
//! tables is open-ended (any `&'static str` a service picks): a single table
//! needs no DDL on the write path (DDL would invalidate every cached statement
//! and could not be part of an ordinary group commit), every statement is
//! prepared once, and the clustered `(tbl, k)` primary key still makes a
//! [`Store::scan`] one contiguous, already-sorted range read and a
//! `DeletePrefix` one key-range delete. `WITHOUT ROWID` stores rows in the
//! primary-key B-tree itself, so there is no second index to maintain. BLOB
//! keys compare with `memcmp` (shorter first on a tie), which is exactly the
//! bytewise order the trait promises.
//!
//! `meta(name, value)` holds the row `schema_version`, checked at open so
//! that later releases can migrate (and older ones refuse a newer file).
//!
//! # Durability
//!
//! The requirement is that **every acknowledged write survives a `kill -9` of
//! the process and a restart**. The database runs in WAL mode with
//! `synchronous=NORMAL`: a commit returns once its frames have been written
//! (`write(2)`) to the WAL file, without an `fsync`. Those bytes are in the
//! operating system's page cache, which a killed process does not take with
//! it, so every committed — and therefore every acknowledged — batch is
//! recovered from the WAL on the next open. (A power loss or kernel crash can
//! lose the last few commits, never corrupt the database; that is the trade
//! `synchronous=NORMAL` makes for an emulator, and `FULL` would cost an
//! `fsync` per group commit.)
//!
//! # Group commit
//!
//! [`Store::apply`] never touches SQLite on the caller's thread: it sends the
//! batch and a [`oneshot`] sender over a channel to one dedicated writer
//! thread and awaits the answer, so it never blocks a tokio worker. The writer
//! blocks for the first queued batch, then takes whatever else is already
//! queued (up to [`MAX_GROUP_WRITES`] writes or [`MAX_GROUP_BYTES`] bytes),
//! applies the whole group in one `BEGIN IMMEDIATE … COMMIT` with cached
//! prepared statements, and only then resolves every waiter. While it
//! commits, new batches queue up, so the group size adapts to the load.
//!
//! Each batch stays atomic: if anything in a group fails, the group's
//! transaction is rolled back and its batches are retried one transaction
//! each, so only the batch that fails gets the error.
//!
//! # Checkpoints
//!
//! Copying the WAL back into the database file costs two `fsync`s. SQLite
//! normally does it on the committing connection every 1000 pages, which
//! would stall group commit; here a checkpointer thread with its own
//! connection runs `PRAGMA wal_checkpoint(PASSIVE)` (which never blocks the
//! writer) at most every [`CHECKPOINT_INTERVAL`] while there are new commits.
//! The writer keeps SQLite's automatic checkpoint only as a bound on the WAL,
//! at [`WAL_AUTOCHECKPOINT_PAGES`]; by then the checkpointer has usually
//! copied nearly everything, and the WAL restarts from its beginning. `close`
//! runs a final `wal_checkpoint(TRUNCATE)`.
//!
//! Reads ([`Store::scan`]) use a third connection; WAL lets them run while
//! the writer commits, and each scan sees one committed snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use stratus_core::BoxFuture;
use tokio::sync::oneshot;

use crate::{Rows, Store, StoreError, Write};

/// The file, inside the store directory, that holds the database.
const DB_FILE: &str = "stratus.db";

/// The schema version this build writes. Bump it and add a step to
/// [`migrate`] when the layout changes.
const SCHEMA_VERSION: i64 = 1;

/// A group commit takes at most this many writes (a single larger batch still
/// goes through, alone).
const MAX_GROUP_WRITES: usize = 10_000;

/// A group commit takes at most about this many key and value bytes.
const MAX_GROUP_BYTES: usize = 4 << 20;

/// How often, at most, the checkpointer copies new WAL frames into the
/// database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// The WAL size (in pages) at which the writer checkpoints by itself, should
/// the checkpointer fall behind. About 40 MiB with 4 KiB pages.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SQL_PUT: &str = "INSERT INTO kv (tbl, k, v) VALUES (?1, ?2, ?3) ON CONFLICT (tbl, k) DO UPDATE SET v = excluded.v";
const SQL_DELETE: &str = "DELETE FROM kv WHERE tbl = ?1 AND k = ?2";
/// `DeletePrefix` with an upper bound: the range `[prefix, successor)` on the
/// primary key.
const SQL_DELETE_RANGE: &str = "DELETE FROM kv WHERE tbl = ?1 AND k >= ?2 AND k < ?3";
/// `DeletePrefix` of a prefix that has no successor (empty, or all `0xFF`):
/// everything from the prefix to the end of the table.
const SQL_DELETE_FROM: &str = "DELETE FROM kv WHERE tbl = ?1 AND k >= ?2";
const SQL_SCAN: &str = "SELECT k, v FROM kv WHERE tbl = ?1 ORDER BY k";

/// One batch waiting for the writer.
struct Pending {
    batch: Vec<Write>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

struct Threads {
    writer: JoinHandle<()>,
    checkpointer: JoinHandle<()>,
    /// Dropping it stops the checkpointer.
    stop_checkpointer: mpsc::Sender<()>,
}

/// The embedded durable store (`--store sqlite`, the default). See the module
/// documentation for the design.
pub struct SqliteStore {
    path: PathBuf,
    /// `None` once closed; dropping the sender is what tells the writer to
    /// drain, checkpoint and stop.
    queue: RwLock<Option<mpsc::Sender<Pending>>>,
    /// `None` once closed.
    threads: Mutex<Option<Threads>>,
    /// The read connection; `None` once closed.
    reader: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .field("closed", &self.queue.read().is_none())
            .finish()
    }
}

fn backend(err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(err.to_string())
}

impl SqliteStore {
    /// Open (creating if needed) the store in `dir`: the directory, the
    /// database `dir/stratus.db` and its schema. Starts the writer and
    /// checkpointer threads.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| backend(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);

        let mut conn = Connection::open(&path)
            .map_err(|e| backend(format!("cannot open {}: {e}", path.display())))?;
        configure_writer(&conn)?;
        let version = init_schema(&mut conn)?;

        let reader = open_secondary(&path)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(backend)?;
        let checkpoint_conn = open_secondary(&path)?;

        // Counts group commits, so the checkpointer can tell when there is
        // something to copy.
        let commits = Arc::new(AtomicU64::new(0));
        let (stop_checkpointer, stopped) = mpsc::channel();
        let checkpointer = {
            let commits = commits.clone();
            std::thread::Builder::new()
                .name("stratus-store-checkpointer".into())
                .spawn(move || checkpointer_main(checkpoint_conn, &commits, &stopped))
                .map_err(|e| backend(format!("cannot start the store checkpointer thread: {e}")))?
        };
        let (tx, rx) = mpsc::channel();
        let writer = match std::thread::Builder::new()
            .name("stratus-store-writer".into())
            .spawn(move || writer_main(conn, &rx, &commits))
        {
            Ok(writer) => writer,
            Err(e) => {
                drop(stop_checkpointer);
                let _ = checkpointer.join();
                return Err(backend(format!(
                    "cannot start the store writer thread: {e}"
                )));
            }
        };

        tracing::info!(path = %path.display(), schema_version = version, "opened SQLite store");
        Ok(Self {
            path,
            queue: RwLock::new(Some(tx)),
            threads: Mutex::new(Some(Threads {
                writer,
                checkpointer,
                stop_checkpointer,
            })),
            reader: Mutex::new(Some(reader)),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for SqliteStore {
    fn apply(&self, batch: Vec<Write>) -> BoxFuture<'_, Result<(), StoreError>> {
        let (done, answer) = oneshot::channel();
        // Enqueue now, synchronously: batches reach the writer in call order
        // and a batch handed over before `close` is still committed by it.
        let queued = match &*self.queue.read() {
            Some(queue) => queue.send(Pending { batch, done }).is_ok(),
            None => false,
        };
        Box::pin(async move {
            if !queued {
                return Err(StoreError::Closed);
            }
            // A dropped sender means the writer thread is gone.
            answer.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn scan(&self, table: &str) -> Result<Rows, StoreError> {
        let guard = self.reader.lock();
        let conn = guard.as_ref().ok_or(StoreError::Closed)?;
        let mut stmt = conn.prepare_cached(SQL_SCAN).map_err(backend)?;
        let rows = stmt
            .query_map([table], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    fn is_durable(&self) -> bool {
        true
    }

    /// Commit everything already handed to [`Store::apply`], checkpoint the
    /// WAL into the database file and stop both threads. Blocks until that is
    /// done (briefly: it is meant for shutdown); idempotent. Dropping the
    /// store does the same.
    fn close(&self) {
        // No new batch can be queued past this point; the writer sees the
        // channel disconnect only after it has received every earlier batch.
        drop(self.queue.write().take());
        drop(self.reader.lock().take());
        // Held until both threads have stopped, so that a concurrent `close`
        // returns only then too.
        let mut threads = self.threads.lock();
        let Some(threads) = threads.take() else {
            return;
        };
        // Stop the checkpointer first: the writer's final TRUNCATE checkpoint
        // must not find another checkpoint running.
        drop(threads.stop_checkpointer);
        if threads.checkpointer.join().is_err() {
            tracing::error!(path = %self.path.display(), "the store checkpointer thread panicked");
        }
        if threads.writer.join().is_err() {
            tracing::error!(path = %self.path.display(), "the store writer thread panicked");
        } else {
            tracing::info!(path = %self.path.display(), "closed SQLite store");
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.close();
    }
}

fn configure_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(backend(format!(
            "cannot switch the database to WAL mode (journal_mode is {mode})"
        )));
    }
    // See the module documentation: with WAL, NORMAL keeps every commit
    // across a kill -9 of the process (the WAL write has reached the OS); it
    // only skips the fsync that protects against power loss.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(backend)?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(backend)?;
    // Truncate the WAL back to this size after a checkpoint instead of leaving
    // it at its high-water mark.
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)
        .map_err(backend)?;
    // The checkpointer thread does the regular checkpoints; this only bounds
    // the WAL should it fall behind.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
        .map_err(backend)?;
    conn.pragma_update(None, "cache_size", -32_768i64) // KiB
        .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(())
}

/// A reader or checkpointer connection to the database the writer created.
fn open_secondary(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| backend(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    Ok(conn)
}

/// Create or check the schema; returns the schema version.
fn init_schema(conn: &mut Connection) -> Result<i64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (
             name  TEXT PRIMARY KEY,
             value INTEGER NOT NULL
         ) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS kv (
             tbl TEXT NOT NULL,
             k   BLOB NOT NULL,
             v   BLOB NOT NULL,
             PRIMARY KEY (tbl, k)
         ) WITHOUT ROWID;",
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?1)",
        [SCHEMA_VERSION],
    )
    .map_err(backend)?;
    let found: i64 = tx
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .map_err(backend)?;
    if found > SCHEMA_VERSION {
        return Err(backend(format!(
            "the database has schema version {found}, newer than the {SCHEMA_VERSION} this \
             build understands"
        )));
    }
    migrate(&tx, found)?;
    tx.commit().map_err(backend)?;
    Ok(SCHEMA_VERSION)
}

/// Bring a database of schema version `from` up to [`SCHEMA_VERSION`], inside
/// the open-time transaction. There is only version 1 so far.
fn migrate(conn: &Connection, from: i64) -> Result<(), StoreError> {
    if from < SCHEMA_VERSION {
        // Future steps go here, one `if from < N` block each.
        conn.execute(
            "UPDATE meta SET value = ?1 WHERE name = 'schema_version'",
            [SCHEMA_VERSION],
        )
        .map_err(backend)?;
        tracing::info!(from, to = SCHEMA_VERSION, "migrated the store schema");
    }
    Ok(())
}

/// The smallest key greater than every key that starts with `prefix`, or
/// `None` when there is none (`prefix` is empty or all `0xFF`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn batch_bytes(batch: &[Write]) -> usize {
    batch
        .iter()
        .map(|w| match w {
            Write::Put { key, value, .. } => key.len() + value.len(),
            Write::Delete { key, .. } => key.len(),
            Write::DeletePrefix { prefix, .. } => prefix.len(),
        })
        .sum()
}

/// The writer thread: group commit until the channel is closed, then a final
/// checkpoint.
fn writer_main(mut conn: Connection, queue: &mpsc::Receiver<Pending>, commits: &AtomicU64) {
    let mut group: Vec<Pending> = Vec::new();
    // `recv` keeps handing out queued batches after the last sender is gone
    // and fails only once the queue is empty.
    while let Ok(first) = queue.recv() {
        let mut writes = first.batch.len();
        let mut bytes = batch_bytes(&first.batch);
        group.push(first);
        while writes < MAX_GROUP_WRITES && bytes < MAX_GROUP_BYTES {
            match queue.try_recv() {
                Ok(next) => {
                    writes += next.batch.len();
                    bytes += batch_bytes(&next.batch);
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut group);
        commits.fetch_add(1, Ordering::Release);
    }

    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    }) {
        tracing::warn!(error = %e, "final WAL checkpoint failed");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the store database failed");
    }
}

/// The checkpointer thread: a PASSIVE checkpoint (it copies what it can and
/// never blocks the writer) whenever there were commits since the last one,
/// at most every [`CHECKPOINT_INTERVAL`], until `stop` disconnects.
fn checkpointer_main(conn: Connection, commits: &AtomicU64, stop: &mpsc::Receiver<()>) {
    let mut checkpointed = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        let now = commits.load(Ordering::Acquire);
        if now == checkpointed {
            continue;
        }
        checkpointed = now;
        // Returns (busy, frames in the WAL, frames copied).
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
            Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
        }) {
            Ok((frames, copied)) => {
                tracing::trace!(frames, copied, "checkpoint");
            }
            Err(e) => tracing::warn!(error = %e, "background WAL checkpoint failed"),
        }
    }
    drop(conn);
}

/// Commit `group` (drained) and resolve its waiters.
fn commit_group(conn: &mut Connection, group: &mut Vec<Pending>) {
    let started = std::time::Instant::now();
    match apply_batches(conn, group.iter().map(|p| p.batch.as_slice())) {
        Ok(()) => {
            tracing::trace!(
                batches = group.len(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "group committed"
            );
            for pending in group.drain(..) {
                // The caller may have stopped waiting; the batch is durable anyway.
                let _ = pending.done.send(Ok(()));
            }
        }
        Err(e) if group.len() == 1 => {
            tracing::warn!(error = %e, "store batch failed");
            for pending in group.drain(..) {
                let _ = pending.done.send(Err(backend(&e)));
            }
        }
        Err(e) => {
            // Find the failing batch(es): one transaction per batch.
            tracing::warn!(
                error = %e,
                batches = group.len(),
                "group commit failed; retrying its batches one by one"
            );
            for pending in group.drain(..) {
                let result = apply_batches(conn, std::iter::once(pending.batch.as_slice()));
                if let Err(e) = &result {
                    tracing::warn!(error = %e, "store batch failed");
                }
                let _ = pending.done.send(result.map_err(backend));
            }
        }
    }
}

/// Apply `batches`, in order, in one transaction. On error nothing is applied
/// (dropping the transaction rolls it back).
fn apply_batches<'a>(
    conn: &mut Connection,
    batches: impl Iterator<Item = &'a [Write]>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut put = tx.prepare_cached(SQL_PUT)?;
        let mut delete = tx.prepare_cached(SQL_DELETE)?;
        for write in batches.flatten() {
            match write {
                Write::Put { table, key, value } => {
                    put.execute(params![table, key, value])?;
                }
                Write::Delete { table, key } => {
                    delete.execute(params![table, key])?;
                }
                Write::DeletePrefix { table, prefix } => match prefix_successor(prefix) {
                    Some(end) => {
                        tx.prepare_cached(SQL_DELETE_RANGE)?
                            .execute(params![table, prefix, end])?;
                    }
                    None => {
                        tx.prepare_cached(SQL_DELETE_FROM)?
                            .execute(params![table, prefix])?;
                    }
                },
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::prefix_successor;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b""), None);
        assert_eq!(prefix_successor(b"a"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"a/"), Some(b"a0".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xFF]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0x00, 0xFF, 0xFF]), Some(vec![0x01]));
        assert_eq!(prefix_successor(&[0xFF]), None);
        assert_eq!(prefix_successor(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_successor(&[0xFF, 0x00]), Some(vec![0xFF, 0x01]));
    }
}
