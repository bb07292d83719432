//! Shared helpers of the black-box wire tests: each test starts the real kmsd binary.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;

pub use kms_testkit::{Call, Client, Kmsd, Placement, Resp};
use serde_json::Value;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kmsd"))
}

pub fn start() -> Kmsd {
    Kmsd::start(&bin())
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn unb64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// Sends a V1-signed call and returns the response.
pub async fn call(c: &Client, action: &str, params: &[(&str, &str)]) -> Resp {
    c.send(Call::new(action, params)).await
}

/// Sends a call that must succeed and returns its JSON body.
pub async fn ok(c: &Client, action: &str, params: &[(&str, &str)]) -> Value {
    let r = call(c, action, params).await;
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    r.json()
}

/// Asserts an error's status, code, envelope and request-id header.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!((r.status, r.code().as_str()), (status, code), "{}", r.text());
    let body = r.json();
    for field in ["RequestId", "HostId", "Code", "Message", "Recommend"] {
        assert!(body[field].as_str().is_some_and(|s| !s.is_empty()), "{field} missing in {body}");
    }
    assert_eq!(body["HttpStatus"], status);
    assert_eq!(r.headers["x-acs-request-id"].to_str().unwrap(), body["RequestId"].as_str().unwrap());
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
}

/// Creates a key and returns its id.
pub async fn new_key(c: &Client) -> String {
    ok(c, "CreateKey", &[]).await["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned()
}

fn pg_url(data_dir: &std::path::Path) -> Option<String> {
    std::fs::read_to_string(data_dir.with_extension("pgurl")).ok()
}

/// Everything the store holds, as bytes to search: SQLite's files in the data dir, or on
/// PostgreSQL a data dump of the test database (binary columns appear as hex there; use
/// [`holds`] to search both spellings).
pub fn store_contents(data_dir: &std::path::Path) -> Vec<u8> {
    match pg_url(data_dir) {
        Some(url) => {
            let out = std::process::Command::new("pg_dump").args(["--data-only", "--no-owner", &url]).output().unwrap();
            assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
            // pg_dump guards each dump with a random `\restrict` token: not data.
            let text = String::from_utf8_lossy(&out.stdout);
            text.lines()
                .filter(|l| !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict"))
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes()
        }
        None => {
            let mut all = Vec::new();
            for e in std::fs::read_dir(data_dir).unwrap() {
                let p = e.unwrap().path();
                if p.file_name().unwrap() != "root.key" {
                    all.extend(std::fs::read(p).unwrap());
                }
            }
            all
        }
    }
}

/// Whether `haystack` contains `needle` as bytes or as lower-case hex.
pub fn holds(haystack: &[u8], needle: &[u8]) -> bool {
    let hex: Vec<u8> = needle.iter().flat_map(|b| format!("{b:02x}").into_bytes()).collect();
    haystack.windows(needle.len()).any(|w| w == needle) || haystack.windows(hex.len()).any(|w| w == hex.as_slice())
}

/// The wrapped material of a key's versions, read from the store itself.
pub fn stored_materials(data_dir: &std::path::Path, key_id: &str) -> Vec<Vec<u8>> {
    match pg_url(data_dir) {
        Some(url) => {
            let sql = format!("SELECT encode(material, 'hex') FROM key_versions WHERE key_id = '{key_id}'");
            let out = std::process::Command::new("psql").args([&url, "-At", "-c", &sql]).output().unwrap();
            assert!(out.status.success(), "psql: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| (0..l.len()).step_by(2).map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap()).collect())
                .collect()
        }
        None => {
            let db = data_dir.join("kms.db");
            let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            let mut stmt = conn.prepare("SELECT material FROM key_versions WHERE key_id = ?1").unwrap();
            stmt.query_map([key_id], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        }
    }
}

/// `kmsd admin access-key <args>` against `k`'s data dir and store: (success, stdout, stderr).
pub fn admin(k: &Kmsd, args: &[&str]) -> (bool, String, String) {
    admin_group(k, "access-key", args)
}

/// `kmsd admin <group> <args>` against `k`'s data dir and store: (success, stdout, stderr).
pub fn admin_group(k: &Kmsd, group: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("admin").arg(group).args(args).arg("--data-dir").arg(&k.data_dir);
    if let Ok(url) = std::fs::read_to_string(k.data_dir.with_extension("pgurl")) {
        cmd.arg("--store").arg(url);
    }
    let out = cmd.env_remove("KMSD_STORE").env_remove("KMSD_DATA_DIR").output().expect("run kmsd admin");
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

/// A kmsd whose service clock `advance` moves (`--dev-clock`).
pub fn dev_clock() -> Kmsd {
    Kmsd::start_with(&bin(), kms_testkit::Options { extra_args: vec!["--dev-clock".into()], ..Default::default() })
        .unwrap()
}

/// `POST /-/clock/advance?seconds=N`: the new time and what the jobs did.
pub async fn advance(c: &Client, seconds: i64) -> Value {
    let r = c.raw("POST", &format!("/-/clock/advance?seconds={seconds}"), &[], vec![], false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// A client for a new access key of `name` with `policy`, once the server has loaded it.
pub async fn app(k: &Kmsd, name: &str, policy: Option<&str>) -> (Client, String) {
    let file = k.data_dir.with_extension(format!("{name}.policy.json"));
    let mut args = vec!["create", "--name", name];
    if let Some(p) = policy {
        std::fs::write(&file, p).unwrap();
        args.extend(["--policy", file.to_str().unwrap()]);
    }
    let (ok_, out, err) = admin(k, &args);
    assert!(ok_, "{err}");
    let field = |f: &str| out.lines().find_map(|l| l.strip_prefix(&format!("{f}: "))).unwrap().to_owned();
    let c = kms_testkit::Client {
        addr: k.client().addr,
        access_key_id: field("AccessKeyId"),
        secret: field("AccessKeySecret"),
    };
    wait_until_known(&c).await;
    (c, field("AccessKeyId"))
}

/// Nodes reload access keys every 500 ms.
pub async fn wait_until_known(c: &Client) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let code = call(c, "DescribeRegions", &[]).await.code();
        if code != "InvalidAccessKeyId.NotFound" {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "access key never loaded");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
