//! Command line and environment: every option has a flag and a `KMSD_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// The bootstrap variables are environment-only (a secret on the command line would show in
/// `ps`), so `--help` names them here.
const BOOTSTRAP_HELP: &str = "\
The first access key:
  KMSD_BOOTSTRAP_ACCESS_KEY_ID, KMSD_BOOTSTRAP_ACCESS_KEY_SECRET
      Create this access key on first start (only while the store has no access key at all).
      Without them, kmsd generates one and writes it to <data-dir>/bootstrap-credentials (0600).";

/// kmsd — a self-hosted key management service that speaks the Alibaba Cloud KMS API
/// (2016-01-20), so the official SDKs and tools work against it unchanged.
#[derive(Debug, Clone, Parser)]
#[command(name = "kmsd", version, about, long_about = None, after_help = BOOTSTRAP_HELP)]
pub struct Config {
    /// Without a command, kmsd serves.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Address to serve on. Port 0 picks a free port; the ready line on stdout names it.
    #[arg(long, env = "KMSD_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory holding the SQLite database, the generated root key and the bootstrap
    /// credentials. Created (mode 0700) if missing.
    #[arg(long, env = "KMSD_DATA_DIR", default_value = "./kmsd-data", global = true)]
    pub data_dir: PathBuf,

    /// Where keys live: `sqlite` (the database file `kms.db` in the data dir) or a
    /// `postgres://user:password@host:port/database` URL, which several kmsd nodes can share.
    /// The root key and bootstrap credentials stay in the data dir either way.
    #[arg(long, env = "KMSD_STORE", default_value = "sqlite", global = true)]
    pub store: String,

    /// Region this kmsd serves; it appears in ARNs and DescribeRegions.
    #[arg(long, env = "KMSD_REGION", default_value = "cn-hangzhou")]
    pub region: String,

    /// Root key file (32 bytes, base64) that wraps all key material at rest. Default: the
    /// file `root.key` in the data dir, generated on first start. A given file must exist.
    #[arg(long, env = "KMSD_ROOT_KEY_FILE", global = true)]
    pub root_key_file: Option<PathBuf>,

    /// The root key in a PKCS#11 token (an HSM) instead of a file: an RFC 7512 URI,
    /// `pkcs11:token=LABEL;object=LABEL?module-path=/path/to/module.so&pin-source=file:/path/to/pin`.
    /// The key is a non-extractable AES-256 key in the token, generated on first start (an
    /// empty store) when the token has none of that label; no root key file is made or read.
    #[arg(long, env = "KMSD_ROOT_KEY_PKCS11", global = true, conflicts_with = "root_key_file")]
    pub root_key_pkcs11: Option<String>,

    /// Serve the KMS instance gateway (the instance SDKs' protobuf API, ClientKey-authenticated)
    /// on this address, HTTPS only, with a certificate the deployment's instance CA issues for
    /// every connected instance's `<id>.cryptoservice.kms.aliyuncs.com`, `localhost`,
    /// `127.0.0.1` and each --instance-host. Port 0 picks a free port; a second stdout line
    /// (`kmsd instance gateway listening on https://…`) names it.
    #[arg(long, env = "KMSD_INSTANCE_LISTEN")]
    pub instance_listen: Option<SocketAddr>,

    /// A further name (DNS name or IP address) for the instance gateway's certificate: the
    /// address clients reach the gateway by. Repeatable; the variable takes a comma-separated list.
    #[arg(long = "instance-host", env = "KMSD_INSTANCE_HOST", value_delimiter = ',', requires = "instance_listen")]
    pub instance_hosts: Vec<String>,

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

    /// Fixtures applied at every start (TOML): keys with fixed ids, versions and material,
    /// aliases, tags, secrets and access keys (README, "Fixtures for CI"). What the file names
    /// is made to match it; nothing else is touched; a conflict refuses the start.
    #[arg(long, env = "KMSD_SEED")]
    pub seed: Option<PathBuf>,

    /// The audit trail (one JSON line per API request): a file, or `-` for stdout. Default: the
    /// file `audit.log` in the data dir. A request whose line cannot be written is refused.
    #[arg(long, env = "KMSD_AUDIT_LOG")]
    pub audit_log: Option<String>,

    /// Rotate the audit file (`audit.log` → `audit.log.<UTC time>`) before it passes this many
    /// bytes.
    #[arg(long, env = "KMSD_AUDIT_MAX_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub audit_max_bytes: u64,

