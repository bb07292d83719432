//! The protocol at the wire: methods, placements, signatures, freshness, replay, versions,
//! actions, formats and the error envelope — exact status and body.

mod common;

use common::*;
use kms_testkit::Signing;

#[tokio::test]
async fn health_and_every_placement_and_scheme_work() {
    let k = start();
    let c = k.client();
    let health = c.raw("GET", "/healthz", &[], vec![], false).await;
    assert_eq!((health.status, health.text().as_str()), (200, "ok\n"));
    let cases = [
        Call::new("DescribeRegions", &[]),
        Call::new("DescribeRegions", &[]).get(),
        Call::new("DescribeRegions", &[]).placed(Placement::Form),
        Call::new("DescribeRegions", &[]).placed(Placement::ChunkedForm),
        Call::new("DescribeRegions", &[]).acs3(),
        Call::new("DescribeRegions", &[]).acs3().get(),
        Call::new("DescribeRegions", &[]).acs3().placed(Placement::ChunkedForm),
    ];
    for case in cases {
        let desc = format!("{:?} {} {:?}", case.signing, case.method, case.placement);
        let r = c.send(case).await;
        assert_eq!(r.status, 200, "{desc}: {}", r.text());
        let body = r.json();
        assert_eq!(body["Regions"], serde_json::json!({"Region": [{"RegionId": "cn-hangzhou"}]}), "{desc}");
        assert_eq!(r.headers["x-acs-request-id"].to_str().unwrap(), body["RequestId"].as_str().unwrap());
        assert_eq!(r.headers["content-type"], "application/json;charset=utf-8");
        assert!(body.get("Code").is_none(), "a success body has no Code (pop-core treats it as an error)");
    }
}

#[tokio::test]
async fn form_body_parameters_are_merged_with_the_query() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    for signing in [Signing::V1, Signing::Acs3] {
        let mut call = Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", "aGVsbG8=")]).placed(Placement::Form);
        call.signing = signing;
        let r = c.send(call).await;
        assert_eq!(r.status, 200, "{signing:?}: {}", r.text());
        assert_eq!(r.json()["KeyId"], key.as_str());
    }
}

#[tokio::test]
async fn authentication_failures_answer_their_codes() {
    let k = start();
    let c = k.client();
    // Unknown access key.
    let stranger = Client { access_key_id: "LTAI-nobody".into(), ..c.clone() };
    for signing in [Signing::V1, Signing::Acs3] {
        let mut call = Call::new("DescribeRegions", &[]);
        call.signing = signing;
        assert_error(&stranger.send(call).await, 404, "InvalidAccessKeyId.NotFound");
    }
    // Wrong secret: the message carries the server's string-to-sign after the first colon.
    let mut wrong = Call::new("DescribeRegions", &[]);
    wrong.secret = Some("not-the-secret".into());
    let r = c.send(wrong).await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    let msg = r.json()["Message"].as_str().unwrap().to_owned();
    let (_, sts) = msg.split_once(':').unwrap();
    assert!(sts.starts_with("POST&%2F&AccessKeyId%3D"), "{msg}");
    let mut wrong3 = Call::new("DescribeRegions", &[]).acs3();
    wrong3.secret = Some("not-the-secret".into());
    let r = c.send(wrong3).await;
    assert_error(&r, 400, "SignatureDoesNotMatch");
    assert!(r.json()["Message"].as_str().unwrap().contains(":ACS3-HMAC-SHA256\n"));
    // A value changed after signing.
    let mut tampered = Call::new("Encrypt", &[("KeyId", "alias/a"), ("Plaintext", "aGk=")]);
    tampered.tamper = Some(|q| {
        for (k, v) in q.iter_mut() {
            if k == "Plaintext" {
                *v = "aGl=".into();
            }
        }
    });
    assert_error(&c.send(tampered).await, 400, "SignatureDoesNotMatch");
    // No signature at all.
    let r = c.raw("GET", "/?Action=DescribeRegions&Version=2016-01-20", &[], vec![], false).await;
    assert_error(&r, 400, "MissingParameter");
    assert_eq!(r.json()["Message"], "The parameter \"AccessKeyId\" is needed but not provided.");
}

