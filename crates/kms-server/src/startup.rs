//! Start-up that needs nothing else: the data dir, the root key (generated on first start),
//! the SQLite store, the account, and the first access key.
//!
//! Refuses, and changes nothing, when existing data cannot be opened with the root key it
//! was written with: a missing root key file next to an existing database is an error, never
//! a reason to generate a new key.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kms_core::{Clock, CoreError, DevClock, Kms, SystemClock};
use kms_crypto::soft::{self, SoftRootKey};
use kms_store::Store;
use kms_store::StoreError;
use kms_store::postgres::{PostgresOptions, PostgresStore};
use kms_store::sqlite::SqliteStore;
use kms_store::timed::Timed;
use kms_types::RegionId;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use crate::credentials::AccessKeys;
use crate::replay::Nonces;
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
    #[error("the root key {key} does not match the data in {data_dir}: it was written with another root key")]
    RootKeyMismatch { data_dir: String, key: String },
    #[error("root key in the PKCS#11 token: {0}")]
    Pkcs11(#[from] kms_crypto::pkcs11::Pkcs11Error),
    #[error("store: {0}")]
    Store(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

const BOOTSTRAP_ID_ENV: &str = "KMSD_BOOTSTRAP_ACCESS_KEY_ID";
const BOOTSTRAP_SECRET_ENV: &str = "KMSD_BOOTSTRAP_ACCESS_KEY_SECRET";

/// Prepares everything and binds the listener; the server is ready to [`crate::run`].
///
/// Everything that can be checked without touching the disk is checked first, and what this
/// start creates (data dir, database, root key, audit file) is removed again if it fails
/// before the store holds data under the root key — so a mistyped flag never leaves behind a
/// state the next start misreads.
pub async fn start(config: &Config) -> Result<Server, StartError> {
    let region = RegionId::parse(&config.region)
        .map_err(|_| StartError::Config(format!("invalid region {:?}", config.region)))?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(tokio_rustls::TlsAcceptor::from(crate::tls::server_config(cert, key).map_err(StartError::Config)?))
        }
        _ => None,
    };
    let bootstrap = bootstrap_from_env()?;
    let key_path = config.root_key_path();
    let token_uri = config.root_key_uri()?;
    if config.root_key_file.is_some() && !key_path.exists() {
        return Err(StartError::Config(format!("root key file {} does not exist", key_path.display())));
    }
    store_kind(config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen { addr: config.listen.to_string(), source })?;

    let mut created = Created::default();
    let data_dir = &config.data_dir;
    if !data_dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|source| StartError::DataDir { path: data_dir.display().to_string(), source })?;
        created.dir = Some(data_dir.clone());
    }
    let lock = lock_data_dir(data_dir)?;

    let audit_target = config.audit_target();
    if let crate::audit::AuditTarget::File { path, .. } = &audit_target
        && !path.exists()
    {
        created.files.push(path.clone());
    }
    let audit = crate::audit::AuditLog::open(&audit_target)
        .map_err(|e| StartError::Config(format!("cannot open the audit trail: {e}")))?;
    let store = open_store(config, &mut created).await?;
    let mut hsm = None;
    let (root, root_name): (Arc<dyn kms_crypto::RootKey>, String) = match &token_uri {
        Some(uri) => {
            let opened = kms_crypto::pkcs11::Pkcs11RootKey::open(uri, !store.has_data().await?)?;
            hsm = Some(Arc::new(opened.root.hsm_keys()));
            let root = Arc::new(opened.root);
            if opened.created {
                tracing::info!(token = %uri.token, object = %uri.object, "generated a new root key in the PKCS#11 token");
                created.token_key = Some(root.clone());
            }
            (root, uri.to_string())
        }
        None if key_path.exists() => (Arc::new(SoftRootKey::load(&key_path)?), key_path.display().to_string()),
        None if store.has_data().await? => {
            return Err(StartError::RootKeyMissing {
                data_dir: data_dir.display().to_string(),
                key: key_path.display().to_string(),
            });
        }
        None => {
            let root = SoftRootKey::generate(&key_path)?;
            created.files.push(key_path.clone());
            tracing::info!(path = %key_path.display(), "generated a new root key; back it up with the data dir");
            (Arc::new(root), key_path.display().to_string())
        }
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
    // With a token, ProtectionLevel=HSM keys live in it too.
    let provider = kms_crypto::CryptoProvider { hsm, ..soft::provider_with(root) };
    let kms = Kms::open(store.into_store(), provider, service_clock, region).await.map_err(|e| match e {
        CoreError::RootKeyMismatch => {
            StartError::RootKeyMismatch { data_dir: data_dir.display().to_string(), key: root_name.clone() }
        }
        other => StartError::Store(other.to_string()),
    })?;
    // The store now holds data under this root key: from here on, nothing is undone.
    created.keep();
    let nonces = if config.replay_memory_only {
        tracing::warn!("--replay-memory-only: a restart forgets request nonces; for benchmarks only");
        Nonces::default()
    } else {
        Nonces::open(data_dir, OffsetDateTime::now_utc())
            .map_err(|source| StartError::DataDir { path: data_dir.display().to_string(), source })?
    };

    bootstrap_access_key(&kms, config, bootstrap).await?;
    if let Some(file) = &config.seed {
        let report = apply_seed(&kms, file).await?;
        tracing::info!(file = %file.display(), changed = report.changed.len(), unchanged = report.unchanged, "fixtures applied");
    }
    let records = kms.access_key_records().await.map_err(|e| StartError::Store(e.to_string()))?;
    let access_keys = AccessKeys::load(&kms, records).map_err(|e| StartError::Store(e.to_string()))?;

    let resource_policies = kms.resource_policies_in_use().await.map_err(|e| StartError::Store(e.to_string()))?;
    let state = State {
        kms,
        access_keys,
        nonces,
        clock: Arc::new(SystemClock),
        dev_clock,
        jobs: tokio::sync::Mutex::new(()),
        metrics: crate::metrics::install(config),
        audit,
        secure: tls.is_some(),
        console: config.console,
        quotas: crate::quota::Quotas::new(config.quota_crypto_qps, config.quota_asymmetric_qps),
        resource_policies: std::sync::atomic::AtomicBool::new(resource_policies),
        store_timeout: config.store_timeout,
    };
    Ok(Server { listener, tls, state: Arc::new(state), _lock: lock })
}

