//! Start-up that needs nothing else: the data dir, the root key (generated on first start),
//! the SQLite store, the account, and the first access key.
//!
//! Refuses, and changes nothing, when existing data cannot be opened with the root key it
//! was written with: a missing root key file next to an existing database is an error, never
//! a reason to generate a new key.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;
use std::sync::Arc;

use kms_core::{Clock, CoreError, DevClock, Kms, SystemClock};
use kms_crypto::soft::{self, SoftRootKey};
use kms_store::Store;
use kms_store::StoreError;
use kms_store::postgres::{PostgresOptions, PostgresStore};
use kms_store::sqlite::SqliteStore;
use kms_store::timed::Timed;
use kms_types::RegionId;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::credentials::{AccessKeys, Nonces};
use crate::{Config, Server, State};

/// Why kmsd could not start. Every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(String),
    #[error("cannot prepare data dir {path}: {source}")]
    DataDir { path: String, source: std::io::Error },
    #[error(transparent)]
    RootKey(#[from] soft::KeyFileError),
    #[error(
        "the data dir {data_dir} holds a database but the root key file {key} is missing; restore the root key file (or pass --root-key-file) — starting with a new root key would make every stored key unreadable"
    )]
    RootKeyMissing { data_dir: String, key: String },
    #[error("the root key file {key} does not match the data in {data_dir}: it was written with another root key")]
    RootKeyMismatch { data_dir: String, key: String },
    #[error("store: {0}")]
    Store(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

const BOOTSTRAP_ID_ENV: &str = "KMSD_BOOTSTRAP_ACCESS_KEY_ID";
const BOOTSTRAP_SECRET_ENV: &str = "KMSD_BOOTSTRAP_ACCESS_KEY_SECRET";

/// Prepares everything and binds the listener; the server is ready to [`crate::run`].
pub async fn start(config: &Config) -> Result<Server, StartError> {
    let region = RegionId::parse(&config.region)
        .map_err(|_| StartError::Config(format!("invalid region {:?}", config.region)))?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(cert, key).map_err(StartError::Config)?))
        }
        _ => None,
    };
    let data_dir = &config.data_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(|source| StartError::DataDir { path: data_dir.display().to_string(), source })?;

    let audit = crate::audit::AuditLog::open(&config.audit_target())
        .map_err(|e| StartError::Config(format!("cannot open the audit trail: {e}")))?;
    let key_path = config.root_key_path();
    let store = open_store(config).await?;
    let root = if key_path.exists() {
        SoftRootKey::load(&key_path)?
    } else if config.root_key_file.is_some() {
        return Err(StartError::Config(format!("root key file {} does not exist", key_path.display())));
    } else if store.has_data().await? {
        return Err(StartError::RootKeyMissing {
            data_dir: data_dir.display().to_string(),
            key: key_path.display().to_string(),
        });
    } else {
        let root = SoftRootKey::generate(&key_path)?;
        tracing::info!(path = %key_path.display(), "generated a new root key; back it up with the data dir");
        root
    };
    let dev_clock = config.dev_clock.then(|| Arc::new(DevClock::default()));
    let service_clock: Arc<dyn Clock> = match &dev_clock {
        Some(c) => {
            tracing::warn!(
                "--dev-clock is on: POST /-/clock/advance moves the service clock; never use this in production"
            );
            c.clone()
        }
        None => Arc::new(SystemClock),
    };
    let kms =
        Kms::open(store.into_store(), soft::provider(root), service_clock, region).await.map_err(|e| match e {
            CoreError::RootKeyMismatch => StartError::RootKeyMismatch {
                data_dir: data_dir.display().to_string(),
                key: key_path.display().to_string(),
            },
            other => StartError::Store(other.to_string()),
        })?;

    bootstrap_access_key(&kms, config).await?;
    let records = kms.access_key_records().await.map_err(|e| StartError::Store(e.to_string()))?;
    let access_keys = AccessKeys::load(&kms, records).map_err(|e| StartError::Store(e.to_string()))?;

    let resource_policies = kms.resource_policies_in_use().await.map_err(|e| StartError::Store(e.to_string()))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen.to_string(), source })?;
    let state = State {
        kms,
        access_keys,
        nonces: Nonces::default(),
        clock: Arc::new(SystemClock),
        dev_clock,
        jobs: tokio::sync::Mutex::new(()),
        metrics: crate::metrics::install(),
        audit,
        secure: tls.is_some(),
        quotas: crate::quota::Quotas::new(config.quota_crypto_qps, config.quota_asymmetric_qps),
        resource_policies: std::sync::atomic::AtomicBool::new(resource_policies),
        store_timeout: config.store_timeout,
    };
    Ok(Server { listener, tls, state: Arc::new(state) })
}

/// The service of an existing deployment, for `kmsd admin`: creates nothing — no data dir, no
/// database, no root key — and refuses a store without kmsd data or with another root key.
pub(crate) async fn open_existing(config: &Config) -> Result<Kms, StartError> {
    let key_path = config.root_key_path();
    if config.store == "sqlite" && !config.database_path().exists() {
        return Err(StartError::Config(format!(
            "no kmsd database at {}: pass the server's --data-dir (or --store)",
            config.database_path().display()
        )));
    }
    let store = open_store(config).await?;
    if !store.has_data().await? {
        return Err(StartError::Config("the store holds no kmsd data yet: start kmsd on it once first".into()));
    }
    if !key_path.exists() {
        return Err(StartError::Config(format!(
            "root key file {} is missing: pass the server's --data-dir or --root-key-file",
            key_path.display()
        )));
    }
    let root = SoftRootKey::load(&key_path)?;
    let region = RegionId::parse(&config.region)
        .map_err(|_| StartError::Config(format!("invalid region {:?}", config.region)))?;
    Kms::open(store.into_store(), soft::provider(root), Arc::new(SystemClock), region).await.map_err(|e| match e {
        CoreError::RootKeyMismatch => StartError::RootKeyMismatch {
            data_dir: config.data_dir.display().to_string(),
            key: key_path.display().to_string(),
        },
        other => StartError::Store(other.to_string()),
    })
}

