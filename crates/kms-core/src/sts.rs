//! Temporary credentials (the cloud's STS): an `STS.…` access key id, a secret and a security
//! token, good until an expiry, acting as the access key they were issued from (its principal
//! and policy; refused once that key is disabled or deleted).
//!
//! The token is self-contained — temporary id, parent key, secret and expiry sealed with the
//! root key — so every node accepts it and nothing is stored. Like the cloud's, a temporary
//! key cannot be revoked on its own before it expires: disable its parent to cut it off.

use base64::Engine as _;
use kms_crypto::RootKey as _;
use zeroize::Zeroizing;

use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

const TOKEN_AAD: &[u8] = b"kmsd/security-token/v1";
const TOKEN_FORMAT: u8 = 1;

/// The longest a temporary key may live (the cloud's STS maximum, 12 hours).
pub const MAX_TEMPORARY_SECS: i64 = 12 * 60 * 60;

/// Issued temporary credentials, shown once.
pub struct TemporaryCredentials {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub security_token: String,
    pub expires_at: i64,
}

/// An opened security token.
pub struct TemporaryKey {
    pub access_key_id: String,
    /// The stored access key it acts as.
    pub parent: String,
    pub secret: Zeroizing<String>,
    pub expires_at: i64,
}

/// Why a security token was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
}

fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn take<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let (&len, tail) = rest.split_first()?;
    let (value, tail) = tail.split_at_checked(len as usize)?;
    *rest = tail;
    Some(value)
}

impl Kms {
    /// Temporary credentials acting as the stored access key `parent` for `seconds`
    /// (1 to 12 hours' worth; the clock is real time, as for signatures).
    pub async fn issue_temporary_credentials(&self, parent: &str, seconds: i64) -> CoreResult<TemporaryCredentials> {
        if !(1..=MAX_TEMPORARY_SECS).contains(&seconds) {
            return Err(CoreError::InvalidParameter("duration"));
        }
        let known = self.access_key_records().await?.into_iter().any(|r| r.id == parent);
        if !known {
            return Err(CoreError::Store(kms_store::StoreError::NotFound));
        }
        let (id, secret) = self.generate_access_key()?;
        let access_key_id = format!("STS.{}", &id["LTAI".len()..]);
        let expires_at = time::OffsetDateTime::now_utc().unix_timestamp() + seconds;
        let mut plain = Zeroizing::new(vec![TOKEN_FORMAT]);
        plain.extend_from_slice(&expires_at.to_be_bytes());
        field(&mut plain, access_key_id.as_bytes());
        field(&mut plain, parent.as_bytes());
        field(&mut plain, secret.as_bytes());
        let sealed = self.crypto.root.wrap(TOKEN_AAD, &plain)?;
        Ok(TemporaryCredentials {
            access_key_id,
            secret,
            security_token: base64::engine::general_purpose::STANDARD.encode(sealed),
            expires_at,
        })
    }

    /// Opens a security token (its expiry is the caller's to check).
    pub fn open_security_token(&self, token: &str) -> Result<TemporaryKey, TokenError> {
        let sealed = base64::engine::general_purpose::STANDARD.decode(token).map_err(|_| TokenError::Malformed)?;
        let plain = self.crypto.root.unwrap(TOKEN_AAD, &sealed).map_err(|_| TokenError::Malformed)?;
        let parse = || -> Option<TemporaryKey> {
            let (&format, rest) = plain.split_first()?;
            if format != TOKEN_FORMAT {
                return None;
            }
            let (expiry, mut rest) = rest.split_first_chunk::<8>()?;
            let id = std::str::from_utf8(take(&mut rest)?).ok()?.to_owned();
            let parent = std::str::from_utf8(take(&mut rest)?).ok()?.to_owned();
            let secret = Zeroizing::new(std::str::from_utf8(take(&mut rest)?).ok()?.to_owned());
            Some(TemporaryKey { access_key_id: id, parent, secret, expires_at: i64::from_be_bytes(*expiry) })
        };
        parse().ok_or(TokenError::Malformed)
    }
}
