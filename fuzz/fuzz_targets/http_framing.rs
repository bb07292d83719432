//! kmsd's HTTP/1.1 framing (`kms-server/src/http.rs`: request heads through httparse,
//! Content-Length and chunked bodies, pipelining, Expect: 100-continue) on whatever a peer
//! sends, split across reads anywhere: it never panics or hangs, and writes only HTTP/1.1
//! answers. The first byte says how many of the next bytes are read-split points.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else { return };
    let n = usize::from(n % 8).min(rest.len());
    let (cuts, stream) = rest.split_at(n);
    let points: Vec<usize> = cuts.iter().map(|c| usize::from(*c) * stream.len() / 256).collect();
    let chunks = kms_server::http::fuzzing::split(stream, &points);
    let framed = kms_server::http::fuzzing::frame(chunks);
    assert!(framed.written.is_empty() || framed.written.starts_with(b"HTTP/1.1 "));
    assert!(framed.requests.iter().all(|(_, _, body)| body.len() <= kms_server::http::MAX_BODY));
});
