//! What idle, slow and misdirected peers can take from kmsd, at the wire: the connection cap,
//! the receive budget, the open-file limit, and the log line for TLS on the plain port.

mod common;

use std::time::Duration;

use common::*;
use kms_testkit::{Options, try_read_response};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How long "at once" may take on a loaded test machine; far below the 30 s and 60 s
/// timeouts a refused peer would otherwise wait out.
const PROMPTLY: Duration = Duration::from_secs(5);

fn start_with(extra_args: &[&str]) -> Kmsd {
    let opts = Options { extra_args: extra_args.iter().map(|a| a.to_string()).collect(), ..Default::default() };
    Kmsd::start_with(&bin(), opts).expect("kmsd starts")
}

/// The bytes of a signed call, as the testkit would send it.
fn signed_bytes(c: &Client, call: Call) -> Vec<u8> {
    let (method, target, headers, body) = c.build(call);
    let mut out = format!("{method} {target} HTTP/1.1\r\n");
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend(body);
    out
}

/// Reads one answer within [`PROMPTLY`].
async fn answer(s: &mut TcpStream) -> Resp {
    tokio::time::timeout(PROMPTLY, try_read_response(s))
        .await
        .expect("answered promptly, not left hanging")
        .expect("a complete answer")
}

/// The peer closes after its answer: the next read ends (EOF or reset) within [`PROMPTLY`].
async fn assert_closed(s: &mut TcpStream) {
    let mut rest = [0u8; 64];
    let read = tokio::time::timeout(PROMPTLY, s.read(&mut rest)).await.expect("closed promptly");
    assert!(matches!(read, Ok(0) | Err(_)), "more bytes after the answer: {read:?}");
}

/// A signed DescribeRegions over a new connection, retried while kmsd still counts peers that
/// just closed (it notices within moments); returns the first answer that is not a 503.
async fn served_soon(c: &Client) -> Resp {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        let r = tokio::time::timeout(PROMPTLY, c.try_send(Call::new("DescribeRegions", &[])))
            .await
            .expect("answered promptly");
        match r {
            Ok(r) if r.status != 503 => return r,
            _ if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("still refused: {other:?}"),
        }
    }
}

