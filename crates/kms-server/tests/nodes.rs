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
