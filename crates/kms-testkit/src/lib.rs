//! Test support: [`Kmsd`] starts the real `kmsd` binary on a free port over a temporary data
//! dir, and [`Client`] sends requests signed the way the SDKs sign them (V1 or ACS3), with
//! knobs to send them wrong on purpose. [`PrivatePostgres`] is a PostgreSQL server of a test's
//! own, to freeze, crash and restart.
#![forbid(unsafe_code)]

pub mod postgres;
pub use postgres::{PgOptions, PrivatePostgres};

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use bytes::Bytes;
use kms_wire::signature::sign;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};

pub const ACCESS_KEY_ID: &str = "LTAI5tTestkitKey00001";
/// Characters that need percent-encoding, on purpose.
pub const ACCESS_KEY_SECRET: &str = "Testkit+/=*~Secret 0123456789";

/// A running kmsd process, killed on drop.
pub struct Kmsd {
    child: Option<Child>,
    pub url: String,
    pub addr: String,
    pub data_dir: PathBuf,
    pub stderr_path: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

/// The storage engine the tests run kmsd on: `KMSD_TEST_STORE=postgres` (with
/// `KMSD_TEST_POSTGRES_URL` naming a server and its admin database) or SQLite by default.
pub fn engine() -> &'static str {
    match std::env::var("KMSD_TEST_STORE").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    }
}

/// `--store` arguments for a kmsd using `data_dir`: on PostgreSQL, a fresh database per data
/// dir, remembered beside it so a restart finds the same one.
fn store_args(data_dir: &Path) -> Vec<String> {
    if engine() != "postgres" {
        return Vec::new();
    }
    let sidecar = data_dir.with_extension("pgurl");
    if let Ok(url) = std::fs::read_to_string(&sidecar) {
        return vec!["--store".into(), url];
    }
    let admin = std::env::var("KMSD_TEST_POSTGRES_URL").expect("KMSD_TEST_POSTGRES_URL names the test server");
    let name = format!("kmsd_test_{}", uuid::Uuid::new_v4().simple());
    let status = Command::new("psql")
        .arg(&admin)
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .expect("run psql");
    assert!(status.success(), "could not create test database {name}");
    let base = admin.split('?').next().unwrap().rsplit_once('/').expect("a URL ending in /dbname").0;
    let url = format!("{base}/{name}");
    std::fs::create_dir_all(data_dir.parent().unwrap()).unwrap();
    std::fs::write(&sidecar, &url).unwrap();
    vec!["--store".into(), url]
}

/// How to start kmsd.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub data_dir: Option<PathBuf>,
    pub region: Option<String>,
    pub extra_args: Vec<String>,
    /// Start without the bootstrap environment, so kmsd generates an access key.
    pub no_bootstrap_env: bool,
    /// More environment variables for the process.
    pub env: Vec<(String, String)>,
}

impl Kmsd {
    /// Starts `bin` with a fresh data dir and the testkit's access key.
    pub fn start(bin: &Path) -> Kmsd {
        Self::start_with(bin, Options::default()).expect("kmsd starts")
    }

    /// Starts `bin`; on failure returns its exit status and stderr.
    pub fn start_with(bin: &Path, opts: Options) -> Result<Kmsd, (Option<i32>, String)> {
        let (tmp, data_dir) = match opts.data_dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().unwrap();
                let d = t.path().join("data");
                (Some(t), d)
            }
        };
        let stderr_path = data_dir.with_extension("stderr.log");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("--listen").arg("127.0.0.1:0").arg("--data-dir").arg(&data_dir).arg("--log").arg("debug");
        if let Some(r) = &opts.region {
            cmd.arg("--region").arg(r);
        }
        if !opts.extra_args.iter().any(|a| a == "--store") {
            cmd.args(store_args(&data_dir));
        }
        cmd.args(&opts.extra_args);
        cmd.env_remove("KMSD_BOOTSTRAP_ACCESS_KEY_ID").env_remove("KMSD_BOOTSTRAP_ACCESS_KEY_SECRET");
        if !opts.no_bootstrap_env {
            cmd.env("KMSD_BOOTSTRAP_ACCESS_KEY_ID", ACCESS_KEY_ID)
                .env("KMSD_BOOTSTRAP_ACCESS_KEY_SECRET", ACCESS_KEY_SECRET);
        }
        cmd.envs(opts.env.iter().map(|(k, v)| (k, v)));
        let mut child = cmd.stdout(Stdio::piped()).stderr(stderr).spawn().expect("spawn kmsd");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(url) = line.trim().strip_prefix("kmsd listening on ").map(str::to_owned) else {
            let status = child.wait().ok().and_then(|s| s.code());
            return Err((status, std::fs::read_to_string(&stderr_path).unwrap_or_default()));
        };
        let addr = url.split("://").nth(1).unwrap().to_owned();
        Ok(Kmsd { child: Some(child), url, addr, data_dir, stderr_path, _tmp: tmp })
    }

    /// A client signing with the testkit's access key.
    pub fn client(&self) -> Client {
        Client { addr: self.addr.clone(), access_key_id: ACCESS_KEY_ID.into(), secret: ACCESS_KEY_SECRET.into() }
    }

    /// Everything kmsd wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Sends SIGTERM and waits; returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        child.wait().ok().and_then(|s| s.code())
    }

    /// Kills the process with SIGKILL, as a crash or power cut would, and reaps it.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits for the process to exit by itself (after a signal sent elsewhere).
    pub fn terminate_wait(mut self) -> Option<i32> {
        self.child.take()?.wait().ok().and_then(|s| s.code())
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or_default()
    }
}

