//! `kms secret …` and `kms random-password`.

use std::path::PathBuf;

use clap::Subcommand;
use zeroize::Zeroizing;

use super::output::{done, list, print};
use crate::{Cli, Failure, Output, connect};

#[derive(Subcommand)]
pub(crate) enum SecretCommand {
    /// Creates a secret with its first version (the value from --value or --value-file).
    Create {
        name: String,
        #[arg(long, conflicts_with = "value_file", required_unless_present = "value_file")]
        value: Option<String>,
        #[arg(long)]
        value_file: Option<PathBuf>,
        #[arg(long, default_value = "v1")]
        version_id: String,
        /// The key the values are sealed under (default: the service's).
        #[arg(long)]
        key: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// A secret's value: ACSCurrent, or --version-id / --stage.
    Get {
        name: String,
        #[arg(long)]
        version_id: Option<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// A new version, made ACSCurrent.
    Put {
        name: String,
        #[arg(long, conflicts_with = "value_file", required_unless_present = "value_file")]
        value: Option<String>,
        #[arg(long)]
        value_file: Option<PathBuf>,
        #[arg(long)]
        version_id: String,
    },
    List,
    Describe {
        name: String,
    },
    /// Deletes after a recovery window (default 30 days), or at once with --force.
    Delete {
        name: String,
        #[arg(long)]
        recovery_days: Option<u32>,
        #[arg(long)]
        force: bool,
    },
    Restore {
        name: String,
    },
}

pub(crate) fn secret(cli: &Cli, command: &SecretCommand) -> Result<(), Failure> {
    match command {
        SecretCommand::Create { name, value, value_file, version_id, key, description } => {
            let data = secret_value(value, value_file)?;
            let mut params =
                vec![("SecretName", name.as_str()), ("SecretData", data.as_str()), ("VersionId", version_id)];
            if let Some(k) = key {
                params.push(("EncryptionKeyId", k));
            }
            if let Some(d) = description {
                params.push(("Description", d));
            }
            let answer = connect(cli)?.call("CreateSecret", &params)?;
            print(cli, &answer, &[("SecretName", "/SecretName"), ("VersionId", "/VersionId"), ("Arn", "/Arn")]);
        }
        SecretCommand::Get { name, version_id, stage } => {
            let mut params = vec![("SecretName", name.as_str())];
            if let Some(v) = version_id {
                params.push(("VersionId", v));
            }
            if let Some(s) = stage {
                params.push(("VersionStage", s));
            }
            let answer = connect(cli)?.call("GetSecretValue", &params)?;
            match cli.output {
                Output::Json => print(cli, &answer, &[]),
                Output::Table => println!("{}", answer["SecretData"].as_str().unwrap_or_default()),
            }
        }
        SecretCommand::Put { name, value, value_file, version_id } => {
            let data = secret_value(value, value_file)?;
            let params = [("SecretName", name.as_str()), ("SecretData", data.as_str()), ("VersionId", version_id)];
            let answer = connect(cli)?.call("PutSecretValue", &params)?;
            print(cli, &answer, &[("SecretName", "/SecretName"), ("VersionId", "/VersionId")]);
        }
        SecretCommand::List => {
            let answer = connect(cli)?.call("ListSecrets", &[("PageSize", "100")])?;
            list(cli, &answer, "/SecretList/Secret", &["SecretName", "CreateTime", "PlannedDeleteTime"]);
        }
        SecretCommand::Describe { name } => {
            let answer = connect(cli)?.call("DescribeSecret", &[("SecretName", name)])?;
            let rows = [
                ("SecretName", "/SecretName"),
                ("Arn", "/Arn"),
                ("EncryptionKeyId", "/EncryptionKeyId"),
                ("CreateTime", "/CreateTime"),
                ("PlannedDeleteTime", "/PlannedDeleteTime"),
                ("Description", "/Description"),
            ];
            print(cli, &answer, &rows);
        }
        SecretCommand::Delete { name, recovery_days, force } => {
            let days = recovery_days.map(|d| d.to_string());
            let mut params = vec![("SecretName", name.as_str())];
            if *force {
                params.push(("ForceDeleteWithoutRecovery", "true"));
            }
            if let Some(d) = &days {
                params.push(("RecoveryWindowInDays", d));
            }
            let answer = connect(cli)?.call("DeleteSecret", &params)?;
            print(cli, &answer, &[("SecretName", "/SecretName"), ("PlannedDeleteTime", "/PlannedDeleteTime")]);
        }
        SecretCommand::Restore { name } => done(cli, connect(cli)?.call("RestoreSecret", &[("SecretName", name)])?),
    }
    Ok(())
}

pub(crate) fn random_password(
    cli: &Cli,
    length: u32,
    exclude_characters: Option<&str>,
    no_punctuation: bool,
) -> Result<(), Failure> {
    let length = length.to_string();
    let mut params = vec![("PasswordLength", length.as_str())];
    if let Some(x) = exclude_characters {
        params.push(("ExcludeCharacters", x));
    }
    if no_punctuation {
        params.push(("ExcludePunctuation", "true"));
    }
    let answer = connect(cli)?.call("GetRandomPassword", &params)?;
    match cli.output {
        Output::Json => print(cli, &answer, &[]),
        Output::Table => println!("{}", answer["RandomPassword"].as_str().unwrap_or_default()),
    }
    Ok(())
}

/// A secret's value from --value or a file (never echoed).
fn secret_value(value: &Option<String>, file: &Option<PathBuf>) -> Result<Zeroizing<String>, Failure> {
    match (value, file) {
        (Some(v), _) => Ok(Zeroizing::new(v.clone())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| Failure::Transport(format!("{}: {e}", path.display()))),
        (None, None) => Err(Failure::Transport("give --value or --value-file".into())),
    }
}
