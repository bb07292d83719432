//! Typed identifiers. Each constructor validates, so a value of these types is always
//! well formed and later layers never re-check strings.

use std::fmt;

/// A string that is not a valid identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid identifier")]
pub struct InvalidId;

/// Parses a canonical hyphenated UUID, normalised to lower case.
fn parse_uuid(s: &str) -> Result<String, InvalidId> {
    if s.len() != 36 {
        return Err(InvalidId);
    }
    let u = uuid::Uuid::try_parse(s).map_err(|_| InvalidId)?;
    Ok(u.hyphenated().to_string())
}

macro_rules! uuid_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Accepts a 36-character hyphenated UUID (any case).
            pub fn parse(s: &str) -> Result<Self, InvalidId> {
                parse_uuid(s).map(Self)
            }
            /// A fresh, time-ordered id (UUIDv7 keeps index appends local).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().hyphenated().to_string())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

/// Id of a customer master key: a UUID for a default key; for a key in a KMS instance, as the
/// cloud names those, `key-` followed by the instance region's code and lowercase
/// alphanumerics (`key-hzz630494463ejqjx…`, docs/design/instances.md §1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The prefix of instance key ids.
    pub const INSTANCE_PREFIX: &'static str = "key-";

    /// Accepts a 36-character hyphenated UUID (any case), or `key-` and 12–40 lowercase
    /// letters and digits.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        match s.strip_prefix(Self::INSTANCE_PREFIX) {
            Some(t)
                if (12..=40).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
            {
                Ok(Self(s.to_owned()))
            }
            Some(_) => Err(InvalidId),
            None => parse_uuid(s).map(Self),
        }
    }
    /// A fresh, time-ordered id (UUIDv7 keeps index appends local).
    pub fn generate() -> Self {
        Self(uuid::Uuid::now_v7().hyphenated().to_string())
    }
    /// An instance key's id from its region code and random tail (validated like [`Self::parse`]).
    pub fn in_instance(region_code: &str, tail: &str) -> Result<Self, InvalidId> {
        Self::parse(&format!("{}{region_code}{tail}", Self::INSTANCE_PREFIX))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
uuid_id!(
    /// Id of one version of a key. Always 36 ASCII bytes: the ciphertext blob starts with it
    /// (spec §8.1), which is how Decrypt finds the key without being told.
    KeyVersionId
);

impl KeyVersionId {
    /// Length of the id as it appears at the head of a ciphertext blob.
    pub const LEN: usize = 36;
}

/// `alias/` followed by 1–255 characters of `[A-Za-z0-9_/-]` (spec §6.7).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasName(String);

impl AliasName {
    pub const PREFIX: &'static str = "alias/";

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let rest = s.strip_prefix(Self::PREFIX).ok_or(InvalidId)?;
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '-');
        if rest.is_empty() || rest.len() > 255 || !rest.chars().all(ok_char) {
            return Err(InvalidId);
        }
        Ok(Self(s.to_owned()))
    }

    /// Names under `alias/acs` belong to the cloud's own service keys; users may not create them.
    pub fn is_reserved(&self) -> bool {
        self.0.starts_with("alias/acs")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name without its `alias/` prefix, as it appears in an alias ARN.
    pub fn suffix(&self) -> &str {
        &self.0[Self::PREFIX.len()..]
    }
}

impl fmt::Display for AliasName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The 16-digit account uid that owns every resource of one kmsd deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        if s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0') {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidId)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region id such as `cn-hangzhou`: lower-case letters, digits and hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegionId(String);

impl RegionId {
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidId) }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a request names a key: by id, by alias, or by either one's ARN (spec §2 rule 7).
///
/// An ARN carries a region and account; the key service refuses one that is not its own, so a
/// key id copied from another deployment is "not found" rather than silently accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    Id { id: KeyId, scope: Option<(String, String)> },
    Alias { name: AliasName, scope: Option<(String, String)> },
}

/// A `KeyId` parameter that names no key of any shape. Which not-found code it earns depends
/// on the shape it tried to have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadKeyRef {
    Key,
    Alias,
}

