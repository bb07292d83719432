//! Request authentication: V1 (HMAC-SHA1 in the parameters), ACS3-HMAC-SHA256 and
//! ACS4-HMAC-SHA256 (in the `Authorization` header), spec §3.
//!
//! [`verify`] is the only way to obtain a [`Verified`], so code holding one knows the request
//! was signed by the named access key, is fresh and is not a replay. Order of checks: shape,
//! timestamp format, access key, MAC, then the clock window and the nonce; the nonce is
//! recorded only for requests whose MAC verified, so unauthenticated traffic cannot burn
//! nonces. MACs are compared by the HMAC library's constant-time `verify`.
//!
//! Nothing here logs: a string-to-sign contains parameter values.

mod acs;
pub mod canonical;
mod v1;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::error::{ApiError, Code};
use crate::raw::RawRequest;

/// How far a request's timestamp may be from the server clock (spec §3.5).
pub const TIMESTAMP_WINDOW: time::Duration = time::Duration::minutes(15);

/// Which scheme signed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    V1,
    Acs3,
    Acs4,
}

/// Why an access key id could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    NotFound,
    Inactive,
    /// The request's security token is past its expiry.
    TokenExpired,
    /// The security token does not open.
    TokenMalformed,
    /// The security token is another temporary key's.
    TokenMismatch,
}

/// What a credential lookup found: the secret to check the MAC with, and the stored access key
/// the request acts as — the key itself, or for a temporary key the one it was issued from.
pub struct Credential {
    pub secret: Zeroizing<String>,
    pub acting_as: String,
}

/// Where the verifier finds the secret of an access key: a stored one, or a temporary one
/// whose security token (`SecurityToken` / `x-acs-security-token`) came with the request.
pub trait CredentialLookup {
    fn secret(&self, access_key_id: &str, security_token: Option<&str>) -> Result<Credential, LookupError>;
}

/// Remembers nonces while a replay could still pass the clock check. Returns `false` when
/// `(key, nonce)` was seen. `forget_after` is the request's timestamp plus the window: after
/// it, a replay fails the timestamp check anyway, so the nonce need not be kept. An error
/// means the nonce could not be remembered (durably): the request is refused with it.
pub trait NonceCache {
    fn first_use(
        &self,
        access_key_id: &str,
        nonce: &str,
        now: OffsetDateTime,
        forget_after: OffsetDateTime,
    ) -> Result<bool, ApiError>;
}

/// Proof that a request was authenticated. Only [`verify`] constructs it.
#[derive(Debug, Clone)]
pub struct Verified {
    access_key_id: String,
    acting_as: String,
    scheme: Scheme,
    action: Option<String>,
    version: Option<String>,
    nonce: String,
    forget_after: OffsetDateTime,
}

impl Verified {
    /// The nonce and until when a replay of this request could still pass the clock: what a
    /// replay guard shared by several nodes must remember (the local [`NonceCache`] already
    /// did, for this process).
    pub fn replay_key(&self) -> (&str, OffsetDateTime) {
        (&self.nonce, self.forget_after)
    }
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }
    /// The stored access key whose rights the request has: the signing key, or the one a
    /// temporary key was issued from.
    pub fn acting_as(&self) -> &str {
        &self.acting_as
    }
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }
    /// `Action` (V1) or `x-acs-action` (ACS3/ACS4); pop-core capitalises the parameter but
    /// not the header, so each scheme reads its own.
    pub fn action(&self) -> Option<&str> {
        self.action.as_deref()
    }
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
}

/// What a request claims before it is checked.
pub(crate) struct Claim {
    pub scheme: Scheme,
    pub access_key_id: String,
    pub timestamp: String,
    pub nonce: String,
    pub proof: Proof,
}

pub(crate) enum Proof {
    V1 { signature: String },
    Acs(acs::AcsAuthorization),
}

fn claim(raw: &RawRequest) -> Result<Claim, ApiError> {
    match raw.header("authorization") {
        Some(auth) if auth.starts_with("ACS3-") || auth.starts_with("ACS4-") => acs::claim(raw, &auth),
        _ => v1::claim(raw),
    }
}