#[tokio::test]
async fn stale_timestamps_and_replayed_nonces_are_refused() {
    let k = start();
    let c = k.client();
    for signing in [Signing::V1, Signing::Acs3] {
        let mut stale = Call::new("DescribeRegions", &[]);
        stale.signing = signing;
        stale.timestamp -= time::Duration::minutes(16);
        assert_error(&c.send(stale).await, 400, "InvalidTimeStamp.Expired");
        let mut future = Call::new("DescribeRegions", &[]);
        future.signing = signing;
        future.timestamp += time::Duration::minutes(16);
        assert_error(&c.send(future).await, 400, "InvalidTimeStamp.Expired");
        let mut within = Call::new("DescribeRegions", &[]);
        within.signing = signing;
        within.timestamp -= time::Duration::minutes(14);
        assert_eq!(c.send(within).await.status, 200);

        let mut first = Call::new("DescribeRegions", &[]);
        first.signing = signing;
        first.nonce = format!("fixed-nonce-{signing:?}");
        let replay = first.clone();
        assert_eq!(c.send(first).await.status, 200);
        assert_error(&c.send(replay).await, 400, "SignatureNonceUsed");
    }
}

#[tokio::test]
async fn action_version_and_method_errors() {
    let k = start();
    let c = k.client();
    assert_error(&call(&c, "NoSuchAction", &[]).await, 400, "InvalidAction.NotFound");
    assert_error(&c.send(Call::new("encrypt", &[]).acs3()).await, 400, "InvalidAction.NotFound");
    let mut old = Call::new("DescribeRegions", &[]);
    old.version = "2014-01-01".into();
    assert_error(&c.send(old).await, 400, "InvalidVersion");
    let mut old3 = Call::new("DescribeRegions", &[]).acs3();
    old3.version = "2014-01-01".into();
    assert_error(&c.send(old3).await, 400, "InvalidVersion");
    let r = c.raw("PUT", "/", &[], vec![], false).await;
    assert_error(&r, 403, "UnsupportedHTTPMethod");
    let r = c.raw("GET", "/elsewhere", &[], vec![], false).await;
    assert_error(&r, 400, "InvalidAction.NotFound");
}

#[tokio::test]
async fn xml_renders_successes_and_errors() {
    let k = start();
    let c = k.client();
    let mut ok_call = Call::new("DescribeRegions", &[]);
    ok_call.format = Some("XML".into());
    let r = c.send(ok_call).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8");
    let rid = r.headers["x-acs-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        r.text(),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeRegionsResponse><RequestId>{rid}</RequestId><Regions><Region><RegionId>cn-hangzhou</RegionId></Region></Regions></DescribeRegionsResponse>"
        )
    );
    let mut bad = Call::new("DescribeKey", &[("KeyId", "alias/none")]);
    bad.format = Some("xml".into());
    let r = c.send(bad).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.headers["content-type"], "text/xml;charset=utf-8");
    let rid = r.headers["x-acs-request-id"].to_str().unwrap().to_owned();
    let text = r.text();
    assert!(
        text.starts_with(&format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>{rid}</RequestId><HostId>"
        )),
        "{text}"
    );
    assert!(
        text.contains("<Code>Forbidden.AliasNotFound</Code><Message>The specified Alias is not found.</Message>"),
        "{text}"
    );
    assert!(text.ends_with("<HttpStatus>404</HttpStatus></Error>"), "{text}");
}

#[tokio::test]
async fn request_lines_of_128_kib_are_served() {
    let k = start();
    let c = k.client();
    let key = new_key(&c).await;
    let plaintext = b64(&[0xA5; 6144]);
    // The old SDKs put everything in the URL; pad it well past 128 KiB.
    let padding = "x".repeat(128 * 1024);
    let r =
        c.send(Call::new("Encrypt", &[("KeyId", &key), ("Plaintext", &plaintext), ("Padding", &padding)]).get()).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn duplicate_parameters_are_invalid() {
    let k = start();
    let c = k.client();
    let r = call(&c, "DescribeKey", &[("KeyId", "a"), ("KeyId", "b")]).await;
    assert_error(&r, 400, "InvalidParameter");
    assert_eq!(r.json()["Message"], "The specified parameter \"KeyId\" is not valid.");
}
