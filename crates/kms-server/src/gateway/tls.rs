//! The instance gateway's TLS identity: a certificate the deployment's instance CA issues for
//! the names clients reach it by (docs/design/gateway.md §3), re-issued when an instance is
//! connected — through any node — so the SDKs, given `CaCertificateChainPem` and nothing else,
//! verify the connection. The leaf key lives in memory only.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kms_core::Kms;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// How often the set of connected instances is read for new names.
pub const REFRESH: Duration = Duration::from_secs(1);

/// The certificate every handshake gets (with SNI or without: Python sends none to an IP).
pub struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
    names: Mutex<Vec<String>>,
    extra: Vec<String>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificates").field("names", &self.names).finish_non_exhaustive()
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

async fn issue(
    kms: &Kms,
    names: &[String],
    provider: &rustls::crypto::CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let made = kms.issue_gateway_certificate(names).await.map_err(|e| e.to_string())?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.key_pkcs8.to_vec()));
    let signer = provider.key_provider.load_private_key(key).map_err(|e| e.to_string())?;
    Ok(Arc::new(CertifiedKey::new(vec![CertificateDer::from(made.certificate_der)], signer)))
}

impl Certificates {
    /// The first certificate, for the names as they are now.
    pub async fn new(kms: &Kms, extra: Vec<String>) -> Result<Arc<Self>, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let names = kms.gateway_names(&extra).await.map_err(|e| e.to_string())?;
        let current = issue(kms, &names, &provider).await?;
        Ok(Arc::new(Self { current: RwLock::new(current), names: Mutex::new(names), extra, provider }))
    }

    /// The server configuration that presents it: TLS 1.2/1.3 (aws-lc-rs), HTTP/1.1, no client
    /// certificates (the Go SDK would offer its ClientKey's; the signature is what counts).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, String> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Re-issues when the names changed; the handshakes under way keep the old one.
    pub async fn refresh(&self, kms: &Kms) -> Result<(), String> {
        let names = kms.gateway_names(&self.extra).await.map_err(|e| e.to_string())?;
        if self.names.lock().map(|n| *n == names).unwrap_or(false) {
            return Ok(());
        }
        let fresh = issue(kms, &names, &self.provider).await?;
        if let Ok(mut c) = self.current.write() {
            *c = fresh;
        }
        if let Ok(mut n) = self.names.lock() {
            tracing::info!(names = ?names, "instance gateway certificate issued");
            *n = names;
        }
        Ok(())
    }
}
