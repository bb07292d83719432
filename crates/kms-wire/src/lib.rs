//! Everything the Alibaba Cloud KMS wire dictates, and nothing else: decoding requests,
//! verifying their signatures, naming actions, typing parameters, rendering answers.
//!
//! # Layout
//! - [`raw`]: HTTP parts → [`raw::RawRequest`] (decoded query and form pairs, headers, body).
//! - [`signature`]: V1, ACS3 and ACS4 verification → [`signature::Verified`].
//! - [`actions`]: the action table ([`for_each_action!`]) and [`actions::Action`].
//! - [`params`]: the action's parameters with typed getters.
//! - [`model`]: request types parsed from parameters, response types for every action.
//! - [`error`]: the code table and [`error::ApiError`].
//! - [`render`]: JSON and XML bodies.
//! - [`instance`]: the KMS instance API (protobuf messages, ClientKey signatures).
//!
//! No tokio, no storage, no key material: this crate is fuzzable in isolation.
#![forbid(unsafe_code)]

pub mod actions;
pub mod error;
pub mod instance;
pub mod model;
pub mod params;
pub mod raw;
pub mod render;
pub mod signature;

pub use actions::Action;
pub use error::{ApiError, Code};

/// Entry points for the fuzz targets. Not a stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::raw::RawRequest;

    /// Decodes arbitrary bytes as a request line query plus form body, then runs every
    /// parser an untrusted request reaches before authentication.
    pub fn decode_request(query: &[u8], body: &[u8]) {
        let q = String::from_utf8_lossy(query);
        if let Ok(raw) = RawRequest::from_parts(
            "POST",
            Some(&q),
            [("content-type", b"application/x-www-form-urlencoded".as_slice())],
            body.to_vec(),
        ) {
            let _ = raw.format();
            if let Ok(mut p) = crate::params::Params::from_pairs(raw.query.iter().chain(&raw.form)) {
                use crate::model::FromParams as _;
                let _ = crate::model::ListKeysRequest::from_params(&mut p.clone());
                let _ = crate::model::EncryptRequest::from_params(&mut p.clone());
                let _ = crate::model::CreateAliasRequest::from_params(&mut p);
            }
        }
    }

    /// Verifies an arbitrary request with a fixed secret; must never panic.
    pub fn verify(method_post: bool, query: &[u8], headers: &[(String, Vec<u8>)], body: &[u8]) {
        let q = String::from_utf8_lossy(query);
        let hs = headers.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        let method = if method_post { "POST" } else { "GET" };
        if let Ok(raw) = RawRequest::from_parts(method, Some(&q), hs, body.to_vec()) {
            let _ = crate::signature::verify_mac_only(&raw, "fuzz-secret");
        }
    }
}
