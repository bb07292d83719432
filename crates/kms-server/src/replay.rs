//! The replay guard: every nonce seen while a replay of its request could still pass the clock
//! check, remembered across restarts and crashes.
//!
//! Why a journal, and not the store: the guard is consulted by every request, reads included,
//! and a store write per Encrypt (a SQLite commit, or a PostgreSQL round trip on a single node)
//! would cost far more than the 5 % of throughput replay protection may take. Instead each
//! accepted nonce is appended, before the request runs, as one fixed 24-byte record to a file
//! in the data dir: one `write` into the page cache, which a SIGKILL or a crash of kmsd cannot
//! lose. Start-up reads the journal back, so a request accepted before a restart is refused
//! after it for the rest of its window. (A power loss can lose the last records the kernel had
//! not written out; the 15-minute window then bounds what a replay could do.) Nodes sharing a
//! PostgreSQL store also record nonces in its logged `nonces` table, so a replay to another
//! node is refused there too, across a database restart.
//!
//! A record is the first 16 bytes of SHA-256(access key id, NUL, nonce) and the Unix second
//! after which it may be forgotten. Hashing bounds memory and the journal per request whatever
//! a client sends as its nonce, and a collision would need 2^64 work to even refuse one
//! request. The journal is two files: the live one, and the previous one, which is deleted when
//! the live one is rotated after [`ROTATE_AFTER`] — longer than any record stays needed.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use kms_wire::ApiError;
use kms_wire::signature::NonceCache;
use time::OffsetDateTime;

/// A nonce, as the guard remembers it.
type Fingerprint = [u8; 16];

const RECORD: usize = 24;

/// The live journal becomes the previous one after this long; the previous one is deleted
/// then. A record is needed at most until its request's timestamp (which may run 15 minutes
/// ahead of the clock) plus the 15-minute window plus a second, so every record in a deleted
/// file is past use.
const ROTATE_AFTER: time::Duration = time::Duration::seconds(31 * 60);

/// The smallest table worth sweeping.
const MIN_SWEEP: usize = 10_000;

/// Nonces seen, in memory and (when opened on a data dir) in the journal.
pub struct Nonces {
    inner: Mutex<Table>,
    /// Records accepted but not yet written: [`Nonces::journaled`] writes them, in batches,
    /// before their requests run.
    queue: crate::group_write::GroupWrite,
    /// Batches that could not be written since start-up. While none has failed, a record
    /// that went through a write is in the journal, and a request need not look for its own.
    failed_batches: std::sync::atomic::AtomicU64,
}

struct Table {
    entries: HashMap<Fingerprint, i64>,
    /// Size at which expired entries are next swept out (amortised: doubles with the table).
    sweep_at: usize,
    journal: Option<Journal>,
}

struct Journal {
    live: PathBuf,
    previous: PathBuf,
    file: File,
    /// The live file's length: where a write cut short is cut back to.
    len: u64,
    started: OffsetDateTime,
    /// The service clock at the newest accepted nonce: rotation follows the clock requests
    /// are checked against.
    latest: OffsetDateTime,
}

impl Default for Nonces {
    /// A guard that remembers in memory only (tests of the verifier's callers).
    fn default() -> Self {
        Self {
            inner: Mutex::new(Table { entries: HashMap::new(), sweep_at: 0, journal: None }),
            queue: Default::default(),
            failed_batches: Default::default(),
        }
    }
}

