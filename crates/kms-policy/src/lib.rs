//! RAM-style access policies: what an access key may do, on which resources, under which
//! conditions. A policy is JSON — `Version`, and `Statement[]` with `Effect` (`Allow`/`Deny`),
//! `Action` (`kms:Encrypt`, `kms:*`), `Resource` (`acs:kms:*:*:key/*`, ARNs with `*` and `?`)
//! and an optional `Condition` block — the documents Alibaba Cloud RAM takes, so a policy
//! written for the cloud means the same here.
//!
//! Evaluation is the cloud's: an explicit `Deny` that matches wins; otherwise a matching
//! `Allow` allows; otherwise the request is not allowed (implicit deny). This crate only
//! decides; which action and resources a request has, and the values of condition keys, are
//! the caller's to supply.
#![forbid(unsafe_code)]

mod condition;
mod pattern;

use serde_json::Value;

use condition::Condition;
pub use condition::Context;
use pattern::Pattern;

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid policy: {0}")]
pub struct PolicyError(pub String);

fn invalid(why: impl Into<String>) -> PolicyError {
    PolicyError(why.into())
}

/// The largest policy document accepted (the cloud's key-policy limit).
pub const MAX_POLICY_BYTES: usize = 32_768;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    /// Resource policies (key and secret policies) say whom a statement is for:
    /// `acs:ram::<account>:user/<name>` patterns, or `*`. `None` in identity policies.
    principals: Option<Vec<Pattern>>,
    actions: Vec<Pattern>,
    resources: Vec<Pattern>,
    conditions: Vec<Condition>,
}

/// A parsed policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A `Deny` statement matched.
    ExplicitDeny,
    /// No statement allowed it.
    NotAllowed,
}

/// One string or a list of strings (RAM takes either for `Action`, `Resource` and condition
/// values).
fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map(str::to_owned).ok_or_else(|| invalid(format!("{what} must hold strings"))))
            .collect(),
        _ => Err(invalid(format!("{what} must be a string or a non-empty list of strings"))),
    }
}

impl Policy {
    /// Parses a policy document. Unknown statement fields, effects, operators or condition
    /// keys are refused rather than ignored: a policy that says more than kmsd understands
    /// must not silently allow more than its author meant.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_as(text, false)
    }

    /// Parses a resource policy (a key's or a secret's): every statement names its
    /// `Principal` — `"*"` or `{"RAM": [ARN patterns]}`.
    pub fn parse_resource(text: &str) -> Result<Self, PolicyError> {
        Self::parse_as(text, true)
    }

    fn parse_as(text: &str, resource_policy: bool) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(invalid("longer than 32768 bytes"));
        }
        let doc: Value = serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let obj = doc.as_object().ok_or_else(|| invalid("not a JSON object"))?;
        for k in obj.keys() {
            if k != "Version" && k != "Statement" {
                return Err(invalid(format!("unknown field {k}")));
            }
        }
        match obj.get("Version") {
            Some(Value::String(v)) if v == "1" => {}
            _ => return Err(invalid("Version must be \"1\"")),
        }
        let statements = match obj.get("Statement") {
            Some(Value::Array(s)) => s,
            Some(Value::Object(_)) => std::slice::from_ref(obj.get("Statement").unwrap_or(&Value::Null)),
            _ => return Err(invalid("Statement must be a list")),
        };
        let statements =
            statements.iter().map(|s| Statement::parse(s, resource_policy)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { statements })
    }

    /// A policy that allows nothing.
    pub fn deny_all() -> Self {
        Self { statements: Vec::new() }
    }

    /// Whether the policy allows `action` (`kms:Encrypt`) on `resource` (an ARN).
    pub fn evaluate(&self, action: &str, resource: &str, ctx: &dyn Context) -> Decision {
        self.evaluate_for(None, action, resource, ctx)
    }

    /// As [`Policy::evaluate`], for `principal` (its ARN, `acs:ram::<account>:user/<name>`):
    /// statements of a resource policy apply only to the principals they name.
    pub fn evaluate_for(&self, principal: Option<&str>, action: &str, resource: &str, ctx: &dyn Context) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if let Some(principals) = &s.principals
                && !principal.is_some_and(|p| principals.iter().any(|pat| pat.matches(p)))
            {
                continue;
            }
            if !s.matches(action, resource, ctx) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed { Decision::Allow } else { Decision::NotAllowed }
    }

    /// Whether any statement has a condition on a `kms:tag/…` key (the caller then has to
    /// look the resource's tags up).
    pub fn needs_tags(&self) -> bool {
        self.statements.iter().flat_map(|s| &s.conditions).any(Condition::on_tag)
    }
}

fn principals(v: Option<&Value>) -> Result<Vec<Pattern>, PolicyError> {
    match v {
        Some(Value::String(s)) if s == "*" => Ok(vec![Pattern::new("*")]),
        Some(Value::Object(o)) => {
            let mut out = Vec::new();
            for (kind, arns) in o {
                if kind != "RAM" {
                    return Err(invalid(format!("unsupported principal kind {kind}")));
                }
                out.extend(strings(arns, "Principal.RAM")?.iter().map(|a| Pattern::new(a)));
            }
            if out.is_empty() {
                return Err(invalid("Principal names no one"));
            }
            Ok(out)
        }
        _ => Err(invalid("a resource policy statement needs Principal: \"*\" or {\"RAM\": [...]}")),
    }
}

impl Statement {
    fn parse(v: &Value, resource_policy: bool) -> Result<Self, PolicyError> {
        let obj = v.as_object().ok_or_else(|| invalid("a statement must be an object"))?;
        for k in obj.keys() {
            let known = matches!(k.as_str(), "Sid" | "Effect" | "Action" | "Resource" | "Condition")
                || (resource_policy && k == "Principal");
            if !known {
                return Err(invalid(format!("unsupported statement field {k}")));
            }
        }
        let principals = if resource_policy { Some(principals(obj.get("Principal"))?) } else { None };
        let effect = match obj.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return Err(invalid("Effect must be Allow or Deny")),
        };
        let actions = strings(obj.get("Action").unwrap_or(&Value::Null), "Action")?;
        for a in &actions {
            if a != "*" && !a.contains(':') {
                return Err(invalid(format!("action {a} is not service:Action")));
            }
        }
        let resources = strings(obj.get("Resource").unwrap_or(&Value::Null), "Resource")?;
        let conditions = match obj.get("Condition") {
            None => Vec::new(),
            Some(c) => Condition::parse_block(c)?,
        };
        Ok(Self {
            effect,
            principals,
            // RAM action names are case-insensitive; resources are not.
            actions: actions.iter().map(|a| Pattern::new(&a.to_ascii_lowercase())).collect(),
            resources: resources.iter().map(|r| Pattern::new(r)).collect(),
            conditions,
        })
    }

    fn matches(&self, action: &str, resource: &str, ctx: &dyn Context) -> bool {
        let action = action.to_ascii_lowercase();
        self.actions.iter().any(|p| p.matches(&action))
            && self.resources.iter().any(|p| p.matches(resource))
            && self.conditions.iter().all(|c| c.holds(ctx))
    }
}

#[cfg(test)]
mod tests;
