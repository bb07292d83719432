//! Root-key rotation (`kmsd admin root-key rotate`) while kmsd serves: killed with SIGKILL in
//! the middle, the server killed too, both restarted, the rotation resumed — nothing lost,
//! every earlier ciphertext, signature, MAC, secret and access key still works, the store
//! holds nothing under the old key, and only the new key opens it afterwards.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use common::*;
use kms_testkit::Options;

/// What a client can check after the rotation: (ciphertext, plaintext) pairs, a signature,
/// a MAC, and the secret written before.
struct Earlier {
    blobs: Vec<(String, Vec<u8>)>,
    signer: (String, String, String),
    mac: (String, String),
}

async fn populate(c: &Client) -> Earlier {
    let mut blobs = Vec::new();
    for spec in ["Aliyun_AES_256", "Aliyun_SM4", "Aliyun_AES_128"] {
        let key = ok(c, "CreateKey", &[("KeySpec", spec)]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
        ok(c, "CreateKeyVersion", &[("KeyId", &key)]).await;
        let text = format!("{spec} before the rotation").into_bytes();
        let enc = ok(c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(&text))]).await;
        blobs.push((enc["CiphertextBlob"].as_str().unwrap().to_owned(), text));
    }
    let key = ok(c, "CreateKey", &[("KeySpec", "EC_P256"), ("KeyUsage", "SIGN/VERIFY")]).await["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let versions = ok(c, "ListKeyVersions", &[("KeyId", &key)]).await;
    let version = versions["KeyVersions"]["KeyVersion"][0]["KeyVersionId"].as_str().unwrap().to_owned();
    let digest = b64(&[42u8; 32]);
    let params =
        [("KeyId", key.as_str()), ("KeyVersionId", &version), ("Algorithm", "ECDSA_SHA_256"), ("Digest", &digest)];
    let signature = ok(c, "AsymmetricSign", &params).await["Value"].as_str().unwrap().to_owned();
    let mac_key = ok(c, "CreateKey", &[("KeySpec", "HMAC_SHA_256"), ("KeyUsage", "GENERATE/VERIFY_MAC")]).await
        ["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mac = ok(c, "GenerateMac", &[("KeyId", &mac_key), ("Algorithm", "HMAC_SHA_256"), ("Message", &b64(b"m"))])
        .await["Mac"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(c, "CreateSecret", &[("SecretName", "rotated/secret"), ("SecretData", "secret-value-9Kp"), ("VersionId", "v1")])
        .await;
    Earlier { blobs, signer: (key, version, signature), mac: (mac_key, mac) }
}

async fn check(c: &Client, e: &Earlier) {
    for (blob, text) in &e.blobs {
        let dec = ok(c, "Decrypt", &[("CiphertextBlob", blob)]).await;
        assert_eq!(unb64(dec["Plaintext"].as_str().unwrap()), *text);
    }
    let (key, version, signature) = &e.signer;
    let digest = b64(&[42u8; 32]);
    let params = [
        ("KeyId", key.as_str()),
        ("KeyVersionId", version),
        ("Algorithm", "ECDSA_SHA_256"),
        ("Digest", &digest),
        ("Value", signature),
    ];
    assert_eq!(ok(c, "AsymmetricVerify", &params).await["Value"], true);
    // Signing needs the private key: it must still open.
    let params =
        [("KeyId", key.as_str()), ("KeyVersionId", version), ("Algorithm", "ECDSA_SHA_256"), ("Digest", &digest)];
    ok(c, "AsymmetricSign", &params).await;
    let (mac_key, mac) = &e.mac;
    let params = [("KeyId", mac_key.as_str()), ("Algorithm", "HMAC_SHA_256"), ("Message", &b64(b"m")), ("Mac", mac)];
    assert_eq!(ok(c, "VerifyMac", &params).await["Value"], true);
    assert_eq!(ok(c, "GetSecretValue", &[("SecretName", "rotated/secret")]).await["SecretData"], "secret-value-9Kp");
}

/// Creates keys, encrypts and decrypts until told to stop; counts rounds, panics on a failure.
fn load(c: &Client, stop: Arc<AtomicBool>, done: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
    let c = c.clone();
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let key = new_key(&c).await;
            let blob = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "bG9hZA==")]).await;
            let dec = ok(&c, "Decrypt", &[("CiphertextBlob", blob["CiphertextBlob"].as_str().unwrap())]).await;
            assert_eq!(dec["Plaintext"], "bG9hZA==");
            done.fetch_add(1, Ordering::SeqCst);
        }
    })
}

