//! Tags: TagResource, UntagResource, ListResourceTags (one resource, JSON parameters) and
//! TagResources, UntagResources, ListTagResources (batches, repeat lists) — spec §7.7, §6.11.

use std::collections::HashSet;

use kms_types::tags::{MAX_TAGS, validate_key};
use kms_types::{KeyRef, ResourceType, Tag, TagError};
use serde::{Deserialize, Serialize};

use super::{FromParams, key_ref};
use crate::error::{ApiError, Code};
use crate::params::{Params, decode_base64, encode_base64};

/// Most resources in one batch request.
pub const MAX_BATCH_RESOURCES: usize = 50;
/// Rows per ListTagResources page.
pub const TAG_ROWS_PER_PAGE: u32 = 200;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTag {
    #[serde(rename = "TagKey")]
    key: String,
    #[serde(rename = "TagValue", default)]
    value: String,
}

/// `Tags` as CreateKey and TagResource take it: `[{"TagKey":"k","TagValue":"v"}]`, at most 20,
/// no key twice.
pub(crate) fn parse_tags_json(json: &str) -> Result<Vec<Tag>, ApiError> {
    let invalid = || ApiError::invalid_parameter("Tags");
    let wire: Vec<WireTag> = serde_json::from_str(json).map_err(|_| invalid())?;
    if wire.is_empty() || wire.len() > MAX_TAGS {
        return Err(invalid());
    }
    let mut seen = HashSet::new();
    wire.into_iter()
        .map(|t| {
            if !seen.insert(t.key.clone()) {
                return Err(invalid());
            }
            Tag::new(&t.key, &t.value).map_err(|_| invalid())
        })
        .collect()
}

/// The one resource a single-resource tag action names: exactly one of `KeyId`, `SecretName`,
/// `CertificateId`.
#[derive(Debug, Clone)]
pub enum TagTarget {
    Key(KeyRef),
    Secret(String),
}

fn tag_target(p: &mut Params) -> Result<TagTarget, ApiError> {
    let key = p.optional("KeyId");
    let secret = p.optional("SecretName");
    let certificate = p.optional("CertificateId");
    match (key, secret, certificate) {
        (Some(k), None, None) => KeyRef::parse(&k).map(TagTarget::Key).map_err(|_| ApiError::new(Code::KeyNotFound)),
        (None, Some(s), None) => Ok(TagTarget::Secret(s)),
        (None, None, Some(_)) => Err(ApiError::with_message(
            Code::UnsupportedOperation,
            "This action is not supported. Certificates are not supported by this kmsd.",
        )),
        (None, None, None) => Err(ApiError::missing_parameter("KeyId")),
        _ => Err(ApiError::invalid_parameter("KeyId")),
    }
}

#[derive(Debug, Clone)]
pub struct TagResourceRequest {
    pub target: TagTarget,
    pub tags: Vec<Tag>,
}

impl FromParams for TagResourceRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let target = tag_target(p)?;
        Ok(Self { target, tags: parse_tags_json(&p.required("Tags")?)? })
    }
}

#[derive(Debug, Clone)]
pub struct UntagResourceRequest {
    pub target: TagTarget,
    pub tag_keys: Vec<String>,
}

/// `TagKeys`: the docs say comma-separated, the official example is a JSON array; both work.
fn parse_tag_keys(raw: &str) -> Result<Vec<String>, ApiError> {
    let invalid = || ApiError::invalid_parameter("TagKeys");
    let keys: Vec<String> = if raw.trim_start().starts_with('[') {
        serde_json::from_str(raw).map_err(|_| invalid())?
    } else {
        raw.split(',').map(|k| k.trim().to_owned()).collect()
    };
    if keys.is_empty() || keys.len() > MAX_TAGS || keys.iter().any(|k| validate_key(k).is_err()) {
        return Err(invalid());
    }
    Ok(keys)
}

impl FromParams for UntagResourceRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let target = tag_target(p)?;
        Ok(Self { target, tag_keys: parse_tag_keys(&p.required("TagKeys")?)? })
    }
}

#[derive(Debug, Clone)]
pub struct ListResourceTagsRequest {
    pub key: KeyRef,
}