impl KeyRef {
    pub fn parse(s: &str) -> Result<Self, BadKeyRef> {
        if let Some(arn) = s.strip_prefix("acs:kms:") {
            let mut parts = arn.splitn(3, ':');
            let (region, account, resource) = match (parts.next(), parts.next(), parts.next()) {
                (Some(r), Some(a), Some(res)) => (r, a, res),
                _ => return Err(BadKeyRef::Key),
            };
            let scope = Some((region.to_owned(), account.to_owned()));
            if let Some(id) = resource.strip_prefix("key/") {
                let id = KeyId::parse(id).map_err(|_| BadKeyRef::Key)?;
                return Ok(Self::Id { id, scope });
            }
            if let Some(name) = resource.strip_prefix("alias/") {
                let name = AliasName::parse(&format!("alias/{name}")).map_err(|_| BadKeyRef::Alias)?;
                return Ok(Self::Alias { name, scope });
            }
            return Err(BadKeyRef::Key);
        }
        if s.starts_with(AliasName::PREFIX) {
            let name = AliasName::parse(s).map_err(|_| BadKeyRef::Alias)?;
            return Ok(Self::Alias { name, scope: None });
        }
        KeyId::parse(s).map(|id| Self::Id { id, scope: None }).map_err(|_| BadKeyRef::Key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ids_are_normalised_uuids() {
        let id = KeyId::parse("1234ABCD-12ab-34cd-56ef-1234567890ab").unwrap();
        assert_eq!(id.as_str(), "1234abcd-12ab-34cd-56ef-1234567890ab");
        assert!(KeyId::parse("1234abcd12ab34cd56ef1234567890ab").is_err());
        assert!(KeyId::parse("not-a-key").is_err());
        // Instance keys, as the cloud names them.
        assert_eq!(KeyId::parse("key-hzz630494463ejqjx1234").unwrap().as_str(), "key-hzz630494463ejqjx1234");
        for bad in [
            "key-",
            "key-short",
            "key-HZZ630494463EJQJX1234",
            "key-hzz63049446-3ejqjx",
            &format!("key-{}", "a".repeat(41)),
        ] {
            assert!(KeyId::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(KeyId::in_instance("hzz", "630494463ejqjx1234").unwrap().as_str(), "key-hzz630494463ejqjx1234");
        assert_eq!(KeyId::generate().as_str().len(), 36);
    }

    #[test]
    fn alias_names_follow_spec_6_7() {
        assert!(AliasName::parse("alias/app-1/prod_x").is_ok());
        assert!(AliasName::parse("alias/").is_err());
        assert!(AliasName::parse("app").is_err());
        assert!(AliasName::parse("alias/a b").is_err());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(255))).is_ok());
        assert!(AliasName::parse(&format!("alias/{}", "a".repeat(256))).is_err());
        assert!(AliasName::parse("alias/acs/x").unwrap().is_reserved());
        assert!(!AliasName::parse("alias/ac").unwrap().is_reserved());
    }

    #[test]
    fn key_refs_accept_ids_aliases_and_arns() {
        let id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        assert!(matches!(KeyRef::parse(id), Ok(KeyRef::Id { scope: None, .. })));
        assert!(matches!(KeyRef::parse("alias/x"), Ok(KeyRef::Alias { scope: None, .. })));
        let arn = format!("acs:kms:cn-hangzhou:1234567890123456:key/{id}");
        match KeyRef::parse(&arn).unwrap() {
            KeyRef::Id { id: k, scope } => {
                assert_eq!(k.as_str(), id);
                assert_eq!(scope, Some(("cn-hangzhou".into(), "1234567890123456".into())));
            }
            other => panic!("{other:?}"),
        }
        let alias_arn = "acs:kms:cn-hangzhou:1234567890123456:alias/x";
        assert!(matches!(KeyRef::parse(alias_arn), Ok(KeyRef::Alias { .. })));
        assert_eq!(KeyRef::parse("nope"), Err(BadKeyRef::Key));
        assert_eq!(KeyRef::parse("alias/bad name"), Err(BadKeyRef::Alias));
    }
}
