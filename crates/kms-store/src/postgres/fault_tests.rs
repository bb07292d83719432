//! The engine against a server that freezes, dies or is not there: a private PostgreSQL
//! ([`kms_testkit::PrivatePostgres`]), never the shared test server. Needs the server binaries
//! (`scripts/postgres.sh` installs them); fails, not skips, without them.

use std::time::{Duration, Instant};

use kms_testkit::PrivatePostgres;

use super::*;
use crate::timed::Timed;

const LIMIT: Duration = Duration::from_secs(2);

/// The store's pool: (connections open, connections idle).
fn pool_size(store: &Timed<PostgresStore>) -> (usize, usize) {
    let s = store.inner().pool.status();
    (s.size, s.available)
}

/// `call` fails as Unavailable, within the limit plus slack; returns its message.
async fn fails_in_time<T: std::fmt::Debug>(what: &str, call: impl Future<Output = StoreResult<T>>) -> String {
    let started = Instant::now();
    // The outer bound turns a hang (the engine before time limits) into a failure.
    let result = tokio::time::timeout(Duration::from_secs(30), call).await;
    let took = started.elapsed();
    match result {
        Ok(Err(StoreError::Unavailable(m))) => {
            assert!(took < LIMIT + Duration::from_secs(2), "{what} took {took:?}");
            m
        }
        Ok(other) => panic!("{what}: {other:?}"),
        Err(_) => panic!("{what} still hangs after {took:?}"),
    }
}

/// Polls `ping` until it answers (a recovering server), or panics after `within`.
async fn answers_again(store: &Timed<PostgresStore>, within: Duration) {
    let until = Instant::now() + within;
    loop {
        match store.ping().await {
            Ok(()) => return,
            Err(e) if Instant::now() > until => panic!("the store does not answer again: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test]
async fn a_frozen_server_fails_calls_in_time_and_they_recover() {
    let pg = PrivatePostgres::new();
    let opts = PostgresOptions { timeout: LIMIT, ..Default::default() };
    let store = Timed::new(PostgresStore::open_with(&pg.url(), &opts).await.unwrap(), LIMIT);
    store.ping().await.unwrap();
    assert_eq!(store.get_meta("x").await.unwrap(), None);
    assert_eq!(pool_size(&store), (1, 1), "one connection, back in the pool after each call");

    pg.sigstop();
    let m = fails_in_time("a read on a frozen server", store.get_meta("x")).await;
    assert!(m.contains("within"), "{m}");
    assert_eq!(pool_size(&store).0, 0, "the connection left mid-call is out of the pool");
    // New connections get no answer either: connecting is limited too.
    fails_in_time("a ping on a frozen server", store.ping()).await;
    fails_in_time("a write on a frozen server", store.init_meta("y", "1")).await;

    pg.sigcont();
    answers_again(&store, Duration::from_secs(15)).await;
    assert_eq!(store.init_meta("y", "2").await.unwrap(), "2", "the timed-out write did not happen");
    assert_eq!(store.get_meta("y").await.unwrap().as_deref(), Some("2"));
}

#[tokio::test]
async fn a_dead_server_fails_calls_fast_and_they_recover_when_it_is_back() {
    let mut pg = PrivatePostgres::new();
    let opts = PostgresOptions { timeout: LIMIT, ..Default::default() };
    let store = Timed::new(PostgresStore::open_with(&pg.url(), &opts).await.unwrap(), LIMIT);
    store.init_meta("kept", "1").await.unwrap();

    pg.stop_immediate();
    let started = Instant::now();
    let m = fails_in_time("a read on a stopped server", store.get_meta("kept")).await;
    assert!(started.elapsed() < LIMIT, "a refused connection fails at once, not at the limit: {m}");

    pg.start();
    answers_again(&store, Duration::from_secs(15)).await;
    assert_eq!(store.get_meta("kept").await.unwrap().as_deref(), Some("1"), "committed before the crash");
}

#[tokio::test]
async fn an_unreachable_server_is_named_with_the_cause_and_no_password() {
    let opts = PostgresOptions { timeout: LIMIT, ..Default::default() };
    let started = Instant::now();
    let err = PostgresStore::open_with("postgres://kmsd:hunter2secret@127.0.0.1:1/kms", &opts).await.err().unwrap();
    assert!(started.elapsed() < LIMIT, "a refused connection fails at once");
    let m = err.to_string();
    assert!(m.contains("127.0.0.1:1") && m.contains("database kms"), "{m}");
    assert!(m.to_lowercase().contains("connection refused"), "{m}");
    assert!(!m.contains("hunter2secret"), "{m}");
}
