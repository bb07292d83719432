//! Access keys managed with `kmsd admin` while the server runs: a created key signs requests
//! without a restart, a disabled one is refused, a deleted one is unknown — on every node of a
//! PostgreSQL store, and on the SQLite data dir of a running server.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kms_testkit::Options;

/// Polls until a DescribeRegions signed by `c` answers `code` ("" for success). Nodes reload
/// access keys every 500 ms; the generous bound only keeps a broken build from hanging.
async fn until_answers(c: &Client, code: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = call(c, "DescribeRegions", &[]).await;
        let got = if r.status == 200 { String::new() } else { r.code() };
        if got == code {
            return;
        }
        assert!(Instant::now() < deadline, "still {got:?} instead of {code:?}: {}", r.text());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn admin_access_keys_take_effect_on_running_nodes() {
    let a = start();
    // On PostgreSQL a second node shares the store; on SQLite the one server is the service.
    let b = (kms_testkit::engine() == "postgres").then(|| {
        let url = std::fs::read_to_string(a.data_dir.with_extension("pgurl")).unwrap();
        let root = a.data_dir.join("root.key").display().to_string();
        let opts =
            Options { extra_args: vec!["--store".into(), url, "--root-key-file".into(), root], ..Default::default() };
        Kmsd::start_with(&bin(), opts).unwrap()
    });
    let nodes: Vec<&Kmsd> = std::iter::once(&a).chain(b.as_ref()).collect();

    let (ok_, out, err) = admin(&a, &["create"]);
    assert!(ok_, "{err}");
    let field = |name: &str| {
        out.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_else(|| panic!("{out}")).to_owned()
    };
    let (id, secret) = (field("AccessKeyId"), field("AccessKeySecret"));
    assert!(id.starts_with("LTAI") && id.len() == 24 && secret.len() == 30, "{out}");
    assert!(!err.contains(&secret), "the secret reached a log: {err}");

    let clients: Vec<Client> = nodes
        .iter()
        .map(|k| Client { addr: k.addr.clone(), access_key_id: id.clone(), secret: secret.clone() })
        .collect();
    for c in &clients {
        until_answers(c, "").await;
    }
    // The new key works for real work, across nodes.
    let key = new_key(&clients[0]).await;
    ok(clients.last().unwrap(), "DescribeKey", &[("KeyId", &key)]).await;

    let (ok_, listed, _) = admin(&a, &["list"]);
    assert!(ok_);
    let line = listed.lines().find(|l| l.starts_with(&id)).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("\tEnabled\t") && line.ends_with("Z\t-\tunrestricted"), "{line}");
    assert!(!listed.contains(&secret), "list shows a secret: {listed}");

    assert!(admin(&a, &["disable", &id]).0);
    for c in &clients {
        until_answers(c, "InvalidAccessKeyId.Inactive").await;
    }
    let r = call(&clients[0], "DescribeKey", &[("KeyId", &key)]).await;
    assert_error(&r, 400, "InvalidAccessKeyId.Inactive");
    // The other keys are untouched.
    for k in &nodes {
        ok(&k.client(), "DescribeKey", &[("KeyId", &key)]).await;
    }

    assert!(admin(&a, &["enable", &id]).0);
    for c in &clients {
        until_answers(c, "").await;
    }
    assert!(admin(&a, &["delete", &id]).0);
    for c in &clients {
        until_answers(c, "InvalidAccessKeyId.NotFound").await;
    }
    assert_error(&call(&clients[0], "DescribeKey", &[("KeyId", &key)]).await, 404, "InvalidAccessKeyId.NotFound");

    // Unknown ids are refused and say so.
    let (ok_, _, err) = admin(&a, &["disable", &id]);
    assert!(!ok_ && err.contains(&format!("there is no access key {id}")), "{err}");
}

/// `kmsd admin` on a data dir that holds nothing creates nothing and says what to pass.
#[test]
fn admin_on_an_empty_data_dir_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = Command::new(bin())
        .args(["admin", "access-key", "create", "--store", "sqlite", "--data-dir"])
        .arg(&dir)
        .env_remove("KMSD_STORE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no kmsd database"), "{out:?}");
    assert!(!dir.exists(), "admin created the data dir");
}
