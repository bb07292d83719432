//! The resources a request names, read once from its parameters (no lookups): keys by id,
//! alias or ARN, aliases, secrets, the resources of the batch tag actions, and the key version
//! a ciphertext blob carries. The audit trail records them as ARNs; the authoriser checks them.

use kms_types::{AliasName, KeyRef, KeyVersionId, SecretName};
use kms_wire::Action;
use kms_wire::params::Params;

/// One named resource.
pub enum Named {
    Key(KeyRef),
    /// `AliasName` of the alias actions: the alias itself.
    Alias(AliasName),
    Secret(SecretName),
    /// The version at the head of a KMS ciphertext blob (Decrypt, ReEncrypt, ExportDataKey).
    Version(KeyVersionId),
}

fn secret(raw: &str) -> Option<Named> {
    let name = raw.rsplit_once(":secret/").map_or(raw, |(_, n)| n);
    SecretName::parse(name).ok().map(Named::Secret)
}

fn key(raw: &str) -> Option<Named> {
    KeyRef::parse(raw).ok().map(Named::Key)
}

/// Everything `params` names for `action`, in parameter order.
pub fn of(action: Action, params: &Params) -> Vec<Named> {
    let mut out = Vec::new();
    for name in ["KeyId", "SourceKeyId", "DestinationKeyId"] {
        out.extend(params.get(name).and_then(key));
    }
    if let Some(KeyRef::Alias { name, .. }) = params.get("AliasName").and_then(|a| KeyRef::parse(a).ok()) {
        out.push(Named::Alias(name));
    }
    out.extend(params.get("SecretName").and_then(secret));
    let secrets = params.get("ResourceType") == Some("secret");
    for (name, value) in params.iter() {
        if name.starts_with("ResourceId.") {
            out.extend(if secrets { secret(value) } else { key(value) });
        }
    }
    if let Some(list) = params.get("SecretsList")
        && let Ok(items) = serde_json::from_str::<Vec<serde_json::Value>>(list)
    {
        out.extend(items.iter().filter_map(|i| i["SecretName"].as_str()).filter_map(secret));
    }
    use Action::{Decrypt, ExportDataKey, ReEncrypt};
    if matches!(action, Decrypt | ReEncrypt | ExportDataKey) && params.get("SourceKeyId").is_none() {
        let blob = params.get("CiphertextBlob").and_then(kms_wire::params::decode_base64);
        let version = blob.as_deref().and_then(|b| kms_crypto::blob::CiphertextBlob::parse(b).ok());
        out.extend(version.map(|b| Named::Version(b.version_id)));
    }
    out
}
