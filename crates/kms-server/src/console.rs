//! The web console at `/console/`: static files built from `console/` (`npm run build`; the
//! built files are committed and a test checks they are current), embedded here so that
//! `cargo build` alone gives a working console.
//!
//! It adds no trust surface: the pages sign every API call in the browser with the user's
//! access key, exactly as an SDK does, so each call is verified, authorised by policy and
//! audited like any other. The files themselves are public and hold nothing; what guards the
//! user is the Content-Security-Policy below — scripts, styles and calls from this origin only,
//! nothing inline, no framing — so nothing but these files ever runs with the secret in reach.

use kms_wire::render::Rendered;

const INDEX: &[u8] = include_bytes!("../../../console/dist/index.html");
const APP_JS: &[u8] = include_bytes!("../../../console/dist/app.js");
const APP_CSS: &[u8] = include_bytes!("../../../console/dist/app.css");

/// The policy every console answer carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

/// The console's answer to `method path`, or `None` when the path is not the console's.
pub fn serve(method: &str, path: &str) -> Option<Rendered> {
    if path != "/console" && !path.starts_with("/console/") {
        return None;
    }
    if method != "GET" && method != "HEAD" {
        return Some(answer(405, "text/plain;charset=utf-8", b"the console's files are read with GET\n".to_vec()));
    }
    let (content_type, body): (&'static str, &[u8]) = match path {
        "/console" => {
            let mut moved = answer(308, "text/plain;charset=utf-8", b"/console/\n".to_vec());
            moved.headers.push(("location", "/console/".to_owned()));
            return Some(moved);
        }
        "/console/" | "/console/index.html" => ("text/html;charset=utf-8", INDEX),
        "/console/app.js" => ("text/javascript;charset=utf-8", APP_JS),
        "/console/app.css" => ("text/css;charset=utf-8", APP_CSS),
        _ => return Some(answer(404, "text/plain;charset=utf-8", b"not found\n".to_vec())),
    };
    Some(answer(200, content_type, body.to_vec()))
}

fn answer(status: u16, content_type: &'static str, body: Vec<u8>) -> Rendered {
    let mut r = Rendered::plain(content_type, body);
    r.status = status;
    r.headers.extend([
        ("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("cross-origin-opener-policy", "same-origin".to_owned()),
        // A new kmsd serves new files at the same names: never a stale copy.
        ("cache-control", "no-cache".to_owned()),
    ]);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_are_served_with_the_policy_and_nothing_else_is() {
        let index = serve("GET", "/console/").unwrap();
        assert_eq!(index.status, 200);
        let html = String::from_utf8(index.body).unwrap();
        assert!(html.contains("app.js") && html.contains("app.css"), "{html}");
        assert!(!html.contains("<script>") && !html.contains("style="), "nothing inline: {html}");
        let csp = index.headers.iter().find(|(k, _)| *k == "content-security-policy").unwrap();
        assert!(csp.1.contains("script-src 'self'") && csp.1.contains("frame-ancestors 'none'"));
        assert_eq!(serve("GET", "/console/app.js").unwrap().content_type, "text/javascript;charset=utf-8");
        assert_eq!(serve("GET", "/console/app.css").unwrap().status, 200);
        assert_eq!(serve("GET", "/console/../Cargo.toml").unwrap().status, 404);
        assert_eq!(serve("GET", "/console/missing.js").unwrap().status, 404);
        assert_eq!(serve("POST", "/console/").unwrap().status, 405);
        let moved = serve("GET", "/console").unwrap();
        assert_eq!(moved.status, 308);
        assert!(moved.headers.contains(&("location", "/console/".to_owned())));
        assert!(serve("GET", "/").is_none());
        assert!(serve("GET", "/consoles").is_none());
    }
}