impl Drop for Kmsd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Decoded `name=value` pairs.
pub type Pairs = Vec<(String, String)>;

/// Which scheme signs a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    V1,
    Acs3,
}

/// Where the action parameters travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    Query,
    /// `application/x-www-form-urlencoded` body.
    Form,
    /// Form body sent with `Transfer-Encoding: chunked` (openapi-client does this).
    ChunkedForm,
}

/// One request to build, with every knob a test may turn.
#[derive(Debug, Clone)]
pub struct Call {
    pub action: String,
    pub params: Vec<(String, String)>,
    pub signing: Signing,
    pub method: &'static str,
    pub placement: Placement,
    pub timestamp: OffsetDateTime,
    pub nonce: String,
    pub version: String,
    pub format: Option<String>,
    /// Sign with this secret instead of the real one.
    pub secret: Option<String>,
    /// Applied to the query string after signing (to tamper with it).
    pub tamper: Option<fn(&mut Pairs)>,
}

impl Call {
    pub fn new(action: &str, params: &[(&str, &str)]) -> Self {
        Call {
            action: action.into(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            signing: Signing::V1,
            method: "POST",
            placement: Placement::Query,
            timestamp: OffsetDateTime::now_utc(),
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            version: "2016-01-20".into(),
            format: None,
            secret: None,
            tamper: None,
        }
    }
    pub fn acs3(mut self) -> Self {
        self.signing = Signing::Acs3;
        self
    }
    pub fn get(mut self) -> Self {
        self.method = "GET";
        self
    }
    pub fn placed(mut self, p: Placement) -> Self {
        self.placement = p;
        self
    }
}

/// A response, body parsed as JSON when it is JSON.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// `Code` of an error body.
    pub fn code(&self) -> String {
        self.json()["Code"].as_str().unwrap_or_default().to_owned()
    }
}

fn ts(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0).unwrap().format(&Rfc3339).unwrap()
}

fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// Signs and sends requests to one kmsd.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: String,
    pub access_key_id: String,
    pub secret: String,
}

impl Client {
    /// Sends `call` and returns the response.
    pub async fn send(&self, call: Call) -> Resp {
        self.try_send(call).await.expect("kmsd answers")
    }

    /// Sends `call`; an I/O error (a server that went away) is returned, not a panic.
    pub async fn try_send(&self, call: Call) -> std::io::Result<Resp> {
        let chunked = call.placement == Placement::ChunkedForm;
        let (method, target, headers, body) = self.build(call);
        self.try_raw(method, &target, &headers, body, chunked).await
    }

