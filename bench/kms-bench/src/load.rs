//! The load loop: N keep-alive connections, each sending its next request as soon as the
//! previous answer is in (closed loop), for a warm-up and then a measured window.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use kms_testkit::Client;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::target::{Action, Signature, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Kmsd,
    Ceiling,
    Openbao,
    /// kmsd's instance gateway (instance API over TLS, ClientKey-signed).
    Gateway,
    /// The ceiling over TLS with instance-API requests.
    GatewayCeiling,
}

#[derive(clap::Args)]
pub struct LoadArgs {
    #[arg(long, value_enum)]
    target: Kind,
    /// `http://host:port` of the target; several, comma-separated, spread the connections
    /// over them in turn (one kmsd per URL: several nodes on one database).
    #[arg(long)]
    url: String,
    #[arg(long, value_enum)]
    action: Action,
    #[arg(long, value_enum, default_value = "v1")]
    signature: Signature,
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    #[arg(long, env = "KMS_BENCH_ACCESS_KEY_ID", default_value = "")]
    access_key_id: String,
    #[arg(long, env = "KMS_BENCH_ACCESS_KEY_SECRET", default_value = "", hide_env_values = true)]
    access_key_secret: String,
    /// OpenBao token.
    #[arg(long, env = "KMS_BENCH_OPENBAO_TOKEN", default_value = "", hide_env_values = true)]
    token: String,
    /// Ceiling only: reply size in bytes (kmsd's `reply_bytes` for the same action).
    #[arg(long, default_value_t = 300)]
    reply_size: usize,
    /// Gateway targets: the classic endpoint (`http://host:port`) the application is set up
    /// through.
    #[arg(long, default_value = "")]
    classic_url: String,
    /// Gateway: the connected KMS instance the key and secret are made in.
    #[arg(long, default_value = "")]
    instance: String,
    /// Gateway ceiling: the PEM CA its certificate chains to.
    #[arg(long, default_value = "")]
    ca_file: String,
    /// Free text copied into the result.
    #[arg(long, default_value = "")]
    label: String,
}

/// What one connection saw in the measured window.
struct Tally {
    latency_us: Histogram<u64>,
    errors: u64,
    first_error: Option<String>,
    reply_bytes: usize,
}

