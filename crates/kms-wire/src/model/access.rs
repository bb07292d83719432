//! Application access, the 19 actions (docs/design/instances.md §4): network rules,
//! permission policies, application access points and ClientKeys.
//!
//! List-valued parameters arrive as JSON-array text (and `SourcePrivateIp` also as
//! comma-separated text, as the SDK prose describes it). Responses give them back as the SDK
//! models type them: compact JSON-array *strings* in the Create and network-rule/AAP Describe
//! answers (Terraform parses those strings), real arrays in DescribePolicy.

use kms_types::access::{
    PERMISSION_TEMPLATES, network_rules_of, valid_access_name, valid_client_key_password, valid_resource_pattern,
    valid_source_ip,
};
use kms_types::limits::MAX_DESCRIPTION_CHARS;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{FromParams, Page, PageEcho, json_or_commas};
use crate::error::ApiError;
use crate::params::Params;

/// The only network rule type (§4.1).
pub const NETWORK_RULE_TYPE: &str = "Private";
/// The only AAP authentication method (§4.11).
pub const CLIENT_KEY_AUTHENTICATION: &str = "ClientKey";
/// Policies one AAP may carry (§4.11).
pub const MAX_AAP_POLICIES: usize = 3;

/// A list as the compact JSON-array text the SDK models and Terraform expect.
pub fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

fn json_strings(name: &'static str, raw: &str) -> Result<Vec<String>, ApiError> {
    serde_json::from_str(raw).map_err(|_| ApiError::invalid_parameter(name))
}

/// A name a create gives: `MissingParameter` when absent or empty, `InvalidParameter` when not
/// of the accepted shape.
fn new_name(p: &mut Params, param: &'static str) -> Result<String, ApiError> {
    let name = p.required(param)?;
    if !valid_access_name(&name) {
        return Err(ApiError::invalid_parameter(param));
    }
    Ok(name)
}

/// `Description` of a create (absent = empty).
fn description(p: &mut Params) -> Result<String, ApiError> {
    Ok(changed_description(p)?.unwrap_or_default())
}

/// `Description` of an update: absent = unchanged, present (even empty) = replaced.
fn changed_description(p: &mut Params) -> Result<Option<String>, ApiError> {
    let d = p.present("Description");
    if d.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Err(ApiError::invalid_parameter("Description"));
    }
    Ok(d)
}

/// `SourcePrivateIp`: a JSON array or comma-separated addresses and CIDR blocks.
fn source_ips(p: &mut Params) -> Result<Option<Vec<String>>, ApiError> {
    const NAME: &str = "SourcePrivateIp";
    let Some(raw) = p.optional(NAME) else { return Ok(None) };
    let items = json_or_commas(NAME, &raw)?;
    if items.iter().any(|ip| !valid_source_ip(ip)) {
        return Err(ApiError::invalid_parameter(NAME));
    }
    Ok(Some(items))
}

fn permissions(p: &mut Params) -> Result<Option<Vec<String>>, ApiError> {
    const NAME: &str = "Permissions";
    let Some(raw) = p.optional(NAME) else { return Ok(None) };
    let items = json_strings(NAME, &raw)?;
    if items.iter().any(|t| !PERMISSION_TEMPLATES.contains(&t.as_str())) {
        return Err(ApiError::invalid_parameter(NAME));
    }
    Ok(Some(items))
}

fn resources(p: &mut Params) -> Result<Option<Vec<String>>, ApiError> {
    const NAME: &str = "Resources";
    let Some(raw) = p.optional(NAME) else { return Ok(None) };
    let items = json_strings(NAME, &raw)?;
    if items.iter().any(|r| !valid_resource_pattern(r)) {
        return Err(ApiError::invalid_parameter(NAME));
    }
    Ok(Some(items))
}

/// `AccessControlRules`, kept verbatim once it reads as `{"NetworkRules":[…]}`.
fn access_control_rules(p: &mut Params) -> Result<Option<String>, ApiError> {
    const NAME: &str = "AccessControlRules";
    let Some(raw) = p.optional(NAME) else { return Ok(None) };
    if network_rules_of(&raw).is_none() || raw.len() > 16 * 1024 {
        return Err(ApiError::invalid_parameter(NAME));
    }
    Ok(Some(raw))
}

fn policy_names(p: &mut Params) -> Result<Option<Vec<String>>, ApiError> {
    const NAME: &str = "Policies";
    let Some(raw) = p.optional(NAME) else { return Ok(None) };
    let items = json_strings(NAME, &raw)?;
    if items.len() > MAX_AAP_POLICIES || items.iter().any(|n| n.is_empty() || n.len() > 128) {
        return Err(ApiError::invalid_parameter(NAME));
    }
    Ok(Some(items))
}

