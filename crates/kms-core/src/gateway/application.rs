//! Who a ClientKey speaks for, and what its access point's policies let it reach
//! (docs/design/gateway.md §10): the authentication lookup behind every gateway request, kept
//! per ClientKey while the access tables' change counter says nothing changed.

use std::net::IpAddr;

use crate::access::{AccessPoint, AccessPolicy, ClientKey, NetworkRule, SHARED_SCOPE, parse_api_time};
use crate::error::{CoreError, CoreResult};
use crate::service::Kms;

const KEY_USER: &str = "RbacPermission/Template/CryptoServiceKeyUser";
const SECRET_USER: &str = "RbacPermission/Template/CryptoServiceSecretUser";
/// What a permission template grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Cryptographic operations on keys (and GenerateRandom).
    Key,
    /// GetSecretValue on secrets.
    Secret,
}

impl Grant {
    fn template(self) -> &'static str {
        match self {
            Grant::Key => KEY_USER,
            Grant::Secret => SECRET_USER,
        }
    }
}

/// An application as its ClientKey authenticated it: the access point and, as they are now,
/// the policies it carries and the network rules they name.
#[derive(Debug, Clone)]
pub struct Application {
    pub client_key_id: String,
    pub access_point: String,
    /// The ClientKey's certificate (PEM): what its signatures are checked against.
    pub certificate_pem: String,
    policies: Vec<(AccessPolicy, Vec<NetworkRule>)>,
    /// The ClientKey's validity, Unix seconds.
    valid_from: i64,
    valid_until: i64,
}

/// Applications by ClientKey id, with the access generation they were read at: one is used
/// only while the generation is unchanged, so any change to a rule, policy, access point or
/// ClientKey — through any node — holds on the next request.
#[derive(Default)]
pub(crate) struct ApplicationCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (i64, std::sync::Arc<Application>)>>,
}

/// A bound on memory; past it the table starts over.
const MAX_CACHED_APPLICATIONS: usize = 10_000;

fn in_rule(rule: &NetworkRule, peer: IpAddr) -> bool {
    rule.source_private_ips.iter().any(|entry| match entry.parse::<ipnet::IpNet>() {
        Ok(net) => net.contains(&peer),
        Err(_) => entry.parse::<IpAddr>().is_ok_and(|ip| ip == peer),
    })
}

fn matches_resource(pattern: &str, resource: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => resource.starts_with(prefix),
        None => pattern == resource,
    }
}

impl Application {
    /// Whether some policy of the access point grants `grant` on `resource` (`key/<id>`,
    /// `secret/<name>`, or `None` for no resource) in `instance`, to a caller at `peer`.
    pub fn allows(&self, grant: Grant, resource: Option<&str>, instance: &str, peer: IpAddr) -> bool {
        self.policies.iter().any(|(policy, rules)| {
            let scoped = policy.kms_instance.as_deref().is_none_or(|s| s == SHARED_SCOPE || s == instance);
            let granted = policy.permissions.iter().any(|p| p == grant.template());
            let reaches = resource.is_none_or(|r| policy.resources.iter().any(|p| matches_resource(p, r)));
            let named = policy.network_rules();
            let from = named.is_empty() || rules.iter().any(|rule| in_rule(rule, peer));
            scoped && granted && reaches && from
        })
    }

    /// Whether any policy is scoped to `instance` (or to every one): an application sees the
    /// keys and secrets of those instances only — others do not exist for it.
    pub fn sees(&self, instance: &str) -> bool {
        self.policies.iter().any(|(p, _)| p.kms_instance.as_deref().is_none_or(|s| s == SHARED_SCOPE || s == instance))
    }

    /// As [`Self::allows`] for an operation that reaches nothing stored (GenerateRandom): any
    /// key-user policy, whatever its scope and resources, whose network rules admit the caller.
    pub fn allows_unscoped(&self, peer: IpAddr) -> bool {
        self.policies.iter().any(|(policy, rules)| {
            policy.permissions.iter().any(|p| p == KEY_USER)
                && (policy.network_rules().is_empty() || rules.iter().any(|rule| in_rule(rule, peer)))
        })
    }
}

impl Kms {
    /// Authentication's lookup: the ClientKey, in force now, and the application it serves.
    /// Anything missing or out of date is `Unauthorized`, without saying which. One small read
    /// (the access generation) when nothing changed since the application was last read.
    pub async fn application(&self, client_key_id: &str) -> CoreResult<std::sync::Arc<Application>> {
        let generation = self.store.access_generation().await?;
        let cached = self.applications.entries.lock().ok().and_then(|m| m.get(client_key_id).cloned());
        let app = match cached {
            Some((at, app)) if at == generation => app,
            _ => {
                let app = std::sync::Arc::new(self.read_application(client_key_id).await?);
                if let Ok(mut m) = self.applications.entries.lock() {
                    if m.len() >= MAX_CACHED_APPLICATIONS {
                        m.clear();
                    }
                    m.insert(client_key_id.to_owned(), (generation, app.clone()));
                }
                app
            }
        };
        let now = self.now();
        if now < app.valid_from || now > app.valid_until {
            return Err(CoreError::ClientKeyUnauthorized);
        }
        Ok(app)
    }

