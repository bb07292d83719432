//! Secret names, version ids and stages (spec §6.10), validated once at the edge.

use std::fmt;

use crate::InvalidId;

/// A secret's name: 1–192 characters of `[A-Za-z0-9_/+=.@-]` or CJK ideographs (at most 64 of
/// those), not starting with `acs/` (reserved for managed secret types).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretName(String);

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4DBF}' | '\u{4E00}'..='\u{9FFF}' | '\u{F900}'..='\u{FAFF}' | '\u{20000}'..='\u{2FA1F}')
}

impl SecretName {
    pub const MAX_CHARS: usize = 192;
    pub const MAX_CJK: usize = 64;

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        let chars = s.chars().count();
        let cjk = s.chars().filter(|c| is_cjk(*c)).count();
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_/+=.@-".contains(c) || is_cjk(c);
        if chars == 0 || chars > Self::MAX_CHARS || cjk > Self::MAX_CJK || !s.chars().all(allowed) {
            return Err(InvalidId);
        }
        if s.starts_with("acs/") {
            return Err(InvalidId);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Printable text of 1–`max` characters without control characters: what the spec leaves open
/// for version ids and stage labels beyond their length.
fn label(s: &str, max: usize) -> Result<String, InvalidId> {
    let n = s.chars().count();
    if n == 0 || n > max || s.chars().any(char::is_control) || s.trim() != s {
        return Err(InvalidId);
    }
    Ok(s.to_owned())
}

/// A secret version's id: chosen by the caller, at most 64 characters, unique in its secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SecretVersionId(String);

impl SecretVersionId {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        label(s, Self::MAX_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SecretVersionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stage label on a secret version. `ACSCurrent` is what reads return by default and
/// `ACSPrevious` is set on the former current one; any other label is the caller's. A stage is
/// on at most one version of a secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VersionStage(String);

impl VersionStage {
    pub const CURRENT: &'static str = "ACSCurrent";
    pub const PREVIOUS: &'static str = "ACSPrevious";
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        label(s, Self::MAX_CHARS).map(Self)
    }

    pub fn current() -> Self {
        Self(Self::CURRENT.to_owned())
    }

    pub fn previous() -> Self {
        Self(Self::PREVIOUS.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for VersionStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_follow_the_documented_rules() {
        for ok in ["db-password", "app/prod/token", "a+b=c.d@e_f", &"x".repeat(192), "数据库密码", &"密".repeat(64)]
        {
            assert!(SecretName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", &"x".repeat(193), "acs/ecs/x", "with space", "semi;colon", &"密".repeat(65), "é"] {
            assert!(SecretName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn version_ids_and_stages_are_short_printable_labels() {
        assert!(SecretVersionId::parse("v1").is_ok());
        assert!(SecretVersionId::parse(&"v".repeat(64)).is_ok());
        for bad in ["", &"v".repeat(65), "a\nb", " v1"] {
            assert!(SecretVersionId::parse(bad).is_err(), "{bad:?}");
            assert!(VersionStage::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(VersionStage::current().as_str(), "ACSCurrent");
        assert_eq!(VersionStage::parse("ACSNext").unwrap().as_str(), "ACSNext");
    }
}