pub async fn run(args: LoadArgs) -> ExitCode {
    match run_inner(&args).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("kms-bench: {errors} requests failed; the figures above do not count them — FAILED");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("kms-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run_inner(args: &LoadArgs) -> Result<u64, String> {
    let addrs: Vec<String> = args
        .url
        .split(',')
        .map(|u| u.trim().trim_start_matches("http://").trim_start_matches("https://").trim_end_matches('/').to_owned())
        .collect();
    let addr = addrs[0].clone();
    let client = Client {
        addr: addr.clone(),
        access_key_id: args.access_key_id.clone(),
        secret: args.access_key_secret.clone(),
    };
    let target = match args.target {
        Kind::Kmsd => Target::kms(client, args.action, args.signature).await?,
        Kind::Ceiling => Target::ceiling(client, args.action, args.signature, args.reply_size)?,
        Kind::Openbao => Target::openbao(&addr, &args.token, args.action).await?,
        Kind::Gateway => {
            let classic = Client {
                addr: args.classic_url.trim_start_matches("http://").trim_end_matches('/').to_owned(),
                access_key_id: args.access_key_id.clone(),
                secret: args.access_key_secret.clone(),
            };
            Target::Gateway(Box::new(crate::gateway::GatewayTarget::new(classic, &args.instance, args.action).await?))
        }
        Kind::GatewayCeiling => {
            let ca = std::fs::read_to_string(&args.ca_file).map_err(|e| format!("{}: {e}", args.ca_file))?;
            Target::Gateway(Box::new(crate::gateway::GatewayTarget::ceiling(&ca, args.action, args.reply_size)?))
        }
    };
    let target = Arc::new(target);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.seconds);
    // The tool's own CPU over the measured window: at well under one core the figure is the
    // server's, whatever the ceiling shows.
    let cpu_window = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = own_cpu_seconds();
        tokio::time::sleep_until(until.into()).await;
        own_cpu_seconds().zip(before).map(|(after, before)| after - before)
    });
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let (target, addr) = (target.clone(), addrs[i % addrs.len()].clone());
        tasks.push(tokio::spawn(async move { drive(&addr, &target, measure_from, until).await }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    let (mut errors, mut first_error, mut reply_bytes) = (0u64, None, 0usize);
    for t in tasks {
        let tally = t.await.map_err(|e| format!("connection task: {e}"))??;
        all.add(&tally.latency_us).map_err(|e| e.to_string())?;
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
        reply_bytes = reply_bytes.max(tally.reply_bytes);
    }
    let tool_cpu = cpu_window.await.ok().flatten().map(|used| used / args.seconds);
    let ok = all.len();
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    let result = serde_json::json!({
        "label": args.label,
        "target": format!("{:?}", args.target).to_lowercase(),
        "action": args.action.name(),
        "signature": format!("{:?}", args.signature).to_uppercase(),
        "connections": args.connections,
        "nodes": addrs.len(),
        "seconds": args.seconds,
        "requests": ok,
        "throughput": ok as f64 / args.seconds,
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
        "max_ms": all.max() as f64 / 1000.0,
        "errors": errors,
        "first_error": first_error,
        "reply_bytes": reply_bytes,
        "tool_cpu_share": tool_cpu,
    });
    println!("{result}");
    Ok(errors)
}

/// CPU time (user + system) this process has used, from `/proc/self/stat` (in clock ticks of
/// 1/100 s, the only `USER_HZ` Linux exposes to user space).
fn own_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ').skip(11);
    let user: f64 = fields.next()?.parse().ok()?;
    let system: f64 = fields.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// One connection's closed loop. A connection the target closes is reopened (and counted as an
/// error when it happened mid-request).
async fn drive(addr: &str, target: &Target, measure_from: Instant, until: Instant) -> Result<Tally, String> {
    let mut tally = Tally {
        latency_us: Histogram::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        errors: 0,
        first_error: None,
        reply_bytes: 0,
    };
    let mut conn = open(addr, target).await?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut request = Vec::with_capacity(8 * 1024);
    loop {
        target.request_into(&mut request);
        let sent = Instant::now();
        if sent >= until {
            return Ok(tally);
        }
        let answer = exchange(&mut conn, &request, &mut buf).await;
        let took = sent.elapsed();
        let measured = sent >= measure_from;
        match answer {
            Ok((200, body)) if target.answer_ok(body) => {
                if measured {
                    tally.latency_us.saturating_record(took.as_micros().max(1) as u64);
                    tally.reply_bytes = body.len();
                }
            }
            Ok((status, body)) => {
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                tally.errors += 1;
                tally.first_error.get_or_insert(format!("HTTP {status}: {text}"));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
                conn = open(addr, target).await?;
            }
        }
    }
}

/// A connection of either kind the targets speak.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// A connection to `addr` as `target` needs it: TLS for the gateway targets.
async fn open(addr: &str, target: &Target) -> Result<Box<dyn Io>, String> {
    let tcp = connect(addr).await?;
    match target {
        Target::Gateway(g) => {
            let tls = g.connector.connect(g.server_name.clone(), tcp).await.map_err(|e| format!("TLS {addr}: {e}"))?;
            Ok(Box::new(tls))
        }
        _ => Ok(Box::new(tcp)),
    }
}

async fn connect(addr: &str) -> Result<TcpStream, String> {
    let conn = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
    conn.set_nodelay(true).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// How an answer's body is framed.
enum Framing {
    Length(usize),
    /// `Transfer-Encoding: chunked` (Go's net/http answers larger bodies this way).
    Chunked,
}

/// Sends one request and reads its answer: (status, body). `buf` is reused between calls.
async fn exchange<'b, S: Io + ?Sized>(
    conn: &mut S,
    request: &[u8],
    buf: &'b mut Vec<u8>,
) -> Result<(u16, &'b [u8]), String> {
    conn.write_all(request).await.map_err(|e| format!("write: {e}"))?;
    buf.clear();
    let (head_len, framing, status) = loop {
        read_more(conn, buf, 16 * 1024).await?;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let value = |name: &str| {
                    parsed
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case(name))
                        .and_then(|h| std::str::from_utf8(h.value).ok())
                        .map(|v| v.trim().to_ascii_lowercase())
                };
                let framing = if value("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                    Framing::Chunked
                } else {
                    let len = value("content-length").and_then(|v| v.parse().ok());
                    Framing::Length(len.ok_or("answer without content-length or chunked encoding")?)
                };
                break (head_len, framing, parsed.code.unwrap_or(0));
            }
            Ok(httparse::Status::Partial) => continue,
            Err(e) => return Err(format!("unreadable answer: {e}")),
        }
    };
    match framing {
        Framing::Length(body_len) => {
            while buf.len() < head_len + body_len {
                read_more(conn, buf, head_len + body_len - buf.len()).await?;
            }
            Ok((status, &buf[head_len..head_len + body_len]))
        }
        Framing::Chunked => {
            // De-chunk in place: the body is moved down to start at head_len.
            let (mut read_at, mut body_end) = (head_len, head_len);
            loop {
                let (offset, size) = loop {
                    match httparse::parse_chunk_size(&buf[read_at..]) {
                        Ok(httparse::Status::Complete((offset, size))) => break (offset, size as usize),
                        Ok(httparse::Status::Partial) => read_more(conn, buf, 1024).await?,
                        Err(_) => return Err("bad chunk size".into()),
                    }
                };
                let data_start = read_at + offset;
                while buf.len() < data_start + size + 2 {
                    read_more(conn, buf, data_start + size + 2 - buf.len()).await?;
                }
                if size == 0 {
                    return Ok((status, &buf[head_len..body_end]));
                }
                buf.copy_within(data_start..data_start + size, body_end);
                body_end += size;
                read_at = data_start + size + 2;
            }
        }
    }
}

