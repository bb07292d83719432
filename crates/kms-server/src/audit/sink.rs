//! Where the trail's lines go: standard output, or an append-only file rotated by size into
//! timestamped files (see `rotation`). A write that fails half-way is cut back off the file,
//! so the next line always starts on its own line.
//!
//! A written line survives the process being killed (it is in the kernel); with `sync` it also
//! survives the machine losing power: it is on disk (fdatasync) before the answer leaves. The
//! sync is group-committed — one fdatasync covers every line written before it began, so
//! concurrent requests share it instead of queueing one disk flush each. The writes are
//! batched the same way: lines of concurrent requests leave in one `write`, and each request
//! still waits for its own line to be out (and refuses to answer if its batch failed).

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::AuditRecord;
use super::rotation::rotate;

/// Where the trail goes.
#[derive(Debug, Clone)]
pub enum AuditTarget {
    Stdout,
    /// A file, rotated when the next line would take it past `max_bytes`; the newest `keep`
    /// rotated files are kept (`None`: all of them).
    File {
        path: PathBuf,
        max_bytes: u64,
        keep: Option<u32>,
        /// Each line is on disk before its answer leaves.
        sync: bool,
    },
}

enum Sink {
    Stdout,
    File { file: File, written: u64, path: PathBuf, max_bytes: u64, keep: Option<u32> },
}

/// The open trail; clones share it.
#[derive(Clone)]
pub struct AuditLog(Arc<Inner>);

struct Inner {
    sink: Mutex<Sink>,
    /// Lines on their way to the sink, in batches.
    queue: crate::group_write::GroupWrite,
    /// With `sync`: the count of lines known to be on disk, and a lock held across each
    /// fdatasync, so syncs queue behind each other and a waiter usually finds itself covered.
    /// Waiters are tasks, not threads: only the sync itself occupies a blocking thread.
    synced: Option<(tokio::sync::Mutex<()>, std::sync::atomic::AtomicU64)>,
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).read(true).append(true).mode(0o600).open(path)
}

impl AuditLog {
    pub fn open(target: &AuditTarget) -> io::Result<Self> {
        let (sink, sync) = match target {
            AuditTarget::Stdout => (Sink::Stdout, false),
            AuditTarget::File { path, max_bytes, keep, sync } => {
                let mut file = open_append(path)?;
                let mut written = file.metadata()?.len();
                if ends_mid_line(&file, written)? {
                    // Whatever cut a line short before, the next one starts on its own line.
                    append_line(&mut file, &mut written, b"\n")?;
                }
                if *sync {
                    file.sync_all()?;
                    sync_parent(path)?;
                }
                (Sink::File { file, written, path: path.clone(), max_bytes: *max_bytes, keep: *keep }, *sync)
            }
        };
        Ok(Self(Arc::new(Inner {
            sink: Mutex::new(sink),
            queue: Default::default(),
            synced: sync.then(Default::default),
        })))
    }

    /// Appends one line (and with `sync`, waits until it is on disk); an error means the
    /// request must not be answered as if it succeeded. Lines of concurrent requests go out
    /// together in one write (and one sync), but none is answered before its own line is out.
    pub async fn append(&self, record: &AuditRecord<'_>) -> io::Result<()> {
        let ticket = self.enqueue(record)?;
        self.write_through(ticket).await?;
        self.sync_through(ticket).await
    }

    /// Serialises `record` onto the pending batch; its ticket.
    fn enqueue(&self, record: &AuditRecord<'_>) -> io::Result<u64> {
        self.0.queue.push(|out| {
            serde_json::to_writer(&mut *out, record).map_err(io::Error::other)?;
            out.push(b'\n');
            Ok(())
        })
    }

