//! `kms`: a command line for people and scripts, against kmsd or Alibaba Cloud KMS.
//!
//! Exit codes scripts can rely on: 0 success; 1 the service refused (its code and request id
//! on stderr); 2 a usage error; 3 no answer (connection, TLS, I/O); 4 a file that is not an
//! envelope or was altered.
#![forbid(unsafe_code)]

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::Value;
use zeroize::Zeroizing;

use kms_cli::client::{CallError, Client, Endpoint};
use kms_cli::envelope::EnvelopeError;
use kms_cli::profile;

mod cmd;

use cmd::files::FileCommand;
use cmd::keys::{AliasCommand, KeyCommand, TagCommand};
use cmd::output::print;
use cmd::secrets::SecretCommand;

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
        Command::Key(c) => cmd::keys::key(cli, c)?,
        Command::Alias(c) => cmd::keys::alias(cli, c)?,
        Command::Tag(c) => cmd::keys::tag(cli, c)?,
        Command::Secret(c) => cmd::secrets::secret(cli, c)?,
        Command::RandomPassword { length, exclude_characters, no_punctuation } => {
            cmd::secrets::random_password(cli, *length, exclude_characters.as_deref(), *no_punctuation)?
        }
        Command::File(c) => cmd::files::file(cli, c)?,
        Command::Completion { shell } => {
            use clap::CommandFactory as _;
            clap_complete::generate(*shell, &mut Cli::command(), "kms", &mut io::stdout());
        }
    }
    Ok(())
}
