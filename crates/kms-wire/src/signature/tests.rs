//! Worked examples of spec §3 and the verifier's refusal paths.

use std::cell::RefCell;
use std::collections::HashSet;

use time::macros::datetime;
use zeroize::Zeroizing;

use super::*;
use crate::error::Code;

/// The region the verifier is told it serves.
const REGION: &str = "cn-hangzhou";

struct OneKey(&'static str, &'static str);
impl CredentialLookup for OneKey {
    fn secret(&self, id: &str, _token: Option<&str>) -> Result<Credential, LookupError> {
        if id == self.0 {
            Ok(Credential { secret: Zeroizing::new(self.1.to_owned()), acting_as: id.to_owned() })
        } else {
            Err(LookupError::NotFound)
        }
    }
}

#[derive(Default)]
struct Seen(RefCell<HashSet<String>>);
impl NonceCache for Seen {
    fn first_use(
        &self,
        id: &str,
        nonce: &str,
        _now: OffsetDateTime,
        _forget_after: OffsetDateTime,
    ) -> Result<bool, ApiError> {
        Ok(self.0.borrow_mut().insert(format!("{id}\0{nonce}")))
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
    let ok = verify(&raw, &keys, &nonces, now, REGION).unwrap();
    assert_eq!(ok.access_key_id(), "testid");
    assert_eq!(ok.action(), Some("Encrypt"));
    assert_eq!(ok.version(), Some("2016-01-20"));
    // The same request again is a replay.
    assert_eq!(verify(&raw, &keys, &nonces, now, REGION).unwrap_err().code, Code::SignatureNonceUsed);
    // Fifteen minutes and one second later it is stale.
    let late = datetime!(2024-01-01 00:15:01 UTC);
    assert_eq!(verify(&raw, &keys, &Seen::default(), late, REGION).unwrap_err().code, Code::InvalidTimeStampExpired);
    let early = datetime!(2023-12-31 23:44:59 UTC);
    assert_eq!(verify(&raw, &keys, &Seen::default(), early, REGION).unwrap_err().code, Code::InvalidTimeStampExpired);
    // An unknown key is refused before the MAC is looked at.
    let other = OneKey("someone", "testsecret");
    assert_eq!(verify(&raw, &other, &Seen::default(), now, REGION).unwrap_err().code, Code::InvalidAccessKeyIdNotFound);
}

#[test]
fn a_bad_mac_does_not_consume_the_nonce() {
    let keys = OneKey("testid", "testsecret");
    let nonces = Seen::default();
    let now = datetime!(2024-01-01 00:00:00 UTC);
    let mut forged = example2();
    forged.last_mut().unwrap().1 = "AAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let e = verify(&v1_request("POST", &forged), &keys, &nonces, now, REGION).unwrap_err();
    assert_eq!(e.code, Code::SignatureDoesNotMatch);
    assert!(verify(&v1_request("POST", &example2()), &keys, &nonces, now, REGION).is_ok());
}

#[test]
fn v1_shape_errors_name_the_missing_parameter() {
    let keys = OneKey("testid", "testsecret");
    let now = datetime!(2024-01-01 00:00:00 UTC);
    for missing in ["AccessKeyId", "Signature", "Timestamp", "SignatureNonce", "SignatureMethod"] {
        let pairs: Vec<_> = example2().into_iter().filter(|(k, _)| *k != missing).collect();
        let e = verify(&v1_request("POST", &pairs), &keys, &Seen::default(), now, REGION).unwrap_err();
        assert_eq!(e.code, Code::MissingParameter, "{missing}");
        assert!(e.message.contains(missing));
    }
    let mut bad_ts = example2();
    bad_ts[7].1 = "yesterday";
    let e = verify(&v1_request("POST", &bad_ts), &keys, &Seen::default(), now, REGION).unwrap_err();
    assert_eq!(e.code, Code::InvalidTimeStampFormat);
    let mut sha256 = example2();
    sha256[4].1 = "HMAC-SHA256";
    let e = verify(&v1_request("POST", &sha256), &keys, &Seen::default(), now, REGION).unwrap_err();
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
        fn first_use(
            &self,
            _: &str,
            _: &str,
            _: OffsetDateTime,
            forget_after: OffsetDateTime,
        ) -> Result<bool, ApiError> {
            *self.0.borrow_mut() = Some(forget_after);
            Ok(true)
        }
    }
    let cache = Recorder(RefCell::new(None));
    let keys = OneKey("testid", "testsecret");
    let at_the_edge = datetime!(2024-01-01 00:15:00 UTC);
    verify(&v1_request("POST", &example2()), &keys, &cache, at_the_edge, REGION).unwrap();
    assert_eq!(*cache.0.borrow(), Some(datetime!(2024-01-01 00:15:01 UTC)));
}

