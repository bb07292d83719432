//! Secrets Manager: CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret,
//! ListSecretVersionIds (spec §7.8).

use kms_types::{SecretName, SecretVersionId, Tag, VersionStage};
use serde::Serialize;

use super::{FromParams, Page, PageEcho, dry_run, refuse_recipient};
use crate::error::{ApiError, Code};
use crate::params::{Params, decode_base64};

/// A `SecretName` parameter: the name, or the ARN `acs:kms:<region>:<account>:secret/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub name: SecretName,
    /// `(region, account)` when given as an ARN.
    pub scope: Option<(String, String)>,
}

/// A secret named by a lookup: a value of no valid shape names nothing (not found).
pub(crate) fn secret_ref(p: &mut Params) -> Result<SecretRef, ApiError> {
    let raw = p.required("SecretName")?;
    let not_found = || ApiError::new(Code::ResourceNotFound);
    if let Some(rest) = raw.strip_prefix("acs:kms:") {
        let mut parts = rest.splitn(3, ':');
        let (Some(region), Some(account), Some(resource)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(not_found());
        };
        let name = resource.strip_prefix("secret/").ok_or_else(not_found)?;
        let name = SecretName::parse(name).map_err(|_| not_found())?;
        return Ok(SecretRef { name, scope: Some((region.to_owned(), account.to_owned())) });
    }
    Ok(SecretRef { name: SecretName::parse(&raw).map_err(|_| not_found())?, scope: None })
}

/// `SecretData` and `SecretDataType`: text as given; binary must be base64 (and is kept as the
/// base64 text it arrived as). At most 30,720 bytes.
fn secret_data(p: &mut Params) -> Result<(String, String), ApiError> {
    let data = p.required("SecretData")?;
    let data_type = p.optional("SecretDataType").unwrap_or_else(|| "text".into());
    match data_type.as_str() {
        "text" => {}
        "binary" if decode_base64(&data).is_some() => {}
        "binary" => return Err(ApiError::invalid_parameter("SecretData")),
        _ => return Err(ApiError::invalid_parameter("SecretDataType")),
    }
    if data.len() > kms_types::limits::MAX_SECRET_DATA_BYTES {
        return Err(ApiError::invalid_parameter("SecretData"));
    }
    Ok((data, data_type))
}

fn version_id(p: &mut Params, name: &str) -> Result<SecretVersionId, ApiError> {
    SecretVersionId::parse(&p.required(name)?).map_err(|_| ApiError::invalid_parameter(name))
}

#[derive(Debug, Clone)]
pub struct CreateSecretRequest {
    pub name: SecretName,
    pub version: SecretVersionId,
    pub data: String,
    pub data_type: String,
    pub encryption_key_id: Option<String>,
    pub description: String,
    pub tags: Vec<Tag>,
    pub dkms_instance_id: Option<String>,
}

impl FromParams for CreateSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let name =
            SecretName::parse(&p.required("SecretName")?).map_err(|_| ApiError::invalid_parameter("SecretName"))?;
        let version = version_id(p, "VersionId")?;
        let (data, data_type) = secret_data(p)?;
        match p.optional("SecretType").as_deref() {
            None | Some("Generic") => {}
            Some(_) => return Err(ApiError::new(Code::UnsupportedOperation)),
        }
        if p.optional_bool("EnableAutomaticRotation")?.unwrap_or(false) {
            return Err(ApiError::with_message(
                Code::UnsupportedOperation,
                "This action is not supported. Generic secrets do not rotate automatically.",
            ));
        }
        let description = p.optional("Description").unwrap_or_default();
        if description.chars().count() > kms_types::limits::MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid_parameter("Description"));
        }
        let tags = match p.optional("Tags") {
            Some(json) => super::tags::parse_tags_json(&json)?,
            None => Vec::new(),
        };
        Ok(Self {
            name,
            version,
            data,
            data_type,
            encryption_key_id: p.optional("EncryptionKeyId"),
            description,
            tags,
            dkms_instance_id: p.optional("DKMSInstanceId").filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSecretResponse {
    pub arn: String,
    /// The KMS instance of an instance resource; omitted for default ones.
    #[serde(rename = "DKMSInstanceId", skip_serializing_if = "Option::is_none")]
    pub dkms_instance_id: Option<String>,

    pub secret_name: String,
    pub secret_type: &'static str,
    pub version_id: String,
}

#[derive(Debug, Clone)]
pub struct GetSecretValueRequest {
    pub secret: SecretRef,
    pub version: Option<SecretVersionId>,
    pub stage: Option<VersionStage>,
    pub dry_run: bool,
}

impl FromParams for GetSecretValueRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        refuse_recipient(p)?;
        let secret = secret_ref(p)?;
        let version = match p.optional("VersionId") {
            Some(v) => Some(SecretVersionId::parse(&v).map_err(|_| ApiError::new(Code::ResourceNotFound))?),
            None => None,
        };
        let stage = match p.optional("VersionStage") {
            Some(s) => Some(VersionStage::parse(&s).map_err(|_| ApiError::new(Code::ResourceNotFound))?),
            None => None,
        };
        p.optional_bool("FetchExtendedConfig")?;
        Ok(Self { secret, version, stage, dry_run: dry_run(p)? })
    }
}

