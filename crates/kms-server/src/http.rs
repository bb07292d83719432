//! The HTTP/1.1 shell: accept (plain or TLS), frame requests, mint a RequestId, hand the
//! framed request to a [`Responder`] (the KMS's is `routes`), write the status, body and `x-acs-request-id`; keep-alive,
//! pipelining, chunked request bodies and `Expect: 100-continue`; drain on shutdown.
//!
//! Why not hyper: hyper parses the request target into `http::Uri`, which refuses targets
//! over 64 KiB with `414`. The old SDKs put every parameter in the URL — a 30 KiB secret
//! becomes a ~90 KiB request line — so the cloud's endpoint, and kmsd, must take 128 KiB.
//! Parsing stays with a library (`httparse`, hyper's own parser, which has no such limit);
//! this module only frames messages. It knows nothing of actions.
//!
//! # Limits
//! What one peer can make kmsd hold is bounded, so that a few slow or idle clients cannot
//! starve the rest (or the store of file descriptors):
//! - **Connections** ([`Limits::max_connections`]): one more than the cap is answered `503
//!   ServiceUnavailableTemporary` and closed at once, while those already open keep being
//!   served. The default follows the open-file limit, which kmsd raises to its hard limit at
//!   start ([`raise_fd_limit`]), less [`FD_RESERVE`] for the store, the audit trail and the
//!   journal. `accept` failing (EMFILE, ENFILE) pauses the loop for [`ACCEPT_BACKOFF`]: the
//!   refused connection stays queued, so retrying at once would spin.
//! - **Bytes still arriving** ([`Limits::receive_budget`]): a request body is allowed 1 MiB and
//!   30 s, so without a shared bound a few thousand connections each declaring 1 MiB and
//!   trickling it in would hold gigabytes. A body's declared length (a chunked body: each chunk
//!   as it comes), and a head's bytes past its first [`FREE_HEAD`], are drawn from one budget
//!   for all connections until the request is complete; a request that does not fit is
//!   answered `503 ServiceUnavailableTemporary` and its connection closed, before any `100
//!   Continue`. A budget rather than a minimum receive rate: it bounds memory however the
//!   bytes are paced, and a legitimate slow link is only refused when kmsd is actually full.
//!
//! Refused requests are logged (reason and peer, never a value), at `info` for malformed ones
//! and `warn` for overload and for a TLS ClientHello on the plain port, the usual way a
//! misconfigured client fails.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use kms_wire::raw::Format;
use kms_wire::render::{self, Rendered};
use kms_wire::{ApiError, Code};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
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
/// The pause after a failed `accept`.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// File descriptors the default connection cap leaves to everything else: the store (SQLite
/// and its journal, or a PostgreSQL pool), the audit trail and its rotation, the listener.
pub const FD_RESERVE: u64 = 64;
/// The least connection cap derived from the open-file limit, however low that is.
pub const MIN_CONNECTIONS: usize = 16;
/// Bytes that connections still receiving a request may hold between them: 64 requests of
/// the largest size at once, far more of the usual few-KiB ones.
pub const RECEIVE_BUDGET: usize = 64 * 1024 * 1024;
/// Head bytes a connection holds without drawing on the receive budget: every SDK's usual
/// head fits, so only the rare ~100 KiB request lines of the old SDKs count.
pub const FREE_HEAD: usize = 32 * 1024;
/// How long a connection over the cap is given to take its 503.
const REFUSE_WRITE_TIMEOUT: Duration = Duration::from_millis(100);

/// What the accept loop lets peers hold (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Bytes of requests still arriving, over all connections.
    pub receive_budget: usize,
}

impl Limits {
    /// The defaults for a process that may open `nofile` files.
    pub fn for_fd_limit(nofile: u64) -> Self {
        let connections = usize::try_from(nofile.saturating_sub(FD_RESERVE)).unwrap_or(usize::MAX);
        Limits { max_connections: connections.max(MIN_CONNECTIONS), receive_budget: RECEIVE_BUDGET }
    }
}

