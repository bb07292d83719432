//! `kmsd admin …`: operator commands that work on the store directly, so they need no access
//! key of their own and work whether the server runs or not. Running nodes notice the change
//! through the store (see `credentials::ACCESS_KEY_REFRESH`).

use kms_core::{CoreError, format_time};
use kms_store::StoreError;

use crate::Config;
use crate::config::{AccessKeyCommand, Admin};
use crate::startup::{StartError, open_existing};

/// Runs one admin command; what it prints on success goes to stdout.
pub async fn run(config: &Config, command: &Admin) -> Result<String, StartError> {
    let kms = open_existing(config).await?;
    let fail = |id: &str, e: CoreError| match e {
        CoreError::Store(StoreError::NotFound) => StartError::Config(format!("there is no access key {id}")),
        other => StartError::Store(other.to_string()),
    };
    match command {
        Admin::AccessKey(AccessKeyCommand::Create) => {
            let (id, secret) = kms.create_access_key().await.map_err(|e| fail("", e))?;
            tracing::info!(access_key_id = %id, "created an access key");
            Ok(format!("AccessKeyId: {id}\nAccessKeySecret: {}\n", secret.as_str()))
        }
        Admin::AccessKey(AccessKeyCommand::List) => {
            let mut out = String::new();
            for k in kms.list_access_keys().await.map_err(|e| fail("", e))? {
                let state = if k.enabled { "Enabled" } else { "Disabled" };
                out.push_str(&format!("{}\t{state}\t{}\n", k.id, format_time(k.created_at)));
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
    }
}
