//! The web console's files at the wire: served on the API listener with their security policy,
//! and not at all with `--console=false` (then `/console/` is an unknown path like any other).
//! The console in a browser: tests/sdk/python/test_console.py.

mod common;

use common::*;

fn header<'a>(r: &'a kms_testkit::Resp, name: &str) -> Option<&'a str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn the_console_is_served_with_its_policy_unless_turned_off() {
    let k = start();
    let c = k.client();
    let index = c.raw("GET", "/console/", &[], vec![], false).await;
    assert_eq!(index.status, 200, "{}", index.text());
    assert_eq!(header(&index, "content-type"), Some("text/html;charset=utf-8"));
    let csp = header(&index, "content-security-policy").expect("a Content-Security-Policy");
    for directive in ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert_eq!(header(&index, "x-content-type-options"), Some("nosniff"));
    assert!(index.text().contains("app.js"));
    let js = c.raw("GET", "/console/app.js", &[], vec![], false).await;
    assert_eq!((js.status, header(&js, "content-type")), (200, Some("text/javascript;charset=utf-8")));
    assert!(js.body.len() > 1000);
    let moved = c.raw("GET", "/console", &[], vec![], false).await;
    assert_eq!((moved.status, header(&moved, "location")), (308, Some("/console/")));
    assert_eq!(c.raw("GET", "/console/nothing-here.js", &[], vec![], false).await.status, 404);
    // The API beside it is unchanged.
    ok(&c, "DescribeRegions", &[]).await;

    let off = Kmsd::start_with(
        &bin(),
        kms_testkit::Options { extra_args: vec!["--console=false".into()], ..Default::default() },
    )
    .unwrap();
    let r = off.client().raw("GET", "/console/", &[], vec![], false).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(header(&r, "content-security-policy").is_none());
    assert_eq!(r.json()["Code"], "InvalidAction.NotFound");
}