/// Example 2 with `extra` pairs added to the query (`in_form == false`) or sent in a form body.
fn v1_with(extra: &[(&str, &str)], in_form: bool) -> RawRequest {
    let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(example2()).finish();
    let extra: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(extra).finish();
    if in_form {
        let form = [("content-type", b"application/x-www-form-urlencoded".as_slice())];
        RawRequest::from_parts("POST", Some(&query), form, extra.into_bytes()).unwrap()
    } else {
        RawRequest::from_parts("POST", Some(&format!("{query}&{extra}")), [], vec![]).unwrap()
    }
}

/// A second copy of a protocol parameter, in the query or in the form body, is refused by
/// name before anything else is looked at: the request does not verify as whichever copy
/// came first.
#[test]
fn v1_repeated_protocol_parameters_are_refused_by_name() {
    let keys = OneKey("testid", "testsecret");
    let now = datetime!(2024-01-01 00:00:00 UTC);
    for name in v1::SINGLE {
        // The value example 2 already carries (or any, for SecurityToken): a copy that agrees
        // is refused as well, so the rule does not depend on values.
        let value = example2().iter().find(|(k, _)| k == name).map(|(_, v)| *v).unwrap_or("token");
        for in_form in [false, true] {
            let mut extra = vec![(*name, value)];
            if *name == "SecurityToken" {
                extra.push((*name, value));
            }
            let raw = v1_with(&extra, in_form);
            for e in [
                verify_mac_only(&raw, "testsecret").unwrap_err(),
                verify(&raw, &keys, &Seen::default(), now, REGION).unwrap_err(),
            ] {
                assert_eq!(e.code, Code::InvalidParameter, "{name} in_form={in_form}");
                assert!(e.message.contains(&format!("\"{name}\"")), "{name}: {}", e.message);
            }
        }
    }
    // Other repeated parameters are not the verifier's business (the action's parameters are
    // checked by `Params`): the unsigned copy fails the MAC, as any added parameter does.
    let e = verify_mac_only(&v1_with(&[("RegionId", "cn-hangzhou")], true), "testsecret").unwrap_err();
    assert_eq!(e.code, Code::SignatureDoesNotMatch);
}

proptest::proptest! {
    /// Whatever the value and wherever the copy travels, a protocol parameter given twice
    /// never verifies.
    #[test]
    fn v1_any_second_copy_is_refused(which in 0..v1::SINGLE.len(), value in "\\PC{0,12}", in_form: bool) {
        let name = v1::SINGLE[which];
        let mut extra = vec![(name, value.as_str())];
        if name == "SecurityToken" {
            extra.push((name, "t"));
        }
        let e = verify_mac_only(&v1_with(&extra, in_form), "testsecret").unwrap_err();
        proptest::prop_assert_eq!(e.code, Code::InvalidParameter);
    }
}

