//! `kmsd admin …`: operator commands that work on the store directly, so they need no access
//! key of their own and work whether the server runs or not. Running nodes notice the change
//! through the store (see `credentials::ACCESS_KEY_REFRESH`).

use kms_core::{AccessKeyGrant, CoreError, format_time};
use kms_store::StoreError;

use crate::Config;
use crate::config::{AccessKeyCommand, Admin, BackupArgs, BackupCommand, DataKeyCommand, InstanceCommand, SeedCommand};
use crate::startup::{StartError, open_existing};

mod root_key;

/// Runs one admin command; what it prints on success goes to stdout.
pub async fn run(config: &Config, command: &Admin) -> Result<String, StartError> {
    if let Admin::Backup(args) = command {
        return backup(config, args).await;
    }
    if let Admin::RootKey(command) = command {
        return root_key::run(config, command).await;
    }
    let kms = open_existing(config).await?;
    let fail = |id: &str, e: CoreError| match e {
        CoreError::Store(StoreError::NotFound) => StartError::Config(format!("there is no access key {id}")),
        CoreError::InvalidPolicy(why) => StartError::Config(format!("the policy cannot be used: {why}")),
        CoreError::InvalidParameter("principal") => {
            StartError::Config("--name takes 1-64 characters of A-Z a-z 0-9 . _ @ -".into())
        }
        other => StartError::Store(other.to_string()),
    };
    let created = |id: String, secret: zeroize::Zeroizing<String>| {
        tracing::info!(access_key_id = %id, "created an access key");
        format!("AccessKeyId: {id}\nAccessKeySecret: {}\n", secret.as_str())
    };
    let read_policy = |path: &Option<std::path::PathBuf>| match path {
        Some(path) => std::fs::read_to_string(path)
            .map(Some)
            .map_err(|e| StartError::Config(format!("cannot read the policy file {}: {e}", path.display()))),
        None => Ok(None),
    };
    match command {
        Admin::AccessKey(AccessKeyCommand::Create { name, policy }) => {
            let policy = read_policy(policy)?;
            let grant = AccessKeyGrant { principal: name.clone().unwrap_or_default(), policy };
            let (id, secret) = kms.create_access_key(&grant).await.map_err(|e| fail("", e))?;
            Ok(created(id, secret))
        }
        Admin::AccessKey(AccessKeyCommand::SetPolicy { access_key_id: id, policy, unrestricted: _ }) => {
            // clap lets exactly one of --policy and --unrestricted through.
            let policy = read_policy(policy)?;
            let what = if policy.is_some() { "a new policy" } else { "no policy (unrestricted)" };
            kms.set_access_key_policy(id, policy).await.map_err(|e| fail(id, e))?;
            tracing::info!(access_key_id = %id, "set an access key's policy");
            Ok(format!("{id} now has {what}\n"))
        }
        Admin::AccessKey(AccessKeyCommand::Rotate { access_key_id: id }) => {
            let (new_id, secret) = kms.rotate_access_key(id).await.map_err(|e| fail(id, e))?;
            Ok(created(new_id, secret))
        }
        Admin::AccessKey(AccessKeyCommand::Temporary { access_key_id: id, duration }) => {
            let t = kms.issue_temporary_credentials(id, *duration).await.map_err(|e| match e {
                CoreError::InvalidParameter("duration") => {
                    StartError::Config(format!("--duration takes 1 to {} seconds", kms_core::MAX_TEMPORARY_SECS))
                }
                other => fail(id, other),
            })?;
            tracing::info!(access_key_id = %t.access_key_id, parent = %id, "issued temporary credentials");
            Ok(format!(
                "AccessKeyId: {}\nAccessKeySecret: {}\nSecurityToken: {}\nExpiration: {}\n",
                t.access_key_id,
                t.secret.as_str(),
                t.security_token,
                format_time(t.expires_at)
            ))
        }
        Admin::AccessKey(AccessKeyCommand::List) => {
            let mut out = String::new();
            for k in kms.list_access_keys().await.map_err(|e| fail("", e))? {
                let state = if k.enabled { "Enabled" } else { "Disabled" };
                let principal = if k.principal.is_empty() { "-" } else { k.principal.as_str() };
                let policy = if k.has_policy { "policy" } else { "unrestricted" };
                out.push_str(&format!("{}\t{state}\t{}\t{principal}\t{policy}\n", k.id, format_time(k.created_at)));
            }
            Ok(out)
        }
        Admin::AccessKey(AccessKeyCommand::Disable { access_key_id: id }) => {
            kms.set_access_key_enabled(id, false).await.map_err(|e| fail(id, e))?;
            Ok(format!("disabled {id}\n"))
        }
        Admin::AccessKey(AccessKeyCommand::Enable { access_key_id: id }) => {
            kms.set_access_key_enabled(id, true).await.map_err(|e| fail(id, e))?;
            Ok(format!("enabled {id}\n"))
        }
        Admin::AccessKey(AccessKeyCommand::Delete { access_key_id: id }) => {
            kms.delete_access_key(id).await.map_err(|e| fail(id, e))?;
            Ok(format!("deleted {id}\n"))
        }
        Admin::Instance(InstanceCommand::Create { spec, key_num, secret_num, vpc_num }) => {
            let limits =
                kms_core::InstanceLimits { spec: *spec, key_num: *key_num, secret_num: *secret_num, vpc_num: *vpc_num };
            let r = kms.create_instance(limits).await.map_err(|e| fail("", e))?;
            tracing::info!(instance_id = %r.id, "created a KMS instance");
            Ok(format!("{}\n", r.id))
        }
        Admin::Instance(InstanceCommand::List) => {
            let window = kms_store::Window { offset: 0, limit: u32::MAX };
            let mut out = String::new();
            for r in kms.list_instances(window).await.map_err(|e| fail("", e))?.items {
                out.push_str(&format!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                    r.id,
                    r.status,
                    format_time(r.created_at),
                    r.spec,
                    r.key_num,
                    r.secret_num,
                    r.vpc_num
                ));
            }
            Ok(out)
        }
        // Taken before the store is opened (above); here for completeness.
        Admin::Backup(args) => backup(config, args).await,
        Admin::RootKey(command) => root_key::run(config, command).await,
        Admin::Seed(SeedCommand::Apply { file }) => {
            let report = crate::startup::apply_seed(&kms, file).await?;
            let mut out: String = report.changed.iter().map(|c| format!("applied: {c}\n")).collect();
            out.push_str(&format!("{} changed, {} already as the file says\n", report.changed.len(), report.unchanged));
            Ok(out)
        }
        Admin::Datakey(DataKeyCommand::Create { name }) => {
            let v = kms.create_managed_data_key_version(name).await.map_err(|e| match e {
                CoreError::InvalidParameter(_) => {
                    StartError::Config("a data key name is 1-192 characters of A-Z a-z 0-9 _ / + = . @ -".into())
                }
                other => fail("", other),
            })?;
            tracing::info!(data_key = %name, version = %v.version_id, "created a managed data key version");
            Ok(format!("{}\n", v.version_id))
        }
        Admin::Datakey(DataKeyCommand::List { name }) => {
            let window = kms_store::Window { offset: 0, limit: u32::MAX };
            let mut out = String::new();
            match kms.list_managed_data_key_versions(name, window).await {
                Ok(listed) => {
                    for v in listed.items {
                        out.push_str(&format!("{}\t{}\t{}\n", v.version_id, v.version_name, format_time(v.created_at)));
                    }
                }
                Err(CoreError::DataKeyNotFound) => {}
                Err(e) => return Err(fail("", e)),
            }
            Ok(out)
        }
    }
}