/// Waits until kmsd's log holds `needle`.
async fn logged(k: &Kmsd, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        let log = k.stderr();
        if let Some(line) = log.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no log line with {needle:?} in:\n{log}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// With `--max-connections 8` and 8 idle peers, the next peers are answered 503 and closed at
/// once; the 8 keep being served; once they close, new clients are served again.
#[tokio::test]
async fn connections_over_the_cap_are_refused_at_once_while_the_others_are_served() {
    let k = start_with(&["--max-connections", "8"]);
    let c = k.client();
    let mut idle = Vec::new();
    for _ in 0..8 {
        idle.push(TcpStream::connect(&k.addr).await.unwrap());
    }
    // Accepted in order, so these come after the 8.
    for _ in 0..3 {
        let mut extra = TcpStream::connect(&k.addr).await.unwrap();
        let r = answer(&mut extra).await;
        assert_error(&r, 503, "ServiceUnavailableTemporary");
        assert_eq!(r.headers["connection"], "close");
        assert_closed(&mut extra).await;
    }
    let line = logged(&k, "connection limit reached").await;
    assert!(line.contains("max_connections=8") && line.contains("WARN"), "{line}");
    // The connections inside the cap are served, more than once each.
    for s in idle.iter_mut().take(3) {
        for _ in 0..2 {
            s.write_all(&signed_bytes(&c, Call::new("DescribeRegions", &[]))).await.unwrap();
            let r = answer(s).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
    drop(idle);
    let r = served_soon(&c).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(k.stderr().contains("below the connection limit again"));
}

/// The head of a request whose 1 MiB body will come slowly, with `Expect: 100-continue` so
/// the `100` says kmsd admitted it.
fn slow_head(addr: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        1024 * 1024
    )
}

/// Peers sending 1 MiB bodies slowly hold at most the receive budget (64 MiB) between them:
/// past it a new body is answered 503 before any `100 Continue`; bodiless requests are still
/// served; a closed peer's share is given back.
#[tokio::test]
async fn slow_bodies_hold_at_most_the_receive_budget() {
    let k = start_with(&["--max-connections", "100"]);
    let c = k.client();
    let mut slow = Vec::new();
    for i in 0..64 {
        let mut s = TcpStream::connect(&k.addr).await.unwrap();
        s.write_all(slow_head(&k.addr).as_bytes()).await.unwrap();
        let r = answer(&mut s).await;
        assert_eq!(r.status, 100, "slow body {i} admitted");
        s.write_all(&[b'a'; 1000]).await.unwrap();
        slow.push(s);
    }
    let mut over = TcpStream::connect(&k.addr).await.unwrap();
    over.write_all(slow_head(&k.addr).as_bytes()).await.unwrap();
    let r = answer(&mut over).await;
    assert_error(&r, 503, "ServiceUnavailableTemporary");
    assert_closed(&mut over).await;
    let line = logged(&k, "receive budget exhausted").await;
    assert!(line.contains("127.0.0.1:") && line.contains("WARN"), "{line}");
    // Nothing to receive, nothing to hold: a query-only request is served meanwhile.
    let r = c.send(Call::new("DescribeRegions", &[]).get()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // One slow peer gone: its megabyte is free for the next body.
    drop(slow.pop());
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        let mut s = TcpStream::connect(&k.addr).await.unwrap();
        s.write_all(slow_head(&k.addr).as_bytes()).await.unwrap();
        match answer(&mut s).await.status {
            100 => break,
            503 if tokio::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("a freed share was not given back: {other}"),
        }
    }
}

/// A kmsd to start with the open-file limit `soft:hard`: a wrapper script, so the testkit
/// starts kmsd as usual (prlimit execs it: same pid). The directory holding it comes along.
fn under_prlimit(nofile: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let prlimit = ["/usr/bin/prlimit", "/bin/prlimit"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("prlimit (util-linux) is installed");
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("wrapper.sh");
    let wrapper = dir.path().join("kmsd-nofile");
    std::fs::write(&text, format!("#!/bin/sh\nexec {prlimit} --nofile={nofile} {} \"$@\"\n", bin().display())).unwrap();
    // Installed by another process: a file this (multi-threaded) process had open for writing
    // could still be open in a child forked meanwhile, and exec would fail with ETXTBSY.
    let installed = std::process::Command::new("install").arg("-m").arg("0755").arg(&text).arg(&wrapper).status();
    assert!(installed.unwrap().success());
    (dir, wrapper)
}

/// kmsd raises its soft open-file limit to the hard one: started with 256 (soft) of 4096
/// (hard), 300 idle peers do not lock a signed client out.
#[tokio::test]
async fn a_low_soft_fd_limit_is_raised_to_the_hard_limit() {
    let (_dir, wrapper) = under_prlimit("256:4096");
    let k = Kmsd::start_with(&wrapper, Options::default()).expect("kmsd starts under prlimit");
    let c = k.client();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(TcpStream::connect(&k.addr).await.unwrap());
    }
    let r = tokio::time::timeout(PROMPTLY, c.send(Call::new("DescribeRegions", &[])))
        .await
        .expect("a signed client is served beside 300 idle peers");
    assert_eq!(r.status, 200, "{}", r.text());
    // And the idle ones were accepted, not left queued: each can be served too.
    for s in idle.iter_mut().step_by(50) {
        s.write_all(&signed_bytes(&c, Call::new("DescribeRegions", &[]))).await.unwrap();
        assert_eq!(answer(s).await.status, 200);
    }
    let line = logged(&k, "open-file limit").await;
    assert!(line.contains("open_files=4096") && line.contains("max_connections=4032"), "{line}");
}

/// CPU time (user + system, in clock ticks) kmsd has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// With no file descriptor left (hard limit 64, cap set above it) `accept` fails with EMFILE:
/// kmsd pauses between attempts instead of spinning, says so once, and serves again as soon
/// as descriptors are free. (The pause predates the cap; this keeps it.)
#[tokio::test]
async fn accept_failures_back_off_and_recover() {
    let (_dir, wrapper) = under_prlimit("64:64");
    let opts = Options { extra_args: vec!["--max-connections".into(), "1000".into()], ..Default::default() };
    let k = Kmsd::start_with(&wrapper, opts).expect("kmsd starts with 64 descriptors");
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(TcpStream::connect(&k.addr).await.unwrap());
    }
    logged(&k, "accept failed").await;
    let before = cpu_ticks(k.pid());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_ticks(k.pid()) - before;
    // A spinning accept loop burns the whole two seconds (about 200 ticks).
    assert!(spent < 50, "kmsd used {spent} ticks of CPU in 2 s while out of descriptors");
    assert_eq!(k.stderr().matches("accept failed").count(), 1, "one warning per run of failures");
    drop(idle);
    let r = served_soon(&k.client()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    logged(&k, "accepting connections again").await;
}

/// A client speaking TLS to the plain port is closed and the log says what to change.
#[tokio::test]
async fn tls_on_the_plain_port_is_logged_with_the_fix() {
    let k = start();
    let mut s = TcpStream::connect(&k.addr).await.unwrap();
    // The start of a TLS 1.2/1.3 ClientHello record: handshake (0x16), version 3.1, length.
    let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00, 0x00, 0xc0, 0x03, 0x03];
    hello.extend([0x5a; 32]);
    s.write_all(&hello).await.unwrap();
    assert_closed(&mut s).await;
    let line = logged(&k, "a client spoke TLS to this plain-HTTP port").await;
    assert!(
        line.contains("WARN") && line.contains("--tls-cert/--tls-key") && line.contains("peer=127.0.0.1:"),
        "{line}"
    );
    // The port still serves plain HTTP.
    assert_eq!(k.client().send(Call::new("DescribeRegions", &[])).await.status, 200);
}
