//! Signing at the load tool's speed: every request is still unique and freshly signed, but the
//! work per request is one nonce written into a prepared template and one MAC (V1) or one hash
//! and one MAC (ACS3) — not the parse, sort and percent-encode an SDK does.
//!
//! The template is the request the test kit builds (the same shape as the official SDKs') with a
//! sentinel nonce; the bytes that sign are that request's V1 string-to-sign or ACS3 canonical
//! request, computed once by kmsd's own canonicalisation. At set-up the fast path signs the
//! sentinel and must reproduce the kit's signature exactly, so a template that drifted from
//! what kmsd verifies fails before any load is sent. The timestamp is the template's: a run
//! must end within kmsd's 15-minute clock window of its start (every bench/run point does).

use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::{digest, hmac};
use base64::Engine as _;
use kms_testkit::{Call, Client};
use kms_wire::signature::canonical::{acs_canonical_request, v1_string_to_sign};

use crate::target::Signature;

/// The placeholder nonce; 32 characters, like the hex nonce written over it.
const SENTINEL: &str = "NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN";

/// A signed request, re-signable with a new nonce at the cost of a MAC.
pub struct Presigned {
    form: Form,
    key: hmac::Key,
    /// V1: the string to sign; ACS3: the canonical request. Holds the sentinel at `signed_nonce`.
    signed: Vec<u8>,
    signed_nonce: usize,
    /// Nonces are this per-process random prefix and a counter, so no two requests of any run
    /// against the same kmsd share one.
    prefix: u64,
    counter: AtomicU64,
}

