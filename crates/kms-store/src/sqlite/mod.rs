//! The embedded engine: one SQLite file in WAL mode with `synchronous=FULL`, so every commit
//! is fsync'd before the call returns.
//!
//! Writes go to one writer thread that groups whatever is queued into one transaction — each
//! write in its own savepoint, so one failing write undoes only itself — and one fsync'd commit
//! (group commit): many clients creating keys at once share each fsync instead of queueing for
//! one apiece, and no write is answered before its commit is durable. Reads use their own
//! connections from `spawn_blocking` (WAL lets them run beside the writer) and see every
//! answered write. Schema changes are numbered migrations tracked in `PRAGMA user_version`.

mod access;
mod access_keys;
mod backup;
mod data_keys;
mod instances;
mod keys;
mod rewrap;
mod rows;
mod schema;
mod secrets;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use kms_types::{AliasName, KeyFilter, KeyId, KeyState, KeyVersionId, ResourceType, Tag};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

pub use self::backup::{backup, integrity_check};
use self::rows::*;
use self::schema::MIGRATIONS;
use crate::{AccessKeyRecord, AliasRecord, KeyRecord, Listing, Store, StoreError, StoreResult, VersionRecord, Window};

/// Read connections; reads are short, and the hot ones are served from the cache above.
const READERS: usize = 2;
/// Most writes grouped into one commit.
const MAX_BATCH: usize = 512;

/// What the writer hands back to a write once its batch's commit is known.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// A queued write, run on the writer's connection (`None` when the batch could not even begin).
type Run = Box<dyn FnOnce(Option<&Connection>) -> Completion + Send>;

/// One queued write, and whether the WAL must be emptied after its commit.
struct Job {
    run: Run,
    checkpoint: bool,
}

/// SQLite engine handle; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Mutex<Option<mpsc::Sender<Job>>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    next_reader: AtomicUsize,
    readers: Vec<Mutex<Connection>>,
}

/// Closing is deterministic: the writer finishes what is queued and closes its connection, then
/// the readers close, and the last connection to close folds the WAL into the database file —
/// so a process that opened a store and exits leaves the files as a clean shutdown does.
impl Drop for Inner {
    fn drop(&mut self) {
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        if let Some(thread) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(unavailable)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(unavailable)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(unavailable)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = open_connection(path)?;
        migrate(&mut conn)?;
        let readers = (0..READERS).map(|_| open_connection(path).map(Mutex::new)).collect::<StoreResult<Vec<_>>>()?;
        let (writer, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("kmsd-sqlite-writer".into())
            .spawn(move || write_loop(conn, queue))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: Mutex::new(Some(writer)),
                writer_thread: Mutex::new(Some(thread)),
                next_reader: AtomicUsize::new(0),
                readers,
            }),
        })
    }

    /// Runs a read on a free read connection, off the async workers.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (inner, start) = (self.inner.clone(), self.inner.next_reader.fetch_add(1, Ordering::Relaxed));
        tokio::task::spawn_blocking(move || {
            let readers = &inner.readers;
            let n = readers.len();
            let mut guard = (0..n)
                .find_map(|i| readers[(start + i) % n].try_lock().ok())
                .map(Ok)
                .unwrap_or_else(|| readers[start % n].lock())
                .map_err(|_| StoreError::Unavailable("connection lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }

    /// Queues a write and waits until the commit that holds it is durable.
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(f, false).await
    }

    /// [`Self::write`], and the WAL emptied into the database file before the answer (the
    /// older frames could still hold destroyed material).
    async fn write_then_checkpoint<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.queue(f, true).await
    }

    async fn queue<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        checkpoint: bool,
    ) -> StoreResult<T> {
        let (done, answer) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let run = move |conn: Option<&Connection>| -> Completion {
            let result = match conn {
                Some(c) => in_savepoint(c, f),
                None => Err(StoreError::Unavailable("could not begin a write transaction".into())),
            };
            Box::new(move |commit: Result<(), String>| {
                let _ = done.send(commit.map_err(StoreError::Unavailable).and(result));
            })
        };
        let stopped = || StoreError::Unavailable("the SQLite writer has stopped".into());
        let sender = self.inner.writer.lock().ok().and_then(|w| w.clone()).ok_or_else(stopped)?;
        sender.send(Job { run: Box::new(run), checkpoint }).map_err(|_| stopped())?;
        answer.await.map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?
    }
}