fn check_mac(raw: &RawRequest, claim: &Claim, secret: &str) -> Result<(), ApiError> {
    match &claim.proof {
        Proof::V1 { signature } => v1::check(raw, signature, secret),
        Proof::Acs(auth) => acs::check(raw, auth, secret),
    }
}

/// Accepts `YYYY-MM-DDThh:mm:ssZ`, leniently with fractional seconds or an offset.
fn parse_timestamp(s: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| Code::InvalidTimeStampFormat.into())
}

/// Authenticates a request (spec §3) addressed to the endpoint of `region` (the region an
/// ACS4 credential scope must name).
pub fn verify(
    raw: &RawRequest,
    credentials: &dyn CredentialLookup,
    nonces: &dyn NonceCache,
    now: OffsetDateTime,
    region: &str,
) -> Result<Verified, ApiError> {
    let claim = claim(raw)?;
    if let Proof::Acs(auth) = &claim.proof {
        acs::check_region(auth, region)?;
    }
    let timestamp = parse_timestamp(&claim.timestamp)?;
    let security_token = match claim.scheme {
        Scheme::V1 => raw.param("SecurityToken").map(str::to_owned),
        Scheme::Acs3 | Scheme::Acs4 => raw.header("x-acs-security-token"),
    }
    .filter(|t| !t.is_empty());
    let credential = credentials.secret(&claim.access_key_id, security_token.as_deref()).map_err(|e| match e {
        LookupError::NotFound => ApiError::new(Code::InvalidAccessKeyIdNotFound),
        LookupError::Inactive => ApiError::new(Code::InvalidAccessKeyIdInactive),
        LookupError::TokenExpired => ApiError::new(Code::InvalidSecurityTokenExpired),
        LookupError::TokenMalformed => ApiError::new(Code::InvalidSecurityTokenMalformed),
        LookupError::TokenMismatch => ApiError::new(Code::InvalidSecurityTokenMismatch),
    })?;
    check_mac(raw, &claim, &credential.secret)?;
    if (timestamp - now).abs() > TIMESTAMP_WINDOW {
        return Err(Code::InvalidTimeStampExpired.into());
    }
    // One second past the window: a replay at exactly `timestamp + window` still passes the clock.
    let forget_after = timestamp + TIMESTAMP_WINDOW + time::Duration::seconds(1);
    if !nonces.first_use(&claim.access_key_id, &claim.nonce, now, forget_after)? {
        return Err(Code::SignatureNonceUsed.into());
    }
    let (action, version) = match claim.scheme {
        Scheme::V1 => (raw.param("Action").map(str::to_owned), raw.param("Version").map(str::to_owned)),
        Scheme::Acs3 | Scheme::Acs4 => (raw.header("x-acs-action"), raw.header("x-acs-version")),
    };
    Ok(Verified {
        access_key_id: claim.access_key_id,
        acting_as: credential.acting_as,
        scheme: claim.scheme,
        action,
        version,
        nonce: claim.nonce,
        forget_after,
    })
}

/// Checks only the MAC of a request with a known secret: no clock, no nonce, no key store,
/// and no region (any ACS4 scope region is taken). For the recorded SDK vectors, whose
/// timestamps are from the day they were captured.
pub fn verify_mac_only(raw: &RawRequest, secret: &str) -> Result<Scheme, ApiError> {
    let claim = claim(raw)?;
    parse_timestamp(&claim.timestamp)?;
    check_mac(raw, &claim, secret)?;
    Ok(claim.scheme)
}

/// Builds V1 and ACS3 signatures the way the SDKs do, for tests and the load tool. Lives
/// beside the verifier so both share one canonicalisation; the recorded SDK vectors keep that
/// canonicalisation honest.
pub mod sign {
    pub use super::acs::{acs3_authorization, sha256_hex};
    pub use super::v1::v1_signature;
}

/// The protocol parameters a V1 request may carry at most once (a second copy is refused).
pub use v1::SINGLE as V1_SINGLE;

#[cfg(test)]
mod tests;
