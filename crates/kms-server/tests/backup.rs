//! Backups you can prove: `kmsd admin backup --to FILE` under load, `backup verify FILE` (every
//! key version opened with the root key), and a restore that serves what was written before.
//! On PostgreSQL: `backup --to` points to pg_dump, and `backup verify` checks a live store.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use kms_testkit::Options;

fn is_postgres(k: &Kmsd) -> bool {
    k.data_dir.with_extension("pgurl").exists()
}

/// A store with one key of each kind, ciphertexts and a secret: (blobs with their plaintexts).
async fn populate(c: &Client) -> Vec<(String, Vec<u8>)> {
    let mut blobs = Vec::new();
    for spec in ["Aliyun_AES_256", "Aliyun_SM4", "Aliyun_AES_192"] {
        let key = ok(c, "CreateKey", &[("KeySpec", spec)]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
        ok(c, "CreateKeyVersion", &[("KeyId", &key)]).await;
        for i in 0..3 {
            let text = format!("{spec} message {i}").into_bytes();
            let enc = ok(c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(&text))]).await;
            blobs.push((enc["CiphertextBlob"].as_str().unwrap().to_owned(), text));
        }
    }
    ok(c, "CreateKey", &[("KeySpec", "EC_P256")]).await;
    ok(c, "CreateKey", &[("KeySpec", "HMAC_SHA_256")]).await;
    ok(c, "CreateKey", &[("Origin", "EXTERNAL")]).await;
    ok(c, "CreateSecret", &[("SecretName", "backed/up"), ("SecretData", "plain-secret-7Qx"), ("VersionId", "v1")])
        .await;
    blobs
}

/// Creates keys and encrypts until told to stop: the load a backup is taken under.
fn load(c: &Client, stop: Arc<AtomicBool>, done: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    let c = c.clone();
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let key = new_key(&c).await;
            ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "bG9hZA==")]).await;
            done.fetch_add(1, Ordering::SeqCst);
        }
    })
}

fn verified_keys(out: &str) -> u64 {
    let n = out.strip_prefix("verified: ").and_then(|r| r.split(' ').next()).unwrap_or_else(|| panic!("{out}"));
    n.parse().unwrap()
}

#[tokio::test]
async fn a_backup_taken_under_load_verifies_and_restores() {
    let k = start();
    let c = k.client();
    let blobs = populate(&c).await;
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let loader = load(&c, stop.clone(), done.clone());
    while done.load(Ordering::SeqCst) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    if is_postgres(&k) {
        let (made, _, err) = admin_group(&k, "backup", &["--to", "/tmp/never-written.db"]);
        assert!(!made && err.contains("pg_dump"), "{err}");
        assert!(!std::path::Path::new("/tmp/never-written.db").exists());
        // verify without a file checks the store the flags name, here the live one.
        let (ok_, out, err) = admin_group(&k, "backup", &["verify"]);
        stop.store(true, Ordering::SeqCst);
        loader.await.unwrap();
        assert!(ok_, "{err}");
        assert!(verified_keys(&out) >= 8, "{out}");
        return;
    }

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kms-backup.db");
    let (made, out, err) = admin_group(&k, "backup", &["--to", file.to_str().unwrap()]);
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    assert!(made, "{err}");
    assert!(out.contains("backup written"), "{out}");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    // A second backup never overwrites the first.
    let (again, _, err) = admin_group(&k, "backup", &["--to", file.to_str().unwrap()]);
    assert!(!again && err.contains("cannot create"), "{err}");
    // No secret in the clear in it.
    let bytes = std::fs::read(&file).unwrap();
    assert!(!holds(&bytes, b"plain-secret-7Qx"));

    let (verified, out, err) = admin_group(&k, "backup", &["verify", file.to_str().unwrap()]);
    assert!(verified, "{err}");
    let keys = verified_keys(&out);
    assert!(keys >= 9, "{out}");
    assert!(out.contains("1 without material"), "{out}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "verifying changed the backup");

    // With another root key it does not verify.
    let other_root = dir.path().join("other.key");
    std::fs::write(&other_root, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let (wrong, _, err) =
        admin_group(&k, "backup", &["verify", file.to_str().unwrap(), "--root-key-file", other_root.to_str().unwrap()]);
    assert!(!wrong && err.contains("does not match"), "{err}");
    // A damaged copy does not verify.
    let damaged = dir.path().join("damaged.db");
    let mut broken = bytes.clone();
    let mid = broken.len() / 2;
    broken[mid..mid + 4096].fill(0x5a);
    std::fs::write(&damaged, &broken).unwrap();
    let (bad, _, err) = admin_group(&k, "backup", &["verify", damaged.to_str().unwrap()]);
    assert!(!bad && (err.contains("is damaged") || err.contains("do not open")), "a damaged backup verified: {err}");

    // Restore: the backup as kms.db beside the same root key, and kmsd serves what it held.
    let restored = dir.path().join("restored");
    std::fs::create_dir(&restored).unwrap();
    std::fs::copy(&file, restored.join("kms.db")).unwrap();
    std::fs::copy(k.data_dir.join("root.key"), restored.join("root.key")).unwrap();
    let r =
        Kmsd::start_with(&bin(), Options { data_dir: Some(restored), ..Default::default() }).expect("restored kmsd");
    let rc = r.client();
    for (blob, text) in &blobs {
        let dec = ok(&rc, "Decrypt", &[("CiphertextBlob", blob)]).await;
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), *text);
    }
    assert_eq!(ok(&rc, "GetSecretValue", &[("SecretName", "backed/up")]).await["SecretData"], "plain-secret-7Qx");
    let listed = ok(&rc, "ListKeys", &[("PageSize", "100")]).await["TotalCount"].as_u64().unwrap();
    assert_eq!(listed, keys, "the restored store lists the keys the backup verified");
}
