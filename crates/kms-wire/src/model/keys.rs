//! Key management: CreateKey, DescribeKey, ListKeys (spec §7.2).

use kms_types::limits::{MAX_DESCRIPTION_CHARS, MAX_FILTERS};
use kms_types::{KeyFilter, KeyRef, KeySpec, KeyUsage, Origin, ProtectionLevel};
use serde::{Deserialize, Serialize};

use super::{FromParams, Page, PageEcho, key_ref};
use crate::error::ApiError;
use crate::params::Params;

#[derive(Debug, Clone)]
pub struct CreateKeyRequest {
    pub description: String,
    pub key_spec: KeySpec,
    /// `None`: the spec's default usage.
    pub key_usage: Option<KeyUsage>,
    pub origin: Origin,
    pub protection_level: ProtectionLevel,
    pub enable_automatic_rotation: bool,
    pub rotation_interval: Option<String>,
    pub dkms_instance_id: Option<String>,
    pub tags: Vec<kms_types::Tag>,
    pub policy: Option<String>,
}

impl FromParams for CreateKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let description = p.optional("Description").unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid_parameter("Description"));
        }
        Ok(Self {
            description,
            key_spec: match p.optional("KeySpec") {
                Some(raw) => KeySpec::parse_lenient(&raw).map_err(|_| ApiError::invalid_parameter("KeySpec"))?,
                None => KeySpec::Aes256,
            },
            // AWS's spelling of the MAC usage too (the cloud documents only the other two).
            key_usage: match p.optional("KeyUsage").as_deref() {
                Some("GENERATE_VERIFY_MAC") => Some(KeyUsage::GenerateVerifyMac),
                Some(raw) => Some(raw.parse().map_err(|_| ApiError::invalid_parameter("KeyUsage"))?),
                None => None,
            },
            origin: p.optional_parsed("Origin")?.unwrap_or(Origin::AliyunKms),
            protection_level: p.optional_parsed("ProtectionLevel")?.unwrap_or(ProtectionLevel::Software),
            enable_automatic_rotation: p.optional_bool("EnableAutomaticRotation")?.unwrap_or(false),
            rotation_interval: p.optional("RotationInterval"),
            dkms_instance_id: p.optional("DKMSInstanceId"),
            tags: match p.optional("Tags") {
                Some(json) => super::tags::parse_tags_json(&json)?,
                None => Vec::new(),
            },
            policy: p.optional("Policy"),
        })
    }
}

/// `KeyMetadata` of CreateKey and DescribeKey.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadata {
    pub arn: String,
    pub automatic_rotation: &'static str,
    pub creation_date: String,
    pub creator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_date: Option<String>,
    /// The KMS instance of an instance resource; omitted for default ones.
    #[serde(rename = "DKMSInstanceId", skip_serializing_if = "Option::is_none")]
    pub dkms_instance_id: Option<String>,
    pub deletion_protection: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection_description: Option<String>,
    pub description: String,
    pub key_id: String,
    pub key_spec: &'static str,
    pub key_state: &'static str,
    pub key_usage: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotation_date: Option<String>,
    pub material_expire_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<String>,
    pub origin: &'static str,
    pub primary_key_version: String,
    pub protection_level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_interval: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyResponse {
    pub key_metadata: KeyMetadata,
}

#[derive(Debug, Clone)]
pub struct DescribeKeyRequest {
    pub key: KeyRef,
}

impl FromParams for DescribeKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")? })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyResponse {
    pub key_metadata: KeyMetadata,
}

