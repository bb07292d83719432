//! `kms-cluster`: several kmsd nodes on one PostgreSQL database behind one endpoint that hands
//! each request to the next node in turn.
//!
//! It takes kmsd's own command line and prints kmsd's ready line, so anything that starts
//! `$KMSD_BIN` — the SDK conformance suites — runs unchanged against a cluster:
//!
//! ```sh
//! KMSD_TEST_STORE=postgres KMSD_BIN=target/debug/kms-cluster bash tests/sdk/run.sh
//! ```
//!
//! Balancing is per request, not per connection: the SDKs keep connections alive, so
//! per-connection balancing would send a whole suite to one node and prove nothing. Consecutive
//! requests on one client connection land on different nodes, which is what makes a key created
//! through node 1 and used at once through node 2 a real cross-node check, and a replayed request
//! a cross-node replay. `POST /-/clock/advance` (the `--dev-clock` endpoint) goes to every node,
//! since each node has its own clock; the answer sums what the nodes' jobs did, so exactly-once
//! jobs show up as counts that do not double.
//!
//! Environment: `KMS_CLUSTER_NODES` (default 3), `KMS_CLUSTER_KMSD` (default: `kmsd` beside
//! this binary). With `--tls-cert`/`--tls-key` the endpoint speaks HTTPS and the nodes plain HTTP
//! on loopback, as behind a TLS-terminating load balancer. Each response carries
//! `x-kms-cluster-node: <index>`; on exit the per-node request counts go to stderr.
//!
//! With `--instance-listen ADDR` every node serves its instance gateway on a port of its own
//! and the cluster forwards each connection to ADDR to the next node's gateway, bytes as they
//! are (TLS passes through: the nodes' certificates come from the shared instance CA). It
//! prints kmsd's second ready line for it.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

const MAX_HEAD: usize = 256 * 1024;
const MAX_BODY: usize = 2 * 1024 * 1024;

fn die(msg: impl std::fmt::Display) -> ! {
    eprintln!("kms-cluster: {msg}");
    std::process::exit(1)
}

/// The options the launcher itself needs; everything else goes to every node unchanged.
#[derive(Default)]
struct Args {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    store: Option<String>,
    root_key_file: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    instance_listen: Option<String>,
    pass: Vec<String>,
}

fn parse_args() -> Args {
    let mut args = Args::default();
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let known =
            ["--listen", "--data-dir", "--store", "--root-key-file", "--tls-cert", "--tls-key", "--instance-listen"];
        if !known.contains(&name.as_str()) {
            args.pass.push(arg);
            continue;
        }
        let value = inline.or_else(|| it.next()).unwrap_or_else(|| die(format!("{name} needs a value")));
        match name.as_str() {
            "--listen" => args.listen = Some(value),
            "--data-dir" => args.data_dir = Some(value.into()),
            "--store" => args.store = Some(value),
            "--root-key-file" => args.root_key_file = Some(value),
            "--tls-cert" => args.tls_cert = Some(value.into()),
            "--instance-listen" => args.instance_listen = Some(value),
            _ => args.tls_key = Some(value.into()),
        }
    }
    args
}

/// One kmsd process and the idle keep-alive connections to it.
struct Node {
    addr: String,
    idle: Mutex<Vec<TcpStream>>,
    served: AtomicU64,
}

struct Cluster {
    nodes: Vec<Node>,
    next: AtomicUsize,
}

