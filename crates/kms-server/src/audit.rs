//! The audit trail: one JSON line per API request, allowed or refused — who (access key),
//! from where, which action on which resources, with what result and how fast. Never a
//! parameter value: no plaintext, ciphertext, secret value or key material, only resource
//! names as ARNs.
//!
//! Audit or fail: the line is written before the answer leaves, and a request whose line
//! cannot be written is answered with an error instead. The file is append-only and rotated by
//! size (`audit.log` → `audit.log.1` … keeping the newest files); or the lines go to stdout
//! for a log collector.
//!
//! A written line survives the process being killed (it is in the kernel); with `sync` it also
//! survives the machine losing power: it is on disk (fdatasync) before the answer leaves. The
//! sync is group-committed — one fdatasync covers every line written before it began, so
//! concurrent requests share it instead of queueing one disk flush each.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where the trail goes.
#[derive(Debug, Clone)]
pub enum AuditTarget {
    Stdout,
    /// A file, rotated when the next line would take it past `max_bytes`; `keep` rotated files.
    File {
        path: PathBuf,
        max_bytes: u64,
        keep: u32,
        /// Each line is on disk before its answer leaves.
        sync: bool,
    },
}

/// One request, as the trail records it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditRecord<'a> {
    /// When the answer was ready, UTC with milliseconds.
    pub time: String,
    pub request_id: &'a str,
    /// The access key the request was signed with (as claimed when the signature failed).
    pub access_key_id: Option<&'a str>,
    /// Who the access key belongs to: the principal policies will name.
    pub principal: Option<&'a str>,
    pub source_ip: String,
    pub action: Option<&'a str>,
    /// The resources the request named or reached, as ARNs.
    pub resources: &'a [String],
    /// `OK`, or the error code answered.
    pub code: &'a str,
    pub http_status: u16,
    pub latency_ms: f64,
}

impl AuditRecord<'_> {
    pub fn now() -> String {
        let t = OffsetDateTime::now_utc();
        let t = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap_or(t);
        t.format(&Rfc3339).unwrap_or_default()
    }
}

/// The resources a request named, as ARNs; for a ciphertext blob the key its version belongs
/// to (the one lookup, and only after the signature verified).
pub async fn resources(named: &[crate::named::Named], kms: &kms_core::Kms) -> Vec<String> {
    use crate::named::Named;
    use kms_types::KeyRef;
    let mut out: Vec<String> = Vec::with_capacity(named.len());
    for n in named {
        match n {
            Named::Key(KeyRef::Id { id, .. }) => out.push(kms.key_arn(id)),
            Named::Key(KeyRef::Alias { name, .. }) | Named::Alias(name) => out.push(kms.alias_arn(name)),
            Named::Secret(name) => out.push(kms.secret_arn(name)),
            Named::Version(v) => {
                if let Ok(Some(key_id)) = kms.key_of_version(v).await {
                    out.push(kms.key_arn(&key_id));
                }
            }
        }
    }
    out.dedup();
    out
}

/// The access key a request claims, for refused requests the verifier did not accept: V1's
/// `AccessKeyId` parameter, or the `Credential=` of an ACS3/ACS4 `Authorization` header.
pub fn claimed_access_key(raw: &kms_wire::raw::RawRequest) -> Option<String> {
    if let Some(id) = raw.param("AccessKeyId") {
        return Some(id.to_owned());
    }
    let auth = raw.header("authorization")?;
    let credential = auth.split_once("Credential=")?.1;
    let end = credential.find([',', '/', ' ']).unwrap_or(credential.len());
    let id = &credential[..end];
    // An id is printable and short; anything else is not worth keeping.
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())).then(|| id.to_owned())
}

enum Sink {
    Stdout,
    File { file: File, written: u64, path: PathBuf, max_bytes: u64, keep: u32 },
}

/// The open trail; clones share it.
#[derive(Clone)]
pub struct AuditLog(Arc<Inner>);

struct Inner {
    sink: Mutex<Sink>,
    /// Lines written so far (also the ticket of the newest one).
    lines: std::sync::atomic::AtomicU64,
    /// With `sync`: the count of lines known to be on disk, and a lock held across each
    /// fdatasync, so syncs queue behind each other and a waiter usually finds itself covered.
    /// Waiters are tasks, not threads: only the sync itself occupies a blocking thread.
    synced: Option<(tokio::sync::Mutex<()>, std::sync::atomic::AtomicU64)>,
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

impl AuditLog {
    pub fn open(target: &AuditTarget) -> io::Result<Self> {
        let (sink, sync) = match target {
            AuditTarget::Stdout => (Sink::Stdout, false),
            AuditTarget::File { path, max_bytes, keep, sync } => {
                let file = open_append(path)?;
                let written = file.metadata()?.len();
                if *sync {
                    file.sync_all()?;
                    sync_parent(path)?;
                }
                (Sink::File { file, written, path: path.clone(), max_bytes: *max_bytes, keep: *keep }, *sync)
            }
        };
        Ok(Self(Arc::new(Inner {
            sink: Mutex::new(sink),
            lines: Default::default(),
            synced: sync.then(Default::default),
        })))
    }

    /// Appends one line (and with `sync`, waits until it is on disk); an error means the
    /// request must not be answered as if it succeeded.
    pub async fn append(&self, record: &AuditRecord<'_>) -> io::Result<()> {
        let ticket = self.write(record)?;
        self.sync_through(ticket).await
    }