enum Form {
    /// V1 form: request line and headers up to (not including) `content-length`, then the body
    /// without its signature's value (it ends in `&Signature=`), sentinel at `body_nonce`.
    V1 { head: Vec<u8>, body: Vec<u8>, body_nonce: usize },
    /// ACS3: the whole request (its length never changes), the nonce header's value at
    /// `nonce_at`, the signature's 64 hex digits at `signature_at`.
    Acs3 { request: Vec<u8>, nonce_at: usize, signature_at: usize },
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Presigned {
    /// The template for `call` (form-encoded, as the SDKs send it), checked against the kit's
    /// own signature. `extra` headers (the ceiling's reply size) ride along unsigned.
    pub fn new(
        client: &Client,
        mut call: Call,
        signature: Signature,
        extra: &[(String, String)],
    ) -> Result<Self, String> {
        call.nonce = SENTINEL.to_owned();
        call = call.placed(kms_testkit::Placement::Form);
        if signature == Signature::Acs3 {
            call = call.acs3();
        }
        let (method, target, mut headers, body) = client.build(call);
        let mut prefix = [0u8; 8];
        aws_lc_rs::rand::fill(&mut prefix).map_err(|_| "no randomness")?;
        let prefix = u64::from_le_bytes(prefix);
        let mut head = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
        match signature {
            Signature::V1 => {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
                let want =
                    pairs.iter().find(|(k, _)| k == "Signature").map(|(_, v)| v.clone()).ok_or("no Signature")?;
                let unsigned = pairs.iter().filter(|(k, _)| k != "Signature").map(|(k, v)| (k.as_str(), v.as_str()));
                let signed = v1_string_to_sign(method, unsigned).into_bytes();
                let cut = find(&body, b"&Signature=").ok_or("the signature is not the last parameter")?;
                let body = body[..cut + b"&Signature=".len()].to_vec();
                headers.extend_from_slice(extra);
                for (k, v) in &headers {
                    head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                let secret = format!("{}&", client.secret);
                let me = Self {
                    key: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret.as_bytes()),
                    signed_nonce: find(&signed, SENTINEL.as_bytes()).ok_or("nonce not in the string to sign")?,
                    signed,
                    form: Form::V1 {
                        body_nonce: find(&body, SENTINEL.as_bytes()).ok_or("nonce not in the body")?,
                        head,
                        body,
                    },
                    prefix,
                    counter: AtomicU64::new(0),
                };
                let got = base64::engine::general_purpose::STANDARD.encode(me.mac(SENTINEL.as_bytes()));
                if got != want {
                    return Err(format!("presigned V1 template signs {got}, the kit {want}"));
                }
                Ok(me)
            }
            Signature::Acs3 => {
                let auth = headers.pop().filter(|(k, _)| k == "authorization").ok_or("no authorization header")?;
                let hash = headers
                    .iter()
                    .find(|(k, _)| k == "x-acs-content-sha256")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                let query: Vec<(String, String)> = match target.split_once('?') {
                    Some((_, q)) => form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
                    None => vec![],
                };
                let canonical = acs_canonical_request(
                    method,
                    query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    &headers.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>(),
                    &hash,
                )
                .into_bytes();
                let want = auth.1.rsplit_once("Signature=").map(|(_, s)| s.to_owned()).ok_or("no Signature=")?;
                headers.push(auth);
                headers.extend_from_slice(extra);
                for (k, v) in &headers {
                    head.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
                }
                head.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
                head.extend_from_slice(&body);
                let signature_at = find(&head, want.as_bytes()).ok_or("signature not in the request")?;
                let me = Self {
                    key: hmac::Key::new(hmac::HMAC_SHA256, client.secret.as_bytes()),
                    signed_nonce: find(&canonical, SENTINEL.as_bytes()).ok_or("nonce not in the canonical request")?,
                    signed: canonical,
                    form: Form::Acs3 {
                        nonce_at: find(&head, SENTINEL.as_bytes()).ok_or("nonce not in the request")?,
                        request: head,
                        signature_at,
                    },
                    prefix,
                    counter: AtomicU64::new(0),
                };
                let got = hex::encode(me.mac(SENTINEL.as_bytes()));
                if got != want {
                    return Err(format!("presigned ACS3 template signs {got}, the kit {want}"));
                }
                Ok(me)
            }
        }
    }

    /// The MAC over the signed bytes with `nonce` in the sentinel's place.
    fn mac(&self, nonce: &[u8]) -> hmac::Tag {
        let mut signed = self.signed.clone();
        signed[self.signed_nonce..self.signed_nonce + nonce.len()].copy_from_slice(nonce);
        match self.form {
            Form::V1 { .. } => hmac::sign(&self.key, &signed),
            Form::Acs3 { .. } => {
                let hash = hex::encode(digest::digest(&digest::SHA256, &signed));
                hmac::sign(&self.key, format!("ACS3-HMAC-SHA256\n{hash}").as_bytes())
            }
        }
    }

    /// The next request, with a nonce no earlier request had, into `out`.
    pub fn next_into(&self, out: &mut Vec<u8>) {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let nonce = format!("{:016x}{n:016x}", self.prefix);
        let tag = self.mac(nonce.as_bytes());
        out.clear();
        match &self.form {
            Form::V1 { head, body, body_nonce } => {
                let sig = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
                let sig: String = form_urlencoded::byte_serialize(sig.as_bytes()).collect();
                out.extend_from_slice(head);
                out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len() + sig.len()).as_bytes());
                let at = out.len() + body_nonce;
                out.extend_from_slice(body);
                out[at..at + nonce.len()].copy_from_slice(nonce.as_bytes());
                out.extend_from_slice(sig.as_bytes());
            }
            Form::Acs3 { request, nonce_at, signature_at } => {
                out.extend_from_slice(request);
                out[*nonce_at..nonce_at + nonce.len()].copy_from_slice(nonce.as_bytes());
                let sig = hex::encode(tag.as_ref());
                out[*signature_at..signature_at + sig.len()].copy_from_slice(sig.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        Client { addr: "127.0.0.1:1".into(), access_key_id: "LTAIbench".into(), secret: "s3cret".into() }
    }

    /// Each request is verified by kmsd's own verifier's canonicalisation: re-deriving the
    /// signature from the bytes sent, for both schemes, and no two nonces repeat.
    #[test]
    fn every_request_is_signed_afresh_and_verifies() {
        for scheme in [Signature::V1, Signature::Acs3] {
            let call = Call::new("Encrypt", &[("KeyId", "k"), ("Plaintext", "aGVsbG8=")]);
            let p = Presigned::new(&client(), call, scheme, &[]).unwrap();
            let (mut a, mut b) = (Vec::new(), Vec::new());
            p.next_into(&mut a);
            p.next_into(&mut b);
            assert_ne!(a, b);
            for req in [&a, &b] {
                let text = String::from_utf8(req.clone()).unwrap();
                assert!(!text.contains(SENTINEL), "{text}");
                let mut headers = [httparse::EMPTY_HEADER; 32];
                let mut parsed = httparse::Request::new(&mut headers);
                let head_len = match parsed.parse(req).unwrap() {
                    httparse::Status::Complete(n) => n,
                    httparse::Status::Partial => panic!("partial"),
                };
                let body = &req[head_len..];
                let len: usize = parsed
                    .headers
                    .iter()
                    .find(|h| h.name == "content-length")
                    .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                    .unwrap();
                assert_eq!(len, body.len());
                if scheme == Signature::V1 {
                    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
                    let sig = pairs.iter().find(|(k, _)| k == "Signature").unwrap().1.clone();
                    let rest: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| k != "Signature").collect();
                    assert_eq!(sig, kms_wire::signature::sign::v1_signature("POST", &rest, "s3cret"));
                } else {
                    let mut signed: Vec<(String, String)> = parsed
                        .headers
                        .iter()
                        .filter(|h| h.name != "authorization" && h.name != "content-length")
                        .map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
                        .collect();
                    signed.sort();
                    let auth = parsed.headers.iter().find(|h| h.name == "authorization").unwrap();
                    let want =
                        kms_wire::signature::sign::acs3_authorization("POST", &[], &signed, "LTAIbench", "s3cret");
                    assert_eq!(std::str::from_utf8(auth.value).unwrap(), want);
                }
            }
        }
    }
}