async fn until(done: &AtomicUsize, n: usize) {
    let start = done.load(Ordering::SeqCst);
    while done.load(Ordering::SeqCst) < start + n {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn admin_cmd(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("admin").arg("root-key").args(args).arg("--data-dir").arg(data_dir);
    if let Ok(url) = std::fs::read_to_string(data_dir.with_extension("pgurl")) {
        cmd.arg("--store").arg(url);
    }
    cmd.env_remove("KMSD_STORE").env_remove("KMSD_DATA_DIR");
    cmd
}

fn admin(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let out = admin_cmd(data_dir, args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// `table: id=n …` lines of `root-key status`: per table, the key ids seen.
fn keys_in(status: &str) -> Vec<String> {
    let mut ids: Vec<String> = status
        .lines()
        .filter(|l| {
            l.starts_with("key_versions:") || l.starts_with("access_keys:") || l.starts_with("data_key_versions:")
        })
        .flat_map(|l| l.split(' ').skip(1).filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_owned())))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// With the instance gateway on: its certificate is issued at start by the instance CA, whose
/// key the root key wraps — a start after the rotation proves the CA key moved too.
fn start_on(data_dir: &Path, extra: &[&str]) -> Kmsd {
    Kmsd::start_with(
        &bin(),
        Options {
            data_dir: Some(data_dir.to_owned()),
            extra_args: ["--instance-listen", "127.0.0.1:0"].iter().chain(extra).map(|s| s.to_string()).collect(),
            ..Default::default()
        },
    )
    .expect("kmsd starts")
}

#[tokio::test]
async fn a_rotation_killed_midway_resumes_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let k = start_on(&data, &[]);
    let c = k.client();
    let earlier = populate(&c).await;
    for _ in 0..60 {
        new_key(&c).await;
    }
    let (app, _) = common::app(&k, "rotated-app", None).await;
    ok(&app, "ListKeys", &[]).await;
    let (_, before, _) = admin(&data, &["status"]);
    let old_ids = keys_in(&before);
    assert_eq!(old_ids.len(), 1, "one root key wraps everything before: {before}");
    assert!(before.contains("rotation in progress to: none"), "{before}");

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let loader = load(&c, stop.clone(), done.clone());
    until(&done, 3).await;

    // Rotate in small, slow batches, and SIGKILL it a few batches in.
    let new_key_file = dir.path().join("new-root.key");
    let to = new_key_file.to_str().unwrap();
    let mut rotate =
        admin_cmd(&data, &["rotate", "--to-file", to, "--batch", "5", "--pause-ms", "100", "--settle-secs", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
    let mut lines = BufReader::new(rotate.stdout.take().unwrap()).lines();
    let mut rewrapped_batches = 0;
    while rewrapped_batches < 4 {
        let line = lines.next().expect("the rotation reports batches").unwrap();
        if line.starts_with("pass 1: key_versions:") && !line.ends_with(" 0 re-wrapped") {
            rewrapped_batches += 1;
        }
    }
    rotate.kill().unwrap();
    rotate.wait().unwrap();
    let (_, middle, _) = admin(&data, &["status"]);
    let mid_ids = keys_in(&middle);
    assert_eq!(mid_ids.len(), 2, "half-way, records are under both keys: {middle}");
    assert!(!middle.contains("rotation in progress to: none"), "{middle}");
    // The node kept serving through all of it, writing under the new key.
    until(&done, 3).await;
    check(&c, &earlier).await;

    // SIGKILL the server too; it restarts with the old key and finds the rotation.
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    k.kill();
    let k = start_on(&data, &[]);
    let c = k.client();
    check(&c, &earlier).await;
    let stop = Arc::new(AtomicBool::new(false));
    let loader = load(&c, stop.clone(), done.clone());
    until(&done, 3).await;

    let (resumed, out, err) = admin(&data, &["rotate", "--to-file", to, "--batch", "50", "--settle-secs", "1"]);
    assert!(resumed, "{err}");
    assert!(out.contains("resuming the rotation") && out.contains("finished"), "{out}");
    until(&done, 3).await;
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();

    let (_, after, err) = admin(&data, &["status", "--root-key-file", to]);
    let new_ids = keys_in(&after);
    assert_eq!(new_ids.len(), 1, "{after}{err}");
    assert!(!old_ids.contains(&new_ids[0]), "everything moved to the new key: {after}");
    assert!(after.contains(&format!("root key: {}", new_ids[0])) && after.contains("to: none"), "{after}");
    check(&c, &earlier).await;
    let app = Client { addr: k.client().addr, ..app };
    ok(&app, "ListKeys", &[]).await;

    // Restarted with the new key alone, it serves everything; the old key no longer opens it.
    k.terminate();
    let (refused, _, err) = admin(&data, &["status"]);
    assert!(!refused && err.contains("does not match"), "the retired key still opens the store: {err}");
    let k = start_on(&data, &["--root-key-file", to]);
    let c = k.client();
    check(&c, &earlier).await;
    let app = Client { addr: k.client().addr, ..app };
    ok(&app, "ListKeys", &[]).await;
    let (verified, out, err) = common::admin_group(&k, "backup", &["verify", "--root-key-file", to]);
    assert!(verified && out.starts_with("verified: "), "{out}{err}");
    // Running it again changes nothing.
    let (again, _, err) = admin(&data, &["rotate", "--to-file", to, "--root-key-file", to]);
    assert!(!again && err.contains("already is the root key"), "{err}");
}

#[tokio::test]
async fn a_second_rotation_to_another_key_is_refused_while_one_is_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let k = start_on(&data, &[]);
    new_key(&k.client()).await;
    // Start one and stop it right after it announced the key.
    let first = dir.path().join("first.key");
    let mut rotate = admin_cmd(&data, &["rotate", "--to-file", first.to_str().unwrap(), "--settle-secs", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(rotate.stdout.take().unwrap()).lines();
    while !lines.next().unwrap().unwrap().starts_with("started the rotation") {}
    rotate.kill().unwrap();
    rotate.wait().unwrap();
    let second = dir.path().join("second.key");
    let (ok_, _, err) = admin(&data, &["rotate", "--to-file", second.to_str().unwrap(), "--settle-secs", "0"]);
    assert!(!ok_ && err.contains("another root key is in progress"), "{err}");
    // The node picked up the first one: what it writes now names the new key.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    new_key(&k.client()).await;
    let (_, status, _) = admin(&data, &["status"]);
    assert_eq!(keys_in(&status).len(), 2, "{status}");
    let (finished, out, err) = admin(&data, &["rotate", "--to-file", first.to_str().unwrap(), "--settle-secs", "0"]);
    assert!(finished && out.contains("finished"), "{out}{err}");
}
