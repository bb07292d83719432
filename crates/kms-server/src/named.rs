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
    /// `KmsInstanceId` of the instance actions (CreateKey/CreateSecret's `DKMSInstanceId` is not
    /// a resource they act on: they stay checked against `…:key` / `…:secret`).
    Instance(String),
    /// A network rule, permission policy or AAP by `Name` (or an AAP by `AapName`), a
    /// ClientKey by `ClientKeyId`, or a managed data key by `DataKeyName`: `kind` is the ARN's
    /// resource type (`network`, `policy`, `applicationaccesspoint`, `clientkey`, `datakey`).
    Access {
        kind: &'static str,
        name: String,
    },
}

/// A plausible application-access name or ClientKey id (bounded, printable): anything else
/// names nothing the store could hold.
fn access(kind: &'static str, raw: &str) -> Option<Named> {
    let ok = raw.len() <= 128 && raw.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| Named::Access { kind, name: raw.to_owned() })
}

/// An instance id of a plausible shape (`kst-` and a short run of lowercase alphanumerics).
fn instance(raw: &str) -> Option<Named> {
    let ok = raw.len() <= 64
        && raw
            .strip_prefix("kst-")
            .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    ok.then(|| Named::Instance(raw.to_owned()))
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
    out.extend(params.get("KmsInstanceId").and_then(instance));
    if action.family() == kms_wire::actions::Family::Access {
        out.extend(params.get("Name").and_then(|n| access(action.resource_kind(), n)));
        out.extend(params.get("AapName").and_then(|n| access("applicationaccesspoint", n)));
        out.extend(params.get("ClientKeyId").and_then(|n| access("clientkey", n)));
    }
    if action.family() == kms_wire::actions::Family::DataKeys {
        out.extend(params.get("DataKeyName").and_then(|n| access("datakey", n)));
    }
    let resource_type = params.get("ResourceType");
    for (name, value) in params.iter() {
        if name.starts_with("ResourceId.") {
            out.extend(match resource_type {
                Some("secret") => secret(value),
                Some("instance") => instance(value),
                _ => key(value),
            });
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
