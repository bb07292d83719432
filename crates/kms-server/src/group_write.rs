//! Group writes: records that must reach the kernel before their request may go on (audit
//! lines, replay-journal records) are queued in memory and written in batches — one `write`
//! for every request that arrived while the previous batch was going out — yet no request goes
//! on before its own record is out, and a request whose batch failed learns it and is refused.
//!
//! Why: a `write` per request is a syscall on every request's path; under load, requests
//! arrive together, and one syscall can carry them all. Nothing is acknowledged earlier than
//! before: only the number of syscalls changes.

use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The queue and its bookkeeping; the writing itself is the caller's (`write` arguments).
#[derive(Default)]
pub struct GroupWrite {
    pending: Mutex<Pending>,
    /// Held by whoever writes the next batch; those who arrive meanwhile queue behind it and
    /// usually find their record already written when their turn comes.
    turn: tokio::sync::Mutex<()>,
    /// The ticket through which every record has been through a write (or its batch failed).
    done: AtomicU64,
    /// Batches that could not be written, until each of their requests has learnt it.
    failed: Mutex<Vec<Failed>>,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    issued: u64,
}

struct Failed {
    first: u64,
    last: u64,
    waiting: u64,
    error: String,
}

/// A batch that did not all get out: its first `written` records did (whole), the rest failed.
pub struct BatchError {
    pub written: u64,
    pub error: io::Error,
}

impl From<io::Error> for BatchError {
    fn from(error: io::Error) -> Self {
        Self { written: 0, error }
    }
}

/// Failed batches remembered at most; past this, see [`GroupWrite::outcome`].
const MAX_FAILED: usize = 4096;

fn poisoned() -> io::Error {
    io::Error::other("group write lock poisoned")
}