/// Appends at least one more byte from `conn` to `buf`.
async fn read_more<S: Io + ?Sized>(conn: &mut S, buf: &mut Vec<u8>, room: usize) -> Result<(), String> {
    buf.reserve(room.max(1024));
    match conn.read_buf(buf).await {
        Ok(0) => Err("the target closed the connection".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("read: {e}")),
    }
}

/// One request on a new connection, answer parsed as JSON (set-up calls).
pub async fn one_shot(addr: &str, request: &[u8]) -> Result<serde_json::Value, String> {
    let mut conn = connect(addr).await?;
    let mut buf = Vec::new();
    let (status, body) = exchange(&mut conn, request, &mut buf).await?;
    if status != 200 {
        return Err(format!("set-up request answered {status}: {}", String::from_utf8_lossy(body)));
    }
    serde_json::from_slice(body).map_err(|e| format!("set-up answer is not JSON: {e}"))
}

#[derive(clap::Args)]
pub struct SeedArgs {
    #[arg(long)]
    url: String,
    /// How many keys to create.
    #[arg(long)]
    keys: u64,
    #[arg(long, default_value_t = 64)]
    connections: usize,
    #[arg(long, env = "KMS_BENCH_ACCESS_KEY_ID", default_value = "")]
    access_key_id: String,
    #[arg(long, env = "KMS_BENCH_ACCESS_KEY_SECRET", default_value = "", hide_env_values = true)]
    access_key_secret: String,
}

/// Fills a store with keys through the API (CreateKey over many connections), so the scale
/// run measures a store built the way users build theirs.
pub async fn seed(args: SeedArgs) -> ExitCode {
    let addr = args.url.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let client = Client { addr: addr.clone(), access_key_id: args.access_key_id, secret: args.access_key_secret };
    let target = match Target::kms(client, Action::CreateKey, Signature::V1).await {
        Ok(t) => Arc::new(t),
        Err(e) => {
            eprintln!("kms-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let left = Arc::new(std::sync::atomic::AtomicI64::new(args.keys as i64));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.connections {
        let (target, addr, left) = (target.clone(), addr.clone(), left.clone());
        tasks.push(tokio::spawn(async move {
            let mut conn = connect(&addr).await?;
            let mut buf = Vec::new();
            while left.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0 {
                match exchange(&mut conn, &target.request(), &mut buf).await {
                    Ok((200, _)) => {}
                    Ok((status, body)) => {
                        return Err(format!("CreateKey answered {status}: {}", String::from_utf8_lossy(body)));
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("kms-bench: seeding failed: {e}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("kms-bench: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!("kms-bench: created {} keys in {secs:.1} s ({:.0}/s)", args.keys, args.keys as f64 / secs);
    ExitCode::SUCCESS
}
