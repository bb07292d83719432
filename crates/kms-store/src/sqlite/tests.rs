//! SQLite-specific tests beside the shared conformance suite.

use super::*;

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
        let c = s.conn.lock().unwrap();
        let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let sync: i64 = c.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(sync, 2, "synchronous=FULL");
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.get_meta("account_id").await.unwrap().as_deref(), Some("1234567890123456"));
}
