//! Replay protection that survives the process and the database: a signed request accepted
//! once is refused for the rest of its window after a restart, after a SIGKILL, and — between
//! nodes sharing PostgreSQL — after the database crashed.

mod common;

use common::*;
use kms_testkit::{Options, PrivatePostgres, Signing};

/// A request with a fixed nonce (and timestamp), so the very same signed bytes can be sent
/// again; both signature families.
fn captured(signing: Signing, nonce: &str) -> Call {
    let mut c = Call::new("DescribeRegions", &[]);
    c.signing = signing;
    c.nonce = nonce.to_owned();
    c
}

fn in_dir(dir: &std::path::Path) -> Options {
    Options { data_dir: Some(dir.to_path_buf()), ..Default::default() }
}

#[tokio::test]
async fn a_request_accepted_before_a_restart_or_a_crash_is_refused_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut sent = Vec::new();
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    for (i, signing) in [Signing::V1, Signing::Acs3].into_iter().enumerate() {
        let call = captured(signing, &format!("before-restart-{i}"));
        assert_eq!(k.client().send(call.clone()).await.status, 200);
        sent.push(call);
    }
    assert_eq!(k.terminate(), Some(0));

    // A clean restart.
    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    for call in &sent {
        assert_error(&k.client().send(call.clone()).await, 400, "SignatureNonceUsed");
    }
    let call = captured(Signing::V1, "before-kill");
    assert_eq!(k.client().send(call.clone()).await.status, 200);
    sent.push(call);
    // Killed right after answering: nothing had a chance to be flushed on the way out.
    k.kill();

    let k = Kmsd::start_with(&bin(), in_dir(&dir)).unwrap();
    for call in &sent {
        assert_error(&k.client().send(call.clone()).await, 400, "SignatureNonceUsed");
    }
    // Fresh nonces still pass.
    assert_eq!(k.client().send(captured(Signing::V1, "after-kill")).await.status, 200);
}

/// Two nodes on one PostgreSQL: a request node A accepted is refused by node B, also after the
/// database crashed (an immediate stop, as a power cut of its host would) and came back.
#[tokio::test]
async fn nodes_refuse_a_replay_across_a_database_crash() {
    let mut pg = PrivatePostgres::new();
    let db = format!("kmsd_{}", uuid::Uuid::new_v4().simple());
    pg.psql(&format!("CREATE DATABASE {db}"));
    let url = pg.url_for(&db);
    let tmp = tempfile::tempdir().unwrap();
    let node = |name: &str, root: Option<&std::path::Path>| {
        let mut extra_args = vec!["--store".to_owned(), url.clone()];
        if let Some(root) = root {
            extra_args.extend(["--root-key-file".to_owned(), root.display().to_string()]);
        }
        Kmsd::start_with(&bin(), Options { data_dir: Some(tmp.path().join(name)), extra_args, ..Default::default() })
            .unwrap()
    };
    let a = node("a", None);
    let b = node("b", Some(&tmp.path().join("a/root.key")));
    let shared = captured(Signing::Acs3, "shared-with-b");
    assert_eq!(a.client().send(shared.clone()).await.status, 200);
    assert_error(&b.client().send(shared).await, 400, "SignatureNonceUsed");
    // B never sees this one before the crash: only the database can tell B about it.
    let call = captured(Signing::Acs3, "accepted-by-a");
    assert_eq!(a.client().send(call.clone()).await.status, 200);

    pg.stop_immediate();
    pg.start();
    // B's pool reconnects on its own; the nonce A recorded survived the crash.
    let mut answer = b.client().send(call.clone()).await;
    for _ in 0..20 {
        if answer.code() != "ServiceUnavailableTemporary" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        answer = b.client().send(call.clone()).await;
    }
    assert_error(&answer, 400, "SignatureNonceUsed");
    assert_eq!(b.client().send(captured(Signing::Acs3, "fresh-after-crash")).await.status, 200);
}
