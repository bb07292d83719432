//! `kms file encrypt|decrypt|rewrap`: envelope encryption of files and streams.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, IsTerminal as _, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use clap::Subcommand;
use kms_cli::client::{Client, Endpoint};
use kms_cli::envelope::{self, Header};
use kms_cli::profile;
use zeroize::Zeroizing;

use crate::{Cli, Failure, check_context, connect};

#[derive(Subcommand)]
pub(crate) enum FileCommand {
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

pub(crate) fn file(cli: &Cli, command: &FileCommand) -> Result<(), Failure> {
    match command {
        FileCommand::Encrypt { key, context, out, input } => {
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
        FileCommand::Rewrap { key, to_endpoint, out, input } => {
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
        FileCommand::Decrypt { out, input } => {
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
