//! The audit trail: one JSON line per API request, allowed or refused — who (access key),
//! from where, which action on which resources, with what result and how fast. Never a
//! parameter value: no plaintext, ciphertext, secret value or key material, only resource
//! names as ARNs.
//!
//! Audit or fail, before any effect: a request that changes something (the action table's
//! `Writes` actions) first gets an `Intent` line naming who asks for what; only once that is
//! written does the change run, so no change is ever committed without its record. If the
//! line cannot be written the request is refused, having done nothing. Every request then gets
//! its outcome line before the answer leaves; for a read that line is the only one, and a read
//! whose line cannot be written is refused instead of answered.
//!
//! What an unauthenticated client controls is bounded before it is written (only the access
//! key id it claims reaches the trail, and only when short and printable), so a refused
//! request costs a small fixed number of bytes. Where the lines go, how they are batched,
//! synced and rotated: `sink` and `rotation`.

mod rotation;
mod sink;

pub use rotation::rotated_files;
pub use sink::{AuditLog, AuditTarget};

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One request, as the trail records it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AuditRecord<'a> {
    /// When the answer was ready (for an intent: when the change was about to run), UTC with
    /// milliseconds.
    pub time: String,
    pub request_id: &'a str,
    /// `Intent` for the line written before a change runs; absent on outcome lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<&'static str>,
    /// The access key the request was signed with (as claimed when the signature failed).
    pub access_key_id: Option<&'a str>,
    /// Who the access key belongs to: the principal policies will name.
    pub principal: Option<&'a str>,
    pub source_ip: std::net::IpAddr,
    pub action: Option<&'a str>,
    /// The resources the request named or reached, as ARNs.
    pub resources: &'a [String],
    /// `OK`, or the error code answered (absent on an intent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    pub latency_ms: f64,
}

impl AuditRecord<'_> {
    /// Formatted once per millisecond per thread: under load many lines share a millisecond,
    /// and RFC 3339 formatting cost more than the rest of the line.
    pub fn now() -> String {
        thread_local! {
            static LAST: std::cell::RefCell<(i128, String)> = const { std::cell::RefCell::new((0, String::new())) };
        }
        let t = OffsetDateTime::now_utc();
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        LAST.with_borrow_mut(|(at, text)| {
            if *at != ms || text.is_empty() {
                let t = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).unwrap_or(t);
                *text = t.format(&Rfc3339).unwrap_or_default();
                *at = ms;
            }
            text.clone()
        })
    }
}

/// The resources a request named, as ARNs; for a ciphertext blob the key its version belongs
/// to (the one lookup, and only after the signature verified).
pub async fn resources(named: &[crate::named::Named], kms: &kms_core::Kms) -> Vec<String> {
    use crate::named::Named;
    use kms_types::KeyRef;
    let mut out: Vec<String> = Vec::with_capacity(named.len());
    for n in named {
        match n {
            Named::Key(KeyRef::Id { id, .. }) => out.push(kms.key_arn(id)),
            Named::Key(KeyRef::Alias { name, .. }) | Named::Alias(name) => out.push(kms.alias_arn(name)),
            Named::Secret(name) => out.push(kms.secret_arn(name)),
            Named::Instance(id) => out.push(kms.instance_arn(id)),
            Named::Access { kind, name } => out.push(format!("{}/{name}", kms.kind_arn(kind))),
            Named::Version(v) => {
                if let Ok(Some(key_id)) = kms.key_of_version(v).await {
                    out.push(kms.key_arn(&key_id));
                }
            }
        }
    }
    out.dedup();
    out
}

/// The access key a request claims, for refused requests the verifier did not accept: V1's
/// `AccessKeyId` parameter, or the `Credential=` of an ACS3/ACS4 `Authorization` header.
/// Unauthenticated bytes: kept only when they look like an id (short, printable), so a
/// refused request cannot make its audit line large.
pub fn claimed_access_key(raw: &kms_wire::raw::RawRequest) -> Option<String> {
    let id = match raw.param("AccessKeyId") {
        Some(id) => id.to_owned(),
        None => {
            let auth = raw.header("authorization")?;
            let credential = auth.split_once("Credential=")?.1;
            let end = credential.find([',', '/', ' ']).unwrap_or(credential.len());
            credential[..end].to_owned()
        }
    };
    plausible_id(&id).then_some(id)
}

/// The answer to a request refused because its audit line cannot be written: nothing was done.
pub fn unavailable() -> kms_wire::ApiError {
    kms_wire::ApiError::with_message(
        kms_wire::Code::ServiceUnavailableTemporary,
        "The audit trail cannot be written; the request was not carried out.",
    )
}

/// Longest claimed access key id the trail keeps (STS ids are ~30 characters).
const MAX_CLAIMED_ID: usize = 128;

fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_CLAIMED_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_milliseconds_and_move_on() {
        let parse = |t: &str| OffsetDateTime::parse(t, &Rfc3339).unwrap();
        let first = AuditRecord::now();
        assert!(first.ends_with('Z'), "{first}");
        assert_eq!(parse(&first).nanosecond() % 1_000_000, 0);
        std::thread::sleep(std::time::Duration::from_millis(3));
        let later = AuditRecord::now();
        assert!(parse(&later) > parse(&first), "{first} then {later}");
        assert!(parse(&later) <= OffsetDateTime::now_utc());
    }

    #[test]
    fn claimed_access_key_ids_are_kept_only_when_plausible() {
        assert!(plausible_id("LTAI5tTestkitKey00001"));
        assert!(plausible_id("STS.NUgYrLnoC37mZZCNnAbez2GxW"));
        assert!(!plausible_id(""));
        assert!(!plausible_id(&"A".repeat(MAX_CLAIMED_ID + 1)));
        assert!(!plausible_id("id with space"));
        assert!(!plausible_id("id\nforged"));
    }
}