impl Nonces {
    /// The guard of the data dir `dir`: what its journal remembers that is still of use, and
    /// a fresh live file (the old live file becomes the previous one).
    pub fn open(dir: &Path, now: OffsetDateTime) -> io::Result<Self> {
        let live = dir.join("nonces.journal");
        let previous = dir.join("nonces.journal.previous");
        let mut entries = HashMap::new();
        for path in [&previous, &live] {
            read_records(path, now.unix_timestamp(), &mut entries)?;
        }
        // Everything still of use is in the live file being retired, or in memory; write the
        // survivors anew so the retired files can go by the usual rotation.
        if live.exists() {
            std::fs::rename(&live, &previous)?;
        }
        let mut file = open_journal(&live)?;
        let mut out = Vec::with_capacity(entries.len() * RECORD);
        for (fingerprint, forget_after) in &entries {
            out.extend_from_slice(&record(fingerprint, *forget_after));
        }
        file.write_all(&out)?;
        let _ = std::fs::remove_file(&previous);
        sync_dir(dir)?;
        let journal = Journal { live, previous, file, len: out.len() as u64, started: now, latest: now };
        Ok(Self {
            inner: Mutex::new(Table { entries, sweep_at: 0, journal: Some(journal) }),
            queue: Default::default(),
            failed_batches: Default::default(),
        })
    }

    /// Returns once every nonce this guard accepted so far is in the journal — batched with
    /// the other requests arriving meanwhile; called after the signature verified and before
    /// the request runs. A batch that cannot be written refuses its requests, and their nonces
    /// are forgotten again (a refused request's nonce is not a replay).
    ///
    /// Whether this request's own record got out is read from the table, not from the batch
    /// this call happened to wait for: a failed batch forgets exactly its nonces.
    pub async fn journaled(&self, access_key_id: &str, nonce: &str) -> Result<(), ApiError> {
        let refused = || {
            ApiError::with_message(
                kms_wire::Code::ServiceUnavailableTemporary,
                "The replay guard cannot record the request; it was not carried out.",
            )
        };
        let ticket = self.queue.issued();
        if let Err(e) = self.queue.flushed(ticket, |batch| self.write_batch(batch).map_err(Into::into)).await {
            tracing::error!(error = %e, "the replay journal cannot be written: request refused");
            return Err(refused());
        }
        if self.failed_batches.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return Ok(());
        }
        let kept = self
            .inner
            .lock()
            .map(|t| t.journal.is_none() || t.entries.contains_key(&fingerprint(access_key_id, nonce)));
        if !kept.unwrap_or(false) {
            tracing::error!("the replay journal could not record a request's nonce: request refused");
            return Err(refused());
        }
        Ok(())
    }

    fn write_batch(&self, batch: &[u8]) -> io::Result<()> {
        let mut table = self.inner.lock().map_err(|_| io::Error::other("replay guard lock poisoned"))?;
        let Some(journal) = &mut table.journal else { return Ok(()) };
        let now = journal.latest;
        let written = journal.append(batch, now);
        if written.is_err() {
            self.failed_batches.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for r in batch.chunks_exact(RECORD) {
                table.entries.remove(&r[..16]);
            }
        }
        written
    }
}

fn open_journal(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn fingerprint(access_key_id: &str, nonce: &str) -> Fingerprint {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    ctx.update(access_key_id.as_bytes());
    ctx.update(&[0]);
    ctx.update(nonce.as_bytes());
    let digest = ctx.finish();
    let mut out = [0u8; 16];
    out.copy_from_slice(&digest.as_ref()[..16]);
    out
}

fn record(fingerprint: &Fingerprint, forget_after: i64) -> [u8; RECORD] {
    let mut out = [0u8; RECORD];
    out[..16].copy_from_slice(fingerprint);
    out[16..].copy_from_slice(&forget_after.to_le_bytes());
    out
}

/// Adds the records of `path` still needed after `now` (a missing file has none; a torn last
/// record, which was never acknowledged, is ignored).
fn read_records(path: &Path, now: i64, into: &mut HashMap<Fingerprint, i64>) -> io::Result<()> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f.read_to_end(&mut bytes)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for r in bytes.chunks_exact(RECORD) {
        let mut fingerprint = [0u8; 16];
        fingerprint.copy_from_slice(&r[..16]);
        let mut forget_after = [0u8; 8];
        forget_after.copy_from_slice(&r[16..]);
        let forget_after = i64::from_le_bytes(forget_after);
        if forget_after > now {
            let kept = into.entry(fingerprint).or_insert(forget_after);
            *kept = (*kept).max(forget_after);
        }
    }
    Ok(())
}