/// Runs one write in its own savepoint: kept on success, undone on failure.
fn in_savepoint<T>(c: &Connection, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    let run = |sql: &str| c.prepare_cached(sql).and_then(|mut stmt| stmt.execute([])).map(|_| ());
    run("SAVEPOINT write").map_err(unavailable)?;
    match f(c) {
        Ok(v) => match run("RELEASE write") {
            Ok(()) => Ok(v),
            Err(e) => {
                let _ = c.execute_batch("ROLLBACK TO write; RELEASE write");
                Err(unavailable(e))
            }
        },
        Err(e) => {
            c.execute_batch("ROLLBACK TO write; RELEASE write").map_err(unavailable)?;
            Err(e)
        }
    }
}

/// The writer thread: takes every queued write, runs them in one transaction, commits once,
/// then answers each. Ends when the last store handle is dropped.
fn write_loop(conn: Connection, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let checkpoint = batch.iter().any(|j| j.checkpoint);
        let begun = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let completions: Vec<(Completion, bool)> =
            batch.into_iter().map(|j| ((j.run)(begun.then_some(&conn)), j.checkpoint)).collect();
        let outcome = if begun {
            conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                format!("commit failed: {e}")
            })
        } else {
            Err("could not begin a write transaction".into())
        };
        // Only the writes that asked for it wait on (and answer for) the checkpoint.
        let checkpointed = if checkpoint && outcome.is_ok() { checkpoint_wal(&conn) } else { Ok(()) };
        for (complete, wants_checkpoint) in completions {
            complete(if wants_checkpoint { outcome.clone().and(checkpointed.clone()) } else { outcome.clone() });
        }
    }
}

/// Moves every WAL frame into the database file and truncates the WAL.
/// An UPDATE or DELETE of one row by its key: no row is [`StoreError::NotFound`].
fn one_row(changed: rusqlite::Result<usize>) -> StoreResult<()> {
    match changed {
        Ok(0) => Err(StoreError::NotFound),
        Ok(_) => Ok(()),
        Err(e) => Err(unavailable(e)),
    }
}

