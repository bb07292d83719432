//! Several kmsd nodes on one PostgreSQL database behave as one service. Runs in the
//! PostgreSQL pass of the suite (`KMSD_TEST_STORE=postgres`); SQLite is one process per file.

mod common;

use common::*;
use kms_testkit::Options;

/// A second node on the first one's database and root key.
fn join(first: &Kmsd) -> Kmsd {
    let url = std::fs::read_to_string(first.data_dir.with_extension("pgurl")).unwrap();
    let root = first.data_dir.join("root.key").display().to_string();
    Kmsd::start_with(
        &bin(),
        Options { extra_args: vec!["--store".into(), url, "--root-key-file".into(), root], ..Default::default() },
    )
    .unwrap()
}

#[tokio::test]
async fn nodes_on_one_database_are_one_service() {
    if kms_testkit::engine() != "postgres" {
        eprintln!("several nodes need the PostgreSQL engine: run with KMSD_TEST_STORE=postgres");
        return;
    }
    let a = start();
    let b = join(&a);
    let (ca, cb) = (a.client(), b.client());

    // What one node creates, the other uses at once; what one node changes, the other enforces.
    let key = new_key(&ca).await;
    ok(&ca, "CreateAlias", &[("AliasName", "alias/shared"), ("KeyId", &key)]).await;
    let enc = ok(&cb, "Encrypt", &[("KeyId", "alias/shared"), ("Plaintext", "c2hhcmVk")]).await;
    assert_eq!(
        ok(&ca, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await["Plaintext"],
        "c2hhcmVk"
    );
    ok(&ca, "DisableKey", &[("KeyId", &key)]).await;
    assert_error(&call(&cb, "Encrypt", &[("KeyId", &key), ("Plaintext", "eA==")]).await, 409, "Rejected.Disabled");
    ok(&cb, "EnableKey", &[("KeyId", &key)]).await;

    // A signed request replayed to the other node is refused there.
    let (method, target, headers, body) = ca.build(Call::new("DescribeKey", &[("KeyId", &key)]));
    let first = ca.raw(method, &target, &headers, body.clone(), false).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let replay = cb.raw(method, &target, &headers, body, false).await;
    assert_error(&replay, 400, "SignatureNonceUsed");

    // Two nodes racing for one alias: exactly one wins.
    for round in 0..5 {
        let name = format!("alias/race-{round}");
        let (c1, c2, k1, k2, n1, n2) = (ca.clone(), cb.clone(), key.clone(), key.clone(), name.clone(), name.clone());
        let x = tokio::spawn(async move { call(&c1, "CreateAlias", &[("AliasName", &n1), ("KeyId", &k1)]).await });
        let y = tokio::spawn(async move { call(&c2, "CreateAlias", &[("AliasName", &n2), ("KeyId", &k2)]).await });
        let (x, y) = (x.await.unwrap(), y.await.unwrap());
        let wins = [&x, &y].iter().filter(|r| r.status == 200).count();
        assert_eq!(wins, 1, "{} / {}", x.text(), y.text());
        for r in [&x, &y].into_iter().filter(|r| r.status != 200) {
            assert_error(r, 400, "AliasAlreadyExists");
        }
    }

    // A node with another root key refuses to serve this database, and says why.
    let url = std::fs::read_to_string(a.data_dir.with_extension("pgurl")).unwrap();
    let (status, stderr) =
        Kmsd::start_with(&bin(), Options { extra_args: vec!["--store".into(), url], ..Default::default() })
            .err()
            .expect("refused");
    assert_ne!(status, Some(0));
    assert!(stderr.contains("root key file") && stderr.contains("is missing"), "{stderr}");
}

/// Three nodes behind `kms-cluster`, the per-request round-robin endpoint the SDK suites run
/// against: consecutive requests land on every node in turn, and what one node writes the next
/// one serves at once.
#[tokio::test]
async fn three_nodes_behind_one_endpoint() {
    if kms_testkit::engine() != "postgres" {
        eprintln!("several nodes need the PostgreSQL engine: run with KMSD_TEST_STORE=postgres");
        return;
    }
    let cluster_bin = bin().with_file_name("kms-cluster");
    assert!(cluster_bin.exists(), "{} is missing: cargo build --workspace first", cluster_bin.display());
    let tmp = tempfile::tempdir().unwrap();
    let opts = Options { data_dir: Some(tmp.path().join("data")), ..Default::default() };
    let k = Kmsd::start_with(&cluster_bin, opts).unwrap();
    let c = k.client();
    let node = |r: &kms_testkit::Resp| r.headers["x-kms-cluster-node"].to_str().unwrap().to_owned();

    let seen: Vec<String> = {
        let mut seen = Vec::new();
        for _ in 0..6 {
            let r = c.send(Call::new("DescribeRegions", &[])).await;
            assert_eq!(r.status, 200, "{}", r.text());
            seen.push(node(&r));
        }
        seen
    };
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct, ["0", "1", "2"], "{seen:?}");
    assert_eq!(seen[..3], seen[3..], "round-robin order: {seen:?}");

    // Create on one node, then every node in turn encrypts with it and decrypts another's blob.
    let key = new_key(&c).await;
    let mut blobs = Vec::new();
    for _ in 0..3 {
        let r = c.send(Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", "bm9kZXM=")])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        blobs.push((node(&r), r.json()["CiphertextBlob"].as_str().unwrap().to_owned()));
    }
    // Shifted by one, so each blob is decrypted by a node other than the one that made it.
    for (made_on, blob) in blobs.iter().cycle().skip(1).take(3) {
        let r = c.send(Call::new("Decrypt", &[("CiphertextBlob", blob)])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_ne!(&node(&r), made_on, "decrypted on the node that encrypted");
        assert_eq!(r.json()["Plaintext"], "bm9kZXM=");
    }
    // A state change made through one node holds on all of them at once.
    ok(&c, "DisableKey", &[("KeyId", &key)]).await;
    let mut refused_on = Vec::new();
    for _ in 0..3 {
        let r = c.send(Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", "eA==")])).await;
        assert_error(&r, 409, "Rejected.Disabled");
        refused_on.push(node(&r));
    }
    refused_on.sort();
    assert_eq!(refused_on, ["0", "1", "2"]);

    let stderr_path = k.stderr_path.clone();
    assert_eq!(k.terminate(), Some(0));
    let stderr = std::fs::read_to_string(stderr_path).unwrap();
    for i in 0..3 {
        assert!(stderr.contains(&format!("kms-cluster: node {i} served")), "{stderr}");
    }
}

/// Application access made through one node is in force on the other at once: a policy and an
/// AAP made on one, a ClientKey made for that AAP on the other, the AAP refused deletion on the
/// first while the ClientKey lives.
#[tokio::test]
async fn application_access_is_shared_by_the_nodes() {
    if kms_testkit::engine() != "postgres" {
        eprintln!("several nodes need the PostgreSQL engine: run with KMSD_TEST_STORE=postgres");
        return;
    }
    let a = start();
    let b = join(&a);
    let (ca, cb) = (a.client(), b.client());
    ok(&ca, "CreateNetworkRule", &[("Name", "office"), ("Type", "Private"), ("SourcePrivateIp", "10.0.0.0/8")]).await;
    ok(
        &ca,
        "CreatePolicy",
        &[
            ("Name", "p"),
            ("Permissions", "[]"),
            ("Resources", "[]"),
            ("AccessControlRules", r#"{"NetworkRules":["office"]}"#),
        ],
    )
    .await;
    ok(&ca, "CreateApplicationAccessPoint", &[("Name", "aap"), ("Policies", r#"["p"]"#)]).await;
    assert_eq!(ok(&cb, "DescribeNetworkRule", &[("Name", "office")]).await["SourcePrivateIp"], r#"["10.0.0.0/8"]"#);
    assert_error(&call(&cb, "DeleteNetworkRule", &[("Name", "office")]).await, 409, "Rejected.ResourceInUse");
    let made = ok(&cb, "CreateClientKey", &[("AapName", "aap"), ("Password", "Passw0rd!")]).await;
    let id = made["ClientKeyId"].as_str().unwrap();
    assert_eq!(ok(&ca, "GetClientKey", &[("ClientKeyId", id)]).await["AapName"], "aap");
    assert_error(&call(&ca, "DeleteApplicationAccessPoint", &[("Name", "aap")]).await, 409, "Rejected.ResourceInUse");
    ok(&ca, "DeleteClientKey", &[("ClientKeyId", id)]).await;
    ok(&cb, "DeleteApplicationAccessPoint", &[("Name", "aap")]).await;
    assert_error(
        &call(&ca, "DescribeApplicationAccessPoint", &[("Name", "aap")]).await,
        404,
        "Forbidden.ResourceNotFound",
    );
}

/// A root-key rotation across nodes: what a node that already wraps with the new key writes,
/// a node that has not looked at the store yet reads at once (it looks when a record names a
/// key it lacks); both finish on the new key.
#[tokio::test]
async fn a_root_key_rotation_is_seen_by_every_node_at_once() {
    if kms_testkit::engine() != "postgres" {
        eprintln!("several nodes need the PostgreSQL engine: run with KMSD_TEST_STORE=postgres");
        return;
    }
    let a = start();
    let b = join(&a);
    let (ca, cb) = (a.client(), b.client());
    let before = new_key(&ca).await;
    let blob = ok(&ca, "Encrypt", &[("KeyId", &before), ("Plaintext", "YmVmb3Jl")]).await;
    let to = a.data_dir.with_extension("next.key");
    let mut rotate = std::process::Command::new(bin())
        .args(["admin", "root-key", "rotate", "--settle-secs", "2", "--to-file", to.to_str().unwrap(), "--data-dir"])
        .arg(&a.data_dir)
        .arg("--store")
        .arg(std::fs::read_to_string(a.data_dir.with_extension("pgurl")).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Keys made on either node while the nodes learn of the rotation one after the other,
    // each used on the other node immediately.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(3);
    let mut rounds = 0;
    while std::time::Instant::now() < until {
        for (maker, user) in [(&ca, &cb), (&cb, &ca)] {
            let key = new_key(maker).await;
            let enc = ok(user, "Encrypt", &[("KeyId", &key), ("Plaintext", "eA==")]).await;
            ok(maker, "Decrypt", &[("CiphertextBlob", enc["CiphertextBlob"].as_str().unwrap())]).await;
            rounds += 1;
        }
    }
    assert!(rounds > 10, "{rounds}");
    let status = rotate.wait().unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut rotate.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success() && out.contains("finished"), "{out}");
    for c in [&ca, &cb] {
        let dec = ok(c, "Decrypt", &[("CiphertextBlob", blob["CiphertextBlob"].as_str().unwrap())]).await;
        assert_eq!(dec["Plaintext"], "YmVmb3Jl");
    }
}