impl FromParams for ListResourceTagsRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        Ok(Self { key: key_ref(p, "KeyId")? })
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    pub tags: ResourceTags,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceTags {
    pub tag: Vec<ResourceTag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceTag {
    pub key_id: String,
    pub tag_key: String,
    pub tag_value: String,
}

fn resource_type(p: &mut Params) -> Result<ResourceType, ApiError> {
    p.required("ResourceType")?.parse().map_err(|_| ApiError::invalid_parameter("ResourceType"))
}

/// `ResourceId.N`, 1–50 of them.
fn resource_ids(p: &mut Params, required: bool) -> Result<Option<Vec<String>>, ApiError> {
    let ids: Vec<String> =
        p.take_indexed("ResourceId")?.into_iter().filter(|(_, f, _)| f.is_empty()).map(|(_, _, v)| v).collect();
    match ids.len() {
        0 if required => Err(ApiError::missing_parameter("ResourceId.1")),
        0 => Ok(None),
        n if n > MAX_BATCH_RESOURCES => Err(ApiError::invalid_parameter("ResourceId")),
        _ => Ok(Some(ids)),
    }
}

/// `Tag.N.Key` / `Tag.N.Value` pairs, grouped by N; a key given twice is `Duplicate.TagKey`.
fn indexed_tags(p: &mut Params) -> Result<Vec<(String, Option<String>)>, ApiError> {
    let mut tags: Vec<(u32, Option<String>, Option<String>)> = Vec::new();
    for (index, field, value) in p.take_indexed("Tag")? {
        if tags.last().is_none_or(|t| t.0 != index) {
            tags.push((index, None, None));
        }
        let slot = tags.last_mut().ok_or_else(|| ApiError::invalid_parameter("Tag"))?;
        match field.as_str() {
            "Key" => slot.1 = Some(value),
            "Value" => slot.2 = Some(value),
            _ => return Err(ApiError::invalid_parameter("Tag")),
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(ApiError::invalid_parameter("Tag"));
    }
    let mut seen = HashSet::new();
    tags.into_iter()
        .map(|(_, key, value)| {
            let key = key.ok_or_else(|| ApiError::new(Code::InvalidTagKey))?;
            if !seen.insert(key.clone()) {
                return Err(ApiError::new(Code::DuplicateTagKey));
            }
            Ok((key, value))
        })
        .collect()
}

fn tag_error(e: TagError) -> ApiError {
    match e {
        TagError::Key => Code::InvalidTagKey.into(),
        TagError::Value => Code::InvalidTagValue.into(),
    }
}

#[derive(Debug, Clone)]
pub struct TagResourcesRequest {
    pub resource_type: ResourceType,
    pub resource_ids: Vec<String>,
    pub tags: Vec<Tag>,
}

impl FromParams for TagResourcesRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let resource_type = resource_type(p)?;
        let resource_ids = resource_ids(p, true)?.unwrap_or_default();
        let pairs = indexed_tags(p)?;
        if pairs.is_empty() {
            return Err(ApiError::missing_parameter("Tag.1.Key"));
        }
        let tags = pairs
            .into_iter()
            .map(|(k, v)| Tag::new(&k, v.as_deref().unwrap_or("")).map_err(tag_error))
            .collect::<Result<_, _>>()?;
        Ok(Self { resource_type, resource_ids, tags })
    }
}

#[derive(Debug, Clone)]
pub struct UntagResourcesRequest {
    pub resource_type: ResourceType,
    pub resource_ids: Vec<String>,
    /// `None`: every tag (`All=true` with no `TagKey.N`).
    pub tag_keys: Option<Vec<String>>,
}

impl FromParams for UntagResourcesRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let resource_type = resource_type(p)?;
        let resource_ids = resource_ids(p, true)?.unwrap_or_default();
        let keys: Vec<String> =
            p.take_indexed("TagKey")?.into_iter().filter(|(_, f, _)| f.is_empty()).map(|(_, _, v)| v).collect();
        let all = p.optional_bool("All")?.unwrap_or(false);
        if keys.len() > MAX_TAGS {
            return Err(ApiError::invalid_parameter("TagKey"));
        }
        for k in &keys {
            validate_key(k).map_err(tag_error)?;
        }
        let tag_keys = match (keys.is_empty(), all) {
            (true, true) => None,
            (true, false) => return Err(ApiError::missing_parameter("TagKey.1")),
            (false, _) => Some(keys),
        };
        Ok(Self { resource_type, resource_ids, tag_keys })
    }
}

#[derive(Debug, Clone)]
pub struct ListTagResourcesRequest {
    pub resource_type: ResourceType,
    pub resource_ids: Option<Vec<String>>,
    pub filter: Vec<(String, Option<String>)>,
    /// Where the previous page ended: `(resource id, tag key)`.
    pub after: Option<(String, String)>,
}