    /// The method, request target, headers and body of a signed `call`.
    pub fn build(&self, call: Call) -> (&'static str, String, Pairs, Vec<u8>) {
        let secret = call.secret.clone().unwrap_or_else(|| self.secret.clone());
        let mut headers: Vec<(String, String)> = vec![("host".into(), self.addr.clone())];
        let (mut query, body): (Pairs, Pairs) = match call.signing {
            Signing::V1 => {
                let mut all = call.params.clone();
                all.extend([
                    ("Action".to_string(), call.action.clone()),
                    ("Version".into(), call.version.clone()),
                    ("AccessKeyId".into(), self.access_key_id.clone()),
                    ("SignatureMethod".into(), "HMAC-SHA1".into()),
                    ("SignatureVersion".into(), "1.0".into()),
                    ("SignatureNonce".into(), call.nonce.clone()),
                    ("Timestamp".into(), ts(call.timestamp)),
                ]);
                if let Some(f) = &call.format {
                    all.push(("Format".into(), f.clone()));
                }
                let sig = sign::v1_signature(call.method, &all, &secret);
                all.push(("Signature".into(), sig));
                match call.placement {
                    Placement::Query => (all, vec![]),
                    _ => (vec![], all),
                }
            }
            Signing::Acs3 => {
                let (mut query, body) = match call.placement {
                    Placement::Query => (call.params.clone(), vec![]),
                    _ => (vec![], call.params.clone()),
                };
                if let Some(f) = &call.format {
                    query.push(("Format".into(), f.clone()));
                }
                let body_bytes = encode(&body);
                let hash = sign::sha256_hex(if body.is_empty() { b"" } else { body_bytes.as_bytes() });
                let mut signed = vec![
                    ("host".to_string(), self.addr.clone()),
                    ("x-acs-action".into(), call.action.clone()),
                    ("x-acs-content-sha256".into(), hash),
                    ("x-acs-date".into(), ts(call.timestamp)),
                    ("x-acs-signature-nonce".into(), call.nonce.clone()),
                    ("x-acs-version".into(), call.version.clone()),
                ];
                if !body.is_empty() {
                    signed.insert(0, ("content-type".into(), "application/x-www-form-urlencoded".into()));
                }
                let auth = sign::acs3_authorization(call.method, &query, &signed, &self.access_key_id, &secret);
                headers = signed;
                headers.push(("authorization".into(), auth));
                (query, body)
            }
        };
        if call.signing == Signing::V1 && !body.is_empty() {
            headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        }
        if let Some(t) = call.tamper {
            t(&mut query);
        }
        let target = if query.is_empty() { "/".to_string() } else { format!("/?{}", encode(&query)) };
        let body = if body.is_empty() { String::new() } else { encode(&body) };
        (call.method, target, headers, body.into_bytes())
    }

    /// Sends exactly this request line, headers and body over a new connection, and reads
    /// the answer. Written on raw TCP (parsed by httparse) because client libraries cap request
    /// targets at 64 KiB, and kmsd must take 128 KiB.
    pub async fn raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        chunked: bool,
    ) -> Resp {
        self.try_raw(method, target, headers, body, chunked).await.expect("kmsd answers")
    }

    /// [`Client::raw`] that returns I/O errors.
    pub async fn try_raw(
        &self,
        method: &str,
        target: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        chunked: bool,
    ) -> std::io::Result<Resp> {
        let mut stream = tokio::net::TcpStream::connect(&self.addr).await?;
        let mut req = format!("{method} {target} HTTP/1.1\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("host: {}\r\n", self.addr));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        let bytes = if chunked {
            req.push_str("transfer-encoding: chunked\r\n\r\n");
            let mut b = req.into_bytes();
            let mid = body.len() / 2;
            for part in [&body[..mid], &body[mid..]] {
                if !part.is_empty() {
                    b.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    b.extend_from_slice(part);
                    b.extend_from_slice(b"\r\n");
                }
            }
            b.extend_from_slice(b"0\r\n\r\n");
            b
        } else {
            req.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            let mut b = req.into_bytes();
            b.extend_from_slice(&body);
            b
        };
        stream.write_all(&bytes).await?;
        try_read_response(&mut stream).await
    }
}

/// Reads one response with a `content-length` (kmsd always sends one).
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Resp {
    try_read_response(stream).await.expect("a complete response")
}

/// [`read_response`] that returns I/O errors, including a connection closed early.
pub async fn try_read_response<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<Resp> {
    let closed =
        || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed before a complete response");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(closed());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut hs = [httparse::EMPTY_HEADER; 32];
        let mut resp = httparse::Response::new(&mut hs);
        let parsed = resp.parse(&buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        if let httparse::Status::Complete(len) = parsed {
            let status = resp.code.unwrap_or_default();
            let mut headers = http::HeaderMap::new();
            for h in resp.headers.iter() {
                if let (Ok(name), Ok(value)) =
                    (http::HeaderName::from_bytes(h.name.as_bytes()), http::HeaderValue::from_bytes(h.value))
                {
                    headers.append(name, value);
                }
            }
            let length: usize =
                headers.get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).unwrap_or(0);
            while buf.len() < len + length {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(closed());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok(Resp { status, headers, body: Bytes::copy_from_slice(&buf[len..len + length]) });
        }
    }
}
