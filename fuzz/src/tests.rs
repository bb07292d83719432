//! The harness's own checks: valid requests verify, tampered ones do not, seeds verify.

//! The harness must reach the paths it asserts on: `cargo test` in fuzz/.
use super::*;

fn v1(signature: SigChoice, encoding: Encoding, in_body: u64) -> V1Input {
    V1Input {
        post: true,
        encoding,
        access_key_id: None,
        signature_method: None,
        signature_version: None,
        timestamp: Timestamp::Valid {
            year: 56,
            month: 10,
            day: 27,
            hour: 13,
            minute: 44,
            second: 30,
            fraction: Some(5),
            offset_minutes: Some(480),
            negative_offset: false,
        },
        nonce: None,
        params: vec![
            (ParamName::Action, "Encrypt".into()),
            (ParamName::EncryptionContext, r#"{"k":"a*b~c+d/e ü"}"#.into()),
            (ParamName::Other(String::new()), " &=+%#".into()),
        ],
        in_body,
        order: 0x9e37_79b9_7f4a_7c15,
        odd_content_type: in_body != 0,
        signature,
        junk_query: None,
    }
}

fn capture(raw: &RawRequest) -> Result<Scheme, kms_wire::ApiError> {
    verify_mac_only(raw, SECRET)
}

#[test]
fn v1_valid_verifies_and_tampered_fails() {
    let tampers = [Tamper::ParamValue(3), Tamper::DropParam(1), Tamper::AddParam, Tamper::Method, Tamper::Secret];
    for e in [Encoding::Form, Encoding::Rfc3986, Encoding::LowerHex, Encoding::OverEncoded, Encoding::Lenient] {
        for in_body in [0, 0b1010_1010, u64::MAX] {
            // run_v1 panics if the outcome is not the expected one.
            run_v1(&v1(SigChoice::Valid, e, in_body));
            for t in tampers {
                run_v1(&v1(SigChoice::Tampered(t), e, in_body));
            }
            run_v1(&v1(SigChoice::Garbage, e, in_body));
        }
    }
}

fn acs(signature: SigChoice, order: u8, sorted: bool) -> AcsInput {
    AcsInput {
        post: true,
        encoding: Encoding::Form,
        access_key_id: None,
        query: vec![("KeyId".into(), "alias/x".into()), ("EncryptionContext".into(), r#"{"k":"a*b~c+d/e ü"}"#.into())],
        host: None,
        action: None,
        version: None,
        date: Timestamp::Valid {
            year: 56,
            month: 10,
            day: 27,
            hour: 23,
            minute: 44,
            second: 30,
            fraction: None,
            offset_minutes: None,
            negative_offset: false,
        },
        nonce: None,
        body: b"Plaintext=aGk%3D".to_vec(),
        form_content_type: true,
        content_hash: None,
        extra_headers: vec![
            (HeaderName::Accept, "application/json".into(), true),
            (HeaderName::UserAgent, " padded ".into(), false),
            (HeaderName::XAcs("credentials-provider".into()), "ak".into(), true),
        ],
        unsigned_required: None,
        order: 7,
        layout: AuthLayout {
            order,
            space_after_comma: order.is_multiple_of(2),
            spaces_around_equals: order.is_multiple_of(3),
            upper_signed_names: order % 2 == 1,
            sorted,
            capitalised_names: sorted,
        },
        scope: Acs4Scope { region: None, product: None, date: None },
        signature,
    }
}

#[test]
fn acs_valid_verifies_and_tampered_fails() {
    let tampers = [
        Tamper::ParamValue(1),
        Tamper::DropParam(0),
        Tamper::AddParam,
        Tamper::Method,
        Tamper::Secret,
        Tamper::HeaderValue(0),
        Tamper::HeaderValue(3),
        Tamper::Body,
    ];
    for acs4 in [false, true] {
        for order in 0..6 {
            for sorted in [false, true] {
                run_acs(&acs(SigChoice::Valid, order, sorted), acs4);
                run_acs(&acs(SigChoice::Garbage, order, sorted), acs4);
                for t in tampers {
                    run_acs(&acs(SigChoice::Tampered(t), order, sorted), acs4);
                }
            }
        }
    }
}

#[test]
fn shaped_blobs_check() {
    for upper in [0, 1 << 1, u32::MAX] {
        for len in [0, 15, 16, 100] {
            for cut in [None, Some(0), Some(47), Some(64)] {
                check_shaped_blob(&ShapedBlob {
                    id: 0xABCD_EF01_2345_6789_ABCD_EF01_2345_6789,
                    upper,
                    iv: [7; IV_LEN],
                    rest: vec![1; len],
                    cut,
                });
            }
        }
    }
}

/// The seeds run.sh writes verify with the vectors' secret, so the raw text format
/// carries a request faithfully.
#[test]
fn raw_text_seeds_verify() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
    let mut verified = 0;
    for t in ["verify_v1", "verify_acs3", "verify_acs4"] {
        let Ok(entries) = std::fs::read_dir(format!("{dir}/{t}")) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with("seed-") {
                continue;
            }
            let data = std::fs::read(e.path()).unwrap();
            let (post, query, headers, body) = parse_raw_text(&data).unwrap();
            let q = String::from_utf8_lossy(&query);
            let hs = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
            let raw = RawRequest::from_parts(method(post), Some(&q), hs, body).unwrap();
            assert!(verify_mac_only(&raw, CAPTURE_SECRET).is_ok(), "{}", e.path().display());
            assert!(capture(&raw).is_err());
            verified += 1;
        }
    }
    eprintln!("{verified} raw seeds verified");
}

/// Share of the fuzzer's own corpus that reaches the two asserted outcomes; a harness
/// change that makes them unreachable shows here (run after run.sh).
#[test]
fn corpus_reaches_the_assertions() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
    for t in ["verify_v1", "verify_acs3", "verify_acs4"] {
        let Ok(entries) = std::fs::read_dir(format!("{dir}/{t}")) else {
            continue;
        };
        let (mut total, mut accepted, mut refused) = (0, 0, 0);
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).unwrap();
            if data.starts_with(b"RAW ") {
                continue;
            }
            let u = Unstructured::new(&data);
            let (a, r) = if t == "verify_v1" {
                match V1Input::arbitrary_take_rest(u) {
                    Ok(i) => run_v1(&i),
                    Err(_) => continue,
                }
            } else {
                match AcsInput::arbitrary_take_rest(u) {
                    Ok(i) => run_acs(&i, t == "verify_acs4"),
                    Err(_) => continue,
                }
            };
            total += 1;
            accepted += usize::from(a);
            refused += usize::from(r);
        }
        eprintln!("{t}: {total} structured inputs, {accepted} must-accept, {refused} must-refuse");
    }
}

/// The instance target's properties hold for a correct request, an unsigned one, each kind
/// of tampering, and a skewed clock.
#[test]
fn instance_requests_check() {
    let base = InstanceInput {
        operation: 0,
        body: vec![0x0a, 0x03, b'k', b'e', b'y'],
        skew: 0,
        sign: true,
        tamper: 0,
        upper: false,
        extra: vec![("user-agent".into(), "fuzz".into())],
    };
    check_instance_request(&base);
    for tamper in 1..4 {
        check_instance_request(&InstanceInput { tamper, ..clone_input(&base) });
    }
    check_instance_request(&InstanceInput { sign: false, upper: true, ..clone_input(&base) });
    check_instance_request(&InstanceInput { skew: 901, ..clone_input(&base) });
}

fn clone_input(i: &InstanceInput) -> InstanceInput {
    InstanceInput {
        operation: i.operation,
        body: i.body.clone(),
        skew: i.skew,
        sign: i.sign,
        tamper: i.tamper,
        upper: i.upper,
        extra: i.extra.clone(),
    }
}
