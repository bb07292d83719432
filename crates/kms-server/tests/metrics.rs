//! `/metrics` at the wire: keys by state through every kind of change, a bounded number of
//! series however many keys, versions and made-up actions requests bring, and where it is
//! served (`--metrics-listen`: the API listener, a listener of its own, or nowhere).

mod common;

use common::*;

/// The exposition, from the API listener.
async fn scrape(c: &Client) -> String {
    let r = c.raw("GET", "/metrics", &[], vec![], false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The value of the series `series` (name and labels, exactly as exposed).
fn value(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_owned))
}

/// `kmsd_keys` for each state, in the order given.
fn keys_by_state(text: &str) -> [Option<String>; 4] {
    ["Enabled", "Disabled", "PendingDeletion", "PendingImport"]
        .map(|s| value(text, &format!("kmsd_keys{{state=\"{s}\"}}")))
}

fn counts(n: [u64; 4]) -> [Option<String>; 4] {
    n.map(|n| Some(n.to_string()))
}

/// Lines that are series (not `# HELP` / `# TYPE`).
fn series(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')).collect()
}

/// The gauge follows creation, disabling, enabling, deletion scheduled and cancelled, imported
/// keys waiting for material, and destruction by the scheduled jobs — on either engine, since
/// the counts are the store's.
#[tokio::test]
async fn keys_by_state_follow_every_change() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let options = kms_testkit::Options {
        data_dir: Some(dir.clone()),
        extra_args: vec!["--dev-clock".into()],
        ..Default::default()
    };
    let k = Kmsd::start_with(&bin(), options).unwrap();
    let c = k.client();
    assert_eq!(keys_by_state(&scrape(&c).await), counts([0, 0, 0, 0]));
    let keys = [new_key(&c).await, new_key(&c).await, new_key(&c).await, new_key(&c).await];
    let external =
        ok(&c, "CreateKey", &[("Origin", "EXTERNAL")]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(keys_by_state(&scrape(&c).await), counts([4, 0, 0, 1]));
    ok(&c, "DisableKey", &[("KeyId", &keys[0])]).await;
    ok(&c, "DisableKey", &[("KeyId", &keys[1])]).await;
    ok(&c, "EnableKey", &[("KeyId", &keys[1])]).await;
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &keys[2]), ("PendingWindowInDays", "7")]).await;
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &keys[3]), ("PendingWindowInDays", "7")]).await;
    ok(&c, "CancelKeyDeletion", &[("KeyId", &keys[3])]).await;
    ok(&c, "ScheduleKeyDeletion", &[("KeyId", &external), ("PendingWindowInDays", "30")]).await;
    // Changes that are not state changes, and one refused by the state matrix.
    ok(&c, "UpdateKeyDescription", &[("KeyId", &keys[1]), ("Description", "d")]).await;
    ok(&c, "CreateKeyVersion", &[("KeyId", &keys[1])]).await;
    assert_eq!(call(&c, "EnableKey", &[("KeyId", &keys[2])]).await.status, 409);
    assert_eq!(keys_by_state(&scrape(&c).await), counts([2, 1, 2, 0]));
    // Eight days on, the jobs destroy the key whose window ended; the other still waits.
    assert_eq!(advance(&c, 8 * 86_400).await["Destroyed"], 1);
    assert_eq!(keys_by_state(&scrape(&c).await), counts([2, 1, 1, 0]));
    ok(&c, "CancelKeyDeletion", &[("KeyId", &external)]).await;
    assert_eq!(keys_by_state(&scrape(&c).await), counts([2, 1, 0, 1]));
    // The counts are the store's: a restart reads the same.
    assert_eq!(k.terminate(), Some(0));
    let k = Kmsd::start_with(&bin(), kms_testkit::Options { data_dir: Some(dir), ..Default::default() }).unwrap();
    assert_eq!(keys_by_state(&scrape(&k.client()).await), counts([2, 1, 0, 1]));
}

