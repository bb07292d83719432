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

/// Writes `bytes` on a new connection and reads one answer.
async fn exchange(addr: &str, bytes: &[u8]) -> (tokio::net::TcpStream, Resp) {
    use tokio::io::AsyncWriteExt as _;
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let r = tokio::time::timeout(std::time::Duration::from_secs(10), kms_testkit::read_response(&mut s))
        .await
        .expect("answered");
    (s, r)
}

/// Framing errors, answered before any action is looked at, carry the error envelope with one
/// request id in the header and the body; the log says why, and from where.
#[tokio::test]
async fn framing_errors_answer_one_request_id_and_are_logged() {
    let k = start();
    // A request line still going at 256 KiB (exactly that much is sent, so nothing is left
    // unread when kmsd closes).
    let mut long = b"GET /?".to_vec();
    long.resize(256 * 1024, b'a');
    let bad_chunk = format!("POST / HTTP/1.1\r\nhost: {}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", k.addr);
    let plus = format!("POST / HTTP/1.1\r\nhost: {}\r\ncontent-length: +3\r\n\r\nabc", k.addr);
    for (bytes, what) in
        [(long, "long request line"), (bad_chunk.into_bytes(), "chunk size"), (plus.into_bytes(), "+3")]
    {
        let (_, r) = exchange(&k.addr, &bytes).await;
        assert_error(&r, 400, "ParseRequestParameterException");
        assert_eq!(r.headers["connection"], "close", "{what}");
    }
    let log = k.stderr();
    for reason in ["request head over 256 KiB", "malformed chunk size", "Content-Length is not a decimal number"] {
        let line = log.lines().find(|l| l.contains(reason)).unwrap_or_else(|| panic!("{reason} not logged:\n{log}"));
        assert!(line.contains("malformed request refused") && line.contains("peer=127.0.0.1:"), "{line}");
        assert!(!line.contains("aaaa"), "a value was logged: {line}");
    }
}

/// `Content-Length` is digits only: `+3` is refused, not read as 3.
#[tokio::test]
async fn content_length_with_a_sign_is_refused() {
    let k = start();
    let c = k.client();
    let (method, target, mut headers, body) = c.build(Call::new("DescribeRegions", &[]).placed(Placement::Form));
    headers.push(("host".into(), k.addr.clone()));
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in &headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    let signed_with = |length: &str| {
        let mut b = format!("{req}content-length: {length}\r\n\r\n").into_bytes();
        b.extend_from_slice(&body);
        b
    };
    let (_, r) = exchange(&k.addr, &signed_with(&format!("+{}", body.len()))).await;
    assert_error(&r, 400, "ParseRequestParameterException");
    // The same signed request with a plain length is served.
    let (_, r) = exchange(&k.addr, &signed_with(&body.len().to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A HEAD answer is headers only, content-length included, so the next answer on the same
/// keep-alive connection is read from its first byte.
#[tokio::test]
async fn head_answers_carry_no_body() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let k = start();
    let mut s = tokio::net::TcpStream::connect(&k.addr).await.unwrap();
    for (target, status, length) in [("/healthz", "200", Some("3")), ("/", "403", None)] {
        s.write_all(format!("HEAD {target} HTTP/1.1\r\nhost: {}\r\n\r\n", k.addr).as_bytes()).await.unwrap();
        // kmsd writes the HEAD answer whole, then waits for the next request.
        let mut got = Vec::new();
        while !got.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            assert_eq!(s.read(&mut byte).await.unwrap(), 1, "closed after {:?}", String::from_utf8_lossy(&got));
            got.push(byte[0]);
        }
        let text = String::from_utf8(got).unwrap();
        assert!(text.starts_with(&format!("HTTP/1.1 {status} ")), "{text}");
        if let Some(length) = length {
            assert!(text.contains(&format!("content-length: {length}\r\n")), "{text}");
        }
        assert!(text.contains("connection: keep-alive"), "{text}");
        // Nothing follows the headers: the GET's answer is the next thing on the wire.
        s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {}\r\n\r\n", k.addr).as_bytes()).await.unwrap();
        let r = kms_testkit::read_response(&mut s).await;
        assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    }
}

/// `100 Continue` is sent once the declared size is accepted: an oversized body is refused
/// straight away (no 100 that would have the client send 2 MiB for nothing); an accepted one
/// gets its 100 before the client sends the body.
#[tokio::test]
async fn continue_comes_only_after_the_size_is_accepted() {
    use tokio::io::AsyncWriteExt as _;
    let k = start();
    let c = k.client();
    let too_big = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\nexpect: 100-continue\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        k.addr,
        2 * 1024 * 1024
    );
    let (_, r) = exchange(&k.addr, too_big.as_bytes()).await;
    assert_error(&r, 400, "ParseRequestParameterException");
    assert_eq!(r.json()["Message"], "The request body exceeds 1 MiB.");
    // A signed form call waits for its 100, then sends the body and is served.
    let (method, target, headers, body) = c.build(Call::new("DescribeRegions", &[]).placed(Placement::Form));
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {}\r\nexpect: 100-continue\r\n", k.addr);
    for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let (mut s, r) = exchange(&k.addr, head.as_bytes()).await;
    assert_eq!(r.status, 100);
    s.write_all(&body).await.unwrap();
    let r = kms_testkit::read_response(&mut s).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// An ACS4 DescribeRegions scoped to `region` and `product`, as the Tea SDK signs it.
fn acs4_call(c: &Client, region: &str, product: &str) -> Vec<(String, String)> {
    use aws_lc_rs::hmac;
    use kms_wire::signature::canonical::acs_canonical_request;
    use kms_wire::signature::sign::sha256_hex;
    let now = time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap();
    let date = now.format(&time::format_description::well_known::Rfc3339).unwrap();
    let day = date[..10].replace('-', "");
    let signed: Vec<(&str, String)> = vec![
        ("host", c.addr.clone()),
        ("x-acs-action", "DescribeRegions".into()),
        ("x-acs-content-sha256", sha256_hex(b"")),
        ("x-acs-date", date),
        ("x-acs-signature-nonce", uuid::Uuid::new_v4().simple().to_string()),
        ("x-acs-version", "2016-01-20".into()),
    ];
    let canonical = acs_canonical_request("POST", [], &signed, &sha256_hex(b""));
    let sts = format!("ACS4-HMAC-SHA256\n{}", sha256_hex(canonical.as_bytes()));
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, format!("aliyun_v4{}", c.secret).as_bytes());
    for step in [day.as_str(), region, product, "aliyun_v4_request"] {
        key = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&key, step.as_bytes()).as_ref());
    }
    let signature: String = hmac::sign(&key, sts.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    let names: Vec<&str> = signed.iter().map(|(n, _)| *n).collect();
    let mut headers: Vec<(String, String)> = signed.iter().map(|(n, v)| (n.to_string(), v.clone())).collect();
    headers.push((
        "authorization".into(),
        format!(
            "ACS4-HMAC-SHA256 Credential={}/{day}/{region}/{product}/aliyun_v4_request,SignedHeaders={},Signature={signature}",
            c.access_key_id,
            names.join(";")
        ),
    ));
    headers
}

