//! kmsd on a PostgreSQL that freezes, dies, is not there, wants TLS or a password: each test
//! runs its own server ([`PrivatePostgres`]) — never the shared one — so these run in the plain
//! `cargo test` (SQLite) pass too, whatever `KMSD_TEST_STORE` says. Without PostgreSQL's server
//! binaries they fail (`scripts/postgres.sh` installs them), they do not skip.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use kms_testkit::{Options, PgOptions, PrivatePostgres};

/// `--store-timeout` of these tests.
const TIMEOUT_SECS: u64 = 3;
/// What a request may take to fail on a store that does not answer: the timeout, and ample
/// slack for a loaded machine (a hang is what this rules out).
const FAIL_WITHIN: Duration = Duration::from_secs(15);

fn kmsd_on(url: &str, more: &[&str]) -> Result<Kmsd, (Option<i32>, String)> {
    let mut extra_args =
        vec!["--store".to_owned(), url.to_owned(), "--store-timeout".into(), format!("{TIMEOUT_SECS}s")];
    extra_args.extend(more.iter().map(|s| s.to_string()));
    Kmsd::start_with(&bin(), Options { extra_args, ..Default::default() })
}

/// A new database on `pg` for one kmsd (each kmsd here has its own data dir and root key).
fn fresh_db(pg: &PrivatePostgres) -> String {
    let name = format!("kmsd_{}", uuid::Uuid::new_v4().simple());
    pg.psql(&format!("CREATE DATABASE {name}"));
    name
}

async fn get(c: &Client, path: &str) -> Resp {
    c.raw("GET", path, &[], Vec::new(), false).await
}

/// Sends `action` and asserts it fails as 503 ServiceUnavailableTemporary (with a request id)
/// within [`FAIL_WITHIN`].
async fn unavailable(c: &Client, action: &str, params: &[(&str, &str)]) -> Duration {
    let started = Instant::now();
    let r = tokio::time::timeout(FAIL_WITHIN + Duration::from_secs(30), call(c, action, params))
        .await
        .unwrap_or_else(|_| panic!("{action} hangs on a store that does not answer"));
    let took = started.elapsed();
    assert_error(&r, 503, "ServiceUnavailableTemporary");
    assert!(took < FAIL_WITHIN, "{action} took {took:?} to fail");
    took
}

/// `/readyz` answers 503 (in time) while the store does not answer; `/healthz` stays 200.
async fn not_ready_but_alive(c: &Client) {
    let started = Instant::now();
    let r = get(c, "/readyz").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("not ready"), "{}", r.text());
    assert!(started.elapsed() < FAIL_WITHIN, "/readyz took {:?}", started.elapsed());
    let started = Instant::now();
    assert_eq!(get(c, "/healthz").await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(2), "/healthz does not wait on the store");
}

