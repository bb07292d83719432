//! What a root-key rotation relies on: every wrapped record read once in batches, in a stable
//! order, and replaced only over the bytes it read; meta changed only over the value it read.

use crate::{DataKeyVersionRecord, Store, WrappedRow, WrappedTable};

async fn all_in_batches(store: &dyn Store, table: WrappedTable, batch: u32) -> Vec<WrappedRow> {
    let mut out: Vec<WrappedRow> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let rows = store.wrapped_rows(table, after.as_deref(), batch).await.unwrap();
        assert!(rows.len() <= batch as usize);
        let Some(last) = rows.last() else { break };
        after = Some(last.cursor());
        out.extend(rows);
    }
    out
}

pub(super) async fn run(store: &dyn Store) {
    // At least one row in every table, whatever the suite left before.
    let (k, v) = super::key(900, kms_types::KeyState::Enabled);
    store.insert_key(&k, &v, &[]).await.unwrap();
    let dk =
        DataKeyVersionRecord { name: "rewrap".into(), version_id: "v1".into(), material: vec![9; 40], created_at: 1 };
    store.insert_data_key_version(&dk).await.unwrap();
    for table in WrappedTable::ALL {
        let whole = store.wrapped_rows(table, None, 10_000).await.unwrap();
        assert!(!whole.is_empty(), "{table:?} has rows");
        let paged = all_in_batches(store, table, 2).await;
        assert_eq!(paged, whole, "{table:?}: batches of two read every row once, in the same order");
        let cursors: Vec<String> = whole.iter().map(WrappedRow::cursor).collect();
        assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{table:?}: cursors strictly increase: {cursors:?}");

        // Replaced only over the bytes read.
        let row = whole[0].clone();
        let new = [row.wrapped(), b"-rewrapped"].concat();
        assert!(store.replace_wrapped(&row, &new).await.unwrap());
        assert!(!store.replace_wrapped(&row, b"stale").await.unwrap(), "{table:?}: a stale read replaces nothing");
        let again = store.wrapped_rows(table, None, 1).await.unwrap();
        assert_eq!(again[0].wrapped(), new.as_slice(), "{table:?}: the replacement is stored");
        assert_eq!(again[0].cursor(), row.cursor());
    }
    // The key version's replacement is what the key service reads.
    let row = store
        .wrapped_rows(WrappedTable::KeyVersions, None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .find(|r| matches!(r, WrappedRow::KeyVersion { version_id, .. } if *version_id == v.id))
        .unwrap();
    let WrappedRow::KeyVersion { key_id, spec, protection_level, .. } = &row else { unreachable!() };
    assert_eq!((key_id, *spec, *protection_level), (&k.id, k.spec, k.protection_level));
    assert!(store.replace_wrapped(&row, b"under the new key").await.unwrap());
    assert_eq!(store.get_version(&v.id).await.unwrap().unwrap().material, b"under the new key");

    // Meta compare-and-set, every case.
    assert!(!store.replace_meta("rewrap_state", Some("x"), Some("y")).await.unwrap(), "absent is not x");
    assert!(store.replace_meta("rewrap_state", None, None).await.unwrap(), "absent is absent");
    assert!(store.replace_meta("rewrap_state", None, Some("a")).await.unwrap());
    assert!(!store.replace_meta("rewrap_state", None, Some("b")).await.unwrap(), "first writer wins");
    assert_eq!(store.get_meta("rewrap_state").await.unwrap().as_deref(), Some("a"));
    assert!(!store.replace_meta("rewrap_state", Some("b"), Some("c")).await.unwrap());
    assert!(store.replace_meta("rewrap_state", Some("a"), Some("c")).await.unwrap());
    assert_eq!(store.get_meta("rewrap_state").await.unwrap().as_deref(), Some("c"));
    assert!(!store.replace_meta("rewrap_state", Some("a"), None).await.unwrap());
    assert!(store.replace_meta("rewrap_state", Some("c"), None).await.unwrap());
    assert_eq!(store.get_meta("rewrap_state").await.unwrap(), None);
}
