//! One signed API call (ACS3, as the Tea SDKs sign) over HTTP/1.1, plain or TLS — to kmsd or
//! to Alibaba Cloud. The signature comes from `kms-wire`, the same canonicalisation kmsd
//! verifies with; nothing here signs a second way.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use kms_wire::signature::sign;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

/// Where requests go.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub https: bool,
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self, String> {
        let (https, rest) = match url.split_once("://") {
            Some(("https", r)) => (true, r),
            Some(("http", r)) => (false, r),
            Some((s, _)) => return Err(format!("--endpoint: the scheme {s:?} is neither http nor https")),
            None => (true, url),
        };
        let authority = rest.trim_end_matches('/');
        if authority.contains('/') {
            return Err("--endpoint takes a scheme, host and port, no path".into());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().map_err(|_| format!("--endpoint: bad port {p:?}"))?),
            None => (authority.to_owned(), if https { 443 } else { 80 }),
        };
        if host.is_empty() {
            return Err("--endpoint names no host".into());
        }
        Ok(Self { https, host, port })
    }

    fn host_header(&self) -> String {
        match (self.https, self.port) {
            (true, 443) | (false, 80) => self.host.clone(),
            _ => format!("{}:{}", self.host, self.port),
        }
    }
}

/// Who signs.
pub struct Credentials {
    pub access_key_id: String,
    pub secret: Zeroizing<String>,
    pub security_token: Option<Zeroizing<String>>,
}

/// What a call can end in besides an answer.
#[derive(Debug)]
pub enum CallError {
    /// The service answered with an error.
    Service { status: u16, code: String, message: String, request_id: String },
    /// No answer: connection, TLS, or a reply that is not the API's.
    Transport(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Service { status, code, message, request_id } => {
                write!(f, "{code} (HTTP {status}): {message}\nRequestId: {request_id}")
            }
            Self::Transport(why) => write!(f, "{why}"),
        }
    }
}

pub struct Client {
    pub endpoint: Endpoint,
    pub credentials: Credentials,
    tls: Option<Arc<rustls::ClientConfig>>,
}

/// How long a connection and each read or write may take: a dead endpoint fails in seconds.
const TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// `ca`: PEM certificates trusted besides the public roots (kmsd's own certificate).
    pub fn new(endpoint: Endpoint, credentials: Credentials, ca: Option<&std::path::Path>) -> Result<Self, String> {
        let tls = if endpoint.https {
            let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
            if let Some(path) = ca {
                use rustls::pki_types::pem::PemObject as _;
                let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("--ca {}: {e}", path.display()))?;
                for cert in certs {
                    let cert = cert.map_err(|e| format!("--ca {}: {e}", path.display()))?;
                    roots.add(cert).map_err(|e| format!("--ca {}: {e}", path.display()))?;
                }
            }
            Some(Arc::new(rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth()))
        } else {
            None
        };
        Ok(Self { endpoint, credentials, tls })
    }

    /// Calls `action` (API version 2016-01-20) with `params`; the JSON answer, or the error.
    pub fn call(&self, action: &str, params: &[(&str, &str)]) -> Result<Value, CallError> {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        let now = OffsetDateTime::now_utc();
        let date = now.replace_nanosecond(0).unwrap_or(now).format(&Rfc3339).unwrap_or_default();
        let mut signed: Vec<(String, String)> = vec![
            ("content-type".into(), "application/x-www-form-urlencoded".into()),
            ("host".into(), self.endpoint.host_header()),
            ("x-acs-action".into(), action.into()),
            ("x-acs-content-sha256".into(), sign::sha256_hex(body.as_bytes())),
            ("x-acs-date".into(), date),
            ("x-acs-signature-nonce".into(), uuid::Uuid::new_v4().to_string()),
            ("x-acs-version".into(), "2016-01-20".into()),
        ];
        if let Some(token) = &self.credentials.security_token {
            signed.push(("x-acs-security-token".into(), token.as_str().into()));
        }
        signed.sort();
        let auth =
            sign::acs3_authorization("POST", &[], &signed, &self.credentials.access_key_id, &self.credentials.secret);
        let mut request = Zeroizing::new(String::from("POST / HTTP/1.1\r\n"));
        for (k, v) in &signed {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str(&format!(
            "authorization: {auth}\r\ncontent-length: {}\r\nconnection: close\r\nuser-agent: kms-cli/{}\r\n\r\n{body}",
            body.len(),
            env!("CARGO_PKG_VERSION")
        ));
        let raw = self.exchange(request.as_bytes()).map_err(CallError::Transport)?;
        parse_response(&raw)
    }

    fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, String> {
        let addr = format!("{}:{}", self.endpoint.host, self.endpoint.port);
        let cannot = |e: std::io::Error| format!("cannot reach {addr}: {e}");
        let addrs: Vec<_> = std::net::ToSocketAddrs::to_socket_addrs(&addr).map_err(cannot)?.collect();
        let first = addrs.first().ok_or_else(|| format!("{addr} resolves to no address"))?;
        let mut tcp = TcpStream::connect_timeout(first, TIMEOUT).map_err(cannot)?;
        tcp.set_read_timeout(Some(TIMEOUT)).map_err(cannot)?;
        tcp.set_write_timeout(Some(TIMEOUT)).map_err(cannot)?;
        let mut out = Vec::new();
        match &self.tls {
            Some(config) => {
                let name = rustls::pki_types::ServerName::try_from(self.endpoint.host.clone())
                    .map_err(|e| format!("{}: {e}", self.endpoint.host))?;
                let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|e| e.to_string())?;
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                tls.write_all(request).map_err(cannot)?;
                match tls.read_to_end(&mut out) {
                    Ok(_) => {}
                    // Servers that close without close_notify: the body is complete if framed.
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
                    Err(e) => return Err(cannot(e)),
                }
            }
            None => {
                tcp.write_all(request).map_err(cannot)?;
                tcp.read_to_end(&mut out).map_err(cannot)?;
            }
        }
        Ok(out)
    }
}

/// The answer's JSON, or its error fields.
fn parse_response(raw: &[u8]) -> Result<Value, CallError> {
    let bad = |why: &str| CallError::Transport(format!("not an API answer: {why}"));
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        _ => return Err(bad("no complete HTTP head")),
    };
    let status = resp.code.unwrap_or(0);
    let header = |name: &str| {
        resp.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| String::from_utf8_lossy(h.value))
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(&raw[head..]).ok_or_else(|| bad("broken chunked body"))?
    } else {
        raw[head..].to_vec()
    };
    let json: Value = serde_json::from_slice(&body).map_err(|_| bad(&format!("HTTP {status}, body not JSON")))?;
    if (200..300).contains(&status) {
        return Ok(json);
    }
    let field = |k: &str| json.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    Err(CallError::Service { status, code: field("Code"), message: field("Message"), request_id: field("RequestId") })
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        let size = std::str::from_utf8(&b[..line_end]).ok()?.split(';').next()?.trim();
        let size = usize::from_str_radix(size, 16).ok()?;
        b = &b[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}