/// ACS4 signatures are scoped: kmsd serving cn-shanghai takes one scoped to cn-shanghai and
/// Kms, and refuses a correctly computed one scoped to another region or product.
#[tokio::test]
async fn acs4_scope_must_name_the_served_region_and_kms() {
    let k = Kmsd::start_with(&bin(), kms_testkit::Options { region: Some("cn-shanghai".into()), ..Default::default() })
        .unwrap();
    let c = k.client();
    let r = c.raw("POST", "/", &acs4_call(&c, "cn-shanghai", "Kms"), vec![], false).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Regions"]["Region"][0]["RegionId"], "cn-shanghai");
    let r = c.raw("POST", "/", &acs4_call(&c, "cn-hangzhou", "Kms"), vec![], false).await;
    assert_error(&r, 400, "IncompleteSignature");
    assert!(r.json()["Message"].as_str().unwrap().contains("region must be cn-shanghai"), "{}", r.text());
    let r = c.raw("POST", "/", &acs4_call(&c, "cn-shanghai", "Ecs"), vec![], false).await;
    assert_error(&r, 400, "IncompleteSignature");
}

/// A V1 protocol parameter given twice is refused by name, both copies signed or not, and
/// whether they agree or not: the request is never served as whichever copy came first.
#[tokio::test]
async fn protocol_parameters_given_twice_are_refused() {
    let k = start();
    let c = k.client();
    for placement in [Placement::Query, Placement::Form] {
        // Signed: `Action=CreateKey`, then the call's own `Action=DescribeRegions`.
        let r = c.send(Call::new("DescribeRegions", &[("Action", "CreateKey")]).placed(placement)).await;
        assert_error(&r, 400, "InvalidParameter");
        assert_eq!(r.json()["Message"], "The specified parameter \"Action\" is not valid.");
        let r = c.send(Call::new("DescribeRegions", &[("Version", "2016-01-20")]).placed(placement)).await;
        assert_error(&r, 400, "InvalidParameter");
    }
    // An unsigned copy added on the way.
    let mut twice = Call::new("DescribeRegions", &[]);
    twice.tamper = Some(|q| q.push(("Timestamp".into(), "2020-01-01T00:00:00Z".into())));
    let r = c.send(twice).await;
    assert_error(&r, 400, "InvalidParameter");
    assert_eq!(r.json()["Message"], "The specified parameter \"Timestamp\" is not valid.");
}