async fn start_node(
    kmsd: &Path,
    data_dir: &Path,
    store: &str,
    root_key: Option<&str>,
    gateway: bool,
    pass: &[String],
) -> (Child, String, Option<String>) {
    let mut cmd = Command::new(kmsd);
    cmd.arg("--listen").arg("127.0.0.1:0").arg("--data-dir").arg(data_dir).arg("--store").arg(store);
    if let Some(root) = root_key {
        cmd.arg("--root-key-file").arg(root);
    }
    if gateway {
        cmd.arg("--instance-listen").arg("127.0.0.1:0");
    }
    cmd.args(pass).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit()).kill_on_drop(true);
    let mut child = cmd.spawn().unwrap_or_else(|e| die(format!("cannot start {}: {e}", kmsd.display())));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let line = lines.next_line().await.ok().flatten().unwrap_or_default();
    let Some(url) = line.trim().strip_prefix("kmsd listening on http://") else {
        let status = child.wait().await.ok();
        die(format!("node on {} did not start (stdout {line:?}, exit {status:?})", data_dir.display()));
    };
    let addr = url.trim_end_matches('/').to_owned();
    let gateway_addr = if gateway {
        let line = lines.next_line().await.ok().flatten().unwrap_or_default();
        match line.trim().strip_prefix("kmsd instance gateway listening on https://") {
            Some(a) => Some(a.trim_end_matches('/').to_owned()),
            None => die(format!("node on {} printed no gateway line ({line:?})", data_dir.display())),
        }
    } else {
        None
    };
    // Keep draining stdout so a node never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr, gateway_addr)
}

/// Forwards each connection to the next node's instance gateway, bytes as they are.
async fn forward_gateway(listener: TcpListener, gateways: Arc<Vec<String>>) {
    let next = AtomicUsize::new(0);
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else { continue };
        let target = gateways[next.fetch_add(1, Ordering::Relaxed) % gateways.len()].clone();
        tokio::spawn(async move {
            if let Ok(mut outbound) = TcpStream::connect(&target).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    std::process::exit(runtime.block_on(run()));
}

async fn run() -> i32 {
    let args = parse_args();
    let count: usize = std::env::var("KMS_CLUSTER_NODES").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    if count == 0 {
        die("KMS_CLUSTER_NODES must be at least 1");
    }
    let kmsd = std::env::var_os("KMS_CLUSTER_KMSD")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_exe().expect("own path").with_file_name("kmsd"));
    let data_dir = args.data_dir.clone().unwrap_or_else(|| PathBuf::from("./kmsd-cluster-data"));
    let store = match &args.store {
        Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => s.clone(),
        _ => die("nodes must share a database: pass --store postgres://…"),
    };
    let listen = args.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());

    // The first node generates the root key (unless one is given); the others use its file.
    let mut children = Vec::with_capacity(count);
    let mut nodes = Vec::with_capacity(count);
    let mut gateways = Vec::new();
    let shared_root = args.root_key_file.clone().unwrap_or_else(|| data_dir.join("root.key").display().to_string());
    for i in 0..count {
        let dir = if i == 0 { data_dir.clone() } else { data_dir.join(format!("node-{i}")) };
        let root = if i == 0 { args.root_key_file.as_deref() } else { Some(shared_root.as_str()) };
        let (child, addr, gateway) =
            start_node(&kmsd, &dir, &store, root, args.instance_listen.is_some(), &args.pass).await;
        children.push(child);
        gateways.extend(gateway);
        nodes.push(Node { addr, idle: Mutex::new(Vec::new()), served: AtomicU64::new(0) });
    }
    let cluster = Arc::new(Cluster { nodes, next: AtomicUsize::new(0) });

    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tokio_rustls::TlsAcceptor::from(tls_config(cert, key))),
        (None, None) => None,
        _ => die("--tls-cert and --tls-key go together"),
    };
    let listener = TcpListener::bind(&listen).await.unwrap_or_else(|e| die(format!("cannot listen on {listen}: {e}")));
    let local = listener.local_addr().expect("bound address");
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("kmsd listening on {scheme}://{local}");
    if let Some(at) = &args.instance_listen {
        let gateway = TcpListener::bind(at).await.unwrap_or_else(|e| die(format!("cannot listen on {at}: {e}")));
        let local = gateway.local_addr().expect("bound address");
        println!("kmsd instance gateway listening on https://{local}");
        tokio::spawn(forward_gateway(gateway, Arc::new(gateways)));
    }

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let cluster = cluster.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream, &cluster).await;
                            }
                        }
                        None => serve(stream, &cluster).await,
                    }
                });
            }
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }

    let mut rc = 0;
    for (i, mut child) in children.into_iter().enumerate() {
        if let Some(pid) = child.id() {
            let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await;
        }
        let status = child.wait().await;
        let served = cluster.nodes[i].served.load(Ordering::Relaxed);
        eprintln!("kms-cluster: node {i} served {served} requests, exit {status:?}");
        if !status.is_ok_and(|s| s.success()) {
            rc = 1;
        }
    }
    rc
}

