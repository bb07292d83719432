//! Tags on keys and secrets (spec §6.11): validated key/value pairs.

/// Most tags on one resource, and in one request.
pub const MAX_TAGS: usize = 20;
/// Longest tag key or value, in characters.
pub const MAX_TAG_CHARS: usize = 128;

/// Which part of a tag is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    #[error("invalid tag key")]
    Key,
    #[error("invalid tag value")]
    Value,
}

/// One validated tag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

fn allowed(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '/' | '\\' | '_' | '-' | '.' | '+' | '=' | ':' | '@')
}

impl Tag {
    /// Keys are 1–128 characters, values 0–128, from letters, digits and `/ \ _ - . + = : @`
    /// (spec §6.11: no spaces); keys starting with `aliyun` or `acs:` are reserved for the cloud.
    pub fn new(key: &str, value: &str) -> Result<Self, TagError> {
        validate_key(key)?;
        if value.chars().count() > MAX_TAG_CHARS || !value.chars().all(allowed) {
            return Err(TagError::Value);
        }
        Ok(Self { key: key.to_owned(), value: value.to_owned() })
    }
}

/// A tag key on its own (UntagResource, filters).
pub fn validate_key(key: &str) -> Result<(), TagError> {
    let lower = key.to_ascii_lowercase();
    if key.is_empty()
        || key.chars().count() > MAX_TAG_CHARS
        || !key.chars().all(allowed)
        || lower.starts_with("aliyun")
        || lower.starts_with("acs:")
    {
        return Err(TagError::Key);
    }
    Ok(())
}

/// What a tagged resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Key,
    Secret,
    /// A KMS instance (`kst-…`): Terraform tags `alicloud_kms_instance` with `instance`.
    Instance,
}

impl ResourceType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::Secret => "secret",
            Self::Instance => "instance",
        }
    }
}

impl std::str::FromStr for ResourceType {
    type Err = crate::UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "key" => Ok(Self::Key),
            "secret" => Ok(Self::Secret),
            "instance" => Ok(Self::Instance),
            _ => Err(crate::UnknownValue),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules_follow_spec_6_11() {
        assert!(Tag::new("team", "payments").is_ok());
        assert!(Tag::new("a/b\\c_d-e.f+g=h:i@jk", "").is_ok());
        assert_eq!(Tag::new("a b", "v"), Err(TagError::Key));
        assert_eq!(Tag::new("k", "v w"), Err(TagError::Value));
        assert_eq!(Tag::new("", "v"), Err(TagError::Key));
        assert_eq!(Tag::new("aliyun-x", "v"), Err(TagError::Key));
        assert_eq!(Tag::new("ACS:x", "v"), Err(TagError::Key));
        assert_eq!(Tag::new("k*", "v"), Err(TagError::Key));
        assert_eq!(Tag::new(&"k".repeat(129), "v"), Err(TagError::Key));
        assert!(Tag::new(&"k".repeat(128), &"v".repeat(128)).is_ok());
        assert_eq!(Tag::new("k", &"v".repeat(129)), Err(TagError::Value));
        assert_eq!(Tag::new("k", "v#"), Err(TagError::Value));
    }
}
