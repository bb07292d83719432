//! Every request the official SDKs signed (`tests/vectors/*.jsonl`, recorded from nine SDK variants) verifies with its secret,
//! and stops verifying after a one-byte change of anything the signature covers: a parameter
//! value or name, a signed header, the body, the method, or the secret.

use std::path::PathBuf;

use base64::Engine as _;
use kms_wire::raw::{Method, RawRequest};
use kms_wire::signature::{Scheme, verify_mac_only};
use serde_json::Value;

const SECRET: &str = "CaptureSecret+/=*~0123456789ab";

struct Vector {
    label: String,
    method: String,
    raw_query: Option<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load() -> Vec<Vector> {
    let dir = vectors_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        for line in std::fs::read_to_string(&f).unwrap().lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).unwrap();
            let body = match (&v["body_b64"], &v["body"]) {
                (Value::String(b64), _) => base64::engine::general_purpose::STANDARD.decode(b64).unwrap(),
                (_, Value::String(s)) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            let raw_query = v["raw_query"].as_str().filter(|q| !q.is_empty()).map(str::to_owned);
            let headers = v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().unwrap().to_owned()))
                .collect();
            out.push(Vector {
                label: v["label"].as_str().unwrap().to_owned(),
                method: v["method"].as_str().unwrap().to_owned(),
                raw_query,
                headers,
                body,
            });
        }
    }
    out
}

fn raw(v: &Vector) -> RawRequest {
    RawRequest::from_parts(
        &v.method,
        v.raw_query.as_deref(),
        v.headers.iter().map(|(k, h)| (k.as_str(), h.as_bytes())),
        v.body.clone(),
    )
    .unwrap()
}

/// A different character at byte `i` of `s` (keeping UTF-8 valid), or `None` past the end.
fn mutate(s: &str, i: usize) -> Option<String> {
    if !s.is_char_boundary(i) || i >= s.len() {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    for (j, c) in s.char_indices() {
        if j == i {
            out.push(if c == 'a' { 'b' } else { 'a' });
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn assert_rejected(r: &RawRequest, what: &str) {
    assert!(verify_mac_only(r, SECRET).is_err(), "accepted after changing {what}");
}

fn signed_headers(r: &RawRequest) -> Vec<String> {
    let auth = r.header("authorization").unwrap_or_default();
    auth.split("SignedHeaders=")
        .nth(1)
        .map(|s| s.split(',').next().unwrap().split(';').map(str::to_owned).collect())
        .unwrap_or_default()
}

#[test]
fn every_recorded_request_verifies() {
    let vectors = load();
    assert!(vectors.len() >= 180, "expected the full vector set, found {}", vectors.len());
    let mut schemes = std::collections::HashMap::new();
    for v in &vectors {
        match verify_mac_only(&raw(v), SECRET) {
            Ok(s) => *schemes.entry(format!("{s:?}")).or_insert(0) += 1,
            Err(e) => panic!("{}: {e}", v.label),
        }
    }
    for s in [Scheme::V1, Scheme::Acs3, Scheme::Acs4] {
        assert!(schemes.contains_key(&format!("{s:?}")), "no vector for {s:?}");
    }
}

#[test]
fn one_byte_changes_are_rejected() {
    for v in &load() {
        let base = raw(v);
        // Every byte of every signed parameter name and value. V1 signs query and form pairs;
        // ACS3/ACS4 sign the query, and the form only through the body hash (tested below).
        let is_v1 = base.header("authorization").is_none();
        let lists: Vec<&Vec<(String, String)>> = if is_v1 { vec![&base.query, &base.form] } else { vec![&base.query] };
        for field in [0usize, 1] {
            for list in lists.iter().copied() {
                for (idx, (k, val)) in list.iter().enumerate() {
                    let target = if field == 0 { k } else { val };
                    for i in 0..target.len() {
                        let Some(m) = mutate(target, i) else { continue };
                        let mut r = base.clone();
                        let l = if std::ptr::eq(list, &base.query) { &mut r.query } else { &mut r.form };
                        if field == 0 {
                            l[idx].0 = m
                        } else {
                            l[idx].1 = m
                        }
                        assert_rejected(&r, &format!("{}: param {k}", v.label));
                    }
                }
            }
        }
        // Every byte of the body.
        for i in 0..base.body.len() {
            let mut r = base.clone();
            r.body[i] ^= 0x01;
            if !base.form.is_empty() {
                // V1 form bodies are covered through their decoded pairs.
                r.form = form_urlencoded::parse(&r.body).into_owned().collect();
                if r.form == base.form {
                    continue; // e.g. `%2b` ↔ `%2B`: same decoded value, same request.
                }
            }
            assert_rejected(&r, &format!("{}: body byte {i}", v.label));
        }
        // Every byte of every signed header.
        for name in signed_headers(&base) {
            let value = base.header(&name).unwrap();
            for i in 0..value.len() {
                let Some(m) = mutate(&value, i) else { continue };
                if m.trim() == value.trim() {
                    continue;
                }
                let mut r = base.clone();
                r.headers.retain(|(n, _)| n != &name);
                r.headers.push((name.clone(), m));
                assert_rejected(&r, &format!("{}: header {name}", v.label));
            }
        }
        // The method.
        let mut r = base.clone();
        r.method = if r.method == Method::Get { Method::Post } else { Method::Get };
        assert_rejected(&r, &format!("{}: method", v.label));
        // The secret.
        for i in 0..SECRET.len() {
            let wrong = mutate(SECRET, i).unwrap();
            assert!(verify_mac_only(&base, &wrong).is_err(), "{}: secret byte {i}", v.label);
        }
    }
}