    /// Returns once line `ticket` is on disk: at once if a sync that began after it was
    /// written has finished, else after one that covers every line written so far.
    async fn sync_through(&self, ticket: u64) -> io::Result<()> {
        use std::sync::atomic::Ordering;
        let Some((turn, synced)) = &self.0.synced else { return Ok(()) };
        if synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        let _turn = turn.lock().await;
        if synced.load(Ordering::SeqCst) >= ticket {
            return Ok(());
        }
        let (file, upto) = {
            let sink = self.0.sink.lock().map_err(|_| io::Error::other("audit log lock poisoned"))?;
            match &*sink {
                Sink::File { file, .. } => (file.try_clone()?, self.0.lines.load(Ordering::SeqCst)),
                Sink::Stdout => return Ok(()),
            }
        };
        tokio::task::spawn_blocking(move || file.sync_data()).await.map_err(io::Error::other)??;
        synced.store(upto, Ordering::SeqCst);
        Ok(())
    }

    /// Writes one line to the kernel; its ticket for [`Inner::sync_through`].
    fn write(&self, record: &AuditRecord<'_>) -> io::Result<u64> {
        use std::sync::atomic::Ordering;
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut sink = self.0.sink.lock().map_err(|_| io::Error::other("audit log lock poisoned"))?;
        match &mut *sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&line)?;
                out.flush()?;
            }
            Sink::File { file, written, path, max_bytes, keep } => {
                if *written > 0 && *written + line.len() as u64 > *max_bytes {
                    if self.0.synced.is_some() {
                        // Lines not yet synced leave with the old file: flush them first.
                        file.sync_data()?;
                    }
                    rotate(path, *keep)?;
                    *file = open_append(path)?;
                    if self.0.synced.is_some() {
                        sync_parent(path)?;
                    }
                    *written = 0;
                }
                // One write of the whole line to an O_APPEND file: lines never interleave.
                file.write_all(&line)?;
                *written += line.len() as u64;
            }
        }
        Ok(self.0.lines.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

/// Makes a file's creation or rename durable: fsync of the directory that names it.
fn sync_parent(path: &std::path::Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// `audit.log.{keep-1}` → `.{keep}` (the oldest beyond `keep` is dropped), …, `audit.log` → `.1`.
fn rotate(path: &std::path::Path, keep: u32) -> io::Result<()> {
    let numbered = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    if keep == 0 {
        return std::fs::remove_file(path);
    }
    let _ = std::fs::remove_file(numbered(keep));
    for n in (1..keep).rev() {
        if numbered(n).exists() {
            std::fs::rename(numbered(n), numbered(n + 1))?;
        }
    }
    std::fs::rename(path, numbered(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(id: &'a str, resources: &'a [String]) -> AuditRecord<'a> {
        AuditRecord {
            time: AuditRecord::now(),
            request_id: id,
            access_key_id: Some("LTAI-test"),
            principal: Some("LTAI-test"),
            source_ip: "127.0.0.1".into(),
            action: Some("Encrypt"),
            resources,
            code: "OK",
            http_status: 200,
            latency_ms: 0.25,
        }
    }

    #[test]
    fn lines_are_json_and_files_rotate_by_size_keeping_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log =
            AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 600, keep: 2, sync: false }).unwrap();
        let resources = vec!["acs:kms:cn-hangzhou:1234567890123456:key/abc".to_owned()];
        for i in 0..20 {
            log.write(&record(&format!("req-{i:02}"), &resources)).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(current.lines().next().unwrap()).unwrap();
        assert_eq!(first["Action"], "Encrypt");
        assert_eq!(first["Resources"][0], resources[0].as_str());
        assert!(first["Time"].as_str().unwrap().ends_with('Z'));
        assert!(current.len() <= 600);
        assert!(current.contains("req-19"));
        let one = std::fs::read_to_string(dir.path().join("audit.log.1")).unwrap();
        let two = std::fs::read_to_string(dir.path().join("audit.log.2")).unwrap();
        assert!(!dir.path().join("audit.log.3").exists(), "only `keep` rotated files");
        // Newest lines in the live file, older ones behind, none duplicated.
        let ids = |s: &str| -> Vec<String> {
            s.lines()
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["RequestId"].as_str().unwrap().to_owned()
                })
                .collect()
        };
        let (a, b, c) = (ids(&two), ids(&one), ids(&current));
        let all: Vec<String> = a.iter().chain(&b).chain(&c).cloned().collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(all, sorted);
        assert_eq!(all.last().unwrap(), "req-19");
        // Reopening appends, never truncates.
        drop(log);
        let before = std::fs::read_to_string(&path).unwrap().len();
        let log = AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 1 << 20, keep: 2, sync: false })
            .unwrap();
        log.write(&record("again", &resources)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().len() > before);
    }

    /// With `sync`, concurrent requests each wait for their line to be on disk; the lines all
    /// arrive, across rotations, each once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn synced_lines_all_arrive_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log =
            AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 4096, keep: 100, sync: true }).unwrap();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let log = log.clone();
                tokio::spawn(async move {
                    let resources = vec![format!("acs:kms:cn-hangzhou:1234567890123456:key/{i}")];
                    log.append(&record(&format!("req-{i:03}"), &resources)).await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let synced = log.0.synced.as_ref().unwrap().1.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(synced, 200, "the last sync covered every line");
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            for line in std::fs::read_to_string(entry.unwrap().path()).unwrap().lines() {
                ids.push(
                    serde_json::from_str::<serde_json::Value>(line).unwrap()["RequestId"].as_str().unwrap().to_owned(),
                );
            }
        }
        assert!(dir.path().join("audit.log.3").exists(), "the test rotated");
        ids.sort();
        let want: Vec<String> = (0..200).map(|i| format!("req-{i:03}")).collect();
        assert_eq!(ids, want);
    }
}
