//! How kmsd reaches PostgreSQL: the URL's connection settings and TLS, the password from
//! outside the URL, time limits and TCP keepalive.
//!
//! TLS follows libpq's `sslmode`:
//! - `disable`: plain TCP.
//! - `prefer` (the default, as libpq's): TLS when the server offers it, else plain; the
//!   server's certificate is not checked (protects against eavesdropping, not impersonation).
//! - `require`: TLS or no connection; the certificate is not checked — unless a CA is given,
//!   which then makes it `verify-ca`, as in libpq.
//! - `verify-ca`: TLS, and the server's certificate must chain to the CA (`sslrootcert=FILE` in
//!   the URL, or [`PostgresOptions::tls_ca`]).
//! - `verify-full`: `verify-ca`, and the certificate must name the host of the URL. A CA given
//!   without an `sslmode` means this.
//!
//! With TLS, SCRAM logins bind to the TLS channel when the server's certificate allows
//! (tls-server-end-point).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres::config::{Host, SslMode};

use crate::{StoreError, StoreResult};

/// What the URL does not say.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The most one store call may take, waiting for a pooled connection and connecting
    /// included; also the TCP connect timeout (unless the URL sets `connect_timeout`).
    pub timeout: Duration,
    /// The password, when the URL has none (from a file, so it stays off the command line). A
    /// URL with a password and this set is refused: one source only. With neither, `PGPASSWORD`
    /// is used when set, as libpq does.
    pub password: Option<String>,
    /// PEM file of the CA that signed the server's certificate (like `sslrootcert=` in the URL).
    pub tls_ca: Option<PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, password: None, tls_ca: None }
    }
}

/// The default of `--store-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// TCP keepalive: an idle connection whose peer vanished (a host gone, a NAT entry dropped) is
/// found dead within about idle + interval × retries, instead of hanging the next call.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;

/// libpq's `sslmode` values kmsd accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A parsed URL: the connection settings and how to do TLS.
pub(super) struct Target {
    pub config: tokio_postgres::Config,
    pub tls: Tls,
    /// `host:port`, user and database, for messages (never the password).
    pub describe: String,
}

/// The TLS connector for a [`TlsMode`].
#[derive(Clone)]
pub(super) enum Tls {
    Plain(tokio_postgres::NoTls),
    Rustls(tokio_postgres_rustls::MakeRustlsConnect),
}

/// Takes `sslmode` and `sslrootcert` out of the URL's query (tokio-postgres knows neither
/// `verify-*` nor `sslrootcert`); returns the URL without them.
fn split_tls_params(url: &str) -> StoreResult<(String, Option<String>, Option<PathBuf>)> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None, None)) };
    let (mut mode, mut root, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decoded = || {
            percent_decode(v)
                .ok_or_else(|| config_error(format!("the URL parameter {k} is not valid percent-encoding")))
        };
        match k {
            "sslmode" => mode = Some(decoded()?),
            "sslrootcert" => root = Some(PathBuf::from(decoded()?)),
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((url, mode, root))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn config_error(msg: String) -> StoreError {
    StoreError::Unavailable(msg)
}

/// Parses `url` with `opts` into connection settings and a TLS connector. Errors never repeat
/// the URL (it may hold a password).
pub(super) fn target(url: &str, opts: &PostgresOptions) -> StoreResult<Target> {
    let (rest, mode, url_ca) = split_tls_params(url)?;
    let mut config: tokio_postgres::Config =
        rest.parse().map_err(|e| config_error(format!("the PostgreSQL URL is not valid: {e}")))?;
    let ca = match (url_ca, &opts.tls_ca) {
        (Some(_), Some(_)) => {
            return Err(config_error("give the CA once: sslrootcert= in the URL or --store-tls-ca, not both".into()));
        }
        (a, b) => a.or_else(|| b.clone()),
    };
    let mode = match (mode.as_deref(), &ca) {
        (None, None) | (Some("prefer"), _) => TlsMode::Prefer,
        (None, Some(_)) | (Some("verify-full"), _) => TlsMode::VerifyFull,
        (Some("disable"), _) => TlsMode::Disable,
        (Some("require"), None) => TlsMode::Require,
        (Some("require"), Some(_)) | (Some("verify-ca"), _) => TlsMode::VerifyCa,
        (Some(other), _) => {
            return Err(config_error(format!(
                "sslmode={other} is not supported: use disable, prefer, require, verify-ca or verify-full"
            )));
        }
    };
    if mode == TlsMode::Disable && ca.is_some() {
        return Err(config_error("a CA for the server's certificate was given, but sslmode=disable".into()));
    }
    if matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && ca.is_none() {
        return Err(config_error(
            "sslmode=verify-ca and verify-full need the CA that signed the server's certificate: sslrootcert=FILE in the URL or --store-tls-ca FILE".into(),
        ));
    }
    if let Some(password) = &opts.password {
        if config.get_password().is_some() {
            return Err(config_error(
                "the PostgreSQL URL holds a password and one is given outside it too (--store-password-file or PGPASSWORD): give it once".into(),
            ));
        }
        config.password(password.as_str());
    } else if config.get_password().is_none()
        && let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty())
    {
        // As libpq: the environment's password when the URL has none.
        config.password(password);
    }
    config.ssl_mode(match mode {
        TlsMode::Disable => SslMode::Disable,
        TlsMode::Prefer => SslMode::Prefer,
        _ => SslMode::Require,
    });
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(opts.timeout);
    }
    config.keepalives(true).keepalives_idle(KEEPALIVE_IDLE).keepalives_interval(KEEPALIVE_INTERVAL);
    config.keepalives_retries(KEEPALIVE_RETRIES);
    if config.get_application_name().is_none() {
        config.application_name("kmsd");
    }
    let tls = match mode {
        TlsMode::Disable => Tls::Plain(tokio_postgres::NoTls),
        TlsMode::Prefer | TlsMode::Require => Tls::Rustls(connector(Arc::new(Unverified::new()))?),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let ca = ca.as_deref().unwrap_or(Path::new(""));
            let roots = Arc::new(roots(ca)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(|e| config_error(format!("cannot use the CA in {}: {e}", ca.display())))?;
            let verifier: Arc<dyn ServerCertVerifier> =
                if mode == TlsMode::VerifyCa { Arc::new(AnyName(webpki)) } else { webpki };
            Tls::Rustls(connector(verifier)?)
        }
    };
    let describe = describe(&config);
    Ok(Target { config, tls, describe })
}

