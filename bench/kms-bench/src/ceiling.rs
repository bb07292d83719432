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

/// A TLS acceptor with a fresh self-signed certificate for 127.0.0.1 (P-256, as the instance
/// gateway's), its PEM written to `ca_out` for the load tool to trust.
fn tls(ca_out: &std::path::Path) -> tokio_rustls::TlsAcceptor {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("params")
        .self_signed(&key)
        .expect("self-signed certificate");
    std::fs::write(ca_out, cert.pem()).expect("write the ceiling's CA");
    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], der)
        .expect("certificate and key");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

pub async fn serve(listen: SocketAddr, tls_ca_out: Option<std::path::PathBuf>) {
    let listener = tokio::net::TcpListener::bind(listen).await.expect("bind the ceiling's address");
    let acceptor = tls_ca_out.as_deref().map(tls);
    let scheme = if acceptor.is_some() { "https" } else { "http" };
    println!("ceiling listening on {scheme}://{}", listener.local_addr().expect("bound"));
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    // The limits kmsd itself would serve with, so the ceiling measures the same layer.
    let limits = kms_server::http::Limits::for_fd_limit(kms_server::http::raise_fd_limit().unwrap_or(1024));
    kms_server::http::serve(listener, acceptor, Arc::new(FixedBody), limits, shutdown).await;
}
