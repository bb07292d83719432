//! The audit trail: one JSON line per API request, allowed or refused — who (access key),
//! from where, which action on which resources, with what result and how fast. Never a
//! parameter value: no plaintext, ciphertext, secret value or key material, only resource
//! names as ARNs.
//!
//! Audit or fail: the line is written before the answer leaves, and a request whose line
//! cannot be written is answered with an error instead. The file is append-only and rotated by
//! size (`audit.log` → `audit.log.1` … keeping the newest files); or the lines go to stdout
//! for a log collector.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::PathBuf;
use std::sync::Mutex;

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

/// The open trail.
pub struct AuditLog {
    sink: Mutex<Sink>,
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).open(path)
}

impl AuditLog {
    pub fn open(target: &AuditTarget) -> io::Result<Self> {
        let sink = match target {
            AuditTarget::Stdout => Sink::Stdout,
            AuditTarget::File { path, max_bytes, keep } => {
                let file = open_append(path)?;
                let written = file.metadata()?.len();
                Sink::File { file, written, path: path.clone(), max_bytes: *max_bytes, keep: *keep }
            }
        };
        Ok(Self { sink: Mutex::new(sink) })
    }

    /// Appends one line; an error means the request must not be answered as if it succeeded.
    pub fn write(&self, record: &AuditRecord<'_>) -> io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(io::Error::other)?;
        line.push(b'\n');
        let mut sink = self.sink.lock().map_err(|_| io::Error::other("audit log lock poisoned"))?;
        match &mut *sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(&line)?;
                out.flush()
            }
            Sink::File { file, written, path, max_bytes, keep } => {
                if *written > 0 && *written + line.len() as u64 > *max_bytes {
                    rotate(path, *keep)?;
                    *file = open_append(path)?;
                    *written = 0;
                }
                // One write of the whole line to an O_APPEND file: lines never interleave.
                file.write_all(&line)?;
                *written += line.len() as u64;
                Ok(())
            }
        }
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
        let log = AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 600, keep: 2 }).unwrap();
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
        let log = AuditLog::open(&AuditTarget::File { path: path.clone(), max_bytes: 1 << 20, keep: 2 }).unwrap();
        log.write(&record("again", &resources)).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().len() > before);
    }
}
