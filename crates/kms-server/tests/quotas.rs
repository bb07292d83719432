//! Quotas: with `--quota-crypto-qps` / `--quota-asymmetric-qps`, an access key that sends its
//! cryptographic calls faster than the rate gets `Rejected.Throttling` (429) for the excess —
//! its own budget per class, other keys and other actions untouched — and is served again once
//! the bucket refills. Off by default.

mod common;

use common::*;
use kms_testkit::Options;

#[tokio::test]
async fn a_burst_past_the_quota_is_throttled_and_recovers() {
    let k = Kmsd::start_with(
        &bin(),
        Options {
            extra_args: vec!["--quota-crypto-qps".into(), "2".into(), "--quota-asymmetric-qps".into(), "1".into()],
            ..Default::default()
        },
    )
    .unwrap();
    let c = k.client();
    let key = new_key(&c).await;
    let mut served = 0;
    let mut throttled = 0;
    let began = std::time::Instant::now();
    for _ in 0..12 {
        let r = call(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
        match r.status {
            200 => served += 1,
            _ => {
                assert_error(&r, 429, "Rejected.Throttling");
                // How long until the bucket (2/s) has room again, in milliseconds: the Tea SDKs
                // back off by it.
                let after: u64 = r.headers["x-acs-retry-after"].to_str().unwrap().parse().unwrap();
                assert!((1..=500).contains(&after), "x-acs-retry-after: {after}");
                throttled += 1;
            }
        }
    }
    // A bucket holds one second's worth (2) and refills at 2 a second: what was served is the
    // burst plus what the time the calls took refilled (however slow this machine is today).
    let refilled = (began.elapsed().as_secs_f64() * 2.0).ceil() as usize;
    assert!(served >= 2 && served <= 2 + refilled, "served {served} in {:?}", began.elapsed());
    assert!(throttled > 0, "nothing throttled in {:?}", began.elapsed());
    assert_eq!(served + throttled, 12);
    // Management actions are not limited; the asymmetric budget is its own.
    for _ in 0..10 {
        ok(&c, "DescribeKey", &[("KeyId", &key)]).await;
    }
    let m = ok(&c, "CreateKey", &[("KeySpec", "EC_P256")]).await;
    let (signer, version) = (
        m["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned(),
        m["KeyMetadata"]["PrimaryKeyVersion"].as_str().unwrap().to_owned(),
    );
    let sign = [("KeyId", signer.as_str()), ("KeyVersionId", version.as_str())];
    let public = |c: Client| {
        let sign = sign.map(|(k, v)| (k, v.to_owned()));
        async move {
            let p: Vec<(&str, &str)> = sign.iter().map(|(k, v)| (*k, v.as_str())).collect();
            call(&c, "GetPublicKey", &p).await
        }
    };
    assert_eq!(public(c.clone()).await.status, 200);
    // At 1/s the next calls in a row meet an empty bucket (one may land after a refill on a
    // slow machine, not all of them).
    let mut refused = None;
    for _ in 0..5 {
        let r = public(c.clone()).await;
        if r.status != 200 {
            refused = Some(r);
            break;
        }
    }
    assert_error(&refused.expect("5 GetPublicKey calls in a row at 1/s, none throttled"), 429, "Rejected.Throttling");
    // Throttled requests are in the audit trail.
    let audit = std::fs::read_to_string(k.data_dir.join("audit.log")).unwrap();
    assert!(audit.lines().filter(|l| l.contains("\"Code\":\"Rejected.Throttling\"")).count() > throttled);
    // The bucket refills at the rate.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
}

#[tokio::test]
async fn without_a_quota_nothing_is_throttled() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    for _ in 0..50 {
        ok(&c, "Encrypt", &[("KeyId", &key), ("Plaintext", "aGk=")]).await;
    }
}
