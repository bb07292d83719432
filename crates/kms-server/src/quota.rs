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
    /// Encrypt, Decrypt, GenerateDataKey*, ReEncrypt, ExportDataKey, GenerateAndExportDataKey,
    /// and the MAC actions (a symmetric-key operation of the same cost).
    Symmetric,
    /// GetPublicKey and the Asymmetric* actions.
    Asymmetric,
}

impl Class {
    pub fn of(action: Action) -> Option<Self> {
        match action.family() {
            Family::Crypto | Family::Mac => Some(Self::Symmetric),
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
        self.admit_at(access_key_id, action, Instant::now())
    }

    /// As [`Self::admit`], for a budget named directly (the instance gateway's operations,
    /// charged to the ClientKey).
    pub fn admit_class(&self, caller: &str, class: Option<Class>) -> Result<(), Duration> {
        self.admit_class_at(caller, class, Instant::now())
    }

    fn admit_at(&self, access_key_id: &str, action: Action, now: Instant) -> Result<(), Duration> {
        self.admit_class_at(access_key_id, Class::of(action), now)
    }

    fn admit_class_at(&self, access_key_id: &str, class: Option<Class>, now: Instant) -> Result<(), Duration> {
        let Some(class) = class else { return Ok(()) };
        let Some(rate) = (match class {
            Class::Symmetric => self.symmetric,
            Class::Asymmetric => self.asymmetric,
        }) else {
            return Ok(());
        };
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
        let t0 = Instant::now();
        let admitted = (0..10).filter(|_| q.admit_at("a", Action::Encrypt, t0).is_ok()).count();
        assert_eq!(admitted, 3, "one second's worth at once");
        assert_eq!(q.admit_at("a", Action::Encrypt, t0), Err(Duration::from_secs_f64(1.0 / 3.0)));
        assert!(q.admit_at("b", Action::Encrypt, t0).is_ok(), "another key has its own budget");
        assert!(q.admit_at("a", Action::AsymmetricSign, t0).is_ok(), "another class too");
        assert_eq!(q.admit_at("a", Action::AsymmetricSign, t0), Err(Duration::from_secs(1)));
        // Half a second later half a request has come back: the wait is the other half.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(q.admit_at("a", Action::AsymmetricSign, t1), Err(Duration::from_millis(500)));
        assert!(q.admit_at("a", Action::AsymmetricSign, t0 + Duration::from_secs(1)).is_ok());
        // The bucket holds at most one second's worth, however long it was idle.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| q.admit_at("a", Action::Encrypt, later).is_ok()).count(), 3);
        assert!(
            (0..100).all(|_| q.admit_at("a", Action::DescribeKey, t0).is_ok()),
            "management actions are not limited"
        );
        let off = Quotas::new(0, 0);
        assert!((0..1000).all(|_| off.admit("a", Action::Encrypt).is_ok()));
    }
}
