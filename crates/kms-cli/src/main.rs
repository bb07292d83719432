//! `kms`: a command line for people and scripts, against kmsd or Alibaba Cloud KMS.
//!
//! Exit codes scripts can rely on: 0 success; 1 the service refused (its code and request id
//! on stderr); 2 a usage error; 3 no answer (connection, TLS, I/O); 4 a file that is not an
//! envelope or was altered.
#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal as _, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;
use zeroize::Zeroizing;

use kms_cli::client::{CallError, Client, Endpoint};
use kms_cli::envelope::{self, EnvelopeError, Header};
use kms_cli::profile;

#[derive(Parser)]
#[command(name = "kms", version, about = "A command line for kmsd and Alibaba Cloud KMS")]
struct Cli {
    /// The service: `http(s)://host[:port]` (kmsd), default `https://kms.<region>.aliyuncs.com`.
    #[arg(long, env = "KMS_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// The region (default: the profile's, or ALIBABA_CLOUD_REGION_ID).
    #[arg(long, global = true)]
    region: Option<String>,
    /// A profile of the aliyun CLI's ~/.aliyun/config.json.
    #[arg(long, global = true)]
    profile: Option<String>,
    /// PEM certificates to trust besides the public roots (kmsd's own certificate).
    #[arg(long, env = "KMS_CA", global = true)]
    ca: Option<PathBuf>,
    /// `table` for people, `json` for scripts (the service's answer as it came).
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Output {
    Table,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Encrypts a small value (up to 6 KiB) under a key: prints the ciphertext blob.
    Encrypt {
        #[arg(long)]
        key: String,
        #[arg(long)]
        plaintext: String,
        /// Encryption context, a JSON object of strings.
        #[arg(long)]
        context: Option<String>,
    },
    /// Decrypts a ciphertext blob made by `encrypt` (or any Encrypt call).
    Decrypt {
        #[arg(long)]
        ciphertext: String,
        #[arg(long)]
        context: Option<String>,
    },
    /// Keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Aliases (`alias/…`) of keys.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Tags of keys.
    #[command(subcommand)]
    Tag(TagCommand),
    /// Secrets (Secrets Manager, generic secrets).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// A random password from the service (GetRandomPassword).
    RandomPassword {
        #[arg(long, default_value_t = 32)]
        length: u32,
        /// Characters never to use.
        #[arg(long)]
        exclude_characters: Option<String>,
        #[arg(long)]
        no_punctuation: bool,
    },
    /// Shell completions: `kms completion bash > /etc/bash_completion.d/kms`.
    Completion { shell: clap_complete::Shell },
    /// Envelope encryption of files and streams (`-` for stdin/stdout).
    #[command(subcommand)]
    File(FileCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
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
enum AliasCommand {
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
enum TagCommand {
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

#[derive(Subcommand)]
enum SecretCommand {
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

#[derive(Subcommand)]
enum FileCommand {
    /// One GenerateDataKey, then AES-256-GCM in authenticated 64 KiB chunks.
    Encrypt {
        #[arg(long)]
        key: String,
        #[arg(long)]
        context: Option<String>,
        #[arg(short, long, default_value = "-")]
        out: PathBuf,
        input: PathBuf,
    },
    /// One Decrypt of the data key, then the chunks, each checked.
    Decrypt {
        #[arg(short, long, default_value = "-")]
        out: PathBuf,
        input: PathBuf,
    },
    /// Moves a file to another key — in another region or deployment with --to-endpoint: the
    /// data key is decrypted here and encrypted under --key there; the chunks are copied as
    /// they are.
    Rewrap {
        #[arg(long)]
        key: String,
        /// Where the new key lives (default: --endpoint). Same credentials.
        #[arg(long)]
        to_endpoint: Option<String>,
        #[arg(short, long, default_value = "-")]
        out: PathBuf,
        input: PathBuf,
    },
}

enum Failure {
    Service(CallError),
    Transport(String),
    Envelope(EnvelopeError),
}

impl From<CallError> for Failure {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Transport(why) => Self::Transport(why),
            e => Self::Service(e),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Self::Transport(e.to_string())
    }
}

impl From<EnvelopeError> for Failure {
    fn from(e: EnvelopeError) -> Self {
        match e {
            EnvelopeError::Io(e) => Self::Transport(e.to_string()),
            e => Self::Envelope(e),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Service(e)) => {
            eprintln!("kms: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Transport(why)) => {
            eprintln!("kms: {why}");
            ExitCode::from(3)
        }
        Err(Failure::Envelope(e)) => {
            eprintln!("kms: {e}");
            ExitCode::from(4)
        }
    }
}

fn connect(cli: &Cli) -> Result<Client, Failure> {
    let resolved = profile::resolve(cli.profile.as_deref(), cli.region.as_deref()).map_err(Failure::Transport)?;
    let url = match (&cli.endpoint, &resolved.region) {
        (Some(url), _) => url.clone(),
        (None, Some(region)) => format!("https://kms.{region}.aliyuncs.com"),
        (None, None) => return Err(Failure::Transport("no --endpoint and no region to derive it from".into())),
    };
    let endpoint = Endpoint::parse(&url).map_err(Failure::Transport)?;
    Client::new(endpoint, resolved.credentials, cli.ca.as_deref()).map_err(Failure::Transport)
}

fn check_context(context: &Option<String>) -> Result<(), Failure> {
    match context {
        Some(c) if !serde_json::from_str::<Value>(c).is_ok_and(|v| v.is_object()) => {
            Err(Failure::Transport("--context must be a JSON object of strings".into()))
        }
        _ => Ok(()),
    }
}

fn print(cli: &Cli, answer: &Value, rows: &[(&str, &str)]) {
    match cli.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(answer).unwrap_or_default()),
        Output::Table => {
            let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
            for (k, path) in rows {
                let v = answer.pointer(path).map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string()));
                println!("{k:width$}  {}", v.unwrap_or_default());
            }
        }
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Encrypt { key, plaintext, context } => {
            check_context(context)?;
            let client = connect(cli)?;
            let b64 = base64::engine::general_purpose::STANDARD.encode(plaintext.as_bytes());
            let mut params = vec![("KeyId", key.as_str()), ("Plaintext", b64.as_str())];
            if let Some(c) = context {
                params.push(("EncryptionContext", c));
            }
            let answer = client.call("Encrypt", &params)?;
            print(
                cli,
                &answer,
                &[("KeyId", "/KeyId"), ("KeyVersionId", "/KeyVersionId"), ("CiphertextBlob", "/CiphertextBlob")],
            );
        }
        Command::Decrypt { ciphertext, context } => {
            check_context(context)?;
            let client = connect(cli)?;
            let mut params = vec![("CiphertextBlob", ciphertext.as_str())];
            if let Some(c) = context {
                params.push(("EncryptionContext", c));
            }
            let answer = client.call("Decrypt", &params)?;
            match cli.output {
                Output::Json => print(cli, &answer, &[]),
                Output::Table => {
                    let plain = answer["Plaintext"].as_str().unwrap_or_default();
                    let bytes =
                        Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(plain).unwrap_or_default());
                    io::stdout().write_all(&bytes)?;
                    println!();
                }
            }
        }
        Command::Key(KeyCommand::Describe { key }) => {
            let answer = connect(cli)?.call("DescribeKey", &[("KeyId", key)])?;
            print(cli, &answer, &metadata_rows());
        }
        Command::Key(KeyCommand::List { page, filters }) => {
            let page = page.to_string();
            let mut params = vec![("PageNumber", page.as_str()), ("PageSize", "100")];
            if let Some(f) = filters {
                params.push(("Filters", f));
            }
            let answer = connect(cli)?.call("ListKeys", &params)?;
            list(cli, &answer, "/Keys/Key", &["KeyId", "KeyArn"]);
        }
        Command::Key(KeyCommand::Create { spec, usage, description, protection_level, rotation_interval }) => {
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
        Command::Key(KeyCommand::Enable { key }) => done(cli, connect(cli)?.call("EnableKey", &[("KeyId", key)])?),
        Command::Key(KeyCommand::Disable { key }) => done(cli, connect(cli)?.call("DisableKey", &[("KeyId", key)])?),
        Command::Key(KeyCommand::ScheduleDeletion { key, days }) => {
            let days = days.to_string();
            done(cli, connect(cli)?.call("ScheduleKeyDeletion", &[("KeyId", key), ("PendingWindowInDays", &days)])?)
        }
        Command::Key(KeyCommand::CancelDeletion { key }) => {
            done(cli, connect(cli)?.call("CancelKeyDeletion", &[("KeyId", key)])?)
        }
        Command::Key(KeyCommand::Rotate { key }) => {
            let answer = connect(cli)?.call("CreateKeyVersion", &[("KeyId", key)])?;
            print(cli, &answer, &[("KeyId", "/KeyVersion/KeyId"), ("KeyVersionId", "/KeyVersion/KeyVersionId")]);
        }
        Command::Key(KeyCommand::Versions { key }) => {
            let answer = connect(cli)?.call("ListKeyVersions", &[("KeyId", key), ("PageSize", "100")])?;
            let cols = ["KeyVersionId", "CreationDate", "EncryptCount", "DecryptCount", "LastUsedDate"];
            list(cli, &answer, "/KeyVersions/KeyVersion", &cols);
        }
        Command::Alias(AliasCommand::Create { alias, key }) => {
            done(cli, connect(cli)?.call("CreateAlias", &[("AliasName", alias), ("KeyId", key)])?)
        }
        Command::Alias(AliasCommand::Update { alias, key }) => {
            done(cli, connect(cli)?.call("UpdateAlias", &[("AliasName", alias), ("KeyId", key)])?)
        }
        Command::Alias(AliasCommand::Delete { alias }) => {
            done(cli, connect(cli)?.call("DeleteAlias", &[("AliasName", alias)])?)
        }
        Command::Alias(AliasCommand::List { key }) => {
            let client = connect(cli)?;
            let answer = match key {
                Some(k) => client.call("ListAliasesByKeyId", &[("KeyId", k), ("PageSize", "100")])?,
                None => client.call("ListAliases", &[("PageSize", "100")])?,
            };
            list(cli, &answer, "/Aliases/Alias", &["AliasName", "KeyId"]);
        }
        Command::Tag(TagCommand::Add { key, tags }) => {
            let mut pairs = Vec::new();
            for t in tags {
                let (k, v) =
                    t.split_once('=').ok_or_else(|| Failure::Transport(format!("tag {t:?} is not key=value")))?;
                pairs.push(serde_json::json!({"TagKey": k, "TagValue": v}));
            }
            let tags = Value::Array(pairs).to_string();
            done(cli, connect(cli)?.call("TagResource", &[("KeyId", key), ("Tags", &tags)])?)
        }
        Command::Tag(TagCommand::Remove { key, tag_keys }) => {
            let keys = serde_json::to_string(tag_keys).unwrap_or_default();
            done(cli, connect(cli)?.call("UntagResource", &[("KeyId", key), ("TagKeys", &keys)])?)
        }
        Command::Tag(TagCommand::List { key }) => {
            let answer = connect(cli)?.call("ListResourceTags", &[("KeyId", key)])?;
            list(cli, &answer, "/Tags/Tag", &["TagKey", "TagValue"]);
        }
        Command::Secret(SecretCommand::Create { name, value, value_file, version_id, key, description }) => {
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
        Command::Secret(SecretCommand::Get { name, version_id, stage }) => {
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
        Command::Secret(SecretCommand::Put { name, value, value_file, version_id }) => {
            let data = secret_value(value, value_file)?;
            let params = [("SecretName", name.as_str()), ("SecretData", data.as_str()), ("VersionId", version_id)];
            let answer = connect(cli)?.call("PutSecretValue", &params)?;
            print(cli, &answer, &[("SecretName", "/SecretName"), ("VersionId", "/VersionId")]);
        }
        Command::Secret(SecretCommand::List) => {
            let answer = connect(cli)?.call("ListSecrets", &[("PageSize", "100")])?;
            list(cli, &answer, "/SecretList/Secret", &["SecretName", "CreateTime", "PlannedDeleteTime"]);
        }
        Command::Secret(SecretCommand::Describe { name }) => {
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
        Command::Secret(SecretCommand::Delete { name, recovery_days, force }) => {
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
        Command::Secret(SecretCommand::Restore { name }) => {
            done(cli, connect(cli)?.call("RestoreSecret", &[("SecretName", name)])?)
        }
        Command::RandomPassword { length, exclude_characters, no_punctuation } => {
            let length = length.to_string();
            let mut params = vec![("PasswordLength", length.as_str())];
            if let Some(x) = exclude_characters {
                params.push(("ExcludeCharacters", x));
            }
            if *no_punctuation {
                params.push(("ExcludePunctuation", "true"));
            }
            let answer = connect(cli)?.call("GetRandomPassword", &params)?;
            match cli.output {
                Output::Json => print(cli, &answer, &[]),
                Output::Table => println!("{}", answer["RandomPassword"].as_str().unwrap_or_default()),
            }
        }
        Command::Completion { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(*shell, &mut Cli::command(), "kms", &mut io::stdout());
        }
        Command::File(FileCommand::Encrypt { key, context, out, input }) => {
            check_context(context)?;
            let client = connect(cli)?;
            let mut params = vec![("KeyId", key.as_str()), ("KeySpec", "AES_256")];
            if let Some(c) = context {
                params.push(("EncryptionContext", c));
            }
            let answer = client.call("GenerateDataKey", &params)?;
            let b64 = base64::engine::general_purpose::STANDARD;
            let not_api = || Failure::Transport("GenerateDataKey answered without a data key".into());
            let data_key =
                Zeroizing::new(b64.decode(answer["Plaintext"].as_str().ok_or_else(not_api)?).map_err(|_| not_api())?);
            let wrapped = b64.decode(answer["CiphertextBlob"].as_str().ok_or_else(not_api)?).map_err(|_| not_api())?;
            let mut prefix = [0u8; 7];
            aws_lc_rs::rand::fill(&mut prefix).map_err(|_| Failure::Transport("no randomness".into()))?;
            let header = Header {
                key_id: answer["KeyId"].as_str().unwrap_or(key).to_owned(),
                wrapped_key: wrapped,
                context: context.clone().unwrap_or_else(|| "{}".into()),
                chunk_size: envelope::CHUNK as u32,
                nonce_prefix: prefix,
            };
            let (mut reader, mut writer) = (open_in(input)?, open_out(out)?);
            let mut bar = Progress::new();
            envelope::encrypt(&header, &data_key, &mut reader, &mut writer, |n| bar.show(n))?;
            bar.finish();
        }
        Command::File(FileCommand::Rewrap { key, to_endpoint, out, input }) => {
            let mut reader = open_in(input)?;
            let header = Header::read(&mut reader)?;
            let here = connect(cli)?;
            let data_key = unwrap_data_key(&here, &header)?;
            let there = match to_endpoint {
                Some(url) => {
                    let resolved =
                        profile::resolve(cli.profile.as_deref(), cli.region.as_deref()).map_err(Failure::Transport)?;
                    let endpoint = Endpoint::parse(url).map_err(Failure::Transport)?;
                    Client::new(endpoint, resolved.credentials, cli.ca.as_deref()).map_err(Failure::Transport)?
                }
                None => here,
            };
            let b64 = base64::engine::general_purpose::STANDARD;
            let plain = Zeroizing::new(b64.encode(data_key.as_slice()));
            let mut params = vec![("KeyId", key.as_str()), ("Plaintext", plain.as_str())];
            if header.context != "{}" {
                params.push(("EncryptionContext", header.context.as_str()));
            }
            let answer = there.call("Encrypt", &params)?;
            let not_api = || Failure::Transport("Encrypt answered without a ciphertext".into());
            let blob = b64.decode(answer["CiphertextBlob"].as_str().ok_or_else(not_api)?).map_err(|_| not_api())?;
            let moved =
                Header { key_id: answer["KeyId"].as_str().unwrap_or(key).to_owned(), wrapped_key: blob, ..header };
            let mut writer = open_out(out)?;
            writer.write_all(&moved.encode()?)?;
            io::copy(&mut reader, &mut writer)?;
            writer.flush()?;
        }
        Command::File(FileCommand::Decrypt { out, input }) => {
            let mut reader = open_in(input)?;
            let header = Header::read(&mut reader)?;
            let data_key = unwrap_data_key(&connect(cli)?, &header)?;
            let mut writer = open_out(out)?;
            let mut bar = Progress::new();
            envelope::decrypt(&header, &data_key, &mut reader, &mut writer, |n| bar.show(n))?;
            bar.finish();
        }
    }
    Ok(())
}

/// The file's data key, from one Decrypt of its wrapped copy.
fn unwrap_data_key(client: &Client, header: &Header) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let blob = base64::engine::general_purpose::STANDARD.encode(&header.wrapped_key);
    let mut params = vec![("CiphertextBlob", blob.as_str())];
    if header.context != "{}" {
        params.push(("EncryptionContext", header.context.as_str()));
    }
    let answer = client.call("Decrypt", &params)?;
    let plain = answer["Plaintext"].as_str().unwrap_or_default();
    Ok(Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(plain).unwrap_or_default()))
}

/// The rows of a key's metadata.
fn metadata_rows() -> Vec<(&'static str, &'static str)> {
    vec![
        ("KeyId", "/KeyMetadata/KeyId"),
        ("KeyState", "/KeyMetadata/KeyState"),
        ("KeySpec", "/KeyMetadata/KeySpec"),
        ("KeyUsage", "/KeyMetadata/KeyUsage"),
        ("ProtectionLevel", "/KeyMetadata/ProtectionLevel"),
        ("PrimaryKeyVersion", "/KeyMetadata/PrimaryKeyVersion"),
        ("CreationDate", "/KeyMetadata/CreationDate"),
        ("DeleteDate", "/KeyMetadata/DeleteDate"),
        ("Description", "/KeyMetadata/Description"),
    ]
}

/// A call with nothing to show but success: the request id (json: the whole answer).
fn done(cli: &Cli, answer: Value) {
    print(cli, &answer, &[("RequestId", "/RequestId")]);
}

/// A listing as columns (json: the whole answer), with the total when the answer has one.
fn list(cli: &Cli, answer: &Value, items: &str, cols: &[&str]) {
    if cli.output == Output::Json {
        return print(cli, answer, &[]);
    }
    let rows: Vec<Vec<String>> = answer
        .pointer(items)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|item| {
            cols.iter()
                .map(|c| {
                    item.get(*c).map(|v| v.as_str().map(str::to_owned).unwrap_or(v.to_string())).unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> =
        (0..cols.len()).map(|i| rows.iter().map(|r| r[i].len()).chain([cols[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:w$}")).collect();
        println!("{}", parts.join("  ").trim_end());
    };
    line(cols.to_vec());
    for r in &rows {
        line(r.iter().map(String::as_str).collect());
    }
    if let Some(total) = answer.get("TotalCount") {
        println!("({total} in all)");
    }
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

fn open_in(path: &Path) -> Result<Box<dyn Read>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin().lock())));
    }
    let f = File::open(path).map_err(|e| Failure::Transport(format!("{}: {e}", path.display())))?;
    Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
}

fn open_out(path: &Path) -> Result<Box<dyn Write>, Failure> {
    if path == Path::new("-") {
        return Ok(Box::new(BufWriter::with_capacity(1 << 16, io::stdout().lock())));
    }
    let f = File::create(path).map_err(|e| Failure::Transport(format!("{}: {e}", path.display())))?;
    Ok(Box::new(BufWriter::with_capacity(1 << 16, f)))
}

/// Bytes done, on stderr, when stderr is a terminal (never in a pipe or a log).
struct Progress {
    on: bool,
    shown: u64,
}

impl Progress {
    fn new() -> Self {
        Self { on: io::stderr().is_terminal(), shown: 0 }
    }

    fn show(&mut self, done: u64) {
        if self.on && done >= self.shown + (1 << 20) {
            self.shown = done;
            eprint!("\rkms: {:.1} MiB", done as f64 / (1u64 << 20) as f64);
        }
    }

    fn finish(&self) {
        if self.on {
            eprintln!("\rkms: {:.1} MiB done", self.shown as f64 / (1u64 << 20) as f64);
        }
    }
}