fn checkpoint_wal(conn: &Connection) -> Result<(), String> {
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .map_err(|e| format!("WAL checkpoint failed: {e}"))?;
    if busy != 0 { Err("WAL checkpoint could not complete (readers busy)".into()) } else { Ok(()) }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(unavailable)?;
    let current = usize::try_from(current).map_err(|_| corrupt("schema version"))?;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this kmsd understands ({})",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction().map_err(unavailable)?;
        tx.execute_batch(sql).map_err(unavailable)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    /// A read of the database file on a read connection.
    async fn ping(&self) -> StoreResult<()> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM (SELECT 1 FROM meta LIMIT 1)", [], |r| r.get::<_, i64>(0))
                .map(|_| ())
                .map_err(unavailable)
        })
        .await
    }

    async fn get_meta(&self, name: &str) -> StoreResult<Option<String>> {
        let name = name.to_owned();
        self.with(move |c| {
            c.query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| r.get(0)).optional().map_err(unavailable)
        })
        .await
    }

    async fn init_meta(&self, name: &str, value: &str) -> StoreResult<String> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.write(move |c| {
            let tx = c;
            tx.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?1, ?2)", params![name, value])
                .map_err(unavailable)?;
            let stored: String =
                tx.query_row("SELECT value FROM meta WHERE name = ?1", [&name], |r| r.get(0)).map_err(unavailable)?;
            Ok(stored)
        })
        .await
    }

    async fn put_resource_policy(&self, resource: ResourceType, id: &str, policy: &str) -> StoreResult<()> {
        let (id, policy) = (id.to_owned(), policy.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO resource_policies (resource_type, resource_id, policy) VALUES (?1, ?2, ?3)
                 ON CONFLICT (resource_type, resource_id) DO UPDATE SET policy = excluded.policy",
                params![resource.as_str(), id, policy],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn get_resource_policy(&self, resource: ResourceType, id: &str) -> StoreResult<Option<String>> {
        let id = id.to_owned();
        self.with(move |c| {
            c.prepare_cached("SELECT policy FROM resource_policies WHERE resource_type = ?1 AND resource_id = ?2")
                .and_then(|mut stmt| stmt.query_row(params![resource.as_str(), id], |r| r.get(0)).optional())
                .map_err(unavailable)
        })
        .await
    }

    async fn count_resource_policies(&self) -> StoreResult<u64> {
        self.with(|c| {
            c.query_row("SELECT COUNT(*) FROM resource_policies", [], |r| r.get::<_, i64>(0))
                .map(|n| n as u64)
                .map_err(unavailable)
        })
        .await
    }

    async fn put_tags(&self, resource: ResourceType, id: &str, tags: &[Tag], max: usize) -> StoreResult<()> {
        let (id, tags) = (id.to_owned(), tags.to_vec());
        self.write(move |c| {
            let tx = c;
            put_tags_in(tx, resource, &id, &tags, max)?;
            Ok(())
        })
        .await
    }

    async fn remove_tags(&self, resource: ResourceType, id: &str, keys: Option<&[String]>) -> StoreResult<()> {
        let (id, keys) = (id.to_owned(), keys.map(<[String]>::to_vec));
        self.write(move |c| {
            let tx = c;
            match keys {
                None => {
                    tx.execute(
                        "DELETE FROM tags WHERE resource_type = ?1 AND resource_id = ?2",
                        params![resource.as_str(), id],
                    )
                    .map_err(unavailable)?;
                }
                Some(keys) => {
                    for k in keys {
                        tx.execute(
                            "DELETE FROM tags WHERE resource_type = ?1 AND resource_id = ?2 AND tag_key = ?3",
                            params![resource.as_str(), id, k],
                        )
                        .map_err(unavailable)?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn list_tags(&self, resource: ResourceType, id: &str) -> StoreResult<Vec<Tag>> {
        let id = id.to_owned();
        self.with(move |c| {
            let mut stmt = c
                .prepare("SELECT tag_key, tag_value FROM tags WHERE resource_type = ?1 AND resource_id = ?2 ORDER BY tag_key")
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![resource.as_str(), id], |r| Ok(Tag { key: r.get(0)?, value: r.get(1)? })).map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)
        })
        .await
    }

    async fn list_tag_rows(
        &self,
        resource: ResourceType,
        ids: Option<&[String]>,
        filter: &[(String, Option<String>)],
        after: Option<&(String, String)>,
        limit: u32,
    ) -> StoreResult<Vec<(String, Tag)>> {
        let (ids, filter, after) = (ids.map(<[String]>::to_vec), filter.to_vec(), after.cloned());
        self.with(move |c| {
            let mut sql = String::from("SELECT resource_id, tag_key, tag_value FROM tags WHERE resource_type = ?");
            let mut args: Vec<String> = vec![resource.as_str().to_owned()];
            if let Some(ids) = &ids {
                sql.push_str(&format!(" AND resource_id IN ({})", vec!["?"; ids.len().max(1)].join(",")));
                args.extend(ids.iter().cloned());
                if ids.is_empty() {
                    args.push(String::new());
                }
            }
            if !filter.is_empty() {
                let mut ors = Vec::new();
                for (k, v) in &filter {
                    args.push(k.clone());
                    match v {
                        Some(v) => {
                            args.push(v.clone());
                            ors.push("(tag_key = ? AND tag_value = ?)");
                        }
                        None => ors.push("tag_key = ?"),
                    }
                }
                sql.push_str(&format!(" AND ({})", ors.join(" OR ")));
            }
            if let Some((rid, key)) = &after {
                sql.push_str(" AND (resource_id > ? OR (resource_id = ? AND tag_key > ?))");
                args.extend([rid.clone(), rid.clone(), key.clone()]);
            }
            sql.push_str(&format!(" ORDER BY resource_id, tag_key LIMIT {limit}"));
            let mut stmt = c.prepare(&sql).map_err(unavailable)?;
            let rows = stmt
                .query_map(params_from_iter(&args), |r| {
                    Ok((r.get::<_, String>(0)?, Tag { key: r.get(1)?, value: r.get(2)? }))
                })
                .map_err(unavailable)?;
            rows.collect::<rusqlite::Result<Vec<_>>>().map_err(unavailable)
        })
        .await
    }

    async fn record_nonce(&self, access_key_id: &str, nonce: &str, now: i64, forget_after: i64) -> StoreResult<bool> {
        let (ak, nonce) = (access_key_id.to_owned(), nonce.to_owned());
        self.write(move |c| {
            let n = c
                .execute(
                    "INSERT INTO nonces (access_key_id, nonce, forget_after) VALUES (?1, ?2, ?3)
                     ON CONFLICT (access_key_id, nonce) DO UPDATE SET forget_after = excluded.forget_after
                     WHERE nonces.forget_after <= ?4",
                    params![ak, nonce, forget_after, now],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
        .await
    }

    async fn purge_nonces(&self, now: i64) -> StoreResult<u64> {
        self.write(move |c| {
            c.execute("DELETE FROM nonces WHERE forget_after <= ?1", [now]).map(|n| n as u64).map_err(unavailable)
        })
        .await
    }

    /// One process owns a SQLite file; its in-memory replay cache is the whole truth.
    fn is_shared(&self) -> bool {
        false
    }
}
