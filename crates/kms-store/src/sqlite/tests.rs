//! SQLite-specific tests beside the shared conformance suite.

use super::*;
use crate::KeyStore as _;
use crate::VersionUsage;

#[tokio::test]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kms.db")).unwrap();
    crate::conformance::run(&store).await;
}

/// The same suite through the lookup cache kmsd puts in front of SQLite: every read after a
/// change must see the change.
#[tokio::test]
async fn cached_sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::cache::Cached::new(SqliteStore::open(&dir.path().join("kms.db")).unwrap());
    crate::conformance::run(&store).await;
}

/// Destroyed material is gone from the database and WAL files, not just unlinked.
#[tokio::test]
async fn destroyed_material_leaves_the_files() {
    use kms_types::{KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kms.db")).unwrap();
    let marker: Vec<u8> = b"MATERIAL-MARKER-".iter().copied().cycle().take(64).collect();
    let id = KeyId::generate();
    let version = VersionRecord {
        id: KeyVersionId::generate(),
        key_id: id.clone(),
        created_at: 1,
        material: marker.clone(),
        usage: VersionUsage::default(),
    };
    let key = KeyRecord {
        id,
        spec: KeySpec::Aes256,
        usage: KeyUsage::EncryptDecrypt,
        origin: Origin::AliyunKms,
        protection_level: ProtectionLevel::Software,
        state: KeyState::PendingDeletion,
        description: String::new(),
        creator: "1".into(),
        created_at: 1,
        primary_version: version.id.clone(),
        deletion_protection: false,
        deletion_protection_description: String::new(),
        delete_at: Some(2),
        rotation_interval: None,
        last_rotation_at: 1,
        next_rotation_at: None,
        material_expire_at: None,
        material_fingerprint: None,
        dkms_instance_id: None,
        revision: 0,
    };
    store.insert_key(&key, &version, &[]).await.unwrap();
    let contains_marker = || {
        std::fs::read_dir(dir.path()).unwrap().any(|e| {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            bytes.windows(marker.len()).any(|w| w == marker.as_slice())
        })
    };
    assert!(contains_marker(), "the marker is on disk while the key exists");
    store.destroy_key(&key).await.unwrap();
    assert!(!contains_marker(), "destroyed material is still in a file");
}

#[tokio::test]
async fn data_survives_reopening_and_pragmas_are_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kms.db");
    {
        let s = SqliteStore::open(&path).unwrap();
        s.init_meta("account_id", "1234567890123456").await.unwrap();
        // On the writer's connection, which makes every commit.
        let (mode, sync) = s
            .write(|c| {
                let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
                let sync: i64 = c.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
                Ok((mode, sync))
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL");
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.get_meta("account_id").await.unwrap().as_deref(), Some("1234567890123456"));
}

/// Concurrent writes are grouped into shared commits, and each still gets its own answer: a
/// write that fails (a duplicate alias) undoes only itself, not the others in its commit.
#[tokio::test]
async fn concurrent_writes_share_commits_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("kms.db")).unwrap();
    let (k, v) = crate::conformance::key(1, kms_types::KeyState::Enabled);
    store.insert_key(&k, &v, &[]).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (store, key_id) = (store.clone(), k.id.clone());
        tasks.push(tokio::spawn(async move {
            // Every fourth write takes the same name: one of them wins, the rest conflict.
            let name = if i % 4 == 3 { "alias/dup".to_string() } else { format!("alias/a{i}") };
            let alias = AliasRecord { name: AliasName::parse(&name).unwrap(), key_id, created_at: i };
            (name, store.insert_alias(&alias).await)
        }));
    }
    let (mut stored, mut conflicts) = (Vec::new(), 0);
    for t in tasks {
        match t.await.unwrap() {
            (name, Ok(())) => stored.push(name),
            (_, Err(StoreError::Conflict)) => conflicts += 1,
            (name, Err(e)) => panic!("{name}: {e}"),
        }
    }
    assert_eq!((stored.len(), conflicts), (151, 49));
    drop(store);
    let reopened = SqliteStore::open(&dir.path().join("kms.db")).unwrap();
    for name in stored {
        assert!(reopened.get_alias(&AliasName::parse(&name).unwrap()).await.unwrap().is_some(), "{name}");
    }
}

/// A database from before the key counts (keys inserted as kmsd then did): opening it counts
/// the keys there once, and the counts follow every change from then on.
#[tokio::test]
async fn the_key_counts_migration_counts_the_keys_already_there() {
    use kms_types::KeyState::*;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kms.db");
    let at = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE key_counts")).unwrap();
    {
        let conn = Connection::open(&path).unwrap();
        for m in &MIGRATIONS[..at] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", at as i64).unwrap();
        for (i, state) in ["Enabled", "Disabled", "Enabled", "PendingDeletion", "Enabled"].iter().enumerate() {
            conn.execute(
                "INSERT INTO keys (key_id, spec, usage, origin, protection_level, state, description, creator,
                 created_at, primary_version, deletion_protection, deletion_protection_description,
                 last_rotation_at, revision)
                 VALUES (?1, 'Aliyun_AES_256', 'ENCRYPT/DECRYPT', 'Aliyun_KMS', 'SOFTWARE', ?2, '', '1', 1, ?3, 0, '', 1, 0)",
                params![format!("key-{i}"), state, format!("key-version-{i}")],
            )
            .unwrap();
        }
    }
    let store = SqliteStore::open(&path).unwrap();
    let counted = vec![(Enabled, 3), (Disabled, 1), (PendingDeletion, 1), (PendingImport, 0)];
    assert_eq!(store.count_keys_by_state().await.unwrap(), counted);
    let (k, v) = crate::conformance::key(2, PendingImport);
    store.insert_key(&k, &v, &[]).await.unwrap();
    store.update_key(&KeyRecord { state: Disabled, ..k }).await.unwrap();
    let counted = vec![(Enabled, 3), (Disabled, 2), (PendingDeletion, 1), (PendingImport, 0)];
    assert_eq!(store.count_keys_by_state().await.unwrap(), counted);
}

/// The jobs' scans for due keys use their partial indexes, never a walk of the whole table.
#[test]
fn due_key_scans_use_their_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kms.db");
    drop(SqliteStore::open(&path).unwrap());
    let c = Connection::open(&path).unwrap();
    for (clause, index) in [
        ("state = 'PendingDeletion' AND delete_at <= ?1", "keys_by_delete_at"),
        ("state = 'Enabled' AND next_rotation_at <= ?1", "keys_by_next_rotation"),
        ("material_expire_at <= ?1", "keys_by_material_expiry"),
    ] {
        let sql = format!("EXPLAIN QUERY PLAN {}", keys::keys_where_sql(clause, 256));
        let plan: Vec<String> = c
            .prepare(&sql)
            .unwrap()
            .query_map([0i64], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(plan.iter().any(|step| step.contains(index)), "{clause}: {plan:?}");
    }
}
