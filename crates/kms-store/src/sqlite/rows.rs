//! What several table groups share: error mapping, placeholders, the tag upsert, filters.
//! Each group's own rows ↔ records mapping is in its file (`keys`, `secrets`, …).

use kms_types::{ResourceType, Tag};
use rusqlite::{Connection, params};

use crate::{StoreError, StoreResult};

pub(super) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

pub(super) fn parse<T: std::str::FromStr>(s: String, what: &str) -> StoreResult<T> {
    s.parse().map_err(|_| corrupt(what))
}

pub(super) fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

pub(super) fn put_tags_in(
    tx: &Connection,
    resource: ResourceType,
    id: &str,
    tags: &[Tag],
    max: usize,
) -> StoreResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    for t in tags {
        tx.prepare_cached(
            "INSERT INTO tags (resource_type, resource_id, tag_key, tag_value) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (resource_type, resource_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
        )
        .and_then(|mut stmt| stmt.execute(params![resource.as_str(), id, t.key, t.value]))
        .map_err(unavailable)?;
    }
    let count: i64 = tx
        .query_row(
            "SELECT COUNT(*) FROM tags WHERE resource_type = ?1 AND resource_id = ?2",
            params![resource.as_str(), id],
            |r| r.get(0),
        )
        .map_err(unavailable)?;
    if count as usize > max { Err(StoreError::LimitExceeded) } else { Ok(()) }
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Adds `AND <condition>` for a filter field: `condition` receives the placeholder list
/// `?, ?, …` for the allowed values. An empty list matches nothing; `None` adds nothing.
pub(super) fn in_clause<T: std::fmt::Display>(
    allowed: &Option<Vec<T>>,
    condition: impl Fn(&str) -> String,
    sql: &mut String,
    args: &mut Vec<String>,
) {
    if let Some(values) = allowed {
        if values.is_empty() {
            sql.push_str(" AND 0");
            return;
        }
        sql.push_str(&format!(" AND {}", condition(&vec!["?"; values.len()].join(","))));
        args.extend(values.iter().map(|v| v.to_string()));
    }
}
