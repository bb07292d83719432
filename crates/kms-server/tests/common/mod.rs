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