#[derive(Debug, Clone)]
pub struct ListKeysRequest {
    pub filter: KeyFilter,
    pub page: Page,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFilter {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Values")]
    values: Vec<String>,
}

/// Adds `values` (parsed as `T`) to the allowed set of one filter field.
fn allow<T: std::str::FromStr>(slot: &mut Option<Vec<T>>, values: &[String]) -> Result<(), ApiError> {
    let parsed = values
        .iter()
        .map(|v| v.parse::<T>().map_err(|_| ApiError::invalid_parameter("Filters")))
        .collect::<Result<Vec<T>, _>>()?;
    slot.get_or_insert_with(Vec::new).extend(parsed);
    Ok(())
}

/// `Filters`: `[{"Key":"KeyState","Values":["Enabled"]}]`, 0–10 entries of 0–10 values.
fn parse_filters(json: &str) -> Result<KeyFilter, ApiError> {
    let invalid = || ApiError::invalid_parameter("Filters");
    let entries: Vec<WireFilter> = serde_json::from_str(json).map_err(|_| invalid())?;
    if entries.len() > MAX_FILTERS {
        return Err(invalid());
    }
    let mut f = KeyFilter::default();
    for e in entries {
        if e.values.len() > MAX_FILTERS {
            return Err(invalid());
        }
        match e.key.as_str() {
            "KeyState" => allow(&mut f.states, &e.values)?,
            "KeySpec" => allow(&mut f.specs, &e.values)?,
            "KeyUsage" => allow(&mut f.usages, &e.values)?,
            "ProtectionLevel" => allow(&mut f.protection_levels, &e.values)?,
            "TagKey" => allow(&mut f.tag_keys, &e.values)?,
            "TagValue" => allow(&mut f.tag_values, &e.values)?,
            "keyId" => allow(&mut f.key_ids, &e.values)?,
            "AliasName" => allow(&mut f.alias_names, &e.values)?,
            "Creator" => allow(&mut f.creators, &e.values)?,
            "CreatorType" => {
                if e.values.iter().any(|v| v != "User" && v != "Service") {
                    return Err(invalid());
                }
                allow(&mut f.creator_types, &e.values)?
            }
            "DKMSInstanceId" => allow(&mut f.instance_ids, &e.values)?,
            _ => return Err(invalid()),
        }
    }
    Ok(f)
}

impl FromParams for ListKeysRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let filter = match p.optional("Filters") {
            Some(json) => parse_filters(&json)?,
            None => KeyFilter::default(),
        };
        Ok(Self { filter, page: Page::from_params(p)? })
    }
}

/// Spec §7.2 UpdateKeyDescription: `Description` is required but may be empty (it clears).
#[derive(Debug, Clone)]
pub struct UpdateKeyDescriptionRequest {
    pub key: KeyRef,
    pub description: String,
}

impl FromParams for UpdateKeyDescriptionRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let key = key_ref(p, "KeyId")?;
        let description = p.present("Description").ok_or_else(|| ApiError::missing_parameter("Description"))?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid_parameter("Description"));
        }
        Ok(Self { key, description })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    pub keys: Keys,
    #[serde(flatten)]
    pub page: PageEcho,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Keys {
    pub key: Vec<KeyEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyEntry {
    pub key_arn: String,
    pub key_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kms_types::KeyState;

    #[test]
    fn filters_or_within_a_key_and_and_across_keys() {
        let f = parse_filters(
            r#"[{"Key":"KeyState","Values":["Enabled"]},{"Key":"KeyState","Values":["Disabled"]},{"Key":"KeySpec","Values":["Aliyun_AES_256"]}]"#,
        )
        .unwrap();
        assert_eq!(f.states, Some(vec![KeyState::Enabled, KeyState::Disabled]));
        assert_eq!(f.specs, Some(vec![KeySpec::Aes256]));
        assert_eq!(f.usages, None);
    }

    #[test]
    fn unknown_filter_keys_and_values_are_invalid() {
        for bad in [
            r#"[{"Key":"Colour","Values":["red"]}]"#,
            r#"[{"Key":"KeyState","Values":["Sleeping"]}]"#,
            r#"{"Key":"KeyState"}"#,
            "not json",
        ] {
            assert_eq!(parse_filters(bad).unwrap_err().code, crate::error::Code::InvalidParameter, "{bad}");
        }
    }
}