    /// Retention: keep only the newest N rotated audit files, deleting older ones. Default:
    /// every rotated file is kept (history is never deleted by kmsd).
    #[arg(long, env = "KMSD_AUDIT_KEEP")]
    pub audit_keep: Option<u32>,

    /// Each audit line is on disk (fdatasync, shared by concurrent requests) before its answer
    /// leaves, so the trail survives a power loss, not only a crash of kmsd. Audit file only.
    #[arg(long, env = "KMSD_AUDIT_SYNC")]
    pub audit_sync: bool,

    /// Requests per second each access key may make of the symmetric cryptographic actions
    /// (Encrypt, Decrypt, GenerateDataKey…, ReEncrypt, …Export…) on this node; beyond it,
    /// `Rejected.Throttling`. 0: no limit.
    #[arg(long, env = "KMSD_QUOTA_CRYPTO_QPS", default_value_t = 0)]
    pub quota_crypto_qps: u32,

    /// The same for GetPublicKey and the Asymmetric* actions. 0: no limit.
    #[arg(long, env = "KMSD_QUOTA_ASYMMETRIC_QPS", default_value_t = 0)]
    pub quota_asymmetric_qps: u32,

    /// Connections served at once; one more is answered 503 ServiceUnavailableTemporary and
    /// closed while the others keep being served. Default: the open-file limit (which kmsd
    /// raises to its hard limit at start) less 64 kept for the store and the audit trail, and
    /// at least 16.
    #[arg(long, env = "KMSD_MAX_CONNECTIONS", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,

    /// The most a store call may take — waiting for a connection, connecting, the query —
    /// before the request answers `ServiceUnavailableTemporary` (503) instead of waiting on a
    /// database that does not answer; also how long `/readyz` waits for the store. Seconds, or
    /// a duration such as `5s`, `1500ms`, `1m`. PostgreSQL calls are limited; SQLite's are local
    /// and only `/readyz` is.
    #[arg(long, env = "KMSD_STORE_TIMEOUT", default_value = "5s", value_parser = parse_duration, global = true)]
    pub store_timeout: Duration,

    /// File holding the PostgreSQL password (its first line), so that the --store URL needs
    /// none and it stays off the command line. Without it, `PGPASSWORD` is used when the URL
    /// has no password.
    #[arg(long, env = "KMSD_STORE_PASSWORD_FILE", global = true)]
    pub store_password_file: Option<PathBuf>,

    /// PEM file of the CA that signed the PostgreSQL server's certificate (as `sslrootcert=` in
    /// the URL): the certificate is verified, and so is the host name unless the URL says
    /// `sslmode=verify-ca`.
    #[arg(long, env = "KMSD_STORE_TLS_CA", global = true)]
    pub store_tls_ca: Option<PathBuf>,

    /// Where `GET /metrics` (Prometheus) is served. Default: on the API listener, beside the
    /// API. An address (`127.0.0.1:9100`; port 0 picks a free one, which kmsd names on stderr
    /// as `kmsd metrics on http://…/metrics`): only there, over plain HTTP — bind it where only
    /// the scraper reaches — and the API listener answers `/metrics` as any unknown path.
    /// `off`: nowhere, and nothing is recorded.
    #[arg(long, env = "KMSD_METRICS_LISTEN", value_parser = parse_metrics_listen)]
    pub metrics_listen: Option<MetricsListen>,

    /// Serve the web console at `/console/` on the API listener (`--console=false`: off). The
    /// console signs each call in the browser with the user's access key; it adds no access.
    #[arg(long, env = "KMSD_CONSOLE", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub console: bool,

    /// Benchmarking only: remember request nonces in memory alone, without the replay journal,
    /// so `bench/replay-ab` can measure what the journal costs. A restart then forgets them and
    /// a captured request can be replayed: never in production.
    #[arg(long, hide = true)]
    pub replay_memory_only: bool,

