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

/// A random (version 4) UUID, as Alibaba's request ids are. From aws-lc's userspace DRBG,
/// not `getrandom`, and drawn 64 ids at a time per thread: the DRBG reseeds from the CPU on
/// every call, which costs more than the draw, and an id is not a secret.
fn new_request_id() -> String {
    const IDS: usize = 64;
    thread_local! {
        static POOL: std::cell::RefCell<([u8; 16 * IDS], usize)> = const { std::cell::RefCell::new(([0; 16 * IDS], IDS)) };
    }
    let drawn = POOL.with_borrow_mut(|(pool, next)| {
        if *next == IDS {
            aws_lc_rs::rand::fill(pool).ok()?;
            *next = 0;
        }
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&pool[*next * 16..][..16]);
        *next += 1;
        Some(bytes)
    });
    match drawn {
        Some(bytes) => uuid::Builder::from_random_bytes(bytes).into_uuid().to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    }
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
        401 => "Unauthorized",
        403 => "Forbidden",
        308 => "Permanent Redirect",
        404 => "Not Found",
        405 => "Method Not Allowed",
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
    let extra: String = r.headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nx-acs-request-id: {request_id}\r\n{retry_after}{extra}connection: {connection}\r\n\r\n",
        r.status,
        r.content_type,
        r.body.len()
    );
    // Answers carry plaintexts and data keys: both copies are wiped once written.
    let mut body = zeroize::Zeroizing::new(r.body);
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(head.len() + body.len()));
    out.extend_from_slice(head.as_bytes());
    if !head_only {
        out.extend_from_slice(&body);
    }
    body.clear();
    io.write_all(&out).await?;
    io.flush().await
}

/// Drives one connection over scripted bytes, with nothing else of the server: the property
/// tests and the `http_framing` fuzz target feed it what a peer might send.
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;
