//! Drives one connection over scripted bytes, with nothing else of the server: the property
//! tests (`tests.rs`) and the `http_framing` fuzz target feed it what a peer might send.

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
