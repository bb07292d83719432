//! The process as an operator meets it: first start, restart, root-key protection, bootstrap
//! credentials, shutdown, two regions side by side, and nothing secret in logs or on disk.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use common::*;
use kms_testkit::Options;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn in_dir(dir: &Path) -> Options {
    Options { data_dir: Some(dir.to_path_buf()), ..Default::default() }
}

#[tokio::test]
async fn first_start_creates_a_protected_root_key_and_restart_keeps_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let c = k.client();
    assert_eq!(mode(&dir.join("root.key")), 0o600);
    assert_eq!(mode(&dir), 0o700);
    let key = new_key(&c).await;
    ok(&c, "CreateAlias", &[("AliasName", "alias/kept"), ("KeyId", &key)]).await;
    let enc = ok(&c, "Encrypt", &[("KeyId", "alias/kept"), ("Plaintext", "a2VwdA==")]).await;
    let account = ok(&c, "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["Creator"].clone();
    assert_eq!(k.terminate(), Some(0), "SIGTERM exits 0");

    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let c = k.client();
    let d = ok(&c, "DescribeKey", &[("KeyId", "alias/kept")]).await;
    assert_eq!(d["KeyMetadata"]["Creator"], account, "the account id is generated once");
    let dec = ok(&c, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
    assert_eq!(dec["Plaintext"], "a2VwdA==");
}

#[tokio::test]
async fn a_missing_or_wrong_root_key_refuses_to_start_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    new_key(&k.client()).await;
    assert_eq!(k.terminate(), Some(0));
    let key_file = dir.join("root.key");
    let original = std::fs::read(&key_file).unwrap();
    let store_before = store_contents(&dir);

    std::fs::remove_file(&key_file).unwrap();
    let (status, stderr) = Kmsd::start_with(&bin(), in_dir(&dir)).err().expect("refuses to start");
    assert_ne!(status, Some(0));
    assert!(stderr.contains("root key file") && stderr.contains("is missing"), "{stderr}");
    assert!(!key_file.exists(), "no new root key was generated");
    assert!(store_contents(&dir) == store_before, "the refused start changed the store");

    // Another valid root key: refused with a clear message.
    let other = tmp.path().join("other.key");
    std::fs::write(&other, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=\n").unwrap();
    let opts = Options { extra_args: vec!["--root-key-file".into(), other.display().to_string()], ..in_dir(&dir) };
    let (_, stderr) = Kmsd::start_with(&bin(), opts).err().expect("refuses a wrong root key");
    assert!(stderr.contains("does not match"), "{stderr}");

    // A named root key file that does not exist is an error, not a reason to make one.
    let absent = tmp.path().join("absent.key");
    let opts = Options { extra_args: vec!["--root-key-file".into(), absent.display().to_string()], ..in_dir(&dir) };
    let (_, stderr) = Kmsd::start_with(&bin(), opts).err().expect("refuses an absent key file");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!absent.exists());

    // The right key, given by flag from elsewhere, opens the data again.
    let moved = tmp.path().join("moved.key");
    std::fs::write(&moved, &original).unwrap();
    let opts = Options { extra_args: vec!["--root-key-file".into(), moved.display().to_string()], ..in_dir(&dir) };
    let k = Kmsd::start_with(&bin(), opts).unwrap();
    assert_eq!(ok(&k.client(), "ListKeys", &[]).await["TotalCount"], 1);
}

