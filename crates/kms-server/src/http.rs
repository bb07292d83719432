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
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let echo = Echo::default();
        let mut io = Scripted { chunks: chunks.into(), written: Vec::new() };
        let (_stop_tx, stop) = watch::channel(false);
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        runtime.block_on(connection(&mut io, peer, &echo, stop));
        Framed { requests: echo.0.into_inner().unwrap(), written: io.written }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::fuzzing::{frame, split};

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
}