/// The ACS4 `Authorization` value for `query` and `signed` headers (lower case, sorted),
/// scoped to `region` and `product`, as the Tea SDK computes it.
fn acs4_authorization(query: &[(&str, &str)], signed: &[(&str, String)], region: &str, product: &str) -> String {
    use aws_lc_rs::hmac;
    let date = signed.iter().find(|(k, _)| *k == "x-acs-date").unwrap().1[..10].replace('-', "");
    let hash = &signed.iter().find(|(k, _)| *k == "x-acs-content-sha256").unwrap().1;
    let canonical = canonical::acs_canonical_request("POST", query.iter().copied(), signed, hash);
    let sts = format!("ACS4-HMAC-SHA256\n{}", sign::sha256_hex(canonical.as_bytes()));
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("aliyun_v4{}", "testsecret").as_bytes());
    for step in [date.as_str(), region, product, "aliyun_v4_request"] {
        key = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&key, step.as_bytes()).as_ref());
    }
    let sig = hex::encode(hmac::sign(&key, sts.as_bytes()));
    let names: Vec<&str> = signed.iter().map(|(k, _)| *k).collect();
    format!(
        "ACS4-HMAC-SHA256 Credential=testid/{date}/{region}/{product}/aliyun_v4_request,SignedHeaders={},Signature={sig}",
        names.join(";")
    )
}

/// A correctly signed ACS4 Encrypt scoped to `region` and `product`, with a fresh `nonce`.
fn acs4_request(region: &str, product: &str, nonce: &str) -> RawRequest {
    let query = [("KeyId", "alias/test"), ("Plaintext", "SGVsbG8=")];
    let signed: Vec<(&str, String)> = vec![
        ("host", "kms.cn-hangzhou.aliyuncs.com".into()),
        ("x-acs-action", "Encrypt".into()),
        ("x-acs-content-sha256", sign::sha256_hex(b"")),
        ("x-acs-date", "2024-01-01T00:00:00Z".into()),
        ("x-acs-signature-nonce", nonce.into()),
        ("x-acs-version", "2016-01-20".into()),
    ];
    let auth = acs4_authorization(&query, &signed, region, product);
    let mut headers: Vec<(&str, Vec<u8>)> = signed.iter().map(|(k, v)| (*k, v.clone().into_bytes())).collect();
    headers.push(("authorization", auth.into_bytes()));
    let q: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(query).finish();
    RawRequest::from_parts("POST", Some(&q), headers.iter().map(|(k, v)| (*k, v.as_slice())), vec![]).unwrap()
}

/// A correct MAC is not enough for ACS4: the scope must name this endpoint's region and the
/// KMS product (the SDKs write `Kms`; any case is the same product).
#[test]
fn acs4_scope_must_name_this_region_and_kms() {
    let keys = OneKey("testid", "testsecret");
    let now = datetime!(2024-01-01 00:00:00 UTC);
    for product in ["Kms", "kms", "KMS"] {
        let raw = acs4_request("cn-hangzhou", product, &format!("n-{product}"));
        assert_eq!(verify(&raw, &keys, &Seen::default(), now, REGION).unwrap().scheme(), Scheme::Acs4);
    }
    // Signed for another region: the MAC verifies, the scope does not.
    let elsewhere = acs4_request("cn-shanghai", "Kms", "n1");
    assert_eq!(verify_mac_only(&elsewhere, "testsecret").unwrap(), Scheme::Acs4);
    let e = verify(&elsewhere, &keys, &Seen::default(), now, REGION).unwrap_err();
    assert_eq!(e.code, Code::IncompleteSignature);
    assert!(e.message.contains("region must be cn-hangzhou"), "{}", e.message);
    // The same request is fine for a server of that region.
    assert!(verify(&elsewhere, &keys, &Seen::default(), now, "cn-shanghai").is_ok());
    // Signed for another product: refused whatever the region.
    let ecs = acs4_request("cn-hangzhou", "Ecs", "n2");
    for e in [
        verify_mac_only(&ecs, "testsecret").unwrap_err(),
        verify(&ecs, &keys, &Seen::default(), now, REGION).unwrap_err(),
    ] {
        assert_eq!(e.code, Code::IncompleteSignature);
        assert!(e.message.contains("product must be Kms"), "{}", e.message);
    }
    // A refused scope does not burn the nonce.
    let nonces = Seen::default();
    assert!(verify(&acs4_request("cn-shanghai", "Kms", "n3"), &keys, &nonces, now, REGION).is_err());
    assert!(verify(&acs4_request("cn-hangzhou", "Kms", "n3"), &keys, &nonces, now, REGION).is_ok());
}