impl Journal {
    /// Appends whole records (rotating first when the live file is old enough). A write cut
    /// short (a full disk) is cut back off the file, so records stay aligned for the next start.
    fn append(&mut self, bytes: &[u8], now: OffsetDateTime) -> io::Result<()> {
        if now - self.started >= ROTATE_AFTER {
            std::fs::rename(&self.live, &self.previous)?;
            self.file = open_journal(&self.live)?;
            self.len = self.file.metadata()?.len();
            self.started = now;
        }
        match self.file.write_all(bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                Ok(())
            }
            Err(e) => {
                if let Err(cut) = self.file.set_len(self.len) {
                    tracing::error!(error = %cut, "could not cut a partly written record off the replay journal");
                }
                Err(e)
            }
        }
    }
}

impl NonceCache for Nonces {
    fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: OffsetDateTime,
        forget_after: OffsetDateTime,
    ) -> Result<bool, ApiError> {
        let fingerprint = fingerprint(access_key_id, nonce);
        let Ok(mut table) = self.inner.lock() else { return Err(ApiError::internal()) };
        let now_s = now.unix_timestamp();
        if table.entries.len() >= table.sweep_at.max(MIN_SWEEP) {
            table.entries.retain(|_, until| *until > now_s);
            table.sweep_at = table.entries.len() * 2;
        }
        if table.entries.get(&fingerprint).is_some_and(|until| *until > now_s) {
            return Ok(false);
        }
        let forget_after = forget_after.unix_timestamp();
        if let Some(journal) = &mut table.journal {
            journal.latest = journal.latest.max(now);
            // Under the table's lock, so records queue in the order the nonces were accepted.
            let queued = self.queue.push_bytes(&record(&fingerprint, forget_after));
            if queued.is_err() {
                return Err(ApiError::internal());
            }
        }
        table.entries.insert(fingerprint, forget_after);
        Ok(true)
    }
}

