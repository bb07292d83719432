//! Identity policies at the door: which resources a request acts on, and whether the signing
//! access key's policy allows the action (`kms:<Action>`, from the action table) on every one
//! of them. Runs after the signature verified and before the handler: a refused request
//! changes nothing and answers `Forbidden.NoPermission`.
//!
//! Resources are ARNs. A key named by alias is checked as the key the alias points to and as
//! the alias: either may allow it (a policy on `key/<id>` covers its aliases, and one on
//! `alias/app1-*` lets an application use its keys by alias only), and a `Deny` on either
//! denies. The alias actions also check the alias itself. A
//! ciphertext blob is checked as the key its version belongs to. An action that names no
//! resource (CreateKey, ListKeys, ListSecrets …) is checked against its kind,
//! `acs:kms:<region>:<account>:key` / `alias` / `secret`, and the service actions against `*`.

use std::net::IpAddr;

use crate::named::Named;
use kms_core::Kms;
use kms_policy::{Context, Decision, Policy};
use kms_types::{KeyRef, ResourceType, SecretName};
use kms_wire::{Action, ApiError, Code};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One resource a request acts on, with what its tag conditions need.
#[derive(Debug)]
struct Target {
    arn: String,
    /// The alias the request named the key by: a second ARN that may allow the request.
    alias_arn: Option<String>,
    tagged: Option<(ResourceType, String)>,
}

/// The request's side of the condition keys.
struct RequestContext<'a> {
    source_ip: IpAddr,
    now: OffsetDateTime,
    secure: bool,
    tags: &'a [kms_types::Tag],
}

impl Context for RequestContext<'_> {
    fn values(&self, key: &str) -> Vec<String> {
        match key {
            "acs:SourceIp" => vec![self.source_ip.to_string()],
            "acs:CurrentTime" => self.now.format(&Rfc3339).into_iter().collect(),
            "acs:SecureTransport" => vec![self.secure.to_string()],
            _ => match key.strip_prefix("kms:tag/") {
                Some(k) => self.tags.iter().filter(|t| t.key == k).map(|t| t.value.clone()).collect(),
                None => Vec::new(),
            },
        }
    }
}

async fn key_target(kms: &Kms, r: &KeyRef) -> Target {
    let alias_arn = match r {
        KeyRef::Alias { name, .. } => Some(kms.alias_arn(name)),
        KeyRef::Id { .. } => None,
    };
    match kms.key_id_of(r).await {
        Ok(id) => Target { arn: kms.key_arn(&id), alias_arn, tagged: Some((ResourceType::Key, id.to_string())) },
        // A key or alias that does not exist: checked by the name given, the action then
        // answers its not-found code if allowed.
        Err(_) => Target {
            arn: match r {
                KeyRef::Id { id, .. } => kms.key_arn(id),
                KeyRef::Alias { name, .. } => kms.alias_arn(name),
            },
            alias_arn: None,
            tagged: None,
        },
    }
}

fn secret_target(kms: &Kms, name: &SecretName) -> Target {
    Target { arn: kms.secret_arn(name), alias_arn: None, tagged: Some((ResourceType::Secret, name.to_string())) }
}

async fn targets(action: Action, named: &[Named], kms: &Kms) -> Vec<Target> {
    let mut out = Vec::with_capacity(named.len());
    for n in named {
        match n {
            Named::Key(r) => out.push(key_target(kms, r).await),
            Named::Alias(name) => out.push(Target { arn: kms.alias_arn(name), alias_arn: None, tagged: None }),
            Named::Secret(name) => out.push(secret_target(kms, name)),
            Named::Instance(id) => out.push(Target { arn: kms.instance_arn(id), alias_arn: None, tagged: None }),
            Named::Access { kind, name } => {
                out.push(Target { arn: format!("{}/{name}", kms.kind_arn(kind)), alias_arn: None, tagged: None })
            }
            Named::Version(v) => {
                if let Ok(Some(id)) = kms.key_of_version(v).await {
                    let tagged = Some((ResourceType::Key, id.to_string()));
                    out.push(Target { arn: kms.key_arn(&id), alias_arn: None, tagged });
                }
            }
        }
    }
    if out.is_empty() {
        let arn = match action.resource_kind() {
            "*" => "*".to_owned(),
            kind => kms.kind_arn(kind),
        };
        out.push(Target { arn, alias_arn: None, tagged: None });
    }
    out
}

/// Who is asking, and which policies decide.
pub struct Who<'a> {
    /// The access key's identity policy; `None`: unrestricted.
    pub identity: Option<&'a Policy>,
    /// The principal's ARN in resource policies (`…:user/<name>`, or `…:root`).
    pub principal_arn: &'a str,
    /// Whether any key or secret has a policy to consult.
    pub resource_policies: bool,
    pub source_ip: IpAddr,
    pub secure: bool,
}

/// Combines decisions: an explicit Deny anywhere wins, then an Allow anywhere.
fn combine(decisions: &[Decision]) -> Decision {
    if decisions.contains(&Decision::ExplicitDeny) {
        Decision::ExplicitDeny
    } else if decisions.contains(&Decision::Allow) {
        Decision::Allow
    } else {
        Decision::NotAllowed
    }
}

/// Whether the signer's identity policy or the resource's policy lets the request through
/// (neither denying it); `Forbidden.NoPermission` when not.
pub async fn authorize(action: Action, named: &[Named], kms: &Kms, who: &Who<'_>) -> Result<(), ApiError> {
    let now = OffsetDateTime::now_utc();
    let permission = action.permission();
    let needs_tags = who.identity.is_some_and(Policy::needs_tags);
    for target in targets(action, named, kms).await {
        let resource_policy = match (&target.tagged, who.resource_policies) {
            (Some((kind, id)), true) => kms.resource_policy(*kind, id).await.ok().flatten(),
            _ => None,
        };
        let tags = match &target.tagged {
            Some((kind, id)) if needs_tags || resource_policy.as_ref().is_some_and(|p| p.needs_tags()) => {
                kms.resource_tags(*kind, id).await.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let ctx = RequestContext { source_ip: who.source_ip, now, secure: who.secure, tags: &tags };
        let mut decisions = Vec::with_capacity(4);
        match who.identity {
            Some(policy) => {
                decisions.push(policy.evaluate(permission, &target.arn, &ctx));
                if let Some(alias) = &target.alias_arn {
                    decisions.push(policy.evaluate(permission, alias, &ctx));
                }
            }
            None => decisions.push(Decision::Allow),
        }
        if let Some(policy) = &resource_policy {
            decisions.push(policy.evaluate_for(Some(who.principal_arn), permission, &target.arn, &ctx));
        }
        if combine(&decisions) != Decision::Allow {
            return Err(ApiError::with_message(
                Code::ForbiddenNoPermission,
                format!(
                    "This operation is forbidden by permission system. {permission} on {} is not allowed for {}.",
                    target.arn, who.principal_arn
                ),
            ));
        }
    }
    Ok(())
}