/// An ACS3 request with a form body (as in the worked example, with `body`), signing
/// `content-type` or not; the MAC is right either way.
fn acs3_with_body(sign_content_type: bool, content_type: Option<&str>) -> RawRequest {
    let body = b"Plaintext=SGVsbG8%3D".to_vec();
    let mut signed: Vec<(String, String)> = vec![
        ("host".into(), "kms.cn-hangzhou.aliyuncs.com".into()),
        ("x-acs-action".into(), "Encrypt".into()),
        ("x-acs-content-sha256".into(), sign::sha256_hex(&body)),
        ("x-acs-date".into(), "2024-01-01T00:00:00Z".into()),
        ("x-acs-signature-nonce".into(), "3156853299f313e23d1673dc12e1703d".into()),
        ("x-acs-version".into(), "2016-01-20".into()),
    ];
    let mut unsigned = Vec::new();
    if let Some(ct) = content_type {
        if sign_content_type {
            signed.insert(0, ("content-type".into(), ct.into()));
        } else {
            unsigned.push(("content-type".to_string(), ct.to_string()));
        }
    }
    let query = vec![("KeyId".to_string(), "alias/test".to_string())];
    let auth = sign::acs3_authorization("POST", &query, &signed, "testid", "testsecret");
    let mut headers = signed;
    headers.extend(unsigned);
    headers.push(("authorization".into(), auth));
    RawRequest::from_parts(
        "POST",
        Some("KeyId=alias%2Ftest"),
        headers.iter().map(|(k, v)| (k.as_str(), v.as_bytes())),
        body,
    )
    .unwrap()
}

/// The content type decides whether a body is parameters, so a body's request must sign it.
#[test]
fn acs_body_requires_a_signed_content_type() {
    let form = Some("application/x-www-form-urlencoded");
    let ok = acs3_with_body(true, form);
    assert_eq!(verify_mac_only(&ok, "testsecret").unwrap(), Scheme::Acs3);
    assert_eq!(ok.param("Plaintext"), Some("SGVsbG8="));
    for raw in [acs3_with_body(false, form), acs3_with_body(false, None)] {
        let e = verify_mac_only(&raw, "testsecret").unwrap_err();
        assert_eq!(e.code, Code::IncompleteSignature);
        assert!(e.message.contains("content-type must be signed"), "{}", e.message);
    }
    // Without a body there is nothing for the content type to change.
    let raw = RawRequest::from_parts(
        "POST",
        Some("KeyId=alias%2Ftest&Plaintext=SGVsbG8gd29ybGQ%3D&EncryptionContext=%7B%22k%22%3A%22v%20w%22%7D"),
        [
            ("host", b"kms.cn-hangzhou.aliyuncs.com".as_slice()),
            ("x-acs-action", b"Encrypt"),
            ("x-acs-version", b"2016-01-20"),
            ("x-acs-date", b"2024-01-01T00:00:00Z"),
            ("x-acs-signature-nonce", b"3156853299f313e23d1673dc12e1703d"),
            ("accept", b"application/json"),
            ("content-type", b"text/plain"),
            ("x-acs-content-sha256", b"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("Authorization", b"ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=accept;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature=08a8db1ec3318ef35a85a5f7ca5b1c3ed956800237402b56c007034aa3ec2056"),
        ],
        vec![],
    )
    .unwrap();
    assert_eq!(verify_mac_only(&raw, "testsecret").unwrap(), Scheme::Acs3);
}