/// The stages on a version, as `VersionStages.VersionStage[]`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersionStages {
    pub version_stage: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSecretValueResponse {
    pub secret_name: String,
    pub secret_type: &'static str,
    pub secret_data: String,
    pub secret_data_type: String,
    pub version_id: String,
    pub create_time: String,
    pub version_stages: VersionStages,
}

#[derive(Debug, Clone)]
pub struct PutSecretValueRequest {
    pub secret: SecretRef,
    pub version: SecretVersionId,
    pub data: String,
    pub data_type: String,
    pub stages: Option<Vec<VersionStage>>,
}

impl FromParams for PutSecretValueRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        let version = version_id(p, "VersionId")?;
        let (data, data_type) = secret_data(p)?;
        let stages = match p.optional("VersionStages") {
            Some(json) => {
                let invalid = || ApiError::invalid_parameter("VersionStages");
                let list: Vec<String> = serde_json::from_str(&json).map_err(|_| invalid())?;
                let mut stages = list
                    .iter()
                    .map(|s| VersionStage::parse(s))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| invalid())?;
                stages.sort();
                stages.dedup();
                if stages.is_empty() {
                    return Err(invalid());
                }
                Some(stages)
            }
            None => None,
        };
        Ok(Self { secret, version, data, data_type, stages })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueResponse {
    pub secret_name: String,
    pub version_id: String,
    pub version_stages: VersionStages,
}

#[derive(Debug, Clone)]
pub struct DescribeSecretRequest {
    pub secret: SecretRef,
    pub fetch_tags: bool,
}

