//! Per-access-key request quotas for the cryptographic actions, so one noisy client cannot
//! starve the rest: a token bucket per access key and class, refilled continuously at the
//! configured rate and holding at most one second's worth. Off unless configured. The cloud's
//! own quotas (spec §6.13) are per account: 750/s for symmetric and 200/s for asymmetric
//! operations; here each access key gets the configured rate on each node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kms_wire::Action;
use kms_wire::actions::Family;

/// Which budget an action draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, ExportDataKey, GenerateAndExportDataKey.
    Symmetric,
    /// GetPublicKey and the Asymmetric* actions.
    Asymmetric,
}

impl Class {
    pub fn of(action: Action) -> Option<Self> {
        match action.family() {
            Family::Crypto => Some(Self::Symmetric),
            Family::Asymmetric => Some(Self::Asymmetric),
            _ => None,
        }
    }
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// The configured rates (requests per second per access key; `None`: unlimited) and the
/// buckets in use.
pub struct Quotas {
    symmetric: Option<f64>,
    asymmetric: Option<f64>,
    buckets: Mutex<HashMap<(String, Class), Bucket>>,
}

/// A bound on memory: past this many buckets, full ones (idle keys) are dropped.
const MAX_BUCKETS: usize = 100_000;

impl Quotas {
    pub fn new(symmetric: u32, asymmetric: u32) -> Self {
        let rate = |r: u32| (r > 0).then_some(f64::from(r));
        Self { symmetric: rate(symmetric), asymmetric: rate(asymmetric), buckets: Mutex::default() }
    }

    /// Takes one request from the access key's budget for `action`; when it is spent, how
    /// long until it holds one request again.
    pub fn admit(&self, access_key_id: &str, action: Action) -> Result<(), Duration> {
        let Some(class) = Class::of(action) else { return Ok(()) };
        let Some(rate) = (match class {
            Class::Symmetric => self.symmetric,
            Class::Asymmetric => self.asymmetric,
        }) else {
            return Ok(());
        };
        let now = Instant::now();
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| b.tokens + now.duration_since(b.refilled).as_secs_f64() * rate < rate);
        }
        let bucket = buckets.entry((access_key_id.to_owned(), class)).or_insert(Bucket { tokens: rate, refilled: now });
        bucket.tokens = (bucket.tokens + now.duration_since(bucket.refilled).as_secs_f64() * rate).min(rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_past_the_rate_is_refused_per_key_and_class() {
        let q = Quotas::new(3, 1);
        let admitted = (0..10).filter(|_| q.admit("a", Action::Encrypt).is_ok()).count();
        assert_eq!(admitted, 3, "one second's worth at once");
        assert!(q.admit("b", Action::Encrypt).is_ok(), "another key has its own budget");
        assert!(q.admit("a", Action::AsymmetricSign).is_ok(), "another class too");
        let wait = q.admit("a", Action::AsymmetricSign).unwrap_err();
        // At 1/s an empty bucket has room again within a second, and not at once.
        assert!(wait > Duration::from_millis(500) && wait <= Duration::from_secs(1), "{wait:?}");
        assert!((0..100).all(|_| q.admit("a", Action::DescribeKey).is_ok()), "management actions are not limited");
        let off = Quotas::new(0, 0);
        assert!((0..1000).all(|_| off.admit("a", Action::Encrypt).is_ok()));
    }
}
