//! The ceiling: kmsd's HTTP layer (`kms_server::http`) answering a fixed JSON body with no
//! signature check, no parsing, no crypto and no store — what is left is accept, framing and
//! writing, the part of every kmsd request that no KMS work can make faster.

use std::net::SocketAddr;
use std::sync::Arc;

use kms_server::http::{Request, Responder};
use kms_wire::render::{JSON_CONTENT_TYPE, Rendered};

/// Answers with a JSON body of the size asked for in `x-bench-reply-size` (default 300 bytes,
/// about an Encrypt answer), so each action is compared with a reply of its own size.
struct FixedBody;

const DEFAULT_SIZE: usize = 300;
const MAX_SIZE: usize = 64 * 1024;

fn body_of(size: usize) -> Vec<u8> {
    // {"RequestId":"…","Filler":"xxxx…"}
    let head = br#"{"RequestId":"00000000-0000-0000-0000-000000000000","Filler":""#;
    let tail = br#""}"#;
    let fill = size.saturating_sub(head.len() + tail.len());
    let mut body = Vec::with_capacity(head.len() + fill + tail.len());
    body.extend_from_slice(head);
    body.resize(head.len() + fill, b'x');
    body.extend_from_slice(tail);
    body
}

impl Responder for FixedBody {
    async fn respond(&self, req: Request, _peer: SocketAddr, _request_id: &str) -> Rendered {
        let size = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("x-bench-reply-size"))
            .and_then(|(_, v)| std::str::from_utf8(v).ok()?.parse::<usize>().ok())
            .unwrap_or(DEFAULT_SIZE)
            .min(MAX_SIZE);
        Rendered::plain(JSON_CONTENT_TYPE, body_of(size))
    }
}

pub async fn serve(listen: SocketAddr) {
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind the ceiling's address");
    println!("ceiling listening on http://{}", listener.local_addr().expect("bound"));
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    // The limits kmsd itself would serve with, so the ceiling measures the same layer.
    let limits = kms_server::http::Limits::for_fd_limit(kms_server::http::raise_fd_limit().unwrap_or(1024));
    kms_server::http::serve(listener, None, Arc::new(FixedBody), limits, shutdown).await;
}