    /// Returns once line `ticket` has been handed to the kernel.
    async fn write_through(&self, ticket: u64) -> io::Result<()> {
        self.0.queue.through(ticket, |batch| self.write_batch(batch)).await
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
                Sink::File { file, .. } => (file.try_clone()?, self.0.queue.done()),
                Sink::Stdout => return Ok(()),
            }
        };
        tokio::task::spawn_blocking(move || file.sync_data()).await.map_err(io::Error::other)??;
        synced.store(upto, Ordering::SeqCst);
        Ok(())
    }

    /// One line, written at once (tests, and callers outside a runtime).
    #[cfg(test)]
    fn write(&self, record: &AuditRecord<'_>) -> io::Result<u64> {
        let ticket = self.enqueue(record)?;
        self.0.queue.write_now(|batch| self.write_batch(batch))?;
        self.0.queue.outcome(ticket).map(|()| ticket)
    }

    /// Writes a batch of whole lines: rotating first whenever the next line would take the
    /// file past its size (so no file exceeds it unless one line alone does). When it fails
    /// part-way, the lines already out are counted as written: only the rest fail.
    fn write_batch(&self, batch: &[u8]) -> Result<(), crate::group_write::BatchError> {
        let lines = |bytes: &[u8]| bytes.iter().filter(|&&b| b == b'\n').count() as u64;
        let mut sink = self.0.sink.lock().map_err(|_| io::Error::other("audit log lock poisoned"))?;
        match &mut *sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(batch)?;
                Ok(out.flush()?)
            }
            Sink::File { file, written, path, max_bytes, keep } => {
                let mut rest = batch;
                let failed = |rest: &[u8], error| crate::group_write::BatchError {
                    written: lines(&batch[..batch.len() - rest.len()]),
                    error,
                };
                while !rest.is_empty() {
                    let mut take = 0usize;
                    while take < rest.len() {
                        let end = rest[take..].iter().position(|&b| b == b'\n').map_or(rest.len(), |p| take + p + 1);
                        if *written + end as u64 > *max_bytes && (take > 0 || *written > 0) {
                            break;
                        }
                        take = end;
                    }
                    if take == 0 {
                        let rotated = (|| {
                            if self.0.synced.is_some() {
                                // Lines not yet synced leave with the old file: flush them first.
                                file.sync_data()?;
                            }
                            rotate(path, *keep)?;
                            *file = open_append(path)?;
                            if self.0.synced.is_some() {
                                sync_parent(path)?;
                            }
                            io::Result::Ok(())
                        })();
                        rotated.map_err(|e| failed(rest, e))?;
                        *written = 0;
                        continue;
                    }
                    append_line(file, written, &rest[..take]).map_err(|e| failed(rest, e))?;
                    rest = &rest[take..];
                }
                Ok(())
            }
        }
    }
}

