//! One HTTP/1.1 message at a time: read and parse a request head (with `httparse`), frame its
//! body (by length or in chunks, within the receive budget), and write an answer. Why a
//! request stops being read is a [`Framing`]; the connection loop in the parent decides what
//! to do about it.

use kms_wire::render::Rendered;
use kms_wire::{ApiError, Code};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::{FREE_HEAD, Held, IDLE_TIMEOUT, MAX_BODY, MAX_HEAD, MAX_HEADERS, READ_CHUNK, REQUEST_TIMEOUT};

/// One parsed request head, owned.
pub(super) struct Head {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) keep_alive: bool,
    pub(super) chunked: bool,
    pub(super) content_length: Option<usize>,
    pub(super) expect_continue: bool,
}

/// Why a connection stops reading requests.
pub(super) enum Framing {
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
pub(super) fn bad(reason: &'static str) -> Framing {
    Framing::Bad { error: Code::ParseRequestParameterException.into(), reason }
}

pub(super) fn too_large() -> Framing {
    let error = ApiError::with_message(Code::ParseRequestParameterException, "The request body exceeds 1 MiB.");
    Framing::Bad { error, reason: "request body over 1 MiB" }
}

pub(super) fn busy() -> Framing {
    let error = ApiError::with_message(
        Code::ServiceUnavailableTemporary,
        "kmsd is receiving as many request bytes as it may hold. Retry later.",
    );
    Framing::Bad { error, reason: "receive budget exhausted" }
}

/// Reads until `buf` holds a complete head, parses it and removes it from `buf`.
pub(super) async fn read_head<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    held: &mut Held<'_>,
) -> Result<Head, Framing> {
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
pub(super) fn content_length(value: &[u8]) -> Result<usize, Framing> {
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

pub(super) fn owned_head(req: &httparse::Request<'_, '_>) -> Result<Head, Framing> {
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
pub(super) fn admit_body(head: &Head, held: &mut Held<'_>) -> Result<(), Framing> {
    let declared = if head.chunked { 0 } else { head.content_length.unwrap_or(0) };
    if declared > MAX_BODY {
        return Err(too_large());
    }
    held.hold(declared)
}

/// Makes sure `buf` holds at least `n` bytes.
pub(super) async fn fill<S: AsyncRead + Unpin>(io: &mut S, buf: &mut Vec<u8>, n: usize) -> Result<(), Framing> {
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
pub(super) async fn read_body<S: AsyncRead + Unpin>(
    io: &mut S,
    buf: &mut Vec<u8>,
    head: &Head,
    held: &mut Held<'_>,
) -> Result<Vec<u8>, Framing> {
    if !head.chunked {
        let n = head.content_length.unwrap_or(0);
        fill(io, buf, n).await?;
        // One copy of the body; what follows it (a pipelined request) moves to the front.
        let body = buf[..n].to_vec();
        buf.drain(..n);
        return Ok(body);
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
pub(super) async fn write_response<S: AsyncWrite + Unpin>(
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
