//! KMS instances: ConnectKmsInstance, GetKmsInstance, ListKmsInstances,
//! UpdateKmsInstanceBindVpc, GetDefaultKmsInstance, GetKmsInstanceQuotaInfos,
//! ReleaseKmsInstance (docs/design/instances.md §2).

use serde::Serialize;

use super::{FromParams, Page, PageEcho, json_or_commas};
use crate::error::ApiError;
use crate::params::Params;

/// A list parameter sent as a JSON array of strings or as comma-separated text (§1.2).
fn lenient_list(p: &mut Params, name: &'static str) -> Result<Vec<String>, ApiError> {
    let items = json_or_commas(name, &p.required(name)?)?;
    if items.is_empty() || items.iter().any(|s| s.is_empty()) {
        return Err(ApiError::invalid_parameter(name));
    }
    Ok(items)
}

fn instance_id(p: &mut Params) -> Result<String, ApiError> {
    p.required("KmsInstanceId")
}

#[derive(Debug, Clone)]
pub struct ConnectKmsInstanceRequest {
    pub instance_id: String,
    pub vpc_id: String,
    pub zone_ids: Vec<String>,
    pub vswitch_ids: Vec<String>,
}

impl FromParams for ConnectKmsInstanceRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let instance_id = instance_id(p)?;
        if p.required("KMProvider")? != "Aliyun" {
            return Err(ApiError::invalid_parameter("KMProvider"));
        }
        let vpc_id = p.required("VpcId")?;
        let zone_ids = lenient_list(p, "ZoneIds")?;
        let vswitch_ids = lenient_list(p, "VSwitchIds")?;
        Ok(Self { instance_id, vpc_id, zone_ids, vswitch_ids })
    }
}

/// An action whose only parameter is `KmsInstanceId`.
macro_rules! by_instance_id {
    ($($name:ident),+) => {$(
        #[derive(Debug, Clone)]
        pub struct $name {
            pub instance_id: String,
        }
        impl FromParams for $name {
            fn from_params(p: &mut Params) -> Result<Self, ApiError> {
                Ok(Self { instance_id: instance_id(p)? })
            }
        }
    )+};
}

by_instance_id!(GetKmsInstanceRequest);

/// UpdateKmsInstance: not in the SDKs; Terraform renames instances with it (§2.9).
#[derive(Debug, Clone)]
pub struct UpdateKmsInstanceRequest {
    pub instance_id: String,
    pub instance_name: String,
}