/// Reads and applies a fixtures file; every failure names the file and what conflicts.
pub(crate) async fn apply_seed(kms: &Kms, file: &Path) -> Result<kms_core::SeedReport, StartError> {
    let bad = |why: String| StartError::Config(format!("fixtures {}: {why}", file.display()));
    let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| bad(e.to_string()))?);
    // toml's messages quote the offending line, which may hold material: say where, not what.
    let seed: kms_core::Seed = toml::from_str(&text).map_err(|e| {
        let at = e.span().map(|s| text[..s.start].lines().count().max(1)).unwrap_or(0);
        bad(format!("not a valid fixtures file (line {at}): {}", e.message().lines().next().unwrap_or("")))
    })?;
    kms.apply_seed(&seed).await.map_err(|e| match e {
        CoreError::Seed(why) => bad(why),
        other => bad(other.to_string()),
    })
}

/// What a start created, removed again if it fails before [`Created::keep`].
#[derive(Default)]
struct Created {
    dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    /// A root key this start generated in a PKCS#11 token.
    token_key: Option<Arc<kms_crypto::pkcs11::Pkcs11RootKey>>,
}

impl Created {
    fn keep(&mut self) {
        self.dir = None;
        self.files.clear();
        self.token_key = None;
    }
}

impl Drop for Created {
    fn drop(&mut self) {
        if let Some(key) = self.token_key.take().and_then(|k| Arc::try_unwrap(k).ok())
            && let Err(e) = key.destroy()
        {
            tracing::warn!(error = %e, "could not remove the root key this failed start generated in the token");
        }
        for f in self.files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        if let Some(dir) = &self.dir {
            // Only what this start made: the lock is on the directory itself, nothing else.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// One kmsd process per data dir, for the process's lifetime: a second one on the same
/// directory (whose in-memory caches would answer from stale state) refuses to start. An
/// advisory lock on the directory itself, so nothing is created for it and a killed process
/// leaves no stale lock behind. `kmsd admin` does not take it: it works beside a server.
fn lock_data_dir(data_dir: &Path) -> Result<std::fs::File, StartError> {
    let dir = std::fs::File::open(data_dir)
        .map_err(|source| StartError::DataDir { path: data_dir.display().to_string(), source })?;
    match dir.try_lock() {
        Ok(()) => Ok(dir),
        Err(std::fs::TryLockError::WouldBlock) => Err(StartError::Config(format!(
            "another kmsd is already serving from the data dir {}; stop it first, or give this one its own --data-dir",
            data_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => {
            Err(StartError::DataDir { path: data_dir.display().to_string(), source })
        }
    }
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
    let store = open_store(config, &mut Created::default()).await?;
    if !store.has_data().await? {
        return Err(StartError::Config("the store holds no kmsd data yet: start kmsd on it once first".into()));
    }
    let mut hsm = None;
    let (root, root_name): (Arc<dyn kms_crypto::RootKey>, String) = match config.root_key_uri()? {
        Some(uri) => {
            let root = kms_crypto::pkcs11::Pkcs11RootKey::open(&uri, false)?.root;
            hsm = Some(Arc::new(root.hsm_keys()));
            (Arc::new(root), uri.to_string())
        }
        None if !key_path.exists() => {
            return Err(StartError::Config(format!(
                "root key file {} is missing: pass the server's --data-dir, --root-key-file or --root-key-pkcs11",
                key_path.display()
            )));
        }
        None => (Arc::new(SoftRootKey::load(&key_path)?), key_path.display().to_string()),
    };
    let region = RegionId::parse(&config.region)
        .map_err(|_| StartError::Config(format!("invalid region {:?}", config.region)))?;
    let provider = kms_crypto::CryptoProvider { hsm, ..soft::provider_with(root) };
    Kms::open(store.into_store(), provider, Arc::new(SystemClock), region).await.map_err(|e| match e {
        CoreError::RootKeyMismatch => {
            StartError::RootKeyMismatch { data_dir: config.data_dir.display().to_string(), key: root_name }
        }
        other => StartError::Store(other.to_string()),
    })
}

/// The configured engine, opened.
enum OpenedStore {
    /// SQLite: `existed` says whether the database file was there before this start.
    Sqlite { store: SqliteStore, existed: bool },
    /// Every call limited to `--store-timeout`: a database that stops answering fails
    /// requests instead of hanging them. (Not SQLite: its cache must see every write end.)
    /// Lookups are cached in front of the limit, see [`OpenedStore::into_store`].
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
            // Other nodes write too: the cache forgets whatever it holds when the database's
            // lookup generation moves (read with every request's nonce, heard by a watch).
            Self::Postgres(p) => {
                p.inner().watch_lookups();
                Arc::new(kms_store::cache::Cached::new(p))
            }
        }
    }
}

/// Which engine the `--store` value names (checked before anything is created).
fn store_kind(config: &Config) -> Result<&'static str, StartError> {
    match config.store.as_str() {
        "sqlite" => Ok("sqlite"),
        url if url.starts_with("postgres://") || url.starts_with("postgresql://") => Ok("postgres"),
        other => Err(StartError::Config(format!(
            "--store must be `sqlite` or a postgres:// URL, not {:?}",
            kms_store::postgres::redact_url(other)
        ))),
    }
}

async fn open_store(config: &Config, created: &mut Created) -> Result<OpenedStore, StartError> {
    match store_kind(config)? {
        "sqlite" => {
            let path = config.database_path();
            let existed = path.exists();
            if !existed {
                created.files.push(path.clone());
                for suffix in ["-wal", "-shm"] {
                    let mut p = path.as_os_str().to_owned();
                    p.push(suffix);
                    created.files.push(p.into());
                }
            }
            restrict_database_files(&path)
                .map_err(|source| StartError::DataDir { path: path.display().to_string(), source })?;
            let store = SqliteStore::open(&path).map_err(|e| StartError::Store(e.to_string()))?;
            Ok(OpenedStore::Sqlite { store, existed })
        }
        _ => {
            let opts = PostgresOptions {
                timeout: config.store_timeout,
                password: store_password(config)?,
                tls_ca: config.store_tls_ca.clone(),
            };
            let store = PostgresStore::open_with(&config.store, &opts).await.map_err(|e| {
                StartError::Store(match e {
                    StoreError::Unavailable(why) => format!("PostgreSQL: {why}"),
                    other => format!("PostgreSQL: {other}"),
                })
            })?;
            Ok(OpenedStore::Postgres(Timed::new(store, config.store_timeout)))
        }
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

/// The database holds wrapped keys: readable by kmsd's user only, like the root key. SQLite
/// creates its `-wal` and `-shm` files with the database file's mode, so creating that file
/// 0600 first covers all three; files of an older start are narrowed too.
fn restrict_database_files(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    if !path.exists() {
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if p.exists() {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

/// The bootstrap access key named by the environment, if any.
struct Bootstrap {
    id: String,
    secret: Zeroizing<String>,
}

fn bootstrap_from_env() -> Result<Option<Bootstrap>, StartError> {
    match (
        std::env::var(BOOTSTRAP_ID_ENV).ok().filter(|v| !v.is_empty()),
        std::env::var(BOOTSTRAP_SECRET_ENV).ok().filter(|v| !v.is_empty()),
    ) {
        (Some(id), Some(secret)) => Ok(Some(Bootstrap { id, secret: Zeroizing::new(secret) })),
        (None, None) => Ok(None),
        _ => Err(StartError::Config(format!("set both {BOOTSTRAP_ID_ENV} and {BOOTSTRAP_SECRET_ENV}, or neither"))),
    }
}

/// The first access key, made only while the store has none: from the environment when given
/// (scripts and CI know it), else generated and written to `bootstrap-credentials` (0600). Once
/// the store has access keys the variables create nothing, so a bootstrap key the operator
/// deleted never comes back with full rights on a restart. Only its id is logged.
async fn bootstrap_access_key(kms: &Kms, config: &Config, bootstrap: Option<Bootstrap>) -> Result<(), StartError> {
    let store_err = |e: CoreError| StartError::Store(e.to_string());
    let existing = kms.access_keys().await.map_err(store_err)?;
    match bootstrap {
        Some(Bootstrap { id, secret }) => match existing.iter().find(|k| k.id == id) {
            Some(k) if *k.secret == *secret => Ok(()),
            Some(_) => Err(StartError::Config(format!(
                "access key {id} already exists with a different secret than {BOOTSTRAP_SECRET_ENV}"
            ))),
            None if existing.is_empty() => {
                kms.add_access_key(&id, &secret, &bootstrap_grant()).await.map_err(store_err)?;
                tracing::info!(access_key_id = %id, "created the bootstrap access key from the environment");
                Ok(())
            }
            None => {
                tracing::warn!(
                    access_key_id = %id,
                    "{BOOTSTRAP_ID_ENV} names no stored access key, and the store already has access keys: nothing created (the variables only make the first key)"
                );
                Ok(())
            }
        },
        None if existing.is_empty() => {
            // The file first: if storing fails, the next start generates (and writes) again.
            let (id, secret) = kms.generate_access_key().map_err(store_err)?;
            let path = config.credentials_path();
            write_credentials(&path, &id, &secret)
                .map_err(|source| StartError::DataDir { path: path.display().to_string(), source })?;
            kms.add_access_key(&id, &secret, &bootstrap_grant()).await.map_err(store_err)?;
            eprintln!("kmsd: created access key {id}; its secret is in {} (mode 0600)", path.display());
            Ok(())
        }
        None => Ok(()),
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
