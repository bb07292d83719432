//! The HTTP/1.1 shell: accept (plain or TLS), frame requests, mint a RequestId, hand the
//! framed request to a [`Responder`] (the KMS's is `routes`), write the status, body and `x-acs-request-id`; keep-alive,
//! pipelining, chunked request bodies and `Expect: 100-continue`; drain on shutdown.
//!
//! Why not hyper: hyper parses the request target into `http::Uri`, which refuses targets
//! over 64 KiB with `414`. The old SDKs put every parameter in the URL — a 30 KiB secret
//! becomes a ~90 KiB request line — so the cloud's endpoint, and kmsd, must take 128 KiB.
//! Parsing stays with a library (`httparse`, hyper's own parser, which has no such limit);
//! this module only frames messages. It knows nothing of actions.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use kms_wire::raw::Format;
use kms_wire::render::{self, Rendered};
use kms_wire::{ApiError, Code};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Largest request head (request line plus headers). Old SDKs send ~90 KiB query strings.
pub const MAX_HEAD: usize = 256 * 1024;
/// Largest accepted body. SecretData (30 KiB) percent-encoded is about 90 KiB.
pub const MAX_BODY: usize = 1024 * 1024;
/// Room made in a connection's buffer before each read.
const READ_CHUNK: usize = 16 * 1024;
/// Most headers in one request.
const MAX_HEADERS: usize = 100;
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A request that has begun must arrive within this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long in-flight requests may take to finish after shutdown begins.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// A framed request: what a [`Responder`] sees.
pub struct Request {
    pub method: String,
    /// The request target as sent: path and query string.
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// What answers framed requests. The KMS is one (`routes`); the benchmark's ceiling server,
/// which answers a fixed body, is another — so both measure the same HTTP layer.
pub trait Responder: Send + Sync + 'static {
    fn respond(&self, req: Request, peer: SocketAddr, request_id: &str) -> impl Future<Output = Rendered> + Send;
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and closes.
pub async fn serve<R: Responder>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    responder: Arc<R>,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (responder, tls, stop) = (responder.clone(), tls.clone(), stop_rx.clone());
        connections.spawn(async move {
            match tls {
                None => connection(stream, peer, responder.as_ref(), stop).await,
                Some(acceptor) => match tokio::time::timeout(REQUEST_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => connection(s, peer, responder.as_ref(), stop).await,
                    _ => tracing::debug!(%peer, "TLS handshake failed"),
                },
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(DRAIN_DEADLINE, async { while connections.join_next().await.is_some() {} }).await;
    match drained {
        Ok(()) => tracing::info!("all connections drained"),
        Err(_) => tracing::warn!("drain deadline passed; closing remaining connections"),
    }
}

/// One parsed request head, owned.
struct Head {
    method: String,
    target: String,
    headers: Vec<(String, Vec<u8>)>,
    keep_alive: bool,
    chunked: bool,
    content_length: Option<usize>,
    expect_continue: bool,
}

/// Why a connection stops reading requests.
enum Framing {
    /// Clean end: the peer closed, or shutdown while idle.
    Closed,
    /// The bytes are not an acceptable HTTP/1.1 request; answer with this and close.
    Bad(ApiError),
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin, R: Responder>(
    mut io: S,
    peer: SocketAddr,
    responder: &R,
    mut stop: watch::Receiver<bool>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    loop {
        if *stop.borrow() {
            return;
        }
        let head = tokio::select! {
            h = read_head(&mut io, &mut buf) => h,
            _ = stop.changed(), if buf.is_empty() => return,
        };
        let head = match head {
            Ok(h) => h,
            Err(Framing::Closed) => return,
            Err(Framing::Bad(e)) => {
                let _ = write_response(
                    &mut io,
                    render::error(&e, &new_request_id(), "kmsd", Format::Json),
                    &new_request_id(),
                    false,
                )
                .await;
                return;
            }
        };
        if head.expect_continue && io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
            return;
        }
        let body = match tokio::time::timeout(REQUEST_TIMEOUT, read_body(&mut io, &mut buf, &head)).await {
            Ok(Ok(b)) => b,
            Ok(Err(Framing::Bad(e))) => {
                let rid = new_request_id();
                let _ = write_response(&mut io, render::error(&e, &rid, "kmsd", Format::Json), &rid, false).await;
                return;
            }
            _ => return,
        };
        let keep_alive = head.keep_alive && !*stop.borrow();
        let request_id = new_request_id();
        // A panic in a handler is a bug; the caller still gets an answer, never a dropped
        // connection, and the detail goes to the log under the request id.
        let req = Request { method: head.method, target: head.target, headers: head.headers, body };
        let rendered =
            match std::panic::AssertUnwindSafe(responder.respond(req, peer, &request_id)).catch_unwind().await {
                Ok(r) => r,
                Err(_) => {
                    tracing::error!(request_id, "request handler panicked");
                    render::error(&ApiError::internal(), &request_id, "kmsd", Format::Json)
                }
            };
        if write_response(&mut io, rendered, &request_id, keep_alive).await.is_err() || !keep_alive {
            return;
        }
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Reads until `buf` holds a complete head, parses it and removes it from `buf`.
async fn read_head<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>) -> Result<Head, Framing> {
    let mut deadline = None;
    loop {
        if !buf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = owned_head(&req)?;
                    buf.drain(..len);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
                    return Err(Framing::Bad(ApiError::with_message(
                        Code::ParseRequestParameterException,
                        "The request line and headers exceed 256 KiB.",
                    )));
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return Err(Framing::Bad(Code::ParseRequestParameterException.into())),
            }
        }
        let timeout = if buf.is_empty() { IDLE_TIMEOUT } else { REQUEST_TIMEOUT };
        let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
        // Straight into the buffer's spare room: no zeroed scratch buffer per read.
        let was_empty = buf.is_empty();
        buf.reserve(READ_CHUNK);
        match tokio::time::timeout_at(until, io.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return Err(Framing::Closed),
            Ok(Ok(_)) => {}
        }
        if was_empty {
            deadline = Some(tokio::time::Instant::now() + REQUEST_TIMEOUT);
        }
    }
}

fn owned_head(req: &httparse::Request<'_, '_>) -> Result<Head, Framing> {
    let bad = || Framing::Bad(Code::ParseRequestParameterException.into());
    let method = req.method.ok_or_else(bad)?.to_owned();
    let target = req.path.ok_or_else(bad)?.to_owned();
    let http11 = req.version == Some(1);
    let mut head = Head {
        method,
        target,
        headers: Vec::with_capacity(req.headers.len()),
        keep_alive: http11,
        chunked: false,
        content_length: None,
        expect_continue: false,
    };
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("").trim();
        if h.name.eq_ignore_ascii_case("connection") {
            let v = value.to_ascii_lowercase();
            if v.contains("close") {
                head.keep_alive = false;
            } else if v.contains("keep-alive") {
                head.keep_alive = true;
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") {
                return Err(bad());
            }
            head.chunked = true;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n: usize = value.parse().map_err(|_| bad())?;
            if head.content_length.is_some_and(|m| m != n) {
                return Err(bad());
            }
            head.content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("expect") && value.eq_ignore_ascii_case("100-continue") {
            head.expect_continue = true;
        }
        head.headers.push((h.name.to_owned(), h.value.to_vec()));
    }
    // Both framings at once is how request smuggling starts.
    if head.chunked && head.content_length.is_some() {
        return Err(bad());
    }
    Ok(head)
}

fn too_large() -> Framing {
    Framing::Bad(ApiError::with_message(Code::ParseRequestParameterException, "The request body exceeds 1 MiB."))
}

/// Makes sure `buf` holds at least `n` bytes.
async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>, n: usize) -> Result<(), Framing> {
    while buf.len() < n {
        buf.reserve((n - buf.len()).clamp(READ_CHUNK, MAX_BODY));
        match io.read_buf(buf).await {
            Ok(0) | Err(_) => return Err(Framing::Closed),
            Ok(_) => {}
        }
    }
    Ok(())
}

async fn read_body<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>, head: &Head) -> Result<Vec<u8>, Framing> {
    if !head.chunked {
        let n = head.content_length.unwrap_or(0);
        if n > MAX_BODY {
            return Err(too_large());
        }
        fill(io, buf, n).await?;
        return Ok(buf.drain(..n).collect());
    }
    let mut body = Vec::new();
    loop {
        let (offset, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((offset, size))) => break (offset, size),
                Ok(httparse::Status::Partial) if buf.len() > 1024 => {
                    return Err(Framing::Bad(Code::ParseRequestParameterException.into()));
                }
                Ok(httparse::Status::Partial) => fill(io, buf, buf.len() + 1).await?,
                Err(_) => return Err(Framing::Bad(Code::ParseRequestParameterException.into())),
            }
        };
        let size = usize::try_from(size).map_err(|_| too_large())?;
        if body.len() + size > MAX_BODY {
            return Err(too_large());
        }
        if size == 0 {
            buf.drain(..offset);
            // Trailer section: header lines until an empty line.
            loop {
                let line_end = loop {
                    if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                        break i;
                    }
                    if buf.len() > 8 * 1024 {
                        return Err(Framing::Bad(Code::ParseRequestParameterException.into()));
                    }
                    fill(io, buf, buf.len() + 1).await?;
                };
                buf.drain(..line_end + 2);
                if line_end == 0 {
                    return Ok(body);
                }
            }
        }
        fill(io, buf, offset + size + 2).await?;
        if &buf[offset + size..offset + size + 2] != b"\r\n" {
            return Err(Framing::Bad(Code::ParseRequestParameterException.into()));
        }
        body.extend_from_slice(&buf[offset..offset + size]);
        buf.drain(..offset + size + 2);
    }
}

async fn write_response<S: AsyncWrite + Unpin>(
    io: &mut S,
    r: Rendered,
    request_id: &str,
    keep_alive: bool,
) -> std::io::Result<()> {
    let reason = match r.status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    };
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let retry_after = match r.retry_after_ms {
        Some(ms) => format!("x-acs-retry-after: {ms}\r\n"),
        None => String::new(),
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nx-acs-request-id: {request_id}\r\n{retry_after}connection: {connection}\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    let mut out = Vec::with_capacity(head.len() + r.body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(&r.body);
    io.write_all(&out).await?;
    io.flush().await
}