#[cfg(test)]
impl Nonces {
    /// Writes what is queued, now (tests run without a request to batch with).
    fn flush(&self) -> io::Result<()> {
        let ticket = self.queue.issued();
        self.queue.write_now(|batch| self.write_batch(batch).map_err(Into::into))?;
        self.queue.outcome(ticket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: time::Duration = time::Duration::minutes(1);

    #[test]
    fn nonces_are_single_use_while_a_replay_could_pass_the_clock() {
        let n = Nonces::default();
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let until = t + 15 * MIN;
        assert!(n.first_use("a", "n1", t, until).unwrap());
        assert!(!n.first_use("a", "n1", t + 14 * MIN, until).unwrap());
        assert!(n.first_use("b", "n1", t, until).unwrap(), "nonces are per access key");
        assert!(n.first_use("a", "n1", t + 16 * MIN, until).unwrap(), "forgotten once replays are stale");
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert!(n.first_use("ab", "c", t, until).unwrap());
        assert!(n.first_use("a", "bc", t, until).unwrap());
    }

    #[test]
    fn expired_nonces_are_swept() {
        let n = Nonces::default();
        let t = OffsetDateTime::UNIX_EPOCH;
        for i in 0..MIN_SWEEP {
            assert!(n.first_use("a", &i.to_string(), t, t + 15 * MIN).unwrap());
        }
        let later = t + 20 * MIN;
        assert!(n.first_use("a", "new", later, later + 15 * MIN).unwrap());
        assert_eq!(n.inner.lock().unwrap().entries.len(), 1, "the expired ones were dropped");
    }

    /// What one process accepted, the next one on the same data dir refuses, for as long as a
    /// replay could pass the clock — across journal rotations, and whatever a torn last record.
    #[test]
    fn the_journal_remembers_across_restarts_and_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let n = Nonces::open(dir.path(), t).unwrap();
        assert!(n.first_use("a", "early", t, t + 30 * MIN).unwrap());
        assert!(n.first_use("a", "short", t, t + 2 * MIN).unwrap());
        // Past a rotation: "early" now lives in the previous file.
        let later = t + ROTATE_AFTER;
        assert!(n.first_use("a", "late", later, later + 15 * MIN).unwrap());
        n.flush().unwrap();
        assert!(dir.path().join("nonces.journal.previous").exists());
        drop(n);
        // A torn record at the end (a write cut short) is ignored.
        OpenOptions::new().append(true).open(dir.path().join("nonces.journal")).unwrap().write_all(&[7; 5]).unwrap();

        let restart = later + MIN;
        let n = Nonces::open(dir.path(), restart).unwrap();
        assert!(!n.first_use("a", "late", restart, restart + 15 * MIN).unwrap(), "replay after a restart");
        assert!(n.first_use("a", "early", restart, restart + 15 * MIN).unwrap(), "forgotten: past its window");
        assert!(n.first_use("a", "short", restart, restart + 15 * MIN).unwrap());
        n.flush().unwrap();
        // Reopening carries the survivors forward, and drops the retired file.
        drop(n);
        let again = restart + MIN;
        let n = Nonces::open(dir.path(), again).unwrap();
        assert!(!n.first_use("a", "late", again, again + 15 * MIN).unwrap());
        assert!(!n.first_use("a", "early", again, again + 15 * MIN).unwrap(), "accepted once after the restart");
        assert!(!dir.path().join("nonces.journal.previous").exists());
        let len = std::fs::metadata(dir.path().join("nonces.journal")).unwrap().len() as usize;
        assert_eq!(len % RECORD, 0);
        assert_eq!(len / RECORD, 3, "late, early, short: each once");
    }

    /// A journal that cannot be written refuses the request instead of accepting it unrecorded.
    #[tokio::test(flavor = "current_thread")]
    async fn an_unwritable_journal_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let n = Nonces::open(dir.path(), t).unwrap();
        n.inner.lock().unwrap().journal.as_mut().unwrap().file = File::open("/dev/full").unwrap();
        assert!(n.first_use("a", "n", t, t + 15 * MIN).unwrap());
        let e = n.journaled("a", "n").await.unwrap_err();
        assert_eq!(e.code, kms_wire::Code::ServiceUnavailableTemporary);
        // Not remembered either: the same nonce is not a "replay" of a refused request.
        n.inner.lock().unwrap().journal.as_mut().unwrap().file = open_journal(&dir.path().join("j")).unwrap();
        assert!(n.first_use("a", "n", t, t + 15 * MIN).unwrap());
        n.journaled("a", "n").await.unwrap();
        assert_eq!(std::fs::metadata(dir.path().join("j")).unwrap().len() as usize, RECORD);
    }

    /// A request learns about its own record, whatever batch it waited for: one whose nonce
    /// went out in a failed batch is refused even when asked after a later batch succeeded.
    #[tokio::test(flavor = "current_thread")]
    async fn a_record_lost_in_a_failed_batch_refuses_its_request_after_later_batches() {
        let dir = tempfile::tempdir().unwrap();
        let t = OffsetDateTime::UNIX_EPOCH + time::Duration::days(1);
        let n = Nonces::open(dir.path(), t).unwrap();
        let live = dir.path().join("nonces.journal");
        n.inner.lock().unwrap().journal.as_mut().unwrap().file = File::open("/dev/full").unwrap();
        assert!(n.first_use("a", "lost", t, t + 15 * MIN).unwrap());
        assert!(n.flush().is_err());
        n.inner.lock().unwrap().journal.as_mut().unwrap().file = open_journal(&live).unwrap();
        assert!(n.first_use("a", "later", t, t + 15 * MIN).unwrap());
        n.journaled("a", "later").await.unwrap();
        assert!(n.journaled("a", "lost").await.is_err());
        assert_eq!(std::fs::metadata(&live).unwrap().len() as usize, RECORD, "only the later record");
    }
}