/// Actions whose only parameter is the object's `Name` (or a ClientKey's id).
macro_rules! by_name {
    ($($req:ident: $param:literal),+ $(,)?) => {$(
        #[derive(Debug, Clone)]
        pub struct $req {
            pub name: String,
        }
        impl FromParams for $req {
            fn from_params(p: &mut Params) -> Result<Self, ApiError> {
                Ok(Self { name: p.required($param)? })
            }
        }
    )+};
}

by_name!(
    DescribeNetworkRuleRequest: "Name",
    DeleteNetworkRuleRequest: "Name",
    DescribePolicyRequest: "Name",
    DeletePolicyRequest: "Name",
    DescribeApplicationAccessPointRequest: "Name",
    DeleteApplicationAccessPointRequest: "Name",
    GetClientKeyRequest: "ClientKeyId",
    DeleteClientKeyRequest: "ClientKeyId",
);

/// The list actions: paging only, `PageSize` 1–100, default 20.
macro_rules! paged {
    ($($req:ident),+) => {$(
        #[derive(Debug, Clone)]
        pub struct $req {
            pub page: Page,
        }
        impl FromParams for $req {
            fn from_params(p: &mut Params) -> Result<Self, ApiError> {
                Ok(Self { page: Page::from_params_default_20(p)? })
            }
        }
    )+};
}

paged!(ListNetworkRulesRequest, ListPoliciesRequest, ListApplicationAccessPointsRequest);

// ---- network rules (§4.1–§4.5) ------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct CreateNetworkRuleRequest {
    pub name: String,
    pub source_private_ips: Vec<String>,
    pub description: String,
}

impl FromParams for CreateNetworkRuleRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let name = new_name(p, "Name")?;
        if p.required("Type")? != NETWORK_RULE_TYPE {
            return Err(ApiError::invalid_parameter("Type"));
        }
        let source_private_ips = source_ips(p)?.unwrap_or_default();
        Ok(Self { name, source_private_ips, description: description(p)? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateNetworkRuleRequest {
    pub name: String,
    pub source_private_ips: Option<Vec<String>>,
    pub description: Option<String>,
}

impl FromParams for UpdateNetworkRuleRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let name = p.required("Name")?;
        Ok(Self { name, source_private_ips: source_ips(p)?, description: changed_description(p)? })
    }
}

/// CreateNetworkRule and DescribeNetworkRule answer the same fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRuleResponse {
    pub arn: String,
    pub name: String,
    #[serde(rename = "Type")]
    pub rule_type: String,
    pub description: String,
    /// Compact JSON-array text.
    pub source_private_ip: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRuleItem {
    pub name: String,
    #[serde(rename = "Type")]
    pub rule_type: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkRuleList {
    pub network_rule: Vec<NetworkRuleItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListNetworkRulesResponse {
    pub network_rules: NetworkRuleList,
    #[serde(flatten)]
    pub page: PageEcho,
}

// ---- permission policies (§4.6–§4.10) -----------------------------------------------------

#[derive(Debug, Clone)]
pub struct CreatePolicyRequest {
    pub name: String,
    pub permissions: Vec<String>,
    pub resources: Vec<String>,
    pub kms_instance: Option<String>,
    pub access_control_rules: Option<String>,
    pub description: String,
}

impl FromParams for CreatePolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let name = new_name(p, "Name")?;
        let permissions = permissions(p)?.ok_or_else(|| ApiError::missing_parameter("Permissions"))?;
        let resources = resources(p)?.ok_or_else(|| ApiError::missing_parameter("Resources"))?;
        let kms_instance = p.optional("KmsInstance");
        if kms_instance.as_ref().is_some_and(|k| k.len() > 128) {
            return Err(ApiError::invalid_parameter("KmsInstance"));
        }
        let access_control_rules = access_control_rules(p)?;
        Ok(Self { name, permissions, resources, kms_instance, access_control_rules, description: description(p)? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdatePolicyRequest {
    pub name: String,
    pub permissions: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub access_control_rules: Option<String>,
    pub description: Option<String>,
}

impl FromParams for UpdatePolicyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self {
            name: p.required("Name")?,
            permissions: permissions(p)?,
            resources: resources(p)?,
            access_control_rules: access_control_rules(p)?,
            description: changed_description(p)?,
        })
    }
}

/// CreatePolicy: `Permissions` and `Resources` as JSON-array text (the SDK types them `str`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatePolicyResponse {
    pub arn: String,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_control_rules: Option<String>,
    pub permissions: String,
    pub resources: String,
}