fn tls_config(cert: &Path, key: &Path) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .unwrap_or_else(|e| die(format!("TLS certificate {}: {e}", cert.display())));
    let key = PrivateKeyDer::from_pem_file(key).unwrap_or_else(|e| die(format!("TLS key {}: {e}", key.display())));
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .unwrap_or_else(|e| die(format!("TLS configuration: {e}")));
    Arc::new(config)
}

/// A request as read from the client, re-framed with a Content-Length for the node.
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    keep_alive: bool,
}

enum ReadError {
    Closed,
    Bad,
}

async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>, n: usize) -> Result<(), ReadError> {
    let mut chunk = [0u8; 16 * 1024];
    while buf.len() < n {
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(ReadError::Closed),
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    }
    Ok(())
}

async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
    let (consumed, mut req) = loop {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf) {
            Ok(httparse::Status::Complete(n)) => {
                let req = Request {
                    method: parsed.method.unwrap_or("GET").to_owned(),
                    target: parsed.path.unwrap_or("/").to_owned(),
                    headers: parsed.headers.iter().map(|h| (h.name.to_owned(), h.value.to_vec())).collect(),
                    body: Vec::new(),
                    keep_alive: parsed.version == Some(1),
                };
                break (n, req);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => fill(io, buf, buf.len() + 1).await?,
            _ => return Err(ReadError::Bad),
        }
    };
    buf.drain(..consumed);
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_ascii_lowercase())
    };
    match header("connection").as_deref() {
        Some(v) if v.contains("close") => req.keep_alive = false,
        Some(v) if v.contains("keep-alive") => req.keep_alive = true,
        _ => {}
    }
    if header("expect").as_deref() == Some("100-continue") {
        io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.map_err(|_| ReadError::Closed)?;
    }
    if header("transfer-encoding").as_deref() == Some("chunked") {
        loop {
            let (offset, size) = loop {
                match httparse::parse_chunk_size(buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) if buf.len() < 1024 => fill(io, buf, buf.len() + 1).await?,
                    _ => return Err(ReadError::Bad),
                }
            };
            let size = usize::try_from(size).map_err(|_| ReadError::Bad)?;
            if req.body.len() + size > MAX_BODY {
                return Err(ReadError::Bad);
            }
            fill(io, buf, offset + size + 2).await?;
            req.body.extend_from_slice(&buf[offset..offset + size]);
            buf.drain(..offset + size + 2);
            if size == 0 {
                break; // trailers are not used by any client of kmsd
            }
        }
    } else {
        let n: usize =
            header("content-length").map(|v| v.parse().map_err(|_| ReadError::Bad)).transpose()?.unwrap_or(0);
        if n > MAX_BODY {
            return Err(ReadError::Bad);
        }
        fill(io, buf, n).await?;
        req.body = buf.drain(..n).collect();
    }
    Ok(req)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, cluster: &Cluster) {
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut io, &mut buf).await {
            Ok(req) => req,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad) => {
                let _ =
                    io.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                return;
            }
        };
        let response = if req.method == "POST" && req.target.starts_with("/-/clock/advance") {
            advance_every_clock(cluster, &req).await
        } else {
            let i = cluster.next.fetch_add(1, Ordering::Relaxed) % cluster.nodes.len();
            forward(&cluster.nodes[i], &req).await.map(|r| with_node_header(r, i))
        };
        let response = response.unwrap_or_else(|e| {
            eprintln!("kms-cluster: {e}");
            b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
        });
        if io.write_all(&response).await.is_err() || io.flush().await.is_err() || !req.keep_alive {
            return;
        }
    }
}

/// Inserts `x-kms-cluster-node` after the status line.
fn with_node_header(mut response: Vec<u8>, node: usize) -> Vec<u8> {
    let at = response.windows(2).position(|w| w == b"\r\n").map_or(0, |p| p + 2);
    response.splice(at..at, format!("x-kms-cluster-node: {node}\r\n").into_bytes());
    response
}