#[tokio::test]
async fn without_bootstrap_env_an_access_key_is_generated_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let opts = Options { no_bootstrap_env: true, ..in_dir(&dir) };
    let k = Kmsd::start_with(&bin(), opts.clone()).unwrap();
    let file = dir.join("bootstrap-credentials");
    assert_eq!(mode(&file), 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let get = |name: &str| text.lines().find_map(|l| l.strip_prefix(&format!("{name}="))).unwrap().to_owned();
    let (id, secret) = (get("AccessKeyId"), get("AccessKeySecret"));
    assert!(id.starts_with("LTAI") && id.len() == 24, "{id}");
    assert_eq!(secret.len(), 30);
    let c = Client { addr: k.addr.clone(), access_key_id: id.clone(), secret: secret.clone() };
    ok(&c, "DescribeRegions", &[]).await;
    // The testkit's key was not created.
    assert_error(&k.client().send(Call::new("DescribeRegions", &[])).await, 404, "InvalidAccessKeyId.NotFound");
    let stderr = k.stderr();
    assert!(stderr.contains(&id), "the id is announced");
    assert!(!stderr.contains(&secret), "the secret is not");
    assert_eq!(k.terminate(), Some(0));

    // A restart keeps the key and writes nothing new.
    let k = Kmsd::start_with(&bin(), opts).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let c = Client { addr: k.addr.clone(), access_key_id: id, secret };
    ok(&c, "DescribeRegions", &[]).await;
    assert!(!k.stderr().contains("created access key"));
}

/// One data dir, one process: a second kmsd on it refuses to start (its caches would answer
/// from a state the first one changes), while `kmsd admin` still works beside the server; once
/// the first one is gone (even killed), the directory can be served again.
#[tokio::test]
async fn a_second_server_on_one_data_dir_refuses_to_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let key = new_key(&first.client()).await;
    let (status, stderr) = Kmsd::start_with(&bin(), in_dir(&dir)).err().expect("the second one refuses");
    assert_ne!(status, Some(0));
    assert!(stderr.contains("another kmsd is already serving from the data dir"), "{stderr}");
    let (done, out, err) = admin(&first, &["list"]);
    assert!(done && out.contains(kms_testkit::ACCESS_KEY_ID), "{out}{err}");
    ok(&first.client(), "DisableKey", &[("KeyId", &key)]).await;
    first.kill();
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    assert_eq!(ok(&k.client(), "DescribeKey", &[("KeyId", &key)]).await["KeyMetadata"]["KeyState"], "Disabled");
}

/// A start that fails creates nothing: a mistyped `--root-key-file` on a fresh data dir leaves
/// no empty database behind for the next start to misread, and a start that fails half-way
/// removes what it had made.
#[tokio::test]
async fn a_refused_start_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let typo = tmp.path().join("root.kye");
    let opts = Options { extra_args: vec!["--root-key-file".into(), typo.display().to_string()], ..in_dir(&dir) };
    let (_, stderr) = Kmsd::start_with(&bin(), opts).err().expect("refuses a missing key file");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!dir.exists(), "the refused start created {:?}", std::fs::read_dir(&dir).map(|d| d.count()));

    // A trail that cannot be opened fails the start after the data dir was made: undone.
    let nowhere = tmp.path().join("no-such-dir/audit.log");
    let opts = Options { extra_args: vec!["--audit-log".into(), nowhere.display().to_string()], ..in_dir(&dir) };
    let (_, stderr) = Kmsd::start_with(&bin(), opts).err().expect("refuses an audit file it cannot open");
    assert!(stderr.contains("cannot open the audit trail"), "{stderr}");
    assert!(!dir.exists(), "the refused start left files behind");

    // And the next correct start is a first start, not a "database without its root key".
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    ok(&k.client(), "ListKeys", &[]).await;
    assert!(dir.join("root.key").exists());
}

/// Everything kmsd keeps in the data dir is readable by its own user only, whatever the umask.
#[tokio::test]
async fn data_dir_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), Options { no_bootstrap_env: true, ..in_dir(&dir) }).unwrap();
    assert_eq!(mode(&dir), 0o700);
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for name in ["root.key", "bootstrap-credentials", "audit.log"] {
        assert!(seen.iter().any(|s| s == name), "{seen:?}");
    }
    if kms_testkit::engine() == "sqlite" {
        for name in ["kms.db", "kms.db-wal", "kms.db-shm"] {
            assert!(seen.iter().any(|s| s == name), "{seen:?}");
        }
    }
    drop(k);
}