/// Raises the soft open-file limit to the hard limit and returns the soft limit now in force:
/// distributions start services with a soft limit of 1024 (or less) and a much higher hard one,
/// and every connection is a file.
pub fn raise_fd_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

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
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let budget = Arc::new(Semaphore::new(limits.receive_budget.min(Semaphore::MAX_PERMITS)));
    let (mut failed_accepts, mut refused) = (0u64, 0u64);
    loop {
        while connections.try_join_next().is_some() {}
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // The connection stays queued, so accept would fail again at once: pause
                // (never spin), and say so once per run of failures.
                failed_accepts += 1;
                if failed_accepts == 1 {
                    tracing::warn!(error = %e, pause_ms = ACCEPT_BACKOFF.as_millis() as u64, "accept failed; pausing between attempts until it succeeds");
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    () = &mut shutdown => break,
                }
            }
        };
        if failed_accepts > 0 {
            tracing::info!(failed = failed_accepts, "accepting connections again");
            failed_accepts = 0;
        }
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refused += 1;
            if refused == 1 {
                tracing::warn!(
                    %peer,
                    max_connections = limits.max_connections,
                    "connection limit reached: refusing new connections (503) until some close"
                );
            }
            refuse_over_cap(stream, tls.is_some()).await;
            continue;
        };
        if refused > 0 {
            tracing::info!(refused, "below the connection limit again");
            refused = 0;
        }
        let _ = stream.set_nodelay(true);
        let (responder, tls, stop, budget) = (responder.clone(), tls.clone(), stop_rx.clone(), budget.clone());
        connections.spawn(async move {
            // Held for the life of the connection.
            let _slot = slot;
            match tls {
                None => connection(stream, peer, responder.as_ref(), stop, &budget).await,
                Some(acceptor) => match tokio::time::timeout(REQUEST_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(s)) => connection(s, peer, responder.as_ref(), stop, &budget).await,
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

/// Answers a connection over the cap `503` and closes it, without reading from it. Over TLS
/// it is only closed: a plain answer would be garbage to the peer's TLS stack, and a
/// handshake is the work the cap is there to spare.
async fn refuse_over_cap(mut stream: TcpStream, tls: bool) {
    if tls {
        return;
    }
    let e = ApiError::with_message(
        Code::ServiceUnavailableTemporary,
        "kmsd is serving as many connections as it may (--max-connections). Retry later.",
    );
    let request_id = new_request_id();
    let answer = render::error(&e, &request_id, "kmsd", Format::Json);
    let write = write_response(&mut stream, answer, &request_id, false, false);
    let _ = tokio::time::timeout(REFUSE_WRITE_TIMEOUT, write).await;
}

/// The share of the receive budget one connection holds.
struct Held<'a> {
    budget: &'a Semaphore,
    bytes: u32,
}

impl<'a> Held<'a> {
    fn new(budget: &'a Semaphore) -> Self {
        Held { budget, bytes: 0 }
    }

    /// Holds exactly `bytes`, taking more from the budget or giving some back.
    fn hold(&mut self, bytes: usize) -> Result<(), Framing> {
        let bytes = u32::try_from(bytes).unwrap_or(u32::MAX);
        if bytes > self.bytes {
            let permits = self.budget.try_acquire_many(bytes - self.bytes).map_err(|_| busy())?;
            permits.forget();
        } else {
            self.budget.add_permits((self.bytes - bytes) as usize);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.add_permits(self.bytes as usize);
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
    /// The peer stopped sending in the middle of a request.
    TimedOut,
    /// A TLS ClientHello on the plain port: logged and closed, not answered, since a plain
    /// HTTP answer is garbage to the peer's TLS stack.
    Tls,
    /// Not a request kmsd takes: answered with `error` and closed; `reason` goes to the log.
    Bad { error: ApiError, reason: &'static str },
}

/// The common case of [`Framing::Bad`]: `ParseRequestParameterException`.
fn bad(reason: &'static str) -> Framing {
    Framing::Bad { error: Code::ParseRequestParameterException.into(), reason }
}

fn too_large() -> Framing {
    let error = ApiError::with_message(Code::ParseRequestParameterException, "The request body exceeds 1 MiB.");
    Framing::Bad { error, reason: "request body over 1 MiB" }
}

fn busy() -> Framing {
    let error = ApiError::with_message(
        Code::ServiceUnavailableTemporary,
        "kmsd is receiving as many request bytes as it may hold. Retry later.",
    );
    Framing::Bad { error, reason: "receive budget exhausted" }
}

/// Logs why a connection stops, and answers when there is an answer to give. One request id
/// names the answer in its header, its body and the log.
async fn refuse<S: AsyncWrite + Unpin>(io: &mut S, peer: SocketAddr, why: Framing, head_only: bool) {
    match why {
        Framing::Closed => {}
        Framing::TimedOut => tracing::info!(%peer, "closed a connection whose request did not arrive in time"),
        Framing::Tls => tracing::warn!(
            %peer,
            "a client spoke TLS to this plain-HTTP port; use http:// or start kmsd with --tls-cert/--tls-key"
        ),
        Framing::Bad { error, reason } => {
            let request_id = new_request_id();
            if error.code == Code::ServiceUnavailableTemporary {
                tracing::warn!(%peer, request_id, reason, "request refused");
            } else {
                tracing::info!(%peer, request_id, reason, "malformed request refused");
            }
            let answer = render::error(&error, &request_id, "kmsd", Format::Json);
            let _ = write_response(io, answer, &request_id, false, head_only).await;
        }
    }
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin, R: Responder>(
    mut io: S,
    peer: SocketAddr,
    responder: &R,
    mut stop: watch::Receiver<bool>,
    budget: &Semaphore,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut held = Held::new(budget);
    loop {
        if *stop.borrow() {
            return;
        }
        let head = tokio::select! {
            h = read_head(&mut io, &mut buf, &mut held) => h,
            _ = stop.changed(), if buf.is_empty() => return,
        };
        let head = match head {
            Ok(h) => h,
            Err(why) => return refuse(&mut io, peer, why, false).await,
        };
        let head_only = head.method == "HEAD";
        // The size is accepted (and its room held) before the client is told to send it.
        if let Err(why) = admit_body(&head, &mut held) {
            return refuse(&mut io, peer, why, head_only).await;
        }
        if head.expect_continue && io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await.is_err() {
            return;
        }
        let body = match tokio::time::timeout(REQUEST_TIMEOUT, read_body(&mut io, &mut buf, &head, &mut held)).await {
            Ok(Ok(b)) => b,
            Ok(Err(why)) => return refuse(&mut io, peer, why, head_only).await,
            Err(_) => return refuse(&mut io, peer, Framing::TimedOut, head_only).await,
        };
        // Complete: the request no longer counts as arriving.
        let _ = held.hold(0);
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
        if write_response(&mut io, rendered, &request_id, keep_alive, head_only).await.is_err() || !keep_alive {
            return;
        }
        // The room a large request needed is not kept through the idle time that may follow
        // (and would count against the budget while the next head arrives).
        if buf.capacity() > FREE_HEAD {
            buf.shrink_to(FREE_HEAD.max(buf.len()));
        }
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Reads until `buf` holds a complete head, parses it and removes it from `buf`.
async fn read_head<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>, held: &mut Held<'_>) -> Result<Head, Framing> {
    let mut deadline = None;
    loop {
        if !buf.is_empty() {
            // A TLS record of type handshake (0x16), version 3.x: a ClientHello.
            if buf[0] == 0x16 && buf.get(1).is_none_or(|&b| b == 0x03) {
                if buf.len() >= 2 {
                    return Err(Framing::Tls);
                }
            } else {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(buf) {
                    Ok(httparse::Status::Complete(len)) => {
                        let head = owned_head(&req)?;
                        buf.drain(..len);
                        held.hold(0)?;
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
                        let error = ApiError::with_message(
                            Code::ParseRequestParameterException,
                            "The request line and headers exceed 256 KiB.",
                        );
                        return Err(Framing::Bad { error, reason: "request head over 256 KiB" });
                    }
                    Ok(httparse::Status::Partial) => {}
                    Err(_) => return Err(bad("unparsable request head")),
                }
            }
        }
        let timeout = if buf.is_empty() { IDLE_TIMEOUT } else { REQUEST_TIMEOUT };
        let until = *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
        // Straight into the buffer's spare room: no zeroed scratch buffer per read.
        let was_empty = buf.is_empty();
        buf.reserve(READ_CHUNK);
        held.hold(buf.capacity().saturating_sub(FREE_HEAD))?;
        match tokio::time::timeout_at(until, io.read_buf(buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Err(Framing::Closed),
            Err(_) if was_empty => return Err(Framing::Closed),
            Err(_) => return Err(Framing::TimedOut),
            Ok(Ok(_)) => {}
        }
        if was_empty {
            deadline = Some(tokio::time::Instant::now() + REQUEST_TIMEOUT);
        }
    }
}

/// A Content-Length value: ASCII digits only (RFC 9110 `1*DIGIT`). `str::parse` would also
/// take `+3`, which another parser in front of kmsd may read differently: a smuggling seam.
fn content_length(value: &[u8]) -> Result<usize, Framing> {
    let value = value.trim_ascii();
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(bad("Content-Length is not a decimal number"));
    }
    // More digits than a usize holds is more than MAX_BODY anyway.
    Ok(value
        .iter()
        .try_fold(0usize, |n, d| n.checked_mul(10)?.checked_add(usize::from(d - b'0')))
        .unwrap_or(usize::MAX))
}

fn owned_head(req: &httparse::Request<'_, '_>) -> Result<Head, Framing> {
    let method = req.method.ok_or_else(|| bad("no method"))?.to_owned();
    let target = req.path.ok_or_else(|| bad("no request target"))?.to_owned();
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
                return Err(bad("unsupported Transfer-Encoding"));
            }
            head.chunked = true;
        } else if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value)?;
            if head.content_length.is_some_and(|m| m != n) {
                return Err(bad("conflicting Content-Length headers"));
            }
            head.content_length = Some(n);
        } else if h.name.eq_ignore_ascii_case("expect") && value.eq_ignore_ascii_case("100-continue") {
            head.expect_continue = true;
        }
        head.headers.push((h.name.to_owned(), h.value.to_vec()));
    }
    // Both framings at once is how request smuggling starts.
    if head.chunked && head.content_length.is_some() {
        return Err(bad("both Content-Length and chunked"));
    }
    Ok(head)
}

/// Refuses a declared body that is too large, and holds room for one that is not: before
/// any `100 Continue`, so a client is never told to send what will be refused.
fn admit_body(head: &Head, held: &mut Held<'_>) -> Result<(), Framing> {
    let declared = if head.chunked { 0 } else { head.content_length.unwrap_or(0) };
    if declared > MAX_BODY {
        return Err(too_large());
    }
    held.hold(declared)
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

/// Reads the body [`admit_body`] admitted; a chunked body holds room chunk by chunk.
async fn read_body<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    head: &Head,
    held: &mut Held<'_>,
) -> Result<Vec<u8>, Framing> {
    if !head.chunked {
        let n = head.content_length.unwrap_or(0);
        fill(io, buf, n).await?;
        return Ok(buf.drain(..n).collect());
    }
    let mut body = Vec::new();
    loop {
        let (offset, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((offset, size))) => break (offset, size),
                Ok(httparse::Status::Partial) if buf.len() > 1024 => return Err(bad("chunk size line over 1 KiB")),
                Ok(httparse::Status::Partial) => fill(io, buf, buf.len() + 1).await?,
                Err(_) => return Err(bad("malformed chunk size")),
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
                        return Err(bad("trailer section over 8 KiB"));
                    }
                    fill(io, buf, buf.len() + 1).await?;
                };
                buf.drain(..line_end + 2);
                if line_end == 0 {
                    return Ok(body);
                }
            }
        }
        held.hold(body.len() + size)?;
        fill(io, buf, offset + size + 2).await?;
        if &buf[offset + size..offset + size + 2] != b"\r\n" {
            return Err(bad("chunk not followed by CRLF"));
        }
        body.extend_from_slice(&buf[offset..offset + size]);
        buf.drain(..offset + size + 2);
    }
}

