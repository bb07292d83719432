//! The `Condition` block: `{"<Operator>": {"<key>": value-or-values}}`. Every operator must
//! hold, and within one every key; the values of one key are alternatives. Keys kmsd knows:
//! `acs:SourceIp`, `acs:CurrentTime`, `acs:SecureTransport` and `kms:tag/<tag key>`.

use std::net::IpAddr;
use std::str::FromStr as _;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::pattern::Pattern;
use crate::{PolicyError, invalid, strings};

/// The request's side of a condition: the values of a condition key (none when the request
/// has no such key, e.g. a tag the resource does not carry).
pub trait Context {
    fn values(&self, key: &str) -> Vec<String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    IpAddress,
    NotIpAddress,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
}

impl Operator {
    fn parse(s: &str) -> Option<Self> {
        use Operator::*;
        Some(match s {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            "Bool" => Bool,
            _ => return None,
        })
    }

    /// Negated operators hold when the key is absent (nothing to be equal to).
    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::NotIpAddress
                | Self::DateNotEquals
        )
    }
}

/// A policy value, checked at parse time so evaluation cannot meet a malformed one.
#[derive(Debug, Clone)]
enum Expected {
    Text(String),
    Like(Pattern),
    Net(ipnet::IpNet),
    Time(OffsetDateTime),
    Bool(bool),
}

#[derive(Debug, Clone)]
pub(crate) struct Condition {
    operator: Operator,
    /// Normalised: `acs:`/`kms:` prefixes lower-case, a tag's key as written.
    key: String,
    expected: Vec<Expected>,
}

fn normalise_key(key: &str) -> Result<String, PolicyError> {
    let lower = key.to_ascii_lowercase();
    if let Some(tag) = lower.strip_prefix("kms:tag/") {
        if tag.is_empty() {
            return Err(invalid("kms:tag/ needs a tag key"));
        }
        return Ok(format!("kms:tag/{}", &key["kms:tag/".len()..]));
    }
    match lower.as_str() {
        "acs:sourceip" => Ok("acs:SourceIp".into()),
        "acs:currenttime" => Ok("acs:CurrentTime".into()),
        "acs:securetransport" => Ok("acs:SecureTransport".into()),
        _ => Err(invalid(format!("unsupported condition key {key}"))),
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    ipnet::IpNet::from_str(s).ok().or_else(|| IpAddr::from_str(s).ok().map(ipnet::IpNet::from))
}

impl Condition {
    pub(crate) fn parse_block(v: &Value) -> Result<Vec<Self>, PolicyError> {
        let block = v.as_object().ok_or_else(|| invalid("Condition must be an object"))?;
        let mut out = Vec::new();
        for (op, keys) in block {
            let operator =
                Operator::parse(op).ok_or_else(|| invalid(format!("unsupported condition operator {op}")))?;
            let keys = keys.as_object().ok_or_else(|| invalid(format!("{op} must map keys to values")))?;
            for (key, values) in keys {
                let key = normalise_key(key)?;
                let values = match values {
                    Value::Bool(b) => vec![b.to_string()],
                    other => strings(other, "a condition value")?,
                };
                let expected =
                    values.iter().map(|s| Self::expected(operator, &key, s)).collect::<Result<Vec<_>, _>>()?;
                out.push(Self { operator, key, expected });
            }
        }
        Ok(out)
    }

    fn expected(operator: Operator, key: &str, s: &str) -> Result<Expected, PolicyError> {
        use Operator::*;
        let bad = || invalid(format!("{s:?} is not a value {operator:?} can compare {key} with"));
        Ok(match operator {
            IpAddress | NotIpAddress => Expected::Net(parse_net(s).ok_or_else(bad)?),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => Expected::Time(parse_time(s).ok_or_else(bad)?),
            Bool => Expected::Bool(s.parse().map_err(|_| bad())?),
            StringLike | StringNotLike => Expected::Like(Pattern::new(s)),
            StringEqualsIgnoreCase | StringNotEqualsIgnoreCase => Expected::Text(s.to_lowercase()),
            StringEquals | StringNotEquals => Expected::Text(s.to_owned()),
        })
    }

    pub(crate) fn on_tag(&self) -> bool {
        self.key.starts_with("kms:tag/")
    }

    pub(crate) fn holds(&self, ctx: &dyn Context) -> bool {
        let actual = ctx.values(&self.key);
        if actual.is_empty() {
            return self.operator.negated();
        }
        let any = |f: &dyn Fn(&str, &Expected) -> bool| actual.iter().any(|a| self.expected.iter().any(|e| f(a, e)));
        use Operator::*;
        match self.operator {
            StringEquals => any(&|a, e| matches!(e, Expected::Text(t) if t == a)),
            StringNotEquals => !any(&|a, e| matches!(e, Expected::Text(t) if t == a)),
            StringEqualsIgnoreCase => any(&|a, e| matches!(e, Expected::Text(t) if *t == a.to_lowercase())),
            StringNotEqualsIgnoreCase => !any(&|a, e| matches!(e, Expected::Text(t) if *t == a.to_lowercase())),
            StringLike => any(&|a, e| matches!(e, Expected::Like(p) if p.matches(a))),
            StringNotLike => !any(&|a, e| matches!(e, Expected::Like(p) if p.matches(a))),
            IpAddress => any(&|a, e| matches!((e, IpAddr::from_str(a)), (Expected::Net(n), Ok(ip)) if n.contains(&ip))),
            NotIpAddress => {
                !any(&|a, e| matches!((e, IpAddr::from_str(a)), (Expected::Net(n), Ok(ip)) if n.contains(&ip)))
            }
            Bool => any(&|a, e| matches!(e, Expected::Bool(b) if a.parse::<bool>().ok() == Some(*b))),
            DateEquals
            | DateNotEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => {
                let cmp = |a: &str, e: &Expected| match (parse_time(a), e) {
                    (Some(a), Expected::Time(t)) => match self.operator {
                        DateEquals => a == *t,
                        DateNotEquals => a != *t,
                        DateLessThan => a < *t,
                        DateLessThanEquals => a <= *t,
                        DateGreaterThan => a > *t,
                        _ => a >= *t,
                    },
                    _ => false,
                };
                if self.operator == DateNotEquals {
                    actual.iter().all(|a| self.expected.iter().all(|e| cmp(a, e)))
                } else {
                    any(&cmp)
                }
            }
        }
    }
}