impl FromParams for DescribeSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { secret: secret_ref(p)?, fetch_tags: p.optional_bool("FetchTags")?.unwrap_or(false) })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretTags {
    pub tag: Vec<SecretTag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretTag {
    pub tag_key: String,
    pub tag_value: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSecretResponse {
    pub arn: String,
    /// The KMS instance of an instance resource; omitted for default ones.
    #[serde(rename = "DKMSInstanceId", skip_serializing_if = "Option::is_none")]
    pub dkms_instance_id: Option<String>,

    pub secret_name: String,
    pub secret_type: &'static str,
    pub description: String,
    pub encryption_key_id: String,
    pub create_time: String,
    pub update_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_delete_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<SecretTags>,
}

#[derive(Debug, Clone)]
pub struct ListSecretVersionIdsRequest {
    pub secret: SecretRef,
    pub include_deprecated: bool,
    pub page: Page,
}

impl FromParams for ListSecretVersionIdsRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        let include_deprecated = p.optional_bool("IncludeDeprecated")?.unwrap_or(false);
        let number = p.optional_u32_in("PageNumber", 1..=u32::MAX)?.unwrap_or(1);
        // Spec §6.12: this list pages by 20 unless told.
        let size = p.optional_u32_in("PageSize", 1..=kms_types::limits::MAX_PAGE_SIZE)?.unwrap_or(20);
        Ok(Self { secret, include_deprecated, page: Page { number, size } })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretVersionIds {
    pub version_id: Vec<SecretVersionEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretVersionEntry {
    pub version_id: String,
    pub create_time: String,
    pub version_stages: VersionStages,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretVersionIdsResponse {
    pub secret_name: String,
    pub version_ids: SecretVersionIds,
    #[serde(flatten)]
    pub page: PageEcho,
}

#[derive(Debug, Clone)]
pub struct DeleteSecretRequest {
    pub secret: SecretRef,
    pub force: bool,
    pub recovery_window_days: Option<u32>,
}

impl FromParams for DeleteSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        let force = p.optional_bool("ForceDeleteWithoutRecovery")?.unwrap_or(false);
        let recovery_window_days = p.optional_u32_in("RecoveryWindowInDays", 7..=30)?;
        // Spec §6.10: a recovery window with a forced deletion contradicts itself.
        if force && recovery_window_days.is_some() {
            return Err(ApiError::invalid_parameter("RecoveryWindowInDays"));
        }
        Ok(Self { secret, force, recovery_window_days })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSecretResponse {
    pub secret_name: String,
    pub planned_delete_time: String,
}

/// Actions that name one secret and answer only its name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretNameResponse {
    pub secret_name: String,
}

#[derive(Debug, Clone)]
pub struct RestoreSecretRequest {
    pub secret: SecretRef,
}

impl FromParams for RestoreSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { secret: secret_ref(p)? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateSecretRequest {
    pub secret: SecretRef,
    pub description: Option<String>,
}

impl FromParams for UpdateSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        let description = p.optional("Description");
        if description.as_ref().is_some_and(|d| d.chars().count() > kms_types::limits::MAX_DESCRIPTION_CHARS) {
            return Err(ApiError::invalid_parameter("Description"));
        }
        // Spec §7.8: custom data belongs to managed secret types, not generic ones.
        if p.optional("ExtendedConfig.CustomData").is_some() {
            return Err(ApiError::invalid_parameter("ExtendedConfig.CustomData"));
        }
        Ok(Self { secret, description })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateSecretVersionStageRequest {
    pub secret: SecretRef,
    pub stage: VersionStage,
    pub move_to: Option<SecretVersionId>,
    pub remove_from: Option<SecretVersionId>,
}

impl FromParams for UpdateSecretVersionStageRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        let stage = VersionStage::parse(&p.required("VersionStage")?)
            .map_err(|_| ApiError::invalid_parameter("VersionStage"))?;
        let version = |p: &mut Params, name: &str| match p.optional(name) {
            Some(v) => SecretVersionId::parse(&v).map(Some).map_err(|_| ApiError::invalid_parameter(name)),
            None => Ok(None),
        };
        let move_to = version(p, "MoveToVersion")?;
        let remove_from = version(p, "RemoveFromVersion")?;
        Ok(Self { secret, stage, move_to, remove_from })
    }
}

#[derive(Debug, Clone)]
pub struct GetRandomPasswordRequest {
    pub length: u32,
    pub exclude: String,
    pub no_lowercase: bool,
    pub no_uppercase: bool,
    pub no_numbers: bool,
    pub no_punctuation: bool,
    pub each_type: bool,
}

impl FromParams for GetRandomPasswordRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            length: p.optional_u32_in("PasswordLength", 8..=128)?.unwrap_or(32),
            exclude: p.optional("ExcludeCharacters").unwrap_or_default(),
            no_lowercase: p.optional_bool("ExcludeLowercase")?.unwrap_or(false),
            no_uppercase: p.optional_bool("ExcludeUppercase")?.unwrap_or(false),
            no_numbers: p.optional_bool("ExcludeNumbers")?.unwrap_or(false),
            no_punctuation: p.optional_bool("ExcludePunctuation")?.unwrap_or(false),
            each_type: p.optional_bool("RequireEachIncludedType")?.unwrap_or(false),
        })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRandomPasswordResponse {
    pub random_password: String,
}

/// RotateSecret and UpdateSecretRotationPolicy: rotation belongs to managed secret types;
/// on a generic secret both answer the documented refusal.
#[derive(Debug, Clone)]
pub struct RotateSecretRequest {
    pub secret: SecretRef,
}

impl FromParams for RotateSecretRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        version_id(p, "VersionId")?;
        Ok(Self { secret })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateSecretRotationPolicyRequest {
    pub secret: SecretRef,
}

impl FromParams for UpdateSecretRotationPolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let secret = secret_ref(p)?;
        p.optional_bool("EnableAutomaticRotation")?
            .ok_or_else(|| ApiError::missing_parameter("EnableAutomaticRotation"))?;
        Ok(Self { secret })
    }
}