/// Whether a file of `len` bytes ends without a line break.
fn ends_mid_line(file: &File, len: u64) -> io::Result<bool> {
    use std::os::unix::fs::FileExt as _;
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// Makes a file's creation or rename durable: fsync of the directory that names it.
fn sync_parent(path: &std::path::Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// Writes whole lines at the end of `file` (O_APPEND: lines of concurrent writers never
/// interleave). If only part got out — a full disk — that part is cut off again, so the file
/// still ends at a line boundary and the next line starts on its own.
fn append_line(file: &mut (impl io::Write + SetLen), written: &mut u64, line: &[u8]) -> io::Result<()> {
    match file.write_all(line) {
        Ok(()) => {
            *written += line.len() as u64;
            Ok(())
        }
        Err(e) => {
            if let Err(cut) = file.set_len(*written) {
                tracing::error!(error = %cut, "could not cut a partly written audit line off the trail");
            }
            Err(e)
        }
    }
}

/// What [`append_line`] needs to undo a partial write; a seam for the unit test's full disk.
trait SetLen {
    fn set_len(&self, len: u64) -> io::Result<()>;
}

impl SetLen for File {
    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::rotated_files;
    use super::*;

    fn record<'a>(id: &'a str, resources: &'a [String]) -> AuditRecord<'a> {
        AuditRecord {
            time: AuditRecord::now(),
            request_id: id,
            phase: None,
            access_key_id: Some("LTAI-test"),
            principal: Some("LTAI-test"),
            source_ip: std::net::Ipv4Addr::LOCALHOST.into(),
            action: Some("Encrypt"),
            resources,
            code: Some("OK"),
            http_status: Some(200),
            latency_ms: 0.25,
        }
    }

    fn request_ids(text: &str) -> Vec<String> {
        text.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["RequestId"].as_str().unwrap().to_owned())
            .collect()
    }

    fn file(path: &std::path::Path, max_bytes: u64, keep: Option<u32>) -> AuditTarget {
        AuditTarget::File { path: path.to_path_buf(), max_bytes, keep, sync: false }
    }

    #[test]
    fn lines_are_json_and_rotated_files_are_all_kept_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&file(&path, 600, None)).unwrap();
        let resources = vec!["acs:kms:cn-hangzhou:1234567890123456:key/abc".to_owned()];
        for i in 0..20 {
            log.write(&record(&format!("req-{i:02}"), &resources)).unwrap();
        }
        let current = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(current.lines().next().unwrap()).unwrap();
        assert_eq!(first["Action"], "Encrypt");
        assert_eq!(first["Resources"][0], resources[0].as_str());
        assert!(first["Time"].as_str().unwrap().ends_with('Z'));
        assert!(first.get("Phase").is_none());
        assert!(current.len() <= 600);
        let rotated = rotated_files(&path).unwrap();
        assert!(rotated.len() >= 5, "{rotated:?}");
        // Every line is somewhere, once, oldest file first.
        let mut all = Vec::new();
        for f in rotated.iter().chain([&path]) {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.len() <= 600);
            all.extend(request_ids(&text));
        }
        let want: Vec<String> = (0..20).map(|i| format!("req-{i:02}")).collect();
        assert_eq!(all, want);
        // Reopening appends, never truncates.
        drop(log);
        let before = std::fs::read_to_string(&path).unwrap().len();
        let log = AuditLog::open(&file(&path, 1 << 20, None)).unwrap();
        log.write(&record("again", &resources)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().len() > before);
    }

    #[test]
    fn a_chosen_retention_keeps_the_newest_rotated_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log = AuditLog::open(&file(&path, 600, Some(2))).unwrap();
        let resources = vec!["acs:kms:cn-hangzhou:1234567890123456:key/abc".to_owned()];
        for i in 0..20 {
            log.write(&record(&format!("req-{i:02}"), &resources)).unwrap();
        }
        let rotated = rotated_files(&path).unwrap();
        assert_eq!(rotated.len(), 2, "{rotated:?}");
        let mut kept = Vec::new();
        for f in rotated.iter().chain([&path]) {
            kept.extend(request_ids(&std::fs::read_to_string(f).unwrap()));
        }
        let mut sorted = kept.clone();
        sorted.sort();
        assert_eq!(kept, sorted, "oldest file first");
        assert_eq!(kept.last().unwrap(), "req-19");
    }

    /// A disk that takes only part of a line: the part is cut off again, so the file still
    /// ends at a line break and the next line is whole.
    #[test]
    fn a_partly_written_line_is_cut_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, b"{\"RequestId\":\"whole\"}\n{\"RequestId\":\"cut sh").unwrap();
        // A file that ends mid-line (as a failed cut would leave it) gets a line break first.
        let log = AuditLog::open(&file(&path, 1 << 20, None)).unwrap();
        log.write(&record("next", &[])).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let last = text.lines().last().unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(last).unwrap()["RequestId"], "next");
        // And a partial write through a real file is cut back to the last whole line.
        let mut f = open_append(&path).unwrap();
        let mut len = f.metadata().unwrap().len();
        let before = len;
        struct HalfFile<'a>(&'a mut File, usize);
        impl io::Write for HalfFile<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.1 == 0 {
                    return Err(io::Error::from_raw_os_error(28));
                }
                let n = buf.len().min(self.1);
                self.1 -= n;
                self.0.write(&buf[..n])
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl SetLen for HalfFile<'_> {
            fn set_len(&self, len: u64) -> io::Result<()> {
                self.0.set_len(len)
            }
        }
        assert!(append_line(&mut HalfFile(&mut f, 7), &mut len, b"{\"RequestId\":\"lost\"}\n").is_err());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), before);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with('\n'));
    }

    /// With `sync`, concurrent requests each wait for their line to be on disk; the lines all
    /// arrive, across rotations, each once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn synced_lines_all_arrive_across_rotations() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let log =
            AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 4096, keep: None, sync: true }).unwrap();
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
        assert!(rotated_files(&path).unwrap().len() >= 3, "the test rotated");
        ids.sort();
        let want: Vec<String> = (0..200).map(|i| format!("req-{i:03}")).collect();
        assert_eq!(ids, want);
    }
}
