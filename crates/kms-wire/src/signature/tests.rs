//! Worked examples of spec §3 and the verifier's refusal paths.

use std::cell::RefCell;
use std::collections::HashSet;

use time::macros::datetime;
use zeroize::Zeroizing;

use super::*;
use crate::error::Code;

struct OneKey(&'static str, &'static str);
impl CredentialLookup for OneKey {
    fn secret(&self, id: &str, _token: Option<&str>) -> Result<Zeroizing<String>, LookupError> {
        if id == self.0 { Ok(Zeroizing::new(self.1.to_owned())) } else { Err(LookupError::NotFound) }
    }
}

#[derive(Default)]
struct Seen(RefCell<HashSet<String>>);
impl NonceCache for Seen {
    fn first_use(&self, id: &str, nonce: &str, _now: OffsetDateTime, _forget_after: OffsetDateTime) -> bool {
        self.0.borrow_mut().insert(format!("{id}\0{nonce}"))
    }
}

fn v1_request(method: &str, pairs: &[(&str, &str)]) -> RawRequest {
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    RawRequest::from_parts(method, Some(&query), [], vec![]).unwrap()
}

fn example2() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Action", "Encrypt"),
        ("Format", "JSON"),
        ("Version", "2016-01-20"),
        ("AccessKeyId", "testid"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", "3156853299f313e23d1673dc12e1703d"),
        ("Timestamp", "2024-01-01T00:00:00Z"),
        ("RegionId", "cn-hangzhou"),
        ("KeyId", "alias/test"),
        ("Plaintext", "SGVsbG8gd29ybGQ="),
        ("EncryptionContext", "{\"k\":\"v w\"}"),
        ("Signature", "Cc83oFmCEbOD5bmdmFTa7VUfdGA="),
    ]
}

#[test]
fn v1_worked_example_2_verifies() {
    let raw = v1_request("POST", &example2());
    assert_eq!(verify_mac_only(&raw, "testsecret").unwrap(), Scheme::V1);
    let owned: Vec<(String, String)> =
        example2().iter().filter(|(k, _)| *k != "Signature").map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(sign::v1_signature("POST", &owned, "testsecret"), "Cc83oFmCEbOD5bmdmFTa7VUfdGA=");
}