/// The bootstrap variables make the first access key only while the store has none: a
/// bootstrap key the operator deleted does not come back on the next restart.
#[tokio::test]
async fn a_deleted_bootstrap_key_stays_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let (done, out, err) = admin(&k, &["create", "--name", "ops"]);
    assert!(done, "{err}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim_start_matches([':', '=', ' ']).trim().to_owned()))
    };
    let (id, secret) = (field("AccessKeyId").expect(&out), field("AccessKeySecret").expect(&out));
    let (done, _, err) = admin(&k, &["delete", kms_testkit::ACCESS_KEY_ID]);
    assert!(done, "{err}");
    assert_eq!(k.terminate(), Some(0));

    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let r = k.client().send(Call::new("DescribeRegions", &[])).await;
    assert_error(&r, 404, "InvalidAccessKeyId.NotFound");
    assert!(k.stderr().contains("nothing created"), "{}", k.stderr());
    let ops = Client { addr: k.addr.clone(), access_key_id: id, secret };
    ok(&ops, "DescribeRegions", &[]).await;
}

/// A mistyped log filter is an error that names it, not a silently quiet log; nothing is
/// created.
#[test]
fn an_invalid_log_filter_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    for bad in ["debgu", "kms_server=loud", "=info"] {
        let out = std::process::Command::new(bin())
            .args(["--listen", "127.0.0.1:0", "--log", bad, "--data-dir"])
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--log") && stderr.contains("not a level"), "{bad}: {stderr}");
        assert!(!dir.exists());
    }
}

/// `--help` tells a newcomer about the environment-only bootstrap variables too.
#[test]
fn help_names_the_bootstrap_variables() {
    let out = std::process::Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for name in ["KMSD_BOOTSTRAP_ACCESS_KEY_ID", "KMSD_BOOTSTRAP_ACCESS_KEY_SECRET", "bootstrap-credentials"] {
        assert!(help.contains(name), "{help}");
    }
}