    async fn read_application(&self, client_key_id: &str) -> CoreResult<Application> {
        let key: ClientKey = match self.client_key(client_key_id).await {
            Ok(k) => k,
            Err(CoreError::AccessNotFound) => return Err(CoreError::ClientKeyUnauthorized),
            Err(e) => return Err(e),
        };
        let (valid_from, valid_until) = match (parse_api_time(&key.not_before), parse_api_time(&key.not_after)) {
            (Some(from), Some(until)) => (from.unix_timestamp(), until.unix_timestamp()),
            _ => return Err(CoreError::ClientKeyUnauthorized),
        };
        let point: AccessPoint = match self.access_point(&key.aap_name).await {
            Ok(p) => p,
            Err(CoreError::AccessNotFound) => return Err(CoreError::ClientKeyUnauthorized),
            Err(e) => return Err(e),
        };
        let mut policies = Vec::with_capacity(point.policies.len());
        for name in &point.policies {
            let policy = match self.access_policy(name).await {
                Ok(p) => p,
                // A name that does not exist (yet) grants nothing.
                Err(CoreError::AccessNotFound) => continue,
                Err(e) => return Err(e),
            };
            let mut rules = Vec::new();
            for rule in policy.network_rules() {
                match self.network_rule(&rule).await {
                    Ok(r) => rules.push(r),
                    Err(CoreError::AccessNotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            policies.push((policy, rules));
        }
        Ok(Application {
            client_key_id: key.id,
            access_point: point.name,
            certificate_pem: key.certificate_pem,
            policies,
            valid_from,
            valid_until,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(policies: Vec<(AccessPolicy, Vec<NetworkRule>)>) -> Application {
        Application {
            client_key_id: "KAAP.x".into(),
            access_point: "aap".into(),
            certificate_pem: String::new(),
            policies,
            valid_from: 0,
            valid_until: i64::MAX,
        }
    }

    fn policy(permissions: &[&str], resources: &[&str], scope: Option<&str>, rules: Option<&str>) -> AccessPolicy {
        AccessPolicy {
            name: "p".into(),
            permissions: permissions.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            kms_instance: scope.map(str::to_owned),
            access_control_rules: rules.map(str::to_owned),
            description: String::new(),
        }
    }

    fn rule(name: &str, ips: &[&str]) -> NetworkRule {
        NetworkRule {
            name: name.into(),
            rule_type: "Private".into(),
            source_private_ips: ips.iter().map(|s| s.to_string()).collect(),
            description: String::new(),
        }
    }

    #[test]
    fn policies_grant_by_template_resource_scope_and_network() {
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let far: IpAddr = "192.168.1.9".parse().unwrap();
        let a = app(vec![(
            policy(&[KEY_USER], &["key/key-hzz*"], Some("kst-a"), Some(r#"{"NetworkRules":["lo"]}"#)),
            vec![rule("lo", &["127.0.0.0/8"])],
        )]);
        assert!(a.allows(Grant::Key, Some("key/key-hzz1"), "kst-a", local));
        assert!(!a.allows(Grant::Key, Some("key/key-hzz1"), "kst-a", far), "outside the rule");
        assert!(!a.allows(Grant::Key, Some("key/other"), "kst-a", local), "outside the resources");
        assert!(!a.allows(Grant::Key, Some("key/key-hzz1"), "kst-b", local), "another instance");
        assert!(a.sees("kst-a") && !a.sees("kst-b"));
        assert!(!a.allows(Grant::Secret, Some("secret/s"), "kst-a", local), "no secret template");
        assert!(a.allows_unscoped(local) && !a.allows_unscoped(far));

        // `shared` and no scope reach every instance; no rules admit every address; a rule
        // name that does not exist admits nobody.
        let b = app(vec![(policy(&[SECRET_USER], &["secret/*"], Some("shared"), None), vec![])]);
        assert!(b.allows(Grant::Secret, Some("secret/db/pass"), "kst-z", far));
        assert!(!b.allows(Grant::Key, Some("key/k"), "kst-z", far));
        let c = app(vec![(policy(&[KEY_USER], &["key/*"], None, Some(r#"{"NetworkRules":["gone"]}"#)), vec![])]);
        assert!(!c.allows(Grant::Key, Some("key/k"), "kst-z", local));
        assert!(!app(vec![]).allows_unscoped(local));
    }

    #[test]
    fn network_rules_take_addresses_and_blocks() {
        let r = rule("r", &["10.0.0.1", "192.168.0.0/16", "fd00::/8"]);
        for (ip, inside) in
            [("10.0.0.1", true), ("10.0.0.2", false), ("192.168.44.1", true), ("fd00::5", true), ("::1", false)]
        {
            assert_eq!(in_rule(&r, ip.parse().unwrap()), inside, "{ip}");
        }
    }
}