    /// Log filter (tracing's EnvFilter syntax, e.g. `info` or `kms_server=debug`). Logs go to
    /// stderr and never contain parameter values, plaintext, keys or secrets.
    #[arg(long, env = "KMSD_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// What kmsd does instead of serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Administer a kmsd deployment through its store, while it serves or while it is stopped.
    /// Takes the server's --data-dir / --store / --root-key-file; running nodes pick changes up
    /// within a second.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Debug, Clone, Subcommand)]
pub enum Admin {
    /// Access keys that sign requests.
    #[command(subcommand, name = "access-key")]
    AccessKey(AccessKeyCommand),
    /// KMS instances (`kst-…`): what buying one does in the cloud.
    #[command(subcommand)]
    Instance(InstanceCommand),
    /// Managed data keys, which callers read with GetManagedDataKey: in the cloud the service
    /// makes them; here the operator does.
    #[command(subcommand)]
    Datakey(DataKeyCommand),
    /// Backups you can prove: `backup --to FILE` takes a consistent online copy of a SQLite store
    /// (kmsd may keep serving); `backup verify FILE` opens a copy of it with the root key and
    /// uses every key version once; `backup verify` alone checks the store the flags name (a
    /// PostgreSQL database restored from pg_dump, for instance).
    Backup(BackupArgs),
    /// The root key: `rotate` moves everything it wraps under another key while kmsd serves
    /// (resumable: run it again after any interruption); `status` says which key wraps what.
    #[command(subcommand, name = "root-key")]
    RootKey(RootKeyCommand),
    /// Fixtures: `seed apply FILE` makes the store match a fixtures file, as `kmsd --seed` does
    /// at start, and prints what it changed.
    #[command(subcommand)]
    Seed(SeedCommand),
}

#[derive(Debug, Clone, Subcommand)]
pub enum SeedCommand {
    /// Applies a fixtures file (TOML); applying it again changes nothing.
    Apply { file: PathBuf },
}

#[derive(Debug, Clone, Subcommand)]
pub enum RootKeyCommand {
    /// Re-wraps every record under a new root key: a file (made if it does not exist) or a key
    /// in a PKCS#11 token (made if absent). Running nodes switch to it within a second; restart
    /// them with the new key once this prints `finished`.
    Rotate {
        /// The new root key file (mode 0600; created, or an existing key file).
        #[arg(long, conflicts_with = "to_pkcs11", required_unless_present = "to_pkcs11")]
        to_file: Option<PathBuf>,
        /// The new root key in a PKCS#11 token (RFC 7512 URI with pin-source=file:…).
        #[arg(long)]
        to_pkcs11: Option<String>,
        /// Records per batch (each batch is re-wrapped, then the next read).
        #[arg(long, default_value_t = 100)]
        batch: u32,
        /// A pause between batches, in milliseconds, to keep the load on a busy store low.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
        /// How long to wait, after announcing the new key, for every node to load it before
        /// records are re-wrapped (nodes look every half second).
        #[arg(long, default_value_t = 3)]
        settle_secs: u64,
    },
    /// Which root key is current, the rotation in progress, and which key wrapped how many
    /// records of each table.
    Status,
}

#[derive(Debug, Clone, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    /// The backup file to write (must not exist; mode 0600).
    #[arg(long)]
    pub to: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
}