/// The migration case of the README: a data key made in one region, re-encrypted for another.
#[tokio::test]
async fn two_regions_side_by_side() {
    let old = Kmsd::start_with(&bin(), Options { region: Some("cn-hangzhou".into()), ..Default::default() }).unwrap();
    let new = Kmsd::start_with(&bin(), Options { region: Some("cn-shanghai".into()), ..Default::default() }).unwrap();
    let (oc, nc) = (old.client(), new.client());
    assert_eq!(ok(&nc, "DescribeRegions", &[]).await["Regions"]["Region"][0]["RegionId"], "cn-shanghai");
    let old_key = new_key(&oc).await;
    let new_key_id = new_key(&nc).await;
    let arn =
        ok(&nc, "DescribeKey", &[("KeyId", &new_key_id)]).await["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert!(arn.starts_with("acs:kms:cn-shanghai:"), "{arn}");
    let ctx = r#"{"app":"orders"}"#;
    let dk = ok(&oc, "GenerateDataKey", &[("KeyId", &old_key), ("EncryptionContext", ctx)]).await;
    let old_blob = dk["CiphertextBlob"].as_str().unwrap();
    // The new region cannot open the old region's ciphertext: not found, never a 5xx.
    assert_error(
        &call(&nc, "Decrypt", &[("CiphertextBlob", old_blob), ("EncryptionContext", ctx)]).await,
        404,
        "Forbidden.KeyNotFound",
    );
    // Migrate: decrypt in the old region, encrypt under the new region's key, decrypt there.
    let plain = ok(&oc, "Decrypt", &[("CiphertextBlob", old_blob), ("EncryptionContext", ctx)]).await["Plaintext"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(plain, dk["Plaintext"].as_str().unwrap());
    let moved = ok(&nc, "Encrypt", &[("KeyId", &new_key_id), ("Plaintext", &plain), ("EncryptionContext", ctx)]).await;
    let back = ok(
        &nc,
        "Decrypt",
        &[("CiphertextBlob", moved["CiphertextBlob"].as_str().unwrap()), ("EncryptionContext", ctx)],
    )
    .await;
    assert_eq!(back["Plaintext"], dk["Plaintext"]);
    // An ARN of the old region names nothing in the new one.
    let old_arn =
        ok(&oc, "DescribeKey", &[("KeyId", &old_key)]).await["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    assert_error(&call(&nc, "DescribeKey", &[("KeyId", &old_arn)]).await, 404, "Forbidden.KeyNotFound");
}

/// Plaintext, data keys, contexts' values and the access-key secret appear in no log line
/// (at debug level) and nowhere on disk in the clear.
#[tokio::test]
async fn nothing_secret_reaches_logs_or_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    let c = k.client();
    let key = new_key(&c).await;
    let plaintext = b"PLAINTEXT-CANARY-7f3a9c";
    let ctx_value = "CONTEXT-VALUE-CANARY-91b2";
    let ctx = format!(r#"{{"user":"{ctx_value}"}}"#);
    let enc = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", &b64(plaintext)), ("EncryptionContext", &ctx)]).await;
    let blob = enc["CiphertextBlob"].as_str().unwrap().to_owned();
    ok(&c, "Decrypt", &[("CiphertextBlob", &blob), ("EncryptionContext", &ctx)]).await;
    let dk = ok(&c, "GenerateDataKey", &[("KeyId", &key)]).await;
    let data_key = dk["Plaintext"].as_str().unwrap().to_owned();
    // Failures too: a wrong context and a bad signature.
    call(&c, "Decrypt", &[("CiphertextBlob", &blob), ("EncryptionContext", r#"{"user":"other"}"#)]).await;
    let mut forged = Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", &b64(plaintext))]);
    forged.secret = Some("wrong".into());
    c.send(forged).await;
    assert_eq!(k.terminate(), Some(0));

    let mut canaries: Vec<Vec<u8>> = vec![
        plaintext.to_vec(),
        b64(plaintext).into_bytes(),
        ctx_value.as_bytes().to_vec(),
        data_key.clone().into_bytes(),
        unb64(&data_key),
        kms_testkit::ACCESS_KEY_SECRET.as_bytes().to_vec(),
    ];
    canaries.push(std::fs::read_to_string(dir.join("root.key")).unwrap().trim().as_bytes().to_vec());
    let logs = std::fs::read(dir.with_extension("stderr.log")).unwrap();
    // At `--log debug` (the testkit's) no dependency logs values either: the PostgreSQL driver
    // would print every statement's parameters.
    assert!(!holds(&logs, b"with parameters"), "statement parameters reached the log");
    let store = store_contents(&dir);
    assert!(!store.is_empty());
    for canary in &canaries {
        assert!(!logs.windows(canary.len()).any(|w| w == canary.as_slice()), "a secret reached the log");
        assert!(!holds(&store, canary), "a secret is in the store in the clear");
    }
}

/// SIGTERM lets a request that is already arriving finish, then exits 0.
#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    use tokio::io::AsyncWriteExt as _;
    let k = start();
    let c = k.client();
    let (method, target, headers, body) = c.build(Call::new("DescribeRegions", &[]).placed(Placement::Form));
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut stream = tokio::net::TcpStream::connect(&k.addr).await.unwrap();
    // One whole request first: the connection is then certainly accepted and being served.
    let (m0, t0, h0, b0) = c.build(Call::new("DescribeRegions", &[]).placed(Placement::Form));
    let mut first = format!("{m0} {t0} HTTP/1.1\r\n");
    for (name, value) in &h0 {
        first.push_str(&format!("{name}: {value}\r\n"));
    }
    first.push_str(&format!("content-length: {}\r\n\r\n", b0.len()));
    stream.write_all(first.as_bytes()).await.unwrap();
    stream.write_all(&b0).await.unwrap();
    assert_eq!(kms_testkit::read_response(&mut stream).await.status, 200);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body[..10]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pid = k.pid();
    std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
    // New connections are no longer accepted...
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(&k.addr).await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the listener is still open 10 s after SIGTERM");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // ...but the request in flight completes.
    stream.write_all(&body[10..]).await.unwrap();
    let resp = kms_testkit::read_response(&mut stream).await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.headers["connection"], "close");
    assert_eq!(k.terminate_wait(), Some(0));
}
