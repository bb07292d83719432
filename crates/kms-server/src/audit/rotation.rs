//! Rotation by size: the live file is renamed to its name plus the UTC time of the rotation
//! (`audit.log.20261203T052442.123456Z`). Rotated files are kept forever unless the operator
//! chooses a retention (`--audit-keep N`), so a flood of refused requests can fill a disk but
//! never erase history.

use std::io;
use std::path::PathBuf;

use time::OffsetDateTime;

/// The name a rotated file gets: the live file's name and the UTC time of the rotation to the
/// microsecond, so names sort in the order the files were written and never collide with an
/// earlier one.
fn rotated_name(path: &std::path::Path) -> PathBuf {
    let now = OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.microsecond()
    );
    let mut n = 0u32;
    loop {
        let mut p = path.as_os_str().to_owned();
        p.push(".");
        p.push(&stamp);
        if n > 0 {
            p.push(format!("-{n}"));
        }
        let p = PathBuf::from(p);
        if !p.exists() {
            return p;
        }
        n += 1;
    }
}

/// The rotated files of the trail at `path`, oldest first.
pub fn rotated_files(path: &std::path::Path) -> io::Result<Vec<PathBuf>> {
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => PathBuf::from("."),
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return Ok(Vec::new()) };
    let prefix = format!("{name}.");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n.strip_prefix(&prefix).is_some_and(|rest| rest.len() >= 15 && rest.as_bytes()[8] == b'T')
            })
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

/// The live file becomes a rotated one; with a retention, the oldest beyond it are deleted.
pub(super) fn rotate(path: &std::path::Path, keep: Option<u32>) -> io::Result<()> {
    std::fs::rename(path, rotated_name(path))?;
    if let Some(keep) = keep {
        let rotated = rotated_files(path)?;
        let excess = rotated.len().saturating_sub(keep as usize);
        for old in &rotated[..excess] {
            std::fs::remove_file(old)?;
        }
    }
    Ok(())
}