impl FromParams for ListTagResourcesRequest {
    fn from_params(p: &mut Params) -> Result<Self, ApiError> {
        let resource_type = resource_type(p)?;
        let resource_ids = resource_ids(p, false)?;
        let filter = indexed_tags(p)?;
        let after = p.optional("NextToken").map(|t| parse_next_token(&t)).transpose()?;
        Ok(Self { resource_type, resource_ids, filter, after })
    }
}

/// The cursor is opaque to clients: base64 of `resource id \n tag key`.
pub fn next_token(resource_id: &str, tag_key: &str) -> String {
    encode_base64(format!("{resource_id}\n{tag_key}").as_bytes())
}

fn parse_next_token(token: &str) -> Result<(String, String), ApiError> {
    let invalid = || ApiError::invalid_parameter("NextToken");
    let bytes = decode_base64(token).ok_or_else(invalid)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (id, key) = text.split_once('\n').ok_or_else(invalid)?;
    Ok((id.to_owned(), key.to_owned()))
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagResourcesResponse {
    /// Empty when there is no further page.
    pub next_token: String,
    pub tag_resources: TagResources,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResources {
    pub tag_resource: Vec<TagResourceRow>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRow {
    pub resource_id: String,
    pub resource_type: &'static str,
    pub tag_key: String,
    pub tag_value: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Params::from_pairs(&owned).unwrap()
    }

    #[test]
    fn tags_json_rules() {
        assert_eq!(parse_tags_json(r#"[{"TagKey":"k","TagValue":"v"}]"#).unwrap(), vec![Tag::new("k", "v").unwrap()]);
        for bad in [
            "[]",
            "{}",
            r#"[{"TagKey":"k"},{"TagKey":"k"}]"#,
            r#"[{"TagKey":"aliyun:x","TagValue":"v"}]"#,
            r#"[{"Key":"k"}]"#,
        ] {
            assert_eq!(parse_tags_json(bad).unwrap_err(), ApiError::invalid_parameter("Tags"), "{bad}");
        }
        let many: Vec<String> = (0..21).map(|i| format!(r#"{{"TagKey":"k{i}","TagValue":"v"}}"#)).collect();
        assert!(parse_tags_json(&format!("[{}]", many.join(","))).is_err());
    }

    #[test]
    fn tag_keys_take_json_or_commas() {
        assert_eq!(parse_tag_keys(r#"["a","b"]"#).unwrap(), vec!["a", "b"]);
        assert_eq!(parse_tag_keys("a, b").unwrap(), vec!["a", "b"]);
        assert!(parse_tag_keys("a,,b").is_err());
    }

    #[test]
    fn batch_tags_are_grouped_by_index_and_checked() {
        let r = TagResourcesRequest::from_params(&mut params(&[
            ("ResourceType", "key"),
            ("ResourceId.2", "b"),
            ("ResourceId.1", "a"),
            ("Tag.1.Key", "x"),
            ("Tag.1.Value", "1"),
            ("Tag.2.Key", "y"),
        ]))
        .unwrap();
        assert_eq!(r.resource_ids, vec!["a", "b"]);
        assert_eq!(r.tags, vec![Tag::new("x", "1").unwrap(), Tag::new("y", "").unwrap()]);
        let dup = TagResourcesRequest::from_params(&mut params(&[
            ("ResourceType", "key"),
            ("ResourceId.1", "a"),
            ("Tag.1.Key", "x"),
            ("Tag.2.Key", "x"),
        ]));
        assert_eq!(dup.unwrap_err().code, Code::DuplicateTagKey);
        let bad_key = TagResourcesRequest::from_params(&mut params(&[
            ("ResourceType", "key"),
            ("ResourceId.1", "a"),
            ("Tag.1.Key", "acs:x"),
        ]));
        assert_eq!(bad_key.unwrap_err().code, Code::InvalidTagKey);
        let bad_value = TagResourcesRequest::from_params(&mut params(&[
            ("ResourceType", "key"),
            ("ResourceId.1", "a"),
            ("Tag.1.Key", "x"),
            ("Tag.1.Value", "#"),
        ]));
        assert_eq!(bad_value.unwrap_err().code, Code::InvalidTagValue);
        let bad_type = TagResourcesRequest::from_params(&mut params(&[
            ("ResourceType", "disk"),
            ("ResourceId.1", "a"),
            ("Tag.1.Key", "x"),
        ]));
        assert_eq!(bad_type.unwrap_err(), ApiError::invalid_parameter("ResourceType"));
    }

    #[test]
    fn next_tokens_round_trip() {
        let t = next_token("id-1", "team");
        assert_eq!(parse_next_token(&t).unwrap(), ("id-1".into(), "team".into()));
        assert!(parse_next_token("garbage!").is_err());
    }
}
