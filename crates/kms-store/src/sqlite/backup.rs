//! Online backups of a SQLite store: a consistent copy taken while kmsd keeps serving.

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::rows::unavailable;
use crate::{StoreError, StoreResult};

/// Copies the database at `src` to the new file `dest` with SQLite's online backup API: page by
/// page, starting over whenever a writer changes a page already copied, so the copy is one
/// committed state of the store however busy it is. `dest` is made with mode 0600 and synced
/// before this returns; it holds what the store holds — material only wrapped by the root key.
pub fn backup(src: &Path, dest: &Path) -> StoreResult<()> {
    if !src.exists() {
        return Err(StoreError::Unavailable(format!("no database at {}", src.display())));
    }
    // Created empty first, exclusively and private: an existing file is never overwritten.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dest.display())))?;
    let copied = (|| {
        let from = Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(unavailable)?;
        from.busy_timeout(Duration::from_secs(5)).map_err(unavailable)?;
        let mut to = Connection::open(dest).map_err(unavailable)?;
        {
            let run = rusqlite::backup::Backup::new(&from, &mut to).map_err(unavailable)?;
            run.run_to_completion(256, Duration::from_millis(1), None).map_err(unavailable)?;
        }
        // One self-contained file: no WAL beside it.
        to.pragma_update(None, "journal_mode", "DELETE").map_err(unavailable)?;
        drop(to);
        let file =
            std::fs::OpenOptions::new().append(true).open(dest).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        file.sync_all().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        }
        Ok(())
    })();
    if copied.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    copied
}

/// SQLite's own structural check of a database file (every b-tree page, index and constraint):
/// a backup whose pages were damaged fails here even where no key would have been read.
pub fn integrity_check(path: &Path) -> StoreResult<()> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(unavailable)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(unavailable)?;
    let findings: Vec<String> =
        stmt.query_map([], |r| r.get(0)).map_err(unavailable)?.collect::<rusqlite::Result<_>>().map_err(unavailable)?;
    if findings == ["ok"] {
        Ok(())
    } else {
        Err(StoreError::Corrupt(findings.into_iter().take(5).collect::<Vec<_>>().join("; ")))
    }
}
