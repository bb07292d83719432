use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

/// A request context from a table of key → values.
struct Ctx(HashMap<&'static str, Vec<String>>);

impl Context for Ctx {
    fn values(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

fn ctx(pairs: &[(&'static str, &str)]) -> Ctx {
    let mut m: HashMap<&'static str, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        m.entry(k).or_default().push((*v).to_owned());
    }
    Ctx(m)
}

const KEY_A: &str = "acs:kms:cn-hangzhou:1234567890123456:key/aaaa-1111";
const KEY_B: &str = "acs:kms:cn-hangzhou:1234567890123456:key/bbbb-2222";
const ALIAS: &str = "acs:kms:cn-hangzhou:1234567890123456:alias/app1-db";

fn policy(statements: &str) -> Policy {
    Policy::parse(&format!(r#"{{"Version":"1","Statement":{statements}}}"#)).unwrap()
}

#[test]
fn allow_deny_and_implicit_deny() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":"acs:kms:*:*:key/*"},
            {"Effect":"Deny","Action":"kms:*","Resource":"acs:kms:*:*:key/bbbb-*"}]"#,
    );
    let c = ctx(&[]);
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &c), Decision::Allow);
    assert_eq!(p.evaluate("kms:encrypt", KEY_A, &c), Decision::Allow, "actions are case-insensitive");
    assert_eq!(p.evaluate("kms:GenerateDataKey", KEY_A, &c), Decision::NotAllowed);
    assert_eq!(p.evaluate("kms:Encrypt", KEY_B, &c), Decision::ExplicitDeny, "an explicit Deny wins");
    assert_eq!(p.evaluate("kms:Encrypt", ALIAS, &c), Decision::NotAllowed);
    let everything = policy(r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#);
    assert_eq!(everything.evaluate("kms:ScheduleKeyDeletion", KEY_B, &c), Decision::Allow);
}

#[test]
fn resource_wildcards() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"kms:*","Resource":["acs:kms:cn-hangzhou:*:alias/app1-*","acs:kms:*:*:key/aaaa-111?"]}]"#,
    );
    let c = ctx(&[]);
    assert_eq!(p.evaluate("kms:Encrypt", ALIAS, &c), Decision::Allow);
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &c), Decision::Allow);
    assert_eq!(p.evaluate("kms:Encrypt", &format!("{KEY_A}1"), &c), Decision::NotAllowed, "? is one character");
    assert_eq!(
        p.evaluate("kms:Encrypt", "acs:kms:cn-shanghai:1234567890123456:alias/app1-db", &c),
        Decision::NotAllowed
    );
}

#[test]
fn conditions_on_source_ip_time_and_tags() {
    let p = policy(
        r#"[{"Effect":"Allow","Action":"kms:*","Resource":"*",
             "Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","127.0.0.1"]},
                          "DateLessThan":{"acs:CurrentTime":"2030-01-01T00:00:00Z"},
                          "StringEquals":{"kms:tag/team":["blue","green"]}}}]"#,
    );
    assert!(p.needs_tags());
    let ok = [("acs:SourceIp", "10.1.2.3"), ("acs:CurrentTime", "2026-11-29T00:00:00Z"), ("kms:tag/team", "blue")];
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &ctx(&ok)), Decision::Allow);
    let mut wrong_ip = ok;
    wrong_ip[0] = ("acs:SourceIp", "192.168.1.1");
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &ctx(&wrong_ip)), Decision::NotAllowed);
    let mut late = ok;
    late[1] = ("acs:CurrentTime", "2030-01-01T00:00:01Z");
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &ctx(&late)), Decision::NotAllowed);
    let mut red = ok;
    red[2] = ("kms:tag/team", "red");
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &ctx(&red)), Decision::NotAllowed);
    // No such tag: a positive operator does not hold.
    assert_eq!(p.evaluate("kms:Encrypt", KEY_A, &ctx(&ok[..2])), Decision::NotAllowed);

    // Negated operators hold when the key is absent, and a Deny with a condition denies only
    // when it holds.
    let d = policy(
        r#"[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
            {"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"NotIpAddress":{"acs:SourceIp":"127.0.0.0/8"}}},
            {"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:tag/env":"dev"}}}]"#,
    );
    assert_eq!(d.evaluate("kms:Encrypt", KEY_A, &ctx(&[("acs:SourceIp", "127.0.0.1")])), Decision::Allow);
    assert_eq!(d.evaluate("kms:Encrypt", KEY_A, &ctx(&[("acs:SourceIp", "8.8.8.8")])), Decision::ExplicitDeny);
    assert_eq!(d.evaluate("kms:Decrypt", KEY_A, &ctx(&[("acs:SourceIp", "127.0.0.1")])), Decision::ExplicitDeny);
    let dev = [("acs:SourceIp", "127.0.0.1"), ("kms:tag/env", "dev")];
    assert_eq!(d.evaluate("kms:Decrypt", KEY_A, &ctx(&dev)), Decision::Allow);
    let like = policy(
        r#"{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"kms:tag/owner":"app1-*"},"Bool":{"acs:SecureTransport":true}}}"#,
    );
    let c = ctx(&[("kms:tag/owner", "app1-payments"), ("acs:SecureTransport", "true")]);
    assert_eq!(like.evaluate("kms:Encrypt", KEY_A, &c), Decision::Allow);
    let c = ctx(&[("kms:tag/owner", "app1-payments"), ("acs:SecureTransport", "false")]);
    assert_eq!(like.evaluate("kms:Encrypt", KEY_A, &c), Decision::NotAllowed);
}

#[test]
fn documents_kmsd_does_not_understand_are_refused() {
    for bad in [
        "not json",
        r#"{"Statement":[]}"#,
        r#"{"Version":"2","Statement":[]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Maybe","Action":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"Encrypt","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","NotAction":"kms:*","Resource":"*"}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"acs:SourceIp":"1"}}}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"acs:UserAgent":"x"}}}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"tomorrow"}}}]}"#,
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}"#,
    ] {
        assert!(Policy::parse(bad).is_err(), "accepted {bad}");
    }
    assert!(
        Policy::parse(&format!(r#"{{"Version":"1","Statement":[],"x":"{}"}}"#, "a".repeat(MAX_POLICY_BYTES))).is_err()
    );
}

#[test]
fn resource_policies_apply_to_the_principals_they_name() {
    let p = Policy::parse_resource(
        r#"{"Version":"1","Statement":[
            {"Effect":"Allow","Principal":{"RAM":["acs:ram::1234567890123456:user/app1"]},"Action":"kms:Decrypt","Resource":"*"},
            {"Effect":"Deny","Principal":"*","Action":"kms:ScheduleKeyDeletion","Resource":"*"},
            {"Effect":"Allow","Principal":{"RAM":"acs:ram::1234567890123456:root"},"Action":"kms:*","Resource":"*"}]}"#,
    )
    .unwrap();
    let c = ctx(&[]);
    let app1 = Some("acs:ram::1234567890123456:user/app1");
    let app2 = Some("acs:ram::1234567890123456:user/app2");
    assert_eq!(p.evaluate_for(app1, "kms:Decrypt", KEY_A, &c), Decision::Allow);
    assert_eq!(p.evaluate_for(app2, "kms:Decrypt", KEY_A, &c), Decision::NotAllowed);
    assert_eq!(p.evaluate_for(app2, "kms:ScheduleKeyDeletion", KEY_A, &c), Decision::ExplicitDeny);
    assert_eq!(p.evaluate_for(None, "kms:Decrypt", KEY_A, &c), Decision::NotAllowed, "no principal, no statement");
    // Principal belongs to resource policies only, and they must name one.
    assert!(
        Policy::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#
        )
        .is_err()
    );
    assert!(
        Policy::parse_resource(r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#)
            .is_err()
    );
    assert!(Policy::parse_resource(r#"{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"Service":"x"},"Action":"kms:*","Resource":"*"}]}"#).is_err());
}

proptest! {
    /// A pattern without wildcards matches exactly itself; `*` anything; `prefix*` exactly
    /// the strings that start with the prefix.
    #[test]
    fn wildcard_semantics(a in "[a-z:/0-9-]{0,20}", b in "[a-z:/0-9-]{0,20}") {
        prop_assert_eq!(pattern::Pattern::new(&a).matches(&b), a == b);
        prop_assert!(pattern::Pattern::new("*").matches(&b));
        prop_assert_eq!(pattern::Pattern::new(&format!("{a}*")).matches(&b), b.starts_with(&a));
        prop_assert_eq!(pattern::Pattern::new(&format!("*{a}")).matches(&b), b.ends_with(&a));
    }

    /// Arbitrary text never panics the parser.
    #[test]
    fn parsing_never_panics(text in ".{0,200}") {
        let _ = Policy::parse(&text);
    }
}
