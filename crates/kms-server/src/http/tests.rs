//! Framing under property tests, over scripted reads ([`super::fuzzing`]).

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
        let headers: Vec<(String, String)> =
            resp.headers.iter().map(|h| (h.name.to_owned(), String::from_utf8(h.value.to_vec()).unwrap())).collect();
        let status = resp.code.unwrap();
        let length =
            headers.iter().find(|(n, _)| n == "content-length").map(|(_, v)| v.parse::<usize>().unwrap()).unwrap_or(0);
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

#[test]
fn request_ids_from_the_pool_are_distinct_v4_uuids() {
    // More than one pool's worth, so the refill is crossed.
    let ids: Vec<String> = (0..200).map(|_| super::new_request_id()).collect();
    let distinct: std::collections::HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
    for id in &ids {
        let parsed = uuid::Uuid::parse_str(id).unwrap();
        assert_eq!(parsed.get_version_num(), 4, "{id}");
    }
}