impl GroupWrite {
    /// Queues a record (what `fill` appends; on its error nothing is queued); its ticket.
    pub fn push(&self, fill: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> io::Result<u64> {
        let mut pending = self.pending.lock().map_err(|_| poisoned())?;
        let mark = pending.bytes.len();
        if let Err(e) = fill(&mut pending.bytes) {
            pending.bytes.truncate(mark);
            return Err(e);
        }
        pending.issued += 1;
        Ok(pending.issued)
    }

    /// Queues `bytes` as one record; its ticket.
    pub fn push_bytes(&self, bytes: &[u8]) -> io::Result<u64> {
        self.push(|out| {
            out.extend_from_slice(bytes);
            Ok(())
        })
    }

    /// The ticket of the newest record queued.
    pub fn issued(&self) -> u64 {
        self.pending.lock().map(|p| p.issued).unwrap_or(u64::MAX)
    }

    /// The ticket through which records have been written (or failed).
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::SeqCst)
    }

    /// Returns once record `ticket` has been through `write`: in the batch of whoever holds
    /// the turn, or in this caller's own batch of everything queued. `write` gets whole
    /// batches, in ticket order; its error fails every record of the batch.
    pub async fn through(&self, ticket: u64, write: impl FnOnce(&[u8]) -> Result<(), BatchError>) -> io::Result<()> {
        self.flushed(ticket, write).await?;
        self.outcome(ticket)
    }

    /// Returns once record `ticket` has been through `write`, without asking how it went (for
    /// a caller that learns that otherwise, and so must not take a share of [`Self::outcome`]).
    pub async fn flushed(&self, ticket: u64, write: impl FnOnce(&[u8]) -> Result<(), BatchError>) -> io::Result<()> {
        if self.done() < ticket {
            let _turn = self.turn.lock().await;
            if self.done() < ticket {
                // Requests already running get to add their records to this batch.
                tokio::task::yield_now().await;
                self.write_now(write)?;
            }
        }
        Ok(())
    }

    /// Writes everything queued as one batch, now (the caller holds the turn, or is alone).
    /// `write` sees the batch's bytes, so when it fails it may undo what they stood for.
    pub fn write_now(&self, write: impl FnOnce(&[u8]) -> Result<(), BatchError>) -> io::Result<()> {
        let (batch, last) = {
            let mut pending = self.pending.lock().map_err(|_| poisoned())?;
            let capacity = pending.bytes.capacity().min(1 << 20);
            (std::mem::replace(&mut pending.bytes, Vec::with_capacity(capacity)), pending.issued)
        };
        let first = self.done() + 1;
        if first > last {
            return Ok(());
        }
        if let Err(e) = write(&batch) {
            // Records the writer got out whole before it failed are written; the rest failed.
            let first = first + e.written;
            if first <= last {
                let mut failed = self.failed.lock().map_err(|_| poisoned())?;
                if failed.len() >= MAX_FAILED {
                    failed.remove(0);
                }
                failed.push(Failed { first, last, waiting: last + 1 - first, error: e.error.to_string() });
            }
        }
        self.done.store(last, Ordering::SeqCst);
        Ok(())
    }

    /// Whether record `ticket`, now past the writer, was written.
    pub fn outcome(&self, ticket: u64) -> io::Result<()> {
        let mut failed = self.failed.lock().map_err(|_| poisoned())?;
        if let Some(i) = failed.iter().position(|f| (f.first..=f.last).contains(&ticket)) {
            let error = io::Error::other(failed[i].error.clone());
            failed[i].waiting -= 1;
            if failed[i].waiting == 0 {
                failed.remove(i);
            }
            return Err(error);
        }
        // A failure forgotten under a flood of failing batches is a failure all the same:
        // anything older than the oldest one remembered is refused too.
        if failed.len() >= MAX_FAILED && failed.first().is_some_and(|f| ticket < f.first) {
            return Err(io::Error::other("batch write failed"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Concurrent records leave in fewer writes than records, each exactly once, in order;
    /// every caller returns only after its record was written.
    #[tokio::test(flavor = "current_thread")]
    async fn concurrent_records_share_writes_and_each_waits_for_its_own() {
        let g = Arc::new(GroupWrite::default());
        let out = Arc::new(Mutex::new((Vec::<u8>::new(), 0usize)));
        let tasks: Vec<_> = (0..100u8)
            .map(|i| {
                let (g, out) = (g.clone(), out.clone());
                tokio::spawn(async move {
                    let t = g.push_bytes(&[i]).unwrap();
                    g.through(t, |batch| {
                        let mut o = out.lock().unwrap();
                        o.0.extend_from_slice(batch);
                        o.1 += 1;
                        Ok(())
                    })
                    .await
                    .unwrap();
                    assert!(out.lock().unwrap().0.contains(&i), "answered before its record was written");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let (bytes, writes) = out.lock().unwrap().clone();
        assert_eq!(bytes, (0..100).collect::<Vec<u8>>());
        assert!(writes < 10, "{writes} writes for 100 records");
    }

    /// Every record of a failed batch fails; records after it succeed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_failed_batch_fails_each_of_its_records() {
        let g = GroupWrite::default();
        let a = g.push_bytes(&[1]).unwrap();
        let b = g.push_bytes(&[2]).unwrap();
        g.write_now(|_| Err(io::Error::other("disk full").into())).unwrap();
        assert!(g.through(a, |_| Ok(())).await.is_err());
        assert!(g.through(b, |_| Ok(())).await.is_err());
        assert!(g.failed.lock().unwrap().is_empty(), "forgotten once both learnt it");
        let c = g.push_bytes(&[3]).unwrap();
        g.through(c, |batch| if batch == [3] { Ok(()) } else { Err(io::Error::other("wrong batch").into()) })
            .await
            .unwrap();
        // A batch that got its first record out: only the second fails.
        let (d, e) = (g.push_bytes(&[4]).unwrap(), g.push_bytes(&[5]).unwrap());
        g.write_now(|_| Err(BatchError { written: 1, error: io::Error::other("disk full") })).unwrap();
        g.outcome(d).unwrap();
        assert!(g.outcome(e).is_err());
        // A record whose filling fails is not queued.
        assert!(
            g.push(|b| {
                b.push(9);
                Err(io::Error::other("no"))
            })
            .is_err()
        );
        assert_eq!(g.issued(), 5);
    }
}