/// `host:port` (each host), user and database.
fn describe(config: &tokio_postgres::Config) -> String {
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                Host::Unix(path) => format!("{}/.s.PGSQL.{port}", path.display()),
            }
        })
        .collect();
    let hosts = if hosts.is_empty() { "localhost:5432".to_owned() } else { hosts.join(",") };
    format!(
        "{hosts} (user {}, database {})",
        config.get_user().unwrap_or("?"),
        config.get_dbname().or(config.get_user()).unwrap_or("?")
    )
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn roots(ca: &Path) -> StoreResult<rustls::RootCertStore> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
        .map_err(|e| config_error(format!("cannot read the CA file {}: {e}", ca.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| config_error(format!("cannot parse the CA file {}: {e}", ca.display())))?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(config_error(format!("no usable CA certificate in {}", ca.display())));
    }
    Ok(roots)
}

fn connector(verifier: Arc<dyn ServerCertVerifier>) -> StoreResult<tokio_postgres_rustls::MakeRustlsConnect> {
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| config_error(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `sslmode=prefer`/`require`: any certificate, as libpq (the handshake's signatures are still
/// checked, so the connection is encrypted to whoever holds the certificate's key).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl Unverified {
    fn new() -> Self {
        Self(provider())
    }
}

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must reach the CA; the name in the certificate is not checked.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// A URL with its password (in the user info or a `password=` parameter) replaced by `***`,
/// for messages. Errs on the side of hiding: everything up to the last `@` is user info.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (userinfo, tail) = match rest.rsplit_once('@') {
        Some((u, t)) => (Some(u), t),
        None => (None, rest),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<&str> =
                query.split('&').map(|p| if p.starts_with("password=") { "password=***" } else { p }).collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    match userinfo.map(|u| u.split_once(':').map(|(user, _)| user).ok_or(u)) {
        Some(Ok(user)) => format!("{scheme}://{user}:***@{tail}"),
        Some(Err(user)) => format!("{scheme}://{user}@{tail}"),
        None => format!("{scheme}://{tail}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("postgresql://u:s%40c@h/db?sslmode=require"), "postgresql://u:***@h/db?sslmode=require");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("postgres://h/db?user=u&password=pw"), "postgres://h/db?user=u&password=***");
        assert_eq!(redact_url("sqlite"), "sqlite");
        // Unencoded `/`, `@` and `?` in a password still do not show.
        assert_eq!(redact_url("postgres://u:a/b@c?d@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn sslmode_and_ca_pick_the_verification() {
        let opts = PostgresOptions::default();
        let mode = |url: &str, ca: Option<&str>| {
            let opts = PostgresOptions { tls_ca: ca.map(PathBuf::from), ..opts.clone() };
            let (_, m, root) = split_tls_params(url).unwrap();
            (m, root.or(opts.tls_ca))
        };
        assert_eq!(mode("postgres://h/db", None), (None, None));
        assert_eq!(
            mode("postgres://h/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca%20x.pem&connect_timeout=3", None),
            (Some("verify-full".into()), Some(PathBuf::from("/tmp/ca x.pem")))
        );
        let (rest, _, _) = split_tls_params("postgres://h/db?sslmode=require&connect_timeout=3").unwrap();
        assert_eq!(rest, "postgres://h/db?connect_timeout=3");
        // Verification without a CA, or an unknown mode, is refused with the reason.
        let err = |url: &str| match target(url, &opts) {
            Err(StoreError::Unavailable(m)) => m,
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("{url} accepted"),
        };
        assert!(err("postgres://u:pw@h/db?sslmode=verify-full").contains("sslrootcert"));
        assert!(err("postgres://u:pw@h/db?sslmode=allow").contains("not supported"));
        let m = err("postgres://u:pw@h/db?sslmode=verify-ca&sslrootcert=/nonexistent/ca.pem");
        assert!(m.contains("/nonexistent/ca.pem") && !m.contains("pw"), "{m}");
        // A password given twice is refused; given once, from outside, it is used.
        let outside = PostgresOptions { password: Some("from-file".into()), ..opts.clone() };
        assert!(
            matches!(target("postgres://u:pw@h/db", &outside), Err(StoreError::Unavailable(m)) if m.contains("once"))
        );
        let t = target("postgres://u@h:6543/db", &outside).ok().unwrap();
        assert_eq!(t.config.get_password(), Some(&b"from-file"[..]));
        assert_eq!(t.describe, "h:6543 (user u, database db)");
        assert_eq!(t.config.get_connect_timeout(), Some(&DEFAULT_TIMEOUT));
        assert!(t.config.get_keepalives());
        assert!(matches!(t.tls, Tls::Rustls(_)), "prefer: TLS when offered");
        assert!(matches!(target("postgres://u@h/db?sslmode=disable", &opts).ok().unwrap().tls, Tls::Plain(_)));
    }
}