/// DescribePolicy: `Permissions` and `Resources` as real arrays (Terraform asserts a list).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribePolicyResponse {
    pub arn: String,
    pub name: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_instance: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_control_rules: Option<String>,
    pub permissions: Vec<String>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyItem {
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyList {
    pub policy: Vec<PolicyItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListPoliciesResponse {
    pub policies: PolicyList,
    #[serde(flatten)]
    pub page: PageEcho,
}

// ---- application access points (§4.11–§4.15) ----------------------------------------------

#[derive(Debug, Clone)]
pub struct CreateApplicationAccessPointRequest {
    pub name: String,
    pub policies: Vec<String>,
    pub description: String,
}

impl FromParams for CreateApplicationAccessPointRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let name = new_name(p, "Name")?;
        let policies = policy_names(p)?.ok_or_else(|| ApiError::missing_parameter("Policies"))?;
        if p.optional("AuthenticationMethod").is_some_and(|m| m != CLIENT_KEY_AUTHENTICATION) {
            return Err(ApiError::invalid_parameter("AuthenticationMethod"));
        }
        Ok(Self { name, policies, description: description(p)? })
    }
}

#[derive(Debug, Clone)]
pub struct UpdateApplicationAccessPointRequest {
    pub name: String,
    pub policies: Option<Vec<String>>,
    pub description: Option<String>,
}

impl FromParams for UpdateApplicationAccessPointRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { name: p.required("Name")?, policies: policy_names(p)?, description: changed_description(p)? })
    }
}

/// CreateApplicationAccessPoint and DescribeApplicationAccessPoint answer the same fields.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessPointResponse {
    pub arn: String,
    pub name: String,
    pub authentication_method: String,
    pub description: String,
    /// Compact JSON-array text.
    pub policies: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessPointItem {
    pub name: String,
    pub authentication_method: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessPointList {
    pub application_access_point: Vec<AccessPointItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListApplicationAccessPointsResponse {
    pub application_access_points: AccessPointList,
    #[serde(flatten)]
    pub page: PageEcho,
}

// ---- ClientKeys (§4.16–§4.19) -------------------------------------------------------------

/// CreateClientKey. The password is wiped when the request is dropped and never printed.
#[derive(Clone)]
pub struct CreateClientKeyRequest {
    pub aap_name: String,
    pub password: Zeroizing<String>,
    /// `NotBefore`, `NotAfter` as sent; both or neither.
    pub validity: Option<(String, String)>,
}

impl std::fmt::Debug for CreateClientKeyRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateClientKeyRequest")
            .field("aap_name", &self.aap_name)
            .field("validity", &self.validity)
            .finish_non_exhaustive()
    }
}

impl FromParams for CreateClientKeyRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let aap_name = p.required("AapName")?;
        let password = Zeroizing::new(p.required("Password")?);
        if !valid_client_key_password(&password) {
            return Err(ApiError::invalid_parameter("Password"));
        }
        let validity = match (p.optional("NotBefore"), p.optional("NotAfter")) {
            (Some(b), Some(a)) => Some((b, a)),
            (None, None) => None,
            (Some(_), None) => return Err(ApiError::missing_parameter("NotAfter")),
            (None, Some(_)) => return Err(ApiError::missing_parameter("NotBefore")),
        };
        Ok(Self { aap_name, password, validity })
    }
}

/// `PrivateKeyData` is the caller's only copy of the private key (PKCS#12, base64).
#[derive(Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateClientKeyResponse {
    pub client_key_id: String,
    pub key_algorithm: String,
    pub not_before: String,
    pub not_after: String,
    pub private_key_data: String,
}

impl std::fmt::Debug for CreateClientKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateClientKeyResponse").field("client_key_id", &self.client_key_id).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct ListClientKeysRequest {
    pub aap_name: Option<String>,
}

impl FromParams for ListClientKeysRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { aap_name: p.optional("AapName") })
    }
}