/// The configured engine, opened.
enum OpenedStore {
    /// SQLite: `existed` says whether the database file was there before this start.
    Sqlite { store: SqliteStore, existed: bool },
    /// Every call limited to `--store-timeout`: a database that stops answering fails
    /// requests instead of hanging them. (Not SQLite: its cache must see every write end.)
    Postgres(Timed<PostgresStore>),
}

impl OpenedStore {
    /// Whether the store already holds data written under some root key.
    async fn has_data(&self) -> Result<bool, StartError> {
        match self {
            Self::Sqlite { existed, .. } => Ok(*existed),
            Self::Postgres(p) => Ok(p.get_meta(kms_core::ROOT_CHECK_META).await?.is_some()),
        }
    }

    fn into_store(self) -> Arc<dyn Store> {
        match self {
            // One process owns the file, so every change passes through this cache.
            Self::Sqlite { store, .. } => Arc::new(kms_store::cache::Cached::new(store)),
            Self::Postgres(p) => Arc::new(p),
        }
    }
}

async fn open_store(config: &Config) -> Result<OpenedStore, StartError> {
    match config.store.as_str() {
        "sqlite" => {
            let path = config.database_path();
            let existed = path.exists();
            let store = SqliteStore::open(&path).map_err(|e| StartError::Store(e.to_string()))?;
            Ok(OpenedStore::Sqlite { store, existed })
        }
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            let opts = PostgresOptions {
                timeout: config.store_timeout,
                password: store_password(config)?,
                tls_ca: config.store_tls_ca.clone(),
            };
            let store = PostgresStore::open_with(url, &opts).await.map_err(|e| {
                StartError::Store(match e {
                    StoreError::Unavailable(why) => format!("PostgreSQL: {why}"),
                    other => format!("PostgreSQL: {other}"),
                })
            })?;
            Ok(OpenedStore::Postgres(Timed::new(store, config.store_timeout)))
        }
        other => Err(StartError::Config(format!(
            "--store must be `sqlite` or a postgres:// URL, not {:?}",
            kms_store::postgres::redact_url(other)
        ))),
    }
}

/// The PostgreSQL password from `--store-password-file` (its first line), if given.
fn store_password(config: &Config) -> Result<Option<String>, StartError> {
    let Some(path) = &config.store_password_file else { return Ok(None) };
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
        StartError::Config(format!("cannot read the PostgreSQL password file {}: {e}", path.display()))
    })?);
    let password = text.lines().next().unwrap_or("");
    if password.is_empty() {
        return Err(StartError::Config(format!("the PostgreSQL password file {} is empty", path.display())));
    }
    Ok(Some(password.to_owned()))
}

/// The first access key: from the environment when given (scripts and CI know it), else
/// generated once and written to `bootstrap-credentials` (0600). Only its id is logged.
async fn bootstrap_access_key(kms: &Kms, config: &Config) -> Result<(), StartError> {
    let store_err = |e: CoreError| StartError::Store(e.to_string());
    let existing = kms.access_keys().await.map_err(store_err)?;
    match (
        std::env::var(BOOTSTRAP_ID_ENV).ok().filter(|v| !v.is_empty()),
        std::env::var(BOOTSTRAP_SECRET_ENV).ok().filter(|v| !v.is_empty()),
    ) {
        (Some(id), Some(secret)) => {
            let secret = Zeroizing::new(secret);
            match existing.iter().find(|k| k.id == id) {
                Some(k) if *k.secret == *secret => Ok(()),
                Some(_) => Err(StartError::Config(format!(
                    "access key {id} already exists with a different secret than {BOOTSTRAP_SECRET_ENV}"
                ))),
                None => {
                    kms.add_access_key(&id, &secret, &bootstrap_grant()).await.map_err(store_err)?;
                    tracing::info!(access_key_id = %id, "created the bootstrap access key from the environment");
                    Ok(())
                }
            }
        }
        (Some(_), None) | (None, Some(_)) => {
            Err(StartError::Config(format!("set both {BOOTSTRAP_ID_ENV} and {BOOTSTRAP_SECRET_ENV}, or neither")))
        }
        (None, None) if existing.is_empty() => {
            // The file first: if storing fails, the next start generates (and writes) again.
            let (id, secret) = kms.generate_access_key().map_err(store_err)?;
            let path = config.credentials_path();
            write_credentials(&path, &id, &secret)
                .map_err(|source| StartError::DataDir { path: path.display().to_string(), source })?;
            kms.add_access_key(&id, &secret, &bootstrap_grant()).await.map_err(store_err)?;
            eprintln!("kmsd: created access key {id}; its secret is in {} (mode 0600)", path.display());
            Ok(())
        }
        (None, None) => Ok(()),
    }
}

/// The first access key may do everything: it is the operator's own.
fn bootstrap_grant() -> kms_core::AccessKeyGrant {
    kms_core::AccessKeyGrant { principal: "bootstrap".into(), policy: None }
}

fn write_credentials(path: &Path, id: &str, secret: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    let body = Zeroizing::new(format!("AccessKeyId={id}\nAccessKeySecret={secret}\n"));
    f.write_all(body.as_bytes())?;
    f.sync_all()
}

impl From<StoreError> for StartError {
    fn from(e: StoreError) -> Self {
        StartError::Store(e.to_string())
    }
}