/// The fields `Filters` of ListSecrets may name.
pub const SECRET_FILTER_KEYS: [&str; 7] =
    ["SecretName", "Description", "TagKey", "TagValue", "SecretType", "DKMSInstanceId", "Creator"];

#[derive(Debug, Clone)]
pub struct ListSecretsRequest {
    /// `(Key, Values)` pairs, keys from [`SECRET_FILTER_KEYS`].
    pub filters: Vec<(String, Vec<String>)>,
    pub fetch_tags: bool,
    pub page: Page,
}

impl FromParams for ListSecretsRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        #[derive(serde::Deserialize)]
        struct WireFilter {
            #[serde(rename = "Key")]
            key: String,
            #[serde(rename = "Values")]
            values: Vec<String>,
        }
        let filters = match p.optional("Filters") {
            Some(json) => {
                let invalid = || ApiError::invalid_parameter("Filters");
                let wire: Vec<WireFilter> = serde_json::from_str(&json).map_err(|_| invalid())?;
                let max = kms_types::limits::MAX_FILTERS;
                if wire.len() > max
                    || wire.iter().any(|f| {
                        !SECRET_FILTER_KEYS.contains(&f.key.as_str()) || f.values.is_empty() || f.values.len() > max
                    })
                {
                    return Err(invalid());
                }
                wire.into_iter().map(|f| (f.key, f.values)).collect()
            }
            None => Vec::new(),
        };
        Ok(Self { filters, fetch_tags: p.optional_bool("FetchTags")?.unwrap_or(false), page: Page::from_params(p)? })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretList {
    pub secret: Vec<ListedSecretItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListedSecretItem {
    pub secret_name: String,
    pub secret_type: &'static str,
    pub create_time: String,
    pub update_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned_delete_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<SecretTags>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSecretsResponse {
    pub secret_list: SecretList,
    #[serde(flatten)]
    pub page: PageEcho,
}

/// One entry of BatchGetSecretValue's `SecretsList`.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The name as given (echoed in `Errors`), and the secret it names if it is well formed.
    pub given: String,
    pub secret: Option<SecretRef>,
    pub version: Option<SecretVersionId>,
    pub stage: Option<VersionStage>,
    /// A `VersionId` or `VersionStage` of no valid shape: names no version, so this entry
    /// goes to `Errors` as GetSecretValue would answer it (spec §7.8: per-item failures).
    pub names_no_version: bool,
}

#[derive(Debug, Clone)]
pub struct BatchGetSecretValueRequest {
    pub items: Vec<BatchItem>,
}

/// Most secrets one BatchGetSecretValue reads.
pub const MAX_BATCH_SECRETS: usize = 20;

impl FromParams for BatchGetSecretValueRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        #[derive(serde::Deserialize)]
        struct WireItem {
            #[serde(rename = "SecretName")]
            name: String,
            #[serde(rename = "VersionId")]
            version: Option<String>,
            #[serde(rename = "VersionStage")]
            stage: Option<String>,
            #[serde(rename = "FetchExtendedConfig", default)]
            _fetch_extended_config: Option<serde_json::Value>,
        }
        let invalid = || ApiError::invalid_parameter("SecretsList");
        let wire: Vec<WireItem> = serde_json::from_str(&p.required("SecretsList")?).map_err(|_| invalid())?;
        if wire.is_empty() || wire.len() > MAX_BATCH_SECRETS {
            return Err(invalid());
        }
        let items = wire
            .into_iter()
            .map(|w| {
                let mut one = Params::from_pairs(&[("SecretName".to_owned(), w.name.clone())])?;
                let version = w.version.as_deref().map(SecretVersionId::parse).transpose();
                let stage = w.stage.as_deref().map(VersionStage::parse).transpose();
                Ok(BatchItem {
                    secret: secret_ref(&mut one).ok(),
                    given: w.name,
                    names_no_version: version.is_err() || stage.is_err(),
                    version: version.ok().flatten(),
                    stage: stage.ok().flatten(),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Self { items })
    }
}

/// An entry of BatchGetSecretValue's `Errors`: one secret that could not be read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchError {
    pub secret_name: String,
    pub code: String,
    pub http_status: u16,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetSecretValueResponse {
    pub secret_values: Vec<GetSecretValueResponse>,
    pub errors: Vec<BatchError>,
}
