//! Per-version usage counters: how many Encrypt/Decrypt calls each version served and when it
//! was last used, so an operator can tell when an old version stops being needed.
//!
//! Counting must not slow the hot path or add a write per request: calls add to an in-memory
//! table, and [`Kms::flush_usage`] moves the table to the store in one write (the server does
//! that every few seconds and at shutdown). Reads add what is not flushed yet.
//!
//! A read must not catch a flush half-way (the batch taken from memory but not yet in the
//! store, or in the store and still counted in memory), so reads and flushes pass a gate: reads
//! share it, a flush holds it alone for its one write. The hot path never touches the gate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kms_store::VersionUsage;
use kms_types::KeyVersionId;

use crate::error::CoreResult;
use crate::service::Kms;

/// Uses counted since the last flush, and since the process started (for the metrics).
#[derive(Default)]
pub(crate) struct UsageCounter {
    pending: Mutex<HashMap<KeyVersionId, VersionUsage>>,
    /// All versions together: a table per version would only grow while the process lives,
    /// and each version's own counts are in the store (DescribeKeyVersion).
    encrypts_since_start: AtomicU64,
    decrypts_since_start: AtomicU64,
    gate: tokio::sync::RwLock<()>,
}

impl UsageCounter {
    fn add(&self, version: &KeyVersionId, delta: VersionUsage) {
        if let Ok(mut pending) = self.pending.lock() {
            pending.entry(version.clone()).or_default().add(&delta);
        }
        self.encrypts_since_start.fetch_add(delta.encrypts, Ordering::Relaxed);
        self.decrypts_since_start.fetch_add(delta.decrypts, Ordering::Relaxed);
    }

    pub(crate) fn encrypted(&self, version: &KeyVersionId, now: i64) {
        self.add(version, VersionUsage { encrypts: 1, decrypts: 0, last_used_at: Some(now) });
    }

    pub(crate) fn decrypted(&self, version: &KeyVersionId, now: i64) {
        self.add(version, VersionUsage { encrypts: 0, decrypts: 1, last_used_at: Some(now) });
    }

    /// Held while reading stored usage and adding [`Self::pending`] to it.
    pub(crate) async fn read_gate(&self) -> tokio::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().await
    }

    /// What is counted but not yet flushed for one version.
    pub(crate) fn pending(&self, version: &KeyVersionId) -> VersionUsage {
        self.pending.lock().ok().and_then(|p| p.get(version).copied()).unwrap_or_default()
    }

    fn take(&self) -> Vec<(KeyVersionId, VersionUsage)> {
        self.pending.lock().map(|mut p| p.drain().collect()).unwrap_or_default()
    }

    fn restore(&self, batch: Vec<(KeyVersionId, VersionUsage)>) {
        if let Ok(mut pending) = self.pending.lock() {
            for (version, usage) in batch {
                pending.entry(version).or_default().add(&usage);
            }
        }
    }
}

impl Kms {
    /// Encrypt-side and decrypt-side uses of all versions together since this process
    /// started: monotonic counters for the metrics.
    pub fn uses_since_start(&self) -> (u64, u64) {
        (
            self.usage.encrypts_since_start.load(Ordering::Relaxed),
            self.usage.decrypts_since_start.load(Ordering::Relaxed),
        )
    }

    /// Writes the counted uses to the store in one write. On failure they are kept for the
    /// next flush.
    pub async fn flush_usage(&self) -> CoreResult<usize> {
        let _alone = self.usage.gate.write().await;
        let batch = self.usage.take();
        if batch.is_empty() {
            return Ok(0);
        }
        match self.store.add_version_usage(&batch).await {
            Ok(()) => Ok(batch.len()),
            Err(e) => {
                self.usage.restore(batch);
                Err(e.into())
            }
        }
    }
}