fn encode(req: &Request) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target).into_bytes();
    for (name, value) in &req.headers {
        let hop = ["connection", "keep-alive", "transfer-encoding", "content-length", "expect", "te", "upgrade"];
        if hop.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("content-length: {}\r\n\r\n", req.body.len()).as_bytes());
    out.extend_from_slice(&req.body);
    out
}

/// Sends `req` to `node` on an idle connection (or a new one) and returns the whole response.
/// A reused connection that the node closed while idle is retried once on a fresh one — only
/// when not a byte of response arrived, so nothing the node answered is ever sent twice.
async fn forward(node: &Node, req: &Request) -> Result<Vec<u8>, String> {
    node.served.fetch_add(1, Ordering::Relaxed);
    let bytes = encode(req);
    let pooled = node.idle.lock().await.pop();
    if let Some(mut conn) = pooled {
        match exchange(&mut conn, &bytes).await {
            Ok((response, reusable)) => {
                if reusable {
                    node.idle.lock().await.push(conn);
                }
                return Ok(response);
            }
            Err(Exchange::NothingReceived) => {}
            Err(Exchange::Failed(e)) => return Err(format!("node {}: {e}", node.addr)),
        }
    }
    let mut conn = TcpStream::connect(&node.addr).await.map_err(|e| format!("node {}: connect: {e}", node.addr))?;
    let _ = conn.set_nodelay(true);
    match exchange(&mut conn, &bytes).await {
        Ok((response, reusable)) => {
            if reusable {
                node.idle.lock().await.push(conn);
            }
            Ok(response)
        }
        Err(Exchange::NothingReceived) => Err(format!("node {}: closed the connection without answering", node.addr)),
        Err(Exchange::Failed(e)) => Err(format!("node {}: {e}", node.addr)),
    }
}

enum Exchange {
    NothingReceived,
    Failed(String),
}

/// One request/response on `conn`: the response bytes and whether the connection stays open.
async fn exchange(conn: &mut TcpStream, request: &[u8]) -> Result<(Vec<u8>, bool), Exchange> {
    if conn.write_all(request).await.is_err() {
        return Err(Exchange::NothingReceived);
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let (head_len, body_len, close) = loop {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) if buf.is_empty() => return Err(Exchange::NothingReceived),
            Ok(0) | Err(_) => return Err(Exchange::Failed("connection closed mid-response".into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(n)) => {
                let value = |name: &str| {
                    parsed
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .map(|h| String::from_utf8_lossy(h.value).trim().to_ascii_lowercase())
                };
                let len = value("content-length")
                    .ok_or_else(|| Exchange::Failed("response without content-length".into()))?
                    .parse::<usize>()
                    .map_err(|_| Exchange::Failed("bad content-length".into()))?;
                break (n, len, value("connection").is_some_and(|v| v.contains("close")));
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            _ => return Err(Exchange::Failed("unreadable response head".into())),
        }
    };
    while buf.len() < head_len + body_len {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return Err(Exchange::Failed("connection closed mid-body".into())),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    buf.truncate(head_len + body_len);
    Ok((buf, !close))
}

/// `POST /-/clock/advance` on every node in turn; the answer carries the sums of `Destroyed`
/// and `Rotated` and the last node's `RequestId` and `Now`.
async fn advance_every_clock(cluster: &Cluster, req: &Request) -> Result<Vec<u8>, String> {
    let mut total: Option<serde_json::Value> = None;
    for node in &cluster.nodes {
        let response = forward(node, req).await?;
        let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
        if !response.starts_with(b"HTTP/1.1 200") {
            return Ok(response);
        }
        let mut body: serde_json::Value =
            serde_json::from_slice(&response[head_end..]).map_err(|e| format!("clock answer: {e}"))?;
        if let Some(prev) = &total {
            for field in ["Destroyed", "Rotated"] {
                let sum = prev[field].as_u64().unwrap_or(0) + body[field].as_u64().unwrap_or(0);
                body[field] = sum.into();
            }
        }
        total = Some(body);
    }
    let body = serde_json::to_vec(&total.unwrap_or_default()).expect("JSON");
    let mut out =
        format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len())
            .into_bytes();
    out.extend_from_slice(&body);
    Ok(out)
}
