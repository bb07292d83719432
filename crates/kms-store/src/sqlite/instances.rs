//! KMS instances on SQLite: the statements behind the instance methods of `InstanceStore`.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::rows::{is_unique_violation, unavailable};
use crate::InstanceStore;
use crate::{InstanceRecord, Listing, StoreError, StoreResult, Window};

const COLUMNS: &str = "instance_id, name, status, spec, key_num, secret_num, vpc_num, vpc_id, zone_ids, \
     vswitch_ids, bind_vpcs, created_at, started_at, released, revision, deletion_protection, \
     deletion_protection_description";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<InstanceRecord> {
    Ok(InstanceRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        status: r.get(2)?,
        spec: r.get(3)?,
        key_num: r.get(4)?,
        secret_num: r.get(5)?,
        vpc_num: r.get(6)?,
        vpc_id: r.get(7)?,
        zone_ids: r.get(8)?,
        vswitch_ids: r.get(9)?,
        bind_vpcs: r.get(10)?,
        created_at: r.get(11)?,
        started_at: r.get(12)?,
        released: r.get(13)?,
        revision: r.get(14)?,
        deletion_protection: r.get(15)?,
        deletion_protection_description: r.get(16)?,
    })
}

/// An instance's values in `COLUMNS` order: `?1`…`?17` of the insert and the update.
fn values(i: &InstanceRecord) -> [&dyn rusqlite::ToSql; 17] {
    [
        &i.id,
        &i.name,
        &i.status,
        &i.spec,
        &i.key_num,
        &i.secret_num,
        &i.vpc_num,
        &i.vpc_id,
        &i.zone_ids,
        &i.vswitch_ids,
        &i.bind_vpcs,
        &i.created_at,
        &i.started_at,
        &i.released,
        &i.revision,
        &i.deletion_protection,
        &i.deletion_protection_description,
    ]
}

pub(super) fn insert(c: &Connection, i: &InstanceRecord) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO instances ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"),
        values(i).as_slice(),
    )
    .map(|_| ())
    .map_err(|e| if is_unique_violation(&e) { StoreError::Conflict } else { unavailable(e) })
}

pub(super) fn get(c: &Connection, id: &str) -> StoreResult<Option<InstanceRecord>> {
    c.query_row(&format!("SELECT {COLUMNS} FROM instances WHERE instance_id = ?1"), [id], row)
        .optional()
        .map_err(unavailable)
}

pub(super) fn update(c: &Connection, i: &InstanceRecord) -> StoreResult<InstanceRecord> {
    let n = c
        .execute(
            "UPDATE instances SET name = ?2, status = ?3, spec = ?4, key_num = ?5, secret_num = ?6, vpc_num = ?7,
                 vpc_id = ?8, zone_ids = ?9, vswitch_ids = ?10, bind_vpcs = ?11, created_at = ?12, started_at = ?13,
                 released = ?14, revision = ?15 + 1, deletion_protection = ?16,
                 deletion_protection_description = ?17
             WHERE instance_id = ?1 AND revision = ?15",
            values(i).as_slice(),
        )
        .map_err(unavailable)?;
    if n == 0 {
        return Err(if get(c, &i.id)?.is_some() { StoreError::Conflict } else { StoreError::NotFound });
    }
    Ok(InstanceRecord { revision: i.revision + 1, ..i.clone() })
}

pub(super) fn list(c: &Connection, window: Window) -> StoreResult<Listing<InstanceRecord>> {
    let total: i64 =
        c.query_row("SELECT COUNT(*) FROM instances WHERE NOT released", [], |r| r.get(0)).map_err(unavailable)?;
    let mut stmt = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM instances WHERE NOT released ORDER BY created_at, instance_id LIMIT ?1 OFFSET ?2"
        ))
        .map_err(unavailable)?;
    let items = stmt
        .query_map(params![window.limit, window.offset as i64], row)
        .map_err(unavailable)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(unavailable)?;
    Ok(Listing { items, total: total as u64 })
}

pub(super) fn count_resources(c: &Connection, id: &str) -> StoreResult<(u64, u64)> {
    c.query_row(
        "SELECT (SELECT COUNT(*) FROM keys WHERE dkms_instance_id = ?1),
                (SELECT COUNT(*) FROM secrets WHERE dkms_instance_id = ?1)",
        [id],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
    )
    .map_err(unavailable)
}

/// Inside the write that inserts a key or secret into instance `id`: [`StoreError::LimitExceeded`]
/// when the instance already holds its quota of them (`what`: keys or secrets), so that the
/// count and the insert are one atomic step (SQLite has one writer).
pub(super) fn check_room(c: &Connection, id: &str, what: crate::InstanceQuota) -> StoreResult<()> {
    let (column, table) = what.column_and_table();
    let (quota, used): (Option<i64>, i64) = c
        .query_row(
            &format!(
                "SELECT (SELECT {column} FROM instances WHERE instance_id = ?1 AND NOT released),
                        (SELECT COUNT(*) FROM {table} WHERE dkms_instance_id = ?1)"
            ),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(unavailable)?;
    match quota {
        None => Err(StoreError::NotFound),
        Some(q) if used >= q => Err(StoreError::LimitExceeded),
        Some(_) => Ok(()),
    }
}

#[async_trait]
impl InstanceStore for SqliteStore {
    async fn insert_instance(&self, instance: &InstanceRecord) -> StoreResult<()> {
        let i = instance.clone();
        self.write(move |c| insert(c, &i)).await
    }

    async fn get_instance(&self, id: &str) -> StoreResult<Option<InstanceRecord>> {
        let id = id.to_owned();
        self.with(move |c| get(c, &id)).await
    }

    async fn update_instance(&self, instance: &InstanceRecord) -> StoreResult<InstanceRecord> {
        let i = instance.clone();
        self.write(move |c| update(c, &i)).await
    }

    async fn list_instances(&self, window: Window) -> StoreResult<Listing<InstanceRecord>> {
        self.with(move |c| list(c, window)).await
    }

    async fn count_instance_resources(&self, id: &str) -> StoreResult<(u64, u64)> {
        let id = id.to_owned();
        self.with(move |c| count_resources(c, &id)).await
    }
}
