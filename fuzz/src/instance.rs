//! The `instance_request` target: the KMS instance API's request checks and ClientKey
//! signature (`kms_wire::instance::signature`) and its protobuf messages.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rsa::KeyPair;
use aws_lc_rs::signature::RSA_PKCS1_SHA256;
use kms_wire::instance::{Operation, pb, signature};
use prost::Message as _;

/// A request as an instance SDK builds it, with the knobs a forger would turn.
#[derive(Arbitrary, Debug)]
pub struct InstanceInput {
    pub operation: u8,
    pub body: Vec<u8>,
    /// Seconds between the request's date and the server's clock.
    pub skew: i16,
    pub sign: bool,
    /// After signing: 0 nothing, 1 change the body, 2 change a signed header, 3 change the date.
    pub tamper: u8,
    /// Header names in upper case (HTTP names are case-insensitive).
    pub upper: bool,
    pub extra: Vec<(String, String)>,
}

struct Signer {
    key: KeyPair,
    certificate_pem: String,
}

fn signer() -> &'static Signer {
    static SIGNER: OnceLock<Signer> = OnceLock::new();
    SIGNER.get_or_init(|| {
        let key = KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
        let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> = aws_lc_rs::encoding::AsDer::as_der(&key).expect("PKCS#8");
        let cert_key = rcgen::KeyPair::try_from(der.as_ref()).expect("rcgen key");
        let certificate_pem = rcgen::CertificateParams::new(vec!["fuzz".to_owned()])
            .expect("params")
            .self_signed(&cert_key)
            .expect("cert")
            .pem();
        Signer { key, certificate_pem }
    })
}

const DATE: &str = "Thu, 03 Dec 2026 08:30:36 GMT";

/// Never panics; a correctly signed, untampered request within the clock window passes both
/// steps; a signed request changed afterwards never does.
pub fn check_instance_request(input: &InstanceInput) {
    let ops = Operation::ALL;
    let op = ops[usize::from(input.operation) % ops.len()];
    let now = signature::parse_date(DATE).expect("date") + time::Duration::seconds(i64::from(input.skew));
    let name = |n: &str| if input.upper { n.to_ascii_uppercase() } else { n.to_owned() };
    let mut headers: Vec<(String, Vec<u8>)> = vec![
        (name("date"), DATE.into()),
        (name("x-kms-apiversion"), "dkms-gcs-0.2".into()),
        (name("x-kms-apiname"), op.as_str().into()),
        (name("x-kms-signaturemethod"), "RSA_PKCS1_SHA_256".into()),
        (name("x-kms-acccesskeyid"), "KAAP.00000000-0000-0000-0000-000000000000".into()),
        (name("content-type"), "application/x-protobuf".into()),
        (name("content-sha256"), hex::encode_upper(digest(&SHA256, &input.body)).into_bytes()),
    ];
    for (k, v) in input.extra.iter().take(4) {
        if !k.to_ascii_lowercase().starts_with("x-kms-") {
            headers.push((k.clone(), v.clone().into_bytes()));
        }
    }
    let sts = signature::string_to_sign(&headers);
    let s = signer();
    let mut sig = vec![0u8; s.key.public_modulus_len()];
    s.key.sign(&RSA_PKCS1_SHA256, &aws_lc_rs::rand::SystemRandom::new(), sts.as_bytes(), &mut sig).expect("sign");
    if !input.sign {
        sig.iter_mut().for_each(|b| *b = b.wrapping_add(1));
    }
    headers.push(("authorization".into(), format!("Bearer {}", kms_wire::params::encode_base64(&sig)).into_bytes()));
    let mut body = input.body.clone();
    match input.tamper % 4 {
        1 => body.push(0),
        2 => headers
            .iter_mut()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-kms-acccesskeyid"))
            .for_each(|(_, v)| v.push(b'x')),
        3 => headers
            .iter_mut()
            .filter(|(k, _)| k.eq_ignore_ascii_case("date"))
            .for_each(|(_, v)| *v = b"Thu, 03 Dec 2026 08:30:37 GMT".to_vec()),
        _ => {}
    }
    let verdict = signature::check(&headers, &body, now)
        .map(|c| signature::verify(&s.certificate_pem, &c.string_to_sign, &c.signature));
    let in_window = i64::from(input.skew).abs() <= 15 * 60;
    if input.sign && input.tamper % 4 == 0 && in_window {
        assert_eq!(verdict, Ok(true), "a correct request was refused");
    }
    if input.tamper % 4 != 0 {
        assert_ne!(verdict, Ok(true), "a tampered request verified");
    }
    // The body as every message the operations decode: never a panic.
    let _ = pb::EncryptRequest::decode(body.as_slice());
    let _ = pb::DecryptRequest::decode(body.as_slice());
    let _ = pb::AdvanceDecryptRequest::decode(body.as_slice());
    let _ = pb::GenerateDataKeyPairRequest::decode(body.as_slice());
    let _ = pb::SignRequest::decode(body.as_slice());
    let _ = pb::GetSecretValueRequest::decode(body.as_slice());
}