/// Many keys, many versions, many cryptographic calls and made-up actions: the exposition has
/// as many series as after the first call of each kind, none named after an id or after what a
/// client sent.
#[tokio::test]
async fn series_do_not_grow_with_versions_or_requests() {
    let k = start();
    let c = k.client();
    // One of each kind of request, so that every series this test can make exists.
    let round = |c: Client| async move {
        let key = new_key(&c).await;
        let mut ids = vec![key.clone()];
        for _ in 0..3 {
            ids.push(
                ok(&c, "CreateKeyVersion", &[("KeyId", &key)]).await["KeyVersion"]["KeyVersionId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
            let blob = ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await["CiphertextBlob"]
                .as_str()
                .unwrap()
                .to_owned();
            ok(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
        }
        ids
    };
    let made_up = |c: Client, n: usize| async move {
        for i in 0..n {
            assert_error(&call(&c, &format!("NoSuchAction{i}"), &[]).await, 400, "InvalidAction.NotFound");
            let r = c.raw("GET", &format!("/no/such/path/{i}"), &[], vec![], false).await;
            assert_error(&r, 400, "InvalidAction.NotFound");
        }
    };
    round(c.clone()).await;
    made_up(c.clone(), 1).await;
    let before = scrape(&c).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.extend(round(c.clone()).await);
    }
    made_up(c.clone(), 20).await;
    let after = scrape(&c).await;
    assert_eq!(series(&after).len(), series(&before).len(), "no new series:\n{after}");
    for id in &ids {
        assert!(!after.contains(id.as_str()), "{id} is in the exposition:\n{after}");
    }
    assert!(!after.contains("NoSuchAction") && !after.contains("/no/such"), "{after}");
    // What they did is still counted: by operation, over all versions, and as action `-`.
    assert_eq!(value(&after, "kmsd_key_version_uses_total{operation=\"encrypt\"}").as_deref(), Some("63"));
    assert_eq!(value(&after, "kmsd_key_version_uses_total{operation=\"decrypt\"}").as_deref(), Some("63"));
    assert_eq!(value(&after, "kmsd_requests_total{action=\"Encrypt\",code=\"OK\"}").as_deref(), Some("63"));
    let unknown = value(&after, "kmsd_requests_total{action=\"-\",code=\"InvalidAction.NotFound\"}");
    assert_eq!(unknown.as_deref(), Some("42"), "{after}");
}

/// The address the metrics listener reports on stderr.
fn metrics_addr(k: &Kmsd) -> Option<String> {
    let stderr = k.stderr();
    let url = stderr.lines().find_map(|l| l.strip_prefix("kmsd metrics on "))?;
    Some(url.strip_prefix("http://")?.strip_suffix("/metrics")?.to_owned())
}

/// A client for another address than the API's.
fn at(addr: &str) -> Client {
    Client { addr: addr.to_owned(), access_key_id: String::new(), secret: String::new() }
}

fn with_args(args: &[&str]) -> Kmsd {
    let extra_args = args.iter().map(|a| a.to_string()).collect();
    Kmsd::start_with(&bin(), kms_testkit::Options { extra_args, ..Default::default() }).unwrap()
}

/// `--metrics-listen ADDR`: `/metrics` there and only there; the listener answers nothing
/// else, and stops with the server.
#[tokio::test]
async fn metrics_on_a_listener_of_its_own() {
    let k = with_args(&["--metrics-listen", "127.0.0.1:0"]);
    let c = k.client();
    let addr = metrics_addr(&k).unwrap_or_else(|| panic!("no `kmsd metrics on` line:\n{}", k.stderr()));
    assert_ne!(addr, k.addr);
    new_key(&c).await;
    let m = at(&addr);
    let r = m.raw("GET", "/metrics", &[], vec![], false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    let text = r.text();
    assert_eq!(value(&text, "kmsd_keys{state=\"Enabled\"}").as_deref(), Some("1"), "{text}");
    assert_eq!(value(&text, "kmsd_requests_total{action=\"CreateKey\",code=\"OK\"}").as_deref(), Some("1"));
    // The API listener answers /metrics as any path it does not serve.
    assert_error(&c.raw("GET", "/metrics", &[], vec![], false).await, 400, "InvalidAction.NotFound");
    // The metrics listener serves nothing but /metrics: not the API, not health.
    assert_eq!(m.raw("GET", "/healthz", &[], vec![], false).await.status, 404);
    assert_eq!(m.send(Call::new("ListKeys", &[])).await.status, 404);
    assert_eq!(m.raw("POST", "/metrics", &[], vec![], false).await.status, 404);
    assert_eq!(k.terminate(), Some(0));
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "the metrics listener outlived the server");
}

/// A metrics port that is taken fails the start, saying which address.
#[tokio::test]
async fn a_taken_metrics_port_fails_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let extra_args = vec!["--metrics-listen".into(), addr.clone()];
    let Err((status, stderr)) = Kmsd::start_with(&bin(), kms_testkit::Options { extra_args, ..Default::default() })
    else {
        panic!("kmsd started with its metrics port taken")
    };
    assert_eq!(status, Some(1));
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

/// `--metrics-listen off` (here through the environment): no `/metrics` anywhere.
#[tokio::test]
async fn metrics_off_serves_none() {
    let env = vec![("KMSD_METRICS_LISTEN".to_owned(), "off".to_owned())];
    let k = Kmsd::start_with(&bin(), kms_testkit::Options { env, ..Default::default() }).unwrap();
    let c = k.client();
    new_key(&c).await;
    assert_error(&c.raw("GET", "/metrics", &[], vec![], false).await, 400, "InvalidAction.NotFound");
    assert!(metrics_addr(&k).is_none(), "{}", k.stderr());
    assert_eq!(c.raw("GET", "/healthz", &[], vec![], false).await.status, 200);
}