impl FromParams for UpdateKmsInstanceRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let instance_id = instance_id(p)?;
        let instance_name = p.required("InstanceName")?;
        if instance_name.chars().count() > 128 || instance_name.chars().any(char::is_control) {
            return Err(ApiError::invalid_parameter("InstanceName"));
        }
        Ok(Self { instance_id, instance_name })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindVpcItem {
    pub region_id: String,
    #[serde(rename = "VSwitchId")]
    pub vswitch_id: String,
    pub vpc_id: String,
    pub vpc_owner_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BindVpcList {
    pub bind_vpc: Vec<BindVpcItem>,
}

/// `KmsInstance` of GetKmsInstance (§2.3): types as the SDK model has them (`SecretNum` a string).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsInstance {
    pub instance_id: String,
    pub instance_name: String,
    pub status: String,
    pub create_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    pub spec: i64,
    pub key_num: i64,
    pub secret_num: String,
    pub vpc_num: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vswitch_ids: Option<Vec<String>>,
    pub bind_vpcs: BindVpcList,
    pub ca_certificate_chain_pem: String,
    pub charge_type: &'static str,
    pub product_type: &'static str,
    pub product_version: &'static str,
    pub deletion_protection: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletion_protection_description: Option<String>,
    pub log: i64,
    pub log_storage: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKmsInstanceResponse {
    pub kms_instance: KmsInstance,
}

#[derive(Debug, Clone)]
pub struct ListKmsInstancesRequest {
    pub page: Page,
    /// `(key, values)`: AND across keys, OR within values.
    pub filters: Vec<(String, Vec<String>)>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Filter {
    key: String,
    values: Vec<String>,
}

/// The filter keys ListKmsInstances understands.
pub const INSTANCE_FILTER_KEYS: &[&str] = &["InstanceName", "KmsInstanceId", "Status"];

impl FromParams for ListKmsInstancesRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let page = Page::from_params_default_20(p)?;
        let filters = match p.optional("Filters") {
            Some(json) => {
                let parsed: Vec<Filter> =
                    serde_json::from_str(&json).map_err(|_| ApiError::invalid_parameter("Filters"))?;
                if parsed.iter().any(|f| !INSTANCE_FILTER_KEYS.contains(&f.key.as_str())) {
                    return Err(ApiError::invalid_parameter("Filters"));
                }
                parsed.into_iter().map(|f| (f.key, f.values)).collect()
            }
            None => Vec::new(),
        };
        Ok(Self { page, filters })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsInstanceItem {
    pub kms_instance_arn: String,
    pub kms_instance_id: String,
    pub instance_name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KmsInstanceList {
    pub kms_instance: Vec<KmsInstanceItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKmsInstancesResponse {
    pub kms_instances: KmsInstanceList,
    #[serde(flatten)]
    pub page: PageEcho,
}

/// One element of `BindVpcs` as sent: `VpcOwnerId` a number or a string.
#[derive(Debug, Clone)]
pub struct BindVpcParam {
    pub region_id: String,
    pub vswitch_id: String,
    pub vpc_id: String,
    pub vpc_owner_id: String,
}

#[derive(Debug, Clone)]
pub struct UpdateKmsInstanceBindVpcRequest {
    pub instance_id: String,
    pub bind_vpcs: Vec<BindVpcParam>,
}

impl FromParams for UpdateKmsInstanceBindVpcRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let instance_id = instance_id(p)?;
        let raw = p.required("BindVpcs")?;
        let bad = || ApiError::invalid_parameter("BindVpcs");
        let items: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&raw).map_err(|_| bad())?;
        let text = |m: &serde_json::Map<String, serde_json::Value>, k: &str, required: bool| match m.get(k) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(serde_json::Value::Number(n)) => Ok(n.to_string()),
            None | Some(serde_json::Value::Null) if !required => Ok(String::new()),
            Some(serde_json::Value::String(s)) if !required && s.is_empty() => Ok(String::new()),
            _ => Err(bad()),
        };
        let bind_vpcs = items
            .iter()
            .map(|m| {
                Ok(BindVpcParam {
                    vpc_id: text(m, "VpcId", true)?,
                    vswitch_id: text(m, "VSwitchId", false)?,
                    region_id: text(m, "RegionId", false)?,
                    vpc_owner_id: text(m, "VpcOwnerId", false)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        Ok(Self { instance_id, bind_vpcs })
    }
}

#[derive(Debug, Clone)]
pub struct GetDefaultKmsInstanceRequest;

impl FromParams for GetDefaultKmsInstanceRequest {
    fn from_params(_: &mut Params) -> Result<Self, ApiError> {
        Ok(Self)
    }
}

/// kmsd designates no default instance: the field is omitted (§2.6).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDefaultKmsInstanceResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_kms_instance_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GetKmsInstanceQuotaInfosRequest {
    pub instance_id: String,
    pub resource_type: Option<String>,
}

impl FromParams for GetKmsInstanceQuotaInfosRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let instance_id = instance_id(p)?;
        let resource_type = p.optional("ResourceType");
        if let Some(t) = &resource_type
            && !["key", "secret", "vpc", "qps"].contains(&t.as_str())
        {
            return Err(ApiError::invalid_parameter("ResourceType"));
        }
        Ok(Self { instance_id, resource_type })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QuotaInfoItem {
    pub resource_quota: i64,
    pub resource_type: &'static str,
    pub used_quantity: i64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKmsInstanceQuotaInfosResponse {
    pub kms_instance_id: String,
    pub kms_instance_quota_infos: Vec<QuotaInfoItem>,
}

#[derive(Debug, Clone)]
pub struct ReleaseKmsInstanceRequest {
    pub instance_id: String,
    pub force_delete_without_backup: bool,
}

impl FromParams for ReleaseKmsInstanceRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let instance_id = instance_id(p)?;
        let force_delete_without_backup = p.optional_bool("ForceDeleteWithoutBackup")?.unwrap_or(false);
        Ok(Self { instance_id, force_delete_without_backup })
    }
}