#[test]
fn v1_worked_example_1_has_the_corrected_signature() {
    let params = [
        ("Action", "CreateKey"),
        ("SignatureVersion", "1.0"),
        ("Format", "json"),
        ("Version", "2016-01-20"),
        ("AccessKeyId", "testid"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("Timestamp", "2016-03-28T03:13:08Z"),
    ];
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert_eq!(sign::v1_signature("GET", &owned, "testsecret"), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
}

#[test]
fn acs3_worked_example_verifies() {
    let headers: Vec<(&str, &[u8])> = vec![
        ("host", b"kms.cn-hangzhou.aliyuncs.com"),
        ("x-acs-action", b"Encrypt"),
        ("x-acs-version", b"2016-01-20"),
        ("x-acs-date", b"2024-01-01T00:00:00Z"),
        ("x-acs-signature-nonce", b"3156853299f313e23d1673dc12e1703d"),
        ("accept", b"application/json"),
        ("x-acs-content-sha256", b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("Authorization", b"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=08a8db1ec3318ef35a85a5f7ca5b1c3ed956800237402b56c007034aa3ec2056"),
    ];
    let raw = RawRequest::from_parts(
        "POST",
        Some("KeyId=alias%2Ftest&Plaintext=SGVsbG8gd29ybGQ%3D&EncryptionContext=%7B%22k%22%3A%22v%20w%22%7D"),
        headers,
        vec![],
    )
    .unwrap();
    assert_eq!(verify_mac_only(&raw, "testsecret").unwrap(), Scheme::Acs3);
    let e = verify_mac_only(&raw, "testsecreT").unwrap_err();
    assert_eq!(e.code, Code::SignatureDoesNotMatch);
    assert!(e.message.ends_with(":ACS3-HMAC-SHA256\n35ce93f78174ddc06c8aa9054f9a6bbfa4ff6dc410da27c5b9a2a3d77c32bb05"));
}

#[test]
fn full_verification_checks_key_clock_and_nonce() {
    let keys = OneKey("testid", "testsecret");
    let nonces = Seen::default();
    let raw = v1_request("POST", &example2());
    let now = datetime!(2024-01-01 00:10:00 UTC);
    let ok = verify(&raw, &keys, &nonces, now).unwrap();
    assert_eq!(ok.access_key_id(), "testid");
    assert_eq!(ok.action(), Some("Encrypt"));
    assert_eq!(ok.version(), Some("2016-01-20"));
    // The same request again is a replay.
    assert_eq!(verify(&raw, &keys, &nonces, now).unwrap_err().code, Code::SignatureNonceUsed);
    // Fifteen minutes and one second later it is stale.
    let late = datetime!(2024-01-01 00:15:01 UTC);
    assert_eq!(verify(&raw, &keys, &Seen::default(), late).unwrap_err().code, Code::InvalidTimeStampExpired);
    let early = datetime!(2023-12-31 23:44:59 UTC);
    assert_eq!(verify(&raw, &keys, &Seen::default(), early).unwrap_err().code, Code::InvalidTimeStampExpired);
    // An unknown key is refused before the MAC is looked at.
    let other = OneKey("someone", "testsecret");
    assert_eq!(verify(&raw, &other, &Seen::default(), now).unwrap_err().code, Code::InvalidAccessKeyIdNotFound);
}

#[test]
fn a_bad_mac_does_not_consume_the_nonce() {
    let keys = OneKey("testid", "testsecret");
    let nonces = Seen::default();
    let now = datetime!(2024-01-01 00:00:00 UTC);
    let mut forged = example2();
    forged.last_mut().unwrap().1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let e = verify(&v1_request("POST", &forged), &keys, &nonces, now).unwrap_err();
    assert_eq!(e.code, Code::SignatureDoesNotMatch);
    assert!(verify(&v1_request("POST", &example2()), &keys, &nonces, now).is_ok());
}

#[test]
fn v1_shape_errors_name_the_missing_parameter() {
    let keys = OneKey("testid", "testsecret");
    let now = datetime!(2024-01-01 00:00:00 UTC);
    for missing in ["AccessKeyId", "Signature", "Timestamp", "SignatureNonce", "SignatureMethod"] {
        let pairs: Vec<_> = example2().into_iter().filter(|(k, _)| *k != missing).collect();
        let e = verify(&v1_request("POST", &pairs), &keys, &Seen::default(), now).unwrap_err();
        assert_eq!(e.code, Code::MissingParameter, "{missing}");
        assert!(e.message.contains(missing));
    }
    let mut bad_ts = example2();
    bad_ts[7].1 = "yesterday";
    let e = verify(&v1_request("POST", &bad_ts), &keys, &Seen::default(), now).unwrap_err();
    assert_eq!(e.code, Code::InvalidTimeStampFormat);
    let mut sha256 = example2();
    sha256[4].1 = "HMAC-SHA256";
    let e = verify(&v1_request("POST", &sha256), &keys, &Seen::default(), now).unwrap_err();
    assert_eq!(e.code, Code::IncompleteSignature);
}

#[test]
fn acs_headers_must_cover_the_required_set() {
    let raw = RawRequest::from_parts(
        "POST",
        None,
        [
            ("x-acs-date", b"2024-01-01T00:00:00Z".as_slice()),
            ("x-acs-signature-nonce", b"n"),
            ("authorization", b"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-date,Signature=00"),
        ],
        vec![],
    )
    .unwrap();
    let e = verify_mac_only(&raw, "s").unwrap_err();
    assert_eq!(e.code, Code::IncompleteSignature);
    let sm3 = RawRequest::from_parts(
        "POST",
        None,
        [("authorization", b"ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00".as_slice())],
        vec![],
    )
    .unwrap();
    assert_eq!(verify_mac_only(&sm3, "s").unwrap_err().code, Code::IncompleteSignature);
}

/// The verifier asks the cache to keep a nonce until a replay could no longer pass the clock:
/// a replay at exactly `timestamp + 15 min` passes the clock, so the nonce lives one second more.
#[test]
fn nonces_are_kept_past_the_last_second_a_replay_could_pass() {
    struct Recorder(RefCell<Option<OffsetDateTime>>);
    impl NonceCache for Recorder {
        fn first_use(&self, _: &str, _: &str, _: OffsetDateTime, forget_after: OffsetDateTime) -> bool {
            *self.0.borrow_mut() = Some(forget_after);
            true
        }
    }
    let cache = Recorder(RefCell::new(None));
    let keys = OneKey("testid", "testsecret");
    let at_the_edge = datetime!(2024-01-01 00:15:00 UTC);
    verify(&v1_request("POST", &example2()), &keys, &cache, at_the_edge).unwrap();
    assert_eq!(*cache.0.borrow(), Some(datetime!(2024-01-01 00:15:01 UTC)));
}
