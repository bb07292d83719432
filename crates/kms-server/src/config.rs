//! Command line and environment: every option has a flag and a `KMSD_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// kmsd — a self-hosted key management service that speaks the Alibaba Cloud KMS API
/// (2016-01-20), so the official SDKs and tools work against it unchanged.
#[derive(Debug, Clone, Parser)]
#[command(name = "kmsd", version, about, long_about = None)]
pub struct Config {
    /// Address to serve on. Port 0 picks a free port; the ready line on stdout names it.
    #[arg(long, env = "KMSD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding the SQLite database, the generated root key and the bootstrap
    /// credentials. Created (mode 0700) if missing.
    #[arg(long, env = "KMSD_DATA_DIR", default_value = "./kmsd-data")]
    pub data_dir: PathBuf,

    /// Where keys live: `sqlite` (the database file `kms.db` in the data dir) or a
    /// `postgres://user:password@host:port/database` URL, which several kmsd nodes can share.
    /// The root key and bootstrap credentials stay in the data dir either way.
    #[arg(long, env = "KMSD_STORE", default_value = "sqlite")]
    pub store: String,

    /// Region this kmsd serves; it appears in ARNs and DescribeRegions.
    #[arg(long, env = "KMSD_REGION", default_value = "cn-hangzhou")]
    pub region: String,

    /// Root key file (32 bytes, base64) that wraps all key material at rest. Default: the
    /// file `root.key` in the data dir, generated on first start. A given file must exist.
    #[arg(long, env = "KMSD_ROOT_KEY_FILE")]
    pub root_key_file: Option<PathBuf>,

    /// PEM certificate chain; with --tls-key, kmsd serves HTTPS instead of HTTP.
    #[arg(long, env = "KMSD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert.
    #[arg(long, env = "KMSD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Testing only: serve `POST /-/clock/advance?seconds=N`, which moves the clock that drives
    /// deletion windows and rotation schedules forward (signatures keep using real time), so a
    /// test can watch a key rotate or be destroyed in seconds. Never enable in production: the
    /// endpoint is unauthenticated.
    #[arg(long, env = "KMSD_DEV_CLOCK")]
    pub dev_clock: bool,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `kms_server=debug`). Logs go to
    /// stderr and never contain parameter values, plaintext, keys or secrets.
    #[arg(long, env = "KMSD_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    pub fn root_key_path(&self) -> PathBuf {
        self.root_key_file.clone().unwrap_or_else(|| self.data_dir.join("root.key"))
    }
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("kms.db")
    }
    pub fn credentials_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap-credentials")
    }
}
