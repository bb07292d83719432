//! `kms key|alias|tag …`: keys and what names and labels them.

use clap::Subcommand;
use serde_json::Value;

use super::output::{done, list, metadata_rows, print};
use crate::{Cli, Failure, connect};

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// Creates a key and prints its metadata.
    Create {
        /// Key spec, default Aliyun_AES_256.
        #[arg(long)]
        spec: Option<String>,
        #[arg(long)]
        usage: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// SOFTWARE or HSM.
        #[arg(long)]
        protection_level: Option<String>,
        /// Rotate automatically at this interval (e.g. 365d).
        #[arg(long)]
        rotation_interval: Option<String>,
    },
    /// A key's metadata (by id, alias or ARN).
    Describe {
        key: String,
    },
    /// Keys, a page of up to 100; --filters takes ListKeys' JSON filters.
    List {
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long)]
        filters: Option<String>,
    },
    Enable {
        key: String,
    },
    Disable {
        key: String,
    },
    /// Schedules the key's deletion after a window of 7–366 days.
    ScheduleDeletion {
        key: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    CancelDeletion {
        key: String,
    },
    /// A new primary version (CreateKeyVersion).
    Rotate {
        key: String,
    },
    /// The key's versions with their usage counters.
    Versions {
        key: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum AliasCommand {
    Create {
        alias: String,
        key: String,
    },
    /// Points an alias at another key.
    Update {
        alias: String,
        key: String,
    },
    Delete {
        alias: String,
    },
    /// All aliases, or a key's.
    List {
        #[arg(long)]
        key: Option<String>,
    },
}

#[derive(Subcommand)]
pub(crate) enum TagCommand {
    /// Adds or replaces tags: `kms tag add KEY team=web env=prod`.
    Add {
        key: String,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Removes tags by key: `kms tag remove KEY team env`.
    Remove {
        key: String,
        #[arg(required = true)]
        tag_keys: Vec<String>,
    },
    List {
        key: String,
    },
}

pub(crate) fn key(cli: &Cli, command: &KeyCommand) -> Result<(), Failure> {
    match command {
        KeyCommand::Describe { key } => {
            let answer = connect(cli)?.call("DescribeKey", &[("KeyId", key)])?;
            print(cli, &answer, &metadata_rows());
        }
        KeyCommand::List { page, filters } => {
            let page = page.to_string();
            let mut params = vec![("PageNumber", page.as_str()), ("PageSize", "100")];
            if let Some(f) = filters {
                params.push(("Filters", f));
            }
            let answer = connect(cli)?.call("ListKeys", &params)?;
            list(cli, &answer, "/Keys/Key", &["KeyId", "KeyArn"]);
        }
        KeyCommand::Create { spec, usage, description, protection_level, rotation_interval } => {
            let mut params: Vec<(&str, &str)> = Vec::new();
            let opt = [
                ("KeySpec", spec),
                ("KeyUsage", usage),
                ("Description", description),
                ("ProtectionLevel", protection_level),
                ("RotationInterval", rotation_interval),
            ];
            for (name, v) in &opt {
                if let Some(v) = v {
                    params.push((name, v));
                }
            }
            if rotation_interval.is_some() {
                params.push(("EnableAutomaticRotation", "true"));
            }
            let answer = connect(cli)?.call("CreateKey", &params)?;
            print(cli, &answer, &metadata_rows());
        }
        KeyCommand::Enable { key } => done(cli, connect(cli)?.call("EnableKey", &[("KeyId", key)])?),
        KeyCommand::Disable { key } => done(cli, connect(cli)?.call("DisableKey", &[("KeyId", key)])?),
        KeyCommand::ScheduleDeletion { key, days } => {
            let days = days.to_string();
            done(cli, connect(cli)?.call("ScheduleKeyDeletion", &[("KeyId", key), ("PendingWindowInDays", &days)])?)
        }
        KeyCommand::CancelDeletion { key } => done(cli, connect(cli)?.call("CancelKeyDeletion", &[("KeyId", key)])?),
        KeyCommand::Rotate { key } => {
            let answer = connect(cli)?.call("CreateKeyVersion", &[("KeyId", key)])?;
            print(cli, &answer, &[("KeyId", "/KeyVersion/KeyId"), ("KeyVersionId", "/KeyVersion/KeyVersionId")]);
        }
        KeyCommand::Versions { key } => {
            let answer = connect(cli)?.call("ListKeyVersions", &[("KeyId", key), ("PageSize", "100")])?;
            let cols = ["KeyVersionId", "CreationDate", "EncryptCount", "DecryptCount", "LastUsedDate"];
            list(cli, &answer, "/KeyVersions/KeyVersion", &cols);
        }
    }
    Ok(())
}

pub(crate) fn alias(cli: &Cli, command: &AliasCommand) -> Result<(), Failure> {
    match command {
        AliasCommand::Create { alias, key } => {
            done(cli, connect(cli)?.call("CreateAlias", &[("AliasName", alias), ("KeyId", key)])?)
        }
        AliasCommand::Update { alias, key } => {
            done(cli, connect(cli)?.call("UpdateAlias", &[("AliasName", alias), ("KeyId", key)])?)
        }
        AliasCommand::Delete { alias } => done(cli, connect(cli)?.call("DeleteAlias", &[("AliasName", alias)])?),
        AliasCommand::List { key } => {
            let client = connect(cli)?;
            let answer = match key {
                Some(k) => client.call("ListAliasesByKeyId", &[("KeyId", k), ("PageSize", "100")])?,
                None => client.call("ListAliases", &[("PageSize", "100")])?,
            };
            list(cli, &answer, "/Aliases/Alias", &["AliasName", "KeyId"]);
        }
    }
    Ok(())
}

pub(crate) fn tag(cli: &Cli, command: &TagCommand) -> Result<(), Failure> {
    match command {
        TagCommand::Add { key, tags } => {
            let mut pairs = Vec::new();
            for t in tags {
                let (k, v) =
                    t.split_once('=').ok_or_else(|| Failure::Transport(format!("tag {t:?} is not key=value")))?;
                pairs.push(serde_json::json!({"TagKey": k, "TagValue": v}));
            }
            let tags = Value::Array(pairs).to_string();
            done(cli, connect(cli)?.call("TagResource", &[("KeyId", key), ("Tags", &tags)])?)
        }
        TagCommand::Remove { key, tag_keys } => {
            let keys = serde_json::to_string(tag_keys).unwrap_or_default();
            done(cli, connect(cli)?.call("UntagResource", &[("KeyId", key), ("TagKeys", &keys)])?)
        }
        TagCommand::List { key } => {
            let answer = connect(cli)?.call("ListResourceTags", &[("KeyId", key)])?;
            list(cli, &answer, "/Tags/Tag", &["TagKey", "TagValue"]);
        }
    }
    Ok(())
}
