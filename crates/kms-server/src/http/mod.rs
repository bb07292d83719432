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
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
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

/// A random (version 4) UUID, as Alibaba's request ids are, from the per-thread batch of
/// public random bytes (an id is not a secret; see `kms_crypto::public_random`).
fn new_request_id() -> String {
    let id = match kms_crypto::public_random::unique_bytes::<16>() {
        Ok(bytes) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
        Err(_) => uuid::Uuid::new_v4(),
    };
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text).to_owned()
}

mod message;

use message::{Framing, admit_body, busy, read_body, read_head, write_response};

/// Drives one connection over scripted bytes, with nothing else of the server: the property
/// tests and the `http_framing` fuzz target feed it what a peer might send.
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests;
