//! The value rules of application access (docs/design/instances.md §4): names, network
//! addresses, permission templates, resource patterns, `AccessControlRules` documents and
//! ClientKey passwords. Pure functions, shared by the wire (which refuses bad values) and the
//! key service (which reads the documents).

use std::net::IpAddr;

/// The permission templates a policy may grant (§4.6).
pub const PERMISSION_TEMPLATES: &[&str] =
    &["RbacPermission/Template/CryptoServiceKeyUser", "RbacPermission/Template/CryptoServiceSecretUser"];

/// Longest name of a network rule, policy or AAP.
pub const MAX_ACCESS_NAME_CHARS: usize = 128;

/// A network rule, policy or AAP name: 1–128 letters, digits and `_ . - /`.
pub fn valid_access_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_ACCESS_NAME_CHARS
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b))
}

/// An IPv4 or IPv6 address, or a CIDR block of one.
pub fn valid_source_ip(text: &str) -> bool {
    match text.split_once('/') {
        None => text.parse::<IpAddr>().is_ok(),
        Some((addr, bits)) => {
            let Ok(addr) = addr.parse::<IpAddr>() else { return false };
            let max = if addr.is_ipv4() { 32 } else { 128 };
            !bits.is_empty()
                && bits.len() <= 3
                && bits.bytes().all(|b| b.is_ascii_digit())
                && bits.parse::<u8>().is_ok_and(|n| n <= max)
        }
    }
}

/// A policy resource: `key/<id>` or `secret/<name>`, `*` allowed only as the last character.
pub fn valid_resource_pattern(text: &str) -> bool {
    let rest = text.strip_prefix("key/").or_else(|| text.strip_prefix("secret/"));
    match rest {
        Some(r) if !r.is_empty() && text.len() <= 512 => {
            let body = r.strip_suffix('*').unwrap_or(r);
            !body.contains('*') && r.chars().all(|c| !c.is_control())
        }
        _ => false,
    }
}

/// The `NetworkRules` names of an `AccessControlRules` document; `None` when it is not a JSON
/// object whose optional `NetworkRules` is a list of names.
pub fn network_rules_of(text: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    match value.as_object()?.get("NetworkRules") {
        None | Some(serde_json::Value::Null) => Some(Vec::new()),
        Some(v) => serde_json::from_value(v.clone()).ok(),
    }
}

/// The special characters a ClientKey password may use (§4.16).
const PASSWORD_SPECIALS: &str = "~!@#$%^&*?_-";

/// A ClientKey password: 8–64 characters of letters, digits and `~!@#$%^&*?_-`, at least two
/// of the three kinds.
pub fn valid_client_key_password(password: &str) -> bool {
    let (mut digits, mut letters, mut specials) = (false, false, false);
    for c in password.chars() {
        if c.is_ascii_digit() {
            digits = true;
        } else if c.is_ascii_alphabetic() {
            letters = true;
        } else if PASSWORD_SPECIALS.contains(c) {
            specials = true;
        } else {
            return false;
        }
    }
    (8..=64).contains(&password.len()) && [digits, letters, specials].iter().filter(|k| **k).count() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["networkrule_test", "tf-testacc-1", "kst-hzz62ee817bvyyr5x.efkd", "a/b", &"n".repeat(128)] {
            assert!(valid_access_name(ok), "{ok}");
        }
        for bad in ["", "with space", "ü", "a;b", &"n".repeat(129)] {
            assert!(!valid_access_name(bad), "{bad}");
        }
    }

    #[test]
    fn source_ips() {
        for ok in ["10.10.10.10", "192.168.17.0/24", "100.177.24.254/32", "0.0.0.0/0", "fd00::1", "fd00::/8"] {
            assert!(valid_source_ip(ok), "{ok}");
        }
        for bad in ["", "10.0.0", "10.0.0.1/33", "10.0.0.1/", "fd00::/129", "10.0.0.1/+8", "host", "10.0.0.1/08a"] {
            assert!(!valid_source_ip(bad), "{bad}");
        }
    }

    #[test]
    fn resource_patterns() {
        for ok in ["key/*", "secret/*", "key/key-hzz63d9c8d3dfv8cv", "secret/acs/ram/user/ram-secret", "secret/app-*"] {
            assert!(valid_resource_pattern(ok), "{ok}");
        }
        for bad in ["", "key/", "alias/a", "key/*/x", "*", "secret/a*b", "Key/x"] {
            assert!(!valid_resource_pattern(bad), "{bad}");
        }
    }

    #[test]
    fn access_control_rules() {
        assert_eq!(network_rules_of(r#"{"NetworkRules":["a","b"]}"#), Some(vec!["a".into(), "b".into()]));
        assert_eq!(network_rules_of("{\n  \"NetworkRules\": [\"a\"]\n}\n"), Some(vec!["a".into()]));
        assert_eq!(network_rules_of("{}"), Some(vec![]));
        assert_eq!(network_rules_of(r#"{"NetworkRules":"a"}"#), None);
        assert_eq!(network_rules_of(r#"["a"]"#), None);
        assert_eq!(network_rules_of("not json"), None);
    }

    #[test]
    fn passwords() {
        for ok in ["Passw0rd", "abcd1234", "abcd-efg", "1234_5678", &"a1".repeat(32)] {
            assert!(valid_client_key_password(ok), "{ok}");
        }
        for bad in ["Pass0rd", "abcdefgh", "12345678", "--------", "Passw0rd with space", "Pässw0rd1", &"a1".repeat(33)]
        {
            assert!(!valid_client_key_password(bad), "{bad}");
        }
    }
}