/// A ClientKey as GetClientKey and ListClientKeys describe it: its certificate, never its
/// private key.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClientKeyItem {
    pub client_key_id: String,
    pub aap_name: String,
    pub key_algorithm: String,
    pub key_origin: &'static str,
    pub create_time: String,
    pub not_before: String,
    pub not_after: String,
    pub public_key_data: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct GetClientKeyResponse {
    #[serde(flatten)]
    pub key: ClientKeyItem,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListClientKeysResponse {
    pub client_keys: Vec<ClientKeyItem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Params::from_pairs(owned.iter()).unwrap()
    }

    fn code<T: FromParams + std::fmt::Debug>(pairs: &[(&str, &str)]) -> String {
        T::from_params(&mut params(pairs)).unwrap_err().code.as_str().to_owned()
    }

    #[test]
    fn source_ips_as_json_or_commas() {
        let r = CreateNetworkRuleRequest::from_params(&mut params(&[
            ("Name", "r1"),
            ("Type", "Private"),
            ("SourcePrivateIp", r#"["10.10.10.10/24","192.168.17.13"]"#),
        ]))
        .unwrap();
        assert_eq!(r.source_private_ips, ["10.10.10.10/24", "192.168.17.13"]);
        assert_eq!(json_list(&r.source_private_ips), r#"["10.10.10.10/24","192.168.17.13"]"#);
        let r = CreateNetworkRuleRequest::from_params(&mut params(&[
            ("Name", "r1"),
            ("Type", "Private"),
            ("SourcePrivateIp", "10.0.0.1, 10.0.1.0/24"),
        ]))
        .unwrap();
        assert_eq!(r.source_private_ips, ["10.0.0.1", "10.0.1.0/24"]);
        for (k, v, want) in [
            ("Type", "Public", "InvalidParameter"),
            ("SourcePrivateIp", "10.0.0.300", "InvalidParameter"),
            ("SourcePrivateIp", r#"["10.0.0.1""#, "InvalidParameter"),
            ("Name", "bad name", "InvalidParameter"),
        ] {
            let mut pairs = vec![("Name", "r1"), ("Type", "Private")];
            pairs.retain(|(n, _)| *n != k);
            pairs.push((k, v));
            assert_eq!(code::<CreateNetworkRuleRequest>(&pairs), want, "{k}={v}");
        }
        assert_eq!(code::<CreateNetworkRuleRequest>(&[("Name", ""), ("Type", "Private")]), "MissingParameter");
    }

    #[test]
    fn update_description_absent_or_cleared() {
        let r = UpdateNetworkRuleRequest::from_params(&mut params(&[("Name", "r")])).unwrap();
        assert_eq!((r.description, r.source_private_ips), (None, None));
        let r = UpdateNetworkRuleRequest::from_params(&mut params(&[("Name", "r"), ("Description", "")])).unwrap();
        assert_eq!(r.description.as_deref(), Some(""));
    }

    #[test]
    fn policies_take_templates_patterns_and_rules() {
        let base = [
            ("Name", "p"),
            ("Permissions", r#"["RbacPermission/Template/CryptoServiceKeyUser"]"#),
            ("Resources", r#"["key/*","secret/app-*"]"#),
            ("KmsInstance", "shared"),
            ("AccessControlRules", "{\n  \"NetworkRules\": [\"r1\"]\n}\n"),
        ];
        let r = CreatePolicyRequest::from_params(&mut params(&base)).unwrap();
        assert_eq!(r.access_control_rules.as_deref(), Some("{\n  \"NetworkRules\": [\"r1\"]\n}\n"));
        let empty = CreatePolicyRequest::from_params(&mut params(&[base[0], ("Permissions", "[]"), base[2]])).unwrap();
        assert!(empty.permissions.is_empty());
        for (k, v) in [
            ("Permissions", r#"["kms:*"]"#),
            ("Resources", r#"["alias/*"]"#),
            ("Resources", "key/*"),
            ("AccessControlRules", r#"{"NetworkRules":"r1"}"#),
        ] {
            let mut pairs: Vec<_> = base.iter().copied().filter(|(n, _)| *n != k).collect();
            pairs.push((k, v));
            assert_eq!(code::<CreatePolicyRequest>(&pairs), "InvalidParameter", "{k}={v}");
        }
        assert_eq!(code::<CreatePolicyRequest>(&base[..2]), "MissingParameter");
    }

    #[test]
    fn access_points_carry_at_most_three_policies() {
        let ok = [("Name", "a"), ("Policies", r#"["p1","p2","p3"]"#), ("AuthenticationMethod", "ClientKey")];
        assert_eq!(CreateApplicationAccessPointRequest::from_params(&mut params(&ok)).unwrap().policies.len(), 3);
        assert_eq!(
            code::<CreateApplicationAccessPointRequest>(&[("Name", "a"), ("Policies", r#"["1","2","3","4"]"#)]),
            "InvalidParameter"
        );
        assert_eq!(
            code::<CreateApplicationAccessPointRequest>(&[
                ("Name", "a"),
                ("Policies", "[]"),
                ("AuthenticationMethod", "RAM")
            ]),
            "InvalidParameter"
        );
    }

    #[test]
    fn client_keys_need_a_good_password_and_both_or_no_dates() {
        let r =
            CreateClientKeyRequest::from_params(&mut params(&[("AapName", "a"), ("Password", "Passw0rd!")])).unwrap();
        assert_eq!(r.validity, None);
        assert!(!format!("{r:?}").contains("Passw0rd"), "the password is never printed");
        assert_eq!(code::<CreateClientKeyRequest>(&[("AapName", "a"), ("Password", "short1")]), "InvalidParameter");
        assert_eq!(
            code::<CreateClientKeyRequest>(&[
                ("AapName", "a"),
                ("Password", "Passw0rd!"),
                ("NotBefore", "2023-09-01T14:11:22Z")
            ]),
            "MissingParameter"
        );
        assert_eq!(code::<CreateClientKeyRequest>(&[("Password", "Passw0rd!")]), "MissingParameter");
    }
}