/// `kmsd admin backup …`.
async fn backup(config: &Config, args: &BackupArgs) -> Result<String, StartError> {
    match (&args.to, &args.command) {
        (Some(to), None) => {
            if config.store != "sqlite" {
                return Err(StartError::Config(
                    "backup --to copies a SQLite store; back up PostgreSQL with pg_dump, then check the restored \
                     database with `kmsd admin backup verify --store postgres://…` (docs/operations.md)"
                        .into(),
                ));
            }
            // The store must be this deployment's, readable with this root key.
            open_existing(config).await?;
            kms_store::sqlite::backup(&config.database_path(), to).map_err(|e| StartError::Store(e.to_string()))?;
            tracing::info!(to = %to.display(), "wrote a backup");
            Ok(format!("backup written to {}\n", to.display()))
        }
        (None, Some(BackupCommand::Verify { file })) => {
            // A backup file is verified on a copy, so checking it never changes it.
            let scratch = tempfile::tempdir().map_err(|e| StartError::Config(e.to_string()))?;
            let mut checked = config.clone();
            if let Some(file) = file {
                let copy = scratch.path().join("kms.db");
                std::fs::copy(file, &copy)
                    .map_err(|e| StartError::Config(format!("cannot read the backup {}: {e}", file.display())))?;
                kms_store::sqlite::integrity_check(&copy)
                    .map_err(|e| StartError::Store(format!("the backup {} is damaged: {e}", file.display())))?;
                checked.store = "sqlite".into();
                checked.data_dir = scratch.path().to_owned();
                if checked.root_key_pkcs11.is_none() {
                    checked.root_key_file = Some(config.root_key_path());
                }
            }
            let kms = open_existing(&checked).await?;
            let report = kms.verify_keys().await.map_err(|e| StartError::Store(e.to_string()))?;
            let summary = format!(
                "{} keys, {} key versions opened, {} without material (EXTERNAL keys awaiting import)",
                report.keys, report.versions, report.without_material
            );
            if report.failed.is_empty() {
                Ok(format!("verified: {summary}\n"))
            } else {
                Err(StartError::Store(format!("{summary}; these keys do not open: {}", report.failed.join(", "))))
            }
        }
        _ => Err(StartError::Config("kmsd admin backup takes --to FILE, or verify [FILE]".into())),
    }
}