/// Writes one answer. For `HEAD` (`head_only`) the headers are those of the same `GET`,
/// content-length included, and no body follows: a keep-alive client reads none.
async fn write_response<S: AsyncWrite + Unpin>(
    io: &mut S,
    r: Rendered,
    request_id: &str,
    keep_alive: bool,
    head_only: bool,
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
    if !head_only {
        out.extend_from_slice(&r.body);
    }
    io.write_all(&out).await?;
    io.flush().await
}

/// Drives one connection over scripted bytes, with nothing else of the server: the property
/// tests below and the `http_framing` fuzz target feed it what a peer might send.
#[doc(hidden)]
pub mod fuzzing {
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::task::{Context, Poll};

    use super::*;

    /// A peer that sends `chunks` one read at a time, then closes; what the server writes is
    /// kept in `written`.
    struct Scripted {
        chunks: std::collections::VecDeque<Vec<u8>>,
        written: Vec<u8>,
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(mut chunk) = self.chunks.pop_front() {
                let n = chunk.len().min(out.remaining());
                out.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.chunks.push_front(chunk.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Scripted {
        fn poll_write(mut self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<std::io::Result<usize>> {
            self.written.extend_from_slice(b);
            Poll::Ready(Ok(b.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Answers every request with its own body, and remembers what it was handed.
    #[derive(Default)]
    struct Echo(Mutex<Vec<(String, String, Vec<u8>)>>);

    impl Responder for Echo {
        async fn respond(&self, req: Request, _: SocketAddr, _: &str) -> Rendered {
            let body = req.body.clone();
            self.0.lock().unwrap().push((req.method, req.target, req.body));
            Rendered::plain("application/octet-stream", body)
        }
    }

    /// What one connection made of the bytes.
    pub struct Framed {
        /// Method, target and body of each request the responder was handed, in order.
        pub requests: Vec<(String, String, Vec<u8>)>,
        /// Everything written back.
        pub written: Vec<u8>,
    }

    /// `bytes` as the reads a peer's segments would make, cut at `cuts` (taken modulo the
    /// length; order and repeats do not matter).
    pub fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut out = Vec::new();
        let mut from = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            if cut > from {
                out.push(bytes[from..cut].to_vec());
                from = cut;
            }
        }
        out
    }

    /// Serves one connection whose peer sends `chunks` (one read each) and then closes.
    pub fn frame(chunks: Vec<Vec<u8>>) -> Framed {
        frame_with(chunks, RECEIVE_BUDGET)
    }

    /// [`frame`] with a receive budget of `receive_budget` bytes.
    pub fn frame_with(chunks: Vec<Vec<u8>>, receive_budget: usize) -> Framed {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let echo = Echo::default();
        let mut io = Scripted { chunks: chunks.into(), written: Vec::new() };
        let (_stop_tx, stop) = watch::channel(false);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let budget = Semaphore::new(receive_budget);
        runtime.block_on(connection(&mut io, peer, &echo, stop, &budget));
        assert_eq!(budget.available_permits(), receive_budget, "a finished connection holds nothing");
        Framed { requests: echo.0.into_inner().unwrap(), written: io.written }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::fuzzing::{frame, frame_with, split};

    /// One request as a client may frame it: body by Content-Length or in chunks.
    #[derive(Debug, Clone)]
    struct Sent {
        post: bool,
        target: String,
        body: Vec<u8>,
        chunks: Option<Vec<usize>>,
    }

    impl Sent {
        fn bytes(&self) -> Vec<u8> {
            let method = if self.post { "POST" } else { "GET" };
            let mut out = format!("{method} {} HTTP/1.1\r\nhost: kms.test\r\n", self.target).into_bytes();
            match &self.chunks {
                None => {
                    out.extend_from_slice(format!("content-length: {}\r\n\r\n", self.body.len()).as_bytes());
                    out.extend_from_slice(&self.body);
                }
                Some(cuts) => {
                    out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                    let mut rest = &self.body[..];
                    for cut in cuts {
                        let (chunk, tail) = rest.split_at((*cut).min(rest.len()));
                        if !chunk.is_empty() {
                            out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                            out.extend_from_slice(chunk);
                            out.extend_from_slice(b"\r\n");
                        }
                        rest = tail;
                    }
                    if !rest.is_empty() {
                        out.extend_from_slice(format!("{:X}\r\n", rest.len()).as_bytes());
                        out.extend_from_slice(rest);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                }
            }
            out
        }
    }

    fn sent() -> impl Strategy<Value = Sent> {
        (
            any::<bool>(),
            "/(\\?[A-Za-z0-9%=&._~-]{0,300})?",
            proptest::collection::vec(any::<u8>(), 0..600),
            proptest::option::of(proptest::collection::vec(1usize..200, 0..6)),
        )
            .prop_map(|(post, target, body, chunks)| Sent { post, target, body, chunks })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Pipelined requests arrive intact and in order, however the bytes are split
        /// across reads, and each gets one answer.
        #[test]
        fn requests_survive_any_split(requests in proptest::collection::vec(sent(), 1..4),
                                      cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            let bytes: Vec<u8> = requests.iter().flat_map(Sent::bytes).collect();
            let framed = frame(split(&bytes, &cuts));
            let want: Vec<(String, String, Vec<u8>)> = requests
                .iter()
                .map(|r| ((if r.post { "POST" } else { "GET" }).to_owned(), r.target.clone(), r.body.clone()))
                .collect();
            prop_assert_eq!(&framed.requests, &want);
            let answers = framed.written.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
            prop_assert_eq!(answers, requests.len());
        }

        /// Whatever a peer sends, the connection ends (never panics or hangs) and anything it
        /// wrote is an HTTP/1.1 answer.
        #[test]
        fn any_bytes_end_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..2048),
                                 cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            let framed = frame(split(&bytes, &cuts));
            prop_assert!(framed.written.is_empty() || framed.written.starts_with(b"HTTP/1.1 "));
        }

        /// A valid request with one byte of its framing changed is served as some request or
        /// answered with an error; never half of one.
        #[test]
        fn one_changed_byte_is_never_half_served(request in sent(), at in any::<usize>(), to in any::<u8>()) {
            let mut bytes = request.bytes();
            let at = at % bytes.len();
            bytes[at] = to;
            let framed = frame(vec![bytes]);
            prop_assert!(framed.requests.len() <= 1);
            prop_assert!(framed.written.is_empty() || framed.written.starts_with(b"HTTP/1.1 "));
        }

        /// A Content-Length that is anything but ASCII digits (a sign, a space or a letter
        /// inside, hex, nothing) is refused before any body is read.
        #[test]
        fn content_length_is_only_digits(value in "[ +0-9a-fx.\t_-]{0,8}") {
            let digits = value.trim_matches([' ', '\t']);
            prop_assume!(digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()));
            let framed = frame(vec![format!("POST / HTTP/1.1\r\ncontent-length: {value}\r\n\r\nabc").into_bytes()]);
            prop_assert!(framed.requests.is_empty());
            let answers = answers(&framed.written, false);
            prop_assert_eq!(answers.len(), 1);
            prop_assert_eq!(answers[0].status, 400);
        }
    }

    /// One parsed answer of a connection's output.
    #[derive(Debug)]
    struct Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
        fn json(&self) -> serde_json::Value {
            serde_json::from_slice(&self.body).unwrap()
        }
        /// The body's RequestId equals the header's, and is a fresh UUID.
        fn assert_one_request_id(&self) {
            let header = self.header("x-acs-request-id").expect("x-acs-request-id");
            assert_eq!(self.json()["RequestId"], header, "{self:?}");
            assert!(uuid::Uuid::parse_str(header).is_ok());
        }
    }

    /// Splits what a connection wrote into answers (`1xx` included); with `head_only`, the
    /// answers carry no body whatever their content-length says.
    fn answers(mut written: &[u8], head_only: bool) -> Vec<Answer> {
        let mut out = Vec::new();
        while !written.is_empty() {
            let mut hs = [httparse::EMPTY_HEADER; 16];
            let mut resp = httparse::Response::new(&mut hs);
            let httparse::Status::Complete(len) = resp.parse(written).unwrap() else { panic!("partial answer") };
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap()))
                .collect();
            let status = resp.code.unwrap();
            let length = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map(|(_, v)| v.parse::<usize>().unwrap())
                .unwrap_or(0);
            let length = if head_only || status == 100 { 0 } else { length };
            out.push(Answer { status, headers, body: written[len..len + length].to_vec() });
            written = &written[len + length..];
        }
        out
    }

    #[test]
    fn framing_errors_are_answered_with_the_api_error_and_close() {
        // Both Content-Length and chunked: refused before any body is read.
        let framed = frame(vec![
            b"POST / HTTP/1.1\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n".to_vec(),
        ]);
        assert!(framed.requests.is_empty());
        let text = String::from_utf8_lossy(&framed.written);
        assert!(text.starts_with("HTTP/1.1 400 "), "{text}");
        assert!(text.contains("connection: close") && text.contains("ParseRequestParameterException"), "{text}");
        // A body over 1 MiB is refused by its declared length, before it is read.
        let framed =
            frame(vec![format!("POST / HTTP/1.1\r\ncontent-length: {}\r\n\r\n", super::MAX_BODY + 1).into_bytes()]);
        assert!(framed.requests.is_empty() && framed.written.starts_with(b"HTTP/1.1 400 "));
    }

    /// Every framing error is answered under one request id: the header's is the body's.
    #[test]
    fn framing_errors_answer_one_request_id() {
        let long_line = format!("GET /?{} HTTP/1.1\r\n", "a".repeat(super::MAX_HEAD));
        let bad_chunk = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n".to_vec();
        let bad_size = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n".to_vec();
        for bytes in [long_line.into_bytes(), bad_chunk, bad_size] {
            let framed = frame(vec![bytes]);
            let answers = answers(&framed.written, false);
            assert_eq!(answers.len(), 1);
            assert_eq!(
                (answers[0].status, answers[0].json()["Code"].as_str()),
                (400, Some("ParseRequestParameterException"))
            );
            answers[0].assert_one_request_id();
        }
    }

    #[test]
    fn content_length_with_a_sign_is_refused() {
        for value in ["+3", "-3", "3 3", "0x3", "3,3", ""] {
            let framed = frame(vec![format!("POST / HTTP/1.1\r\ncontent-length: {value}\r\n\r\nabc").into_bytes()]);
            assert!(framed.requests.is_empty(), "{value:?}");
            assert_eq!(answers(&framed.written, false)[0].status, 400, "{value:?}");
        }
        // Leading zeros and surrounding whitespace are still digits.
        let framed = frame(vec![b"POST / HTTP/1.1\r\ncontent-length:  003 \r\n\r\nabc".to_vec()]);
        assert_eq!(framed.requests, vec![("POST".to_owned(), "/".to_owned(), b"abc".to_vec())]);
    }

    /// A HEAD answer has GET's headers and no body, so the next answer on the connection is
    /// read where it starts.
    #[test]
    fn head_answers_carry_no_body() {
        let framed = frame(vec![
            b"HEAD / HTTP/1.1\r\ncontent-length: 3\r\n\r\nabcGET / HTTP/1.1\r\ncontent-length: 2\r\n\r\nxy".to_vec(),
        ]);
        assert_eq!(framed.requests.len(), 2);
        let head_end = framed.written.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let (head, rest) = framed.written.split_at(head_end);
        let head = &answers(head, true)[0];
        assert_eq!((head.status, head.header("content-length")), (200, Some("3")));
        // The GET's answer starts right after the HEAD's headers.
        let get = answers(rest, false);
        assert_eq!(get.len(), 1);
        assert_eq!((get[0].status, get[0].body.as_slice()), (200, b"xy".as_slice()));
    }

    /// `100 Continue` goes out only once the declared size is accepted: an oversized one is
    /// answered 400 and one the receive budget cannot hold 503, neither preceded by a 100.
    #[test]
    fn continue_only_after_the_size_is_accepted() {
        let expect =
            |n: usize| format!("POST / HTTP/1.1\r\nexpect: 100-continue\r\ncontent-length: {n}\r\n\r\n").into_bytes();
        let framed = frame(vec![expect(super::MAX_BODY + 1)]);
        let a = answers(&framed.written, false);
        assert_eq!(a.iter().map(|a| a.status).collect::<Vec<_>>(), vec![400]);
        a[0].assert_one_request_id();
        let framed = frame_with(vec![expect(4096)], 4095);
        let a = answers(&framed.written, false);
        assert_eq!(a.iter().map(|a| a.status).collect::<Vec<_>>(), vec![503]);
        assert_eq!(a[0].json()["Code"], "ServiceUnavailableTemporary");
        a[0].assert_one_request_id();
        let mut ok = expect(3);
        ok.extend_from_slice(b"abc");
        let framed = frame_with(vec![ok], 4096);
        assert_eq!(answers(&framed.written, false).iter().map(|a| a.status).collect::<Vec<_>>(), vec![100, 200]);
    }

    /// What a connection still receiving may hold comes out of the shared budget: a body's
    /// declared length, a chunked body as its chunks come, a head past its free share. A
    /// request that fits is served, and everything is given back (`frame_with` checks).
    #[test]
    fn the_receive_budget_bounds_bodies_and_heads() {
        let budget = 64 * 1024;
        let body = |n: usize| {
            let mut b = format!("POST / HTTP/1.1\r\ncontent-length: {n}\r\n\r\n").into_bytes();
            b.resize(b.len() + n, b'x');
            b
        };
        // Two requests of the whole budget one after the other: each fits, as it is given back.
        let mut two = body(budget);
        two.extend(body(budget));
        assert_eq!(frame_with(vec![two], budget).requests.len(), 2);
        let a = answers(&frame_with(vec![body(budget + 1)], budget).written, false);
        assert_eq!((a.len(), a[0].status), (1, 503));
        let mut chunked = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            chunked.extend(format!("{:x}\r\n{}\r\n", budget / 2, "y".repeat(budget / 2)).into_bytes());
        }
        chunked.extend(b"0\r\n\r\n");
        let framed = frame_with(vec![chunked], budget);
        assert!(framed.requests.is_empty());
        assert_eq!(answers(&framed.written, false)[0].status, 503);
        // A head: its first FREE_HEAD bytes are free, the rest is held.
        let head = format!("GET /?{} HTTP/1.1\r\n\r\n", "q".repeat(super::FREE_HEAD + budget)).into_bytes();
        let framed = frame_with(split(&head, &[1000, 20_000, 40_000, 60_000, 80_000]), budget);
        assert_eq!(answers(&framed.written, false)[0].status, 503);
        let head = format!("GET /?{} HTTP/1.1\r\n\r\n", "q".repeat(super::FREE_HEAD - 100)).into_bytes();
        assert_eq!(frame_with(vec![head], 0).requests.len(), 1);
    }

    /// A TLS ClientHello on the plain port is closed unanswered, however it is split.
    #[test]
    fn a_tls_client_hello_is_closed_unanswered() {
        let hello = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
        for chunks in [vec![hello.to_vec()], split(&hello, &[1]), split(&hello, &[1, 2])] {
            let framed = frame(chunks);
            assert!(framed.requests.is_empty() && framed.written.is_empty());
        }
        // Not a TLS record version: an ordinary malformed request.
        let framed = frame(vec![vec![0x16, 0x04, b'\r', b'\n']]);
        assert!(framed.written.starts_with(b"HTTP/1.1 400 "));
    }

    #[test]
    fn the_default_cap_follows_the_fd_limit() {
        use super::{Limits, MIN_CONNECTIONS, RECEIVE_BUDGET};
        assert_eq!(Limits::for_fd_limit(4096), Limits { max_connections: 4032, receive_budget: RECEIVE_BUDGET });
        assert_eq!(Limits::for_fd_limit(256).max_connections, 192);
        assert_eq!(Limits::for_fd_limit(20).max_connections, MIN_CONNECTIONS);
        assert_eq!(Limits::for_fd_limit(u64::MAX).max_connections, usize::MAX - 64);
    }
}
