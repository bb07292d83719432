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
    /// Envelope encryption of files and streams (`-` for stdin/stdout).
    #[command(subcommand)]
    File(FileCommand),
}

#[derive(Subcommand)]
enum KeyCommand {
    /// A key's metadata (by id, alias or ARN).
    Describe { key: String },
    /// Keys, a page of up to 100.
    List {
        #[arg(long, default_value_t = 1)]
        page: u32,
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
            let m = "/KeyMetadata";
            let rows = [
                "KeyId",
                "KeyState",
                "KeySpec",
                "KeyUsage",
                "ProtectionLevel",
                "PrimaryKeyVersion",
                "CreationDate",
                "Description",
            ];
            let paths: Vec<String> = rows.iter().map(|r| format!("{m}/{r}")).collect();
            let pairs: Vec<(&str, &str)> = rows.iter().zip(&paths).map(|(r, p)| (*r, p.as_str())).collect();
            print(cli, &answer, &pairs);
        }
        Command::Key(KeyCommand::List { page }) => {
            let page = page.to_string();
            let answer = connect(cli)?.call("ListKeys", &[("PageNumber", &page), ("PageSize", "100")])?;
            match cli.output {
                Output::Json => print(cli, &answer, &[]),
                Output::Table => {
                    println!("KeyId");
                    for k in answer.pointer("/Keys/Key").and_then(Value::as_array).into_iter().flatten() {
                        println!("{}", k["KeyId"].as_str().unwrap_or_default());
                    }
                    println!("({} keys)", answer["TotalCount"]);
                }
            }
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
        Command::File(FileCommand::Decrypt { out, input }) => {
            let mut reader = open_in(input)?;
            let header = Header::read(&mut reader)?;
            let client = connect(cli)?;
            let blob = base64::engine::general_purpose::STANDARD.encode(&header.wrapped_key);
            let mut params = vec![("CiphertextBlob", blob.as_str())];
            if header.context != "{}" {
                params.push(("EncryptionContext", header.context.as_str()));
            }
            let answer = client.call("Decrypt", &params)?;
            let plain = answer["Plaintext"].as_str().unwrap_or_default();
            let data_key = Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(plain).unwrap_or_default());
            let mut writer = open_out(out)?;
            let mut bar = Progress::new();
            envelope::decrypt(&header, &data_key, &mut reader, &mut writer, |n| bar.show(n))?;
            bar.finish();
        }
    }
    Ok(())
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