#[derive(Debug, Clone, Subcommand)]
pub enum BackupCommand {
    /// Proves a backup restores: prints what it checked, fails when any key version does not open.
    Verify {
        /// A SQLite backup file; without it, the store the other flags name.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum DataKeyCommand {
    /// Adds a version (32 random bytes) to the data key NAME, making the data key with its
    /// first version if it has none, and prints the version id alone on the first line.
    Create {
        /// 1-192 characters of A-Z a-z 0-9 _ / + = . @ - (a secret name's alphabet).
        name: String,
    },
    /// Lists NAME's versions, oldest first: version id, version name, creation time.
    List { name: String },
}

#[derive(Debug, Clone, Subcommand)]
pub enum InstanceCommand {
    /// Creates an instance in state Uninitialized and prints its id alone on the first line;
    /// a caller then enables it with ConnectKmsInstance.
    Create {
        /// Computing performance (Terraform allows 0, 200, 1000, 2000, 4000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(i64).range(0..=100_000))]
        spec: i64,
        /// How many keys the instance may hold.
        #[arg(long = "key-num", default_value_t = 1000, value_parser = clap::value_parser!(i64).range(1..=100_000))]
        key_num: i64,
        /// How many secrets the instance may hold.
        #[arg(long = "secret-num", default_value_t = 100, value_parser = clap::value_parser!(i64).range(0..=100_000))]
        secret_num: i64,
        /// How many VPCs may reach it (its own and the bound ones).
        #[arg(long = "vpc-num", default_value_t = 1, value_parser = clap::value_parser!(i64).range(0..=10_000))]
        vpc_num: i64,
    },
    /// Lists instances not released: id, status, creation time, spec, key-num, secret-num, vpc-num.
    List,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AccessKeyCommand {
    /// Creates an access key and prints its id and secret. The secret is shown this once; kmsd
    /// keeps it only wrapped by the root key.
    Create {
        /// The application (principal) the key belongs to, as the audit trail names it.
        #[arg(long)]
        name: Option<String>,
        /// A RAM-style policy document (JSON file) limiting what the key may do. Without one
        /// the key may do everything.
        #[arg(long)]
        policy: Option<PathBuf>,
    },
    /// Replaces an access key's policy; running nodes apply it within a second.
    #[command(name = "set-policy")]
    SetPolicy {
        access_key_id: String,
        /// The new RAM-style policy document (JSON file).
        #[arg(long, required_unless_present = "unrestricted", conflicts_with = "unrestricted")]
        policy: Option<PathBuf>,
        /// Lets the key do everything (removes its policy).
        #[arg(long)]
        unrestricted: bool,
    },
    /// A new access key for the same principal and policy (the old one works until disabled).
    Rotate { access_key_id: String },
    /// Temporary credentials (STS-style: `STS.…` id, secret, security token) acting as this
    /// access key until they expire, or until the key is disabled or deleted.
    Temporary {
        access_key_id: String,
        /// Seconds they are good for (at most 43200).
        #[arg(long, default_value_t = 3600)]
        duration: i64,
    },
    /// Lists access keys: id, state, creation time, principal, policy (never a secret).
    List,
    /// Refuses every request signed with this key until it is enabled again.
    Disable { access_key_id: String },
    /// Accepts requests signed with this key again.
    Enable { access_key_id: String },
    /// Deletes the key for good.
    Delete { access_key_id: String },
}

/// `5`, `5s`, `1500ms`, `2.5s`, `1m`: a positive duration (plain numbers are seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number.parse().map_err(|_| format!("{s:?} is not a duration (e.g. 5s, 1500ms, 1m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        other => return Err(format!("unknown unit {other:?} in {s:?}: use ms, s or m")),
    };
    if !(seconds > 0.0 && seconds <= 86_400.0) {
        return Err(format!("{s:?} must be more than 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `--metrics-listen`: a listener of its own, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    At(SocketAddr),
    Off,
}

/// `off`, or an address such as `127.0.0.1:9100`.
pub fn parse_metrics_listen(s: &str) -> Result<MetricsListen, String> {
    match s.trim() {
        "off" => Ok(MetricsListen::Off),
        addr => addr
            .parse()
            .map(MetricsListen::At)
            .map_err(|_| format!("{s:?} is neither `off` nor an address such as 127.0.0.1:9100")),
    }
}

impl Config {
    /// The token URI of --root-key-pkcs11, parsed.
    pub fn root_key_uri(&self) -> Result<Option<kms_crypto::pkcs11::Pkcs11Uri>, crate::startup::StartError> {
        self.root_key_pkcs11
            .as_deref()
            .map(|raw| {
                kms_crypto::pkcs11::Pkcs11Uri::parse(raw)
                    .map_err(|why| crate::startup::StartError::Config(format!("--root-key-pkcs11: {why}")))
            })
            .transpose()
    }

    pub fn root_key_path(&self) -> PathBuf {
        self.root_key_file.clone().unwrap_or_else(|| self.data_dir.join("root.key"))
    }
    pub fn audit_target(&self) -> crate::audit::AuditTarget {
        match self.audit_log.as_deref() {
            Some("-") => crate::audit::AuditTarget::Stdout,
            other => crate::audit::AuditTarget::File {
                path: other.map(PathBuf::from).unwrap_or_else(|| self.data_dir.join("audit.log")),
                max_bytes: self.audit_max_bytes,
                keep: self.audit_keep,
                sync: self.audit_sync,
            },
        }
    }
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("kms.db")
    }
    pub fn credentials_path(&self) -> PathBuf {
        self.data_dir.join("bootstrap-credentials")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2.5s").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        for bad in ["", "0", "-1s", "5h", "s", "abc", "1e9"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metrics_listen() {
        assert_eq!(parse_metrics_listen("off"), Ok(MetricsListen::Off));
        assert_eq!(parse_metrics_listen("127.0.0.1:9100"), Ok(MetricsListen::At("127.0.0.1:9100".parse().unwrap())));
        assert_eq!(parse_metrics_listen("[::1]:0"), Ok(MetricsListen::At("[::1]:0".parse().unwrap())));
        for bad in ["", "on", "api", "9100", "localhost:9100"] {
            assert!(parse_metrics_listen(bad).is_err(), "{bad:?}");
        }
    }
}