/// Waits until requests succeed and `/readyz` is 200 again; panics after `within`.
async fn recovers(c: &Client, key: &str, within: Duration) {
    let until = Instant::now() + within;
    loop {
        let r = call(c, "Encrypt", &[("KeyId", key), ("Plaintext", "aGk=")]).await;
        if r.status == 200 && get(c, "/readyz").await.status == 200 {
            return;
        }
        assert!(Instant::now() < until, "kmsd did not recover: {} {}", r.status, r.text());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_frozen_postgres_answers_503_in_time_and_recovers() {
    let pg = PrivatePostgres::new();
    let k = kmsd_on(&pg.url(), &[]).expect("kmsd starts");
    let c = k.client();
    let key = new_key(&c).await;
    assert_eq!(get(&c, "/readyz").await.status, 200);
    assert_eq!(get(&c, "/healthz").await.status, 200);

    // The postmaster and every backend stop: connections stay open, nothing answers.
    pg.sigstop();
    let took = unavailable(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    assert!(took >= Duration::from_secs(TIMEOUT_SECS - 1), "it waited for the store ({took:?})");
    unavailable(&c, "CreateKey", &[]).await;
    not_ready_but_alive(&c).await;
    // A kmsd starting now gives up within its timeout and says on what.
    let started = Instant::now();
    let (code, stderr) = kmsd_on(&pg.url(), &[]).err().expect("no start on a frozen server");
    assert!(started.elapsed() < FAIL_WITHIN, "took {:?}", started.elapsed());
    assert_ne!(code, Some(0));
    assert!(stderr.contains(&format!("127.0.0.1:{}", pg.port())) && stderr.contains("does not answer"), "{stderr}");

    pg.sigcont();
    recovers(&c, &key, Duration::from_secs(30)).await;
    new_key(&c).await;
    assert!(k.stderr().contains("store unavailable"), "the cause is logged");
}

#[tokio::test]
async fn a_dead_postgres_answers_503_and_recovers_when_it_is_back() {
    let mut pg = PrivatePostgres::new();
    let k = kmsd_on(&pg.url(), &[]).expect("kmsd starts");
    let c = k.client();
    let key = new_key(&c).await;

    pg.stop_immediate();
    unavailable(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    unavailable(&c, "CreateKey", &[]).await;
    not_ready_but_alive(&c).await;

    pg.start();
    recovers(&c, &key, Duration::from_secs(30)).await;
    // The key made before the crash is still there.
    ok(&c, "DescribeKey", &[("KeyId", &key)]).await;
}

#[tokio::test]
async fn an_unreachable_postgres_at_start_is_named_with_the_cause() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let (code, stderr) =
        kmsd_on(&format!("postgres://kmsd:hunter2secret@127.0.0.1:{port}/kms"), &[]).err().expect("kmsd refuses");
    assert!(started.elapsed() < FAIL_WITHIN, "took {:?}", started.elapsed());
    assert_ne!(code, Some(0));
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "names the server: {stderr}");
    assert!(stderr.to_lowercase().contains("connection refused"), "names the cause: {stderr}");
    assert!(!stderr.contains("hunter2secret"), "never the password: {stderr}");
}

/// A CA and a certificate it signed for 127.0.0.1 only (no DNS name), made with openssl.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let sh = |script: &str| {
            let out = Command::new("sh").arg("-ec").arg(script).current_dir(dir.path()).output().expect("run openssl");
            assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ca = |name: &str| {
            format!(
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
                 -keyout {name}.key -out {name}.crt -subj '/CN=kmsd test {name}' \
                 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign"
            )
        };
        sh(&ca("ca"));
        sh(&ca("other-ca"));
        sh("openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr \
            -subj '/CN=127.0.0.1'
            printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out server.crt -extfile ext");
        Pki { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }
}

/// Whether the server sees a TLS connection from kmsd.
fn kmsd_uses_tls(pg: &PrivatePostgres) -> bool {
    let n = pg.psql(
        "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE ssl AND application_name = 'kmsd'",
    );
    n.trim().parse::<u32>().unwrap() > 0
}

#[tokio::test]
async fn tls_to_postgres_is_verified_against_the_ca() {
    let pki = Pki::new();
    let pg = PrivatePostgres::with(PgOptions {
        conf: vec!["ssl = on".into(), "ssl_cert_file = 'server.crt'".into(), "ssl_key_file = 'server.key'".into()],
        // TLS or nothing over TCP.
        hba: Some("local all all trust\nhostssl all all 127.0.0.1/32 trust\n".into()),
        files: vec![("server.crt".into(), pki.read("server.crt")), ("server.key".into(), pki.read("server.key"))],
        ..Default::default()
    });
    let base = || pg.url_for(&fresh_db(&pg));

    // verify-full against the right CA: serves, over TLS.
    let k =
        kmsd_on(&format!("{}?sslmode=verify-full&sslrootcert={}", base(), pki.path("ca.crt")), &[]).expect("starts");
    new_key(&k.client()).await;
    assert!(kmsd_uses_tls(&pg));
    drop(k);
    // The same CA from --store-tls-ca (verify-full without an sslmode).
    let k = kmsd_on(&base(), &["--store-tls-ca", &pki.path("ca.crt")]).expect("starts");
    new_key(&k.client()).await;
    drop(k);
    // require: TLS without checking the certificate (as libpq).
    let k = kmsd_on(&format!("{}?sslmode=require", base()), &[]).expect("starts");
    new_key(&k.client()).await;
    drop(k);

    // Another CA: refuses to start, and says why.
    let (code, stderr) =
        kmsd_on(&format!("{}?sslmode=verify-full&sslrootcert={}", base(), pki.path("other-ca.crt")), &[])
            .err()
            .expect("a certificate from another CA is refused");
    assert_ne!(code, Some(0));
    assert!(stderr.contains(&format!("127.0.0.1:{}", pg.port())), "{stderr}");
    assert!(stderr.contains("TLS") && stderr.contains("certificate"), "names the cause: {stderr}");

    // The certificate names 127.0.0.1, not localhost: verify-full refuses, verify-ca accepts.
    let by_name = base().replace("127.0.0.1", "localhost");
    let (_, stderr) = kmsd_on(&format!("{by_name}?sslmode=verify-full"), &["--store-tls-ca", &pki.path("ca.crt")])
        .err()
        .expect("a certificate for another name is refused");
    assert!(stderr.contains("certificate"), "{stderr}");
    let k = kmsd_on(&format!("{by_name}?sslmode=verify-ca"), &["--store-tls-ca", &pki.path("ca.crt")]).expect("starts");
    new_key(&k.client()).await;
    drop(k);

    // Plain TCP is refused by this server (hostssl only): TLS above was real.
    let (_, stderr) = kmsd_on(&format!("{}?sslmode=disable", base()), &[]).err().expect("plain is refused");
    assert!(stderr.contains("no encryption"), "{stderr}");
    // Verification needs a CA.
    let (_, stderr) = kmsd_on(&format!("{}?sslmode=verify-full", base()), &[]).err().expect("no CA, no start");
    assert!(stderr.contains("--store-tls-ca"), "{stderr}");
}

#[tokio::test]
async fn the_postgres_password_comes_from_a_file_or_pgpassword_and_is_never_shown() {
    let password = "s3cret pass/word@x";
    let pg = PrivatePostgres::with(PgOptions { password: Some(password.into()), ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pgpass");
    std::fs::write(&file, format!("{password}\n")).unwrap();
    let url = || format!("postgres://postgres@127.0.0.1:{}/{}", pg.port(), fresh_db(&pg));

    // Without a password: refused, and the message says what is missing.
    let (_, stderr) = kmsd_on(&url(), &[]).err().expect("no password, no start");
    assert!(stderr.contains("password"), "{stderr}");

    // From the file: serves.
    let k = kmsd_on(&url(), &["--store-password-file", &file.display().to_string()]).expect("starts");
    new_key(&k.client()).await;
    assert!(!k.stderr().contains(password), "the password is not logged");
    drop(k);

    // From PGPASSWORD (as libpq): serves.
    let extra_args = vec!["--store".into(), url()];
    let env = vec![("PGPASSWORD".to_owned(), password.to_owned())];
    let k = Kmsd::start_with(&bin(), Options { extra_args, env, ..Default::default() }).expect("starts");
    new_key(&k.client()).await;
    drop(k);

    // A URL with a password and a file too: refused (which one would win is a guess), and
    // the message shows neither.
    let (_, stderr) =
        kmsd_on(&pg.url_for(&fresh_db(&pg)), &["--store-password-file", &file.display().to_string()]).err().unwrap();
    assert!(stderr.contains("once") && !stderr.contains(password) && !stderr.contains("pass%2Fword"), "{stderr}");
    // A wrong password: refused, not shown.
    std::fs::write(&file, "wrong\n").unwrap();
    let (_, stderr) = kmsd_on(&url(), &["--store-password-file", &file.display().to_string()]).err().unwrap();
    assert!(stderr.contains("password authentication failed") && !stderr.contains("wrong"), "{stderr}");
    // A missing file: named.
    let missing = dir.path().join("absent");
    let (_, stderr) = kmsd_on(&url(), &["--store-password-file", &missing.display().to_string()]).err().unwrap();
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    // Something that is not a store URL is echoed without its password.
    let (_, stderr) = kmsd_on("mysql://u:hunter2secret@h/db", &[]).err().unwrap();
    assert!(stderr.contains("mysql://u:***@h/db") && !stderr.contains("hunter2secret"), "{stderr}");
}
